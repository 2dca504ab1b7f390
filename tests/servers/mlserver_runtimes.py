"""MLServer custom runtimes for the tests: the MNIST LeNet (FP32 images) and the keyword text model
(BYTES), each writing the server's own request log (:class:`served_models.RequestLog`)."""

from __future__ import annotations

import time

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from served_models import KeywordModel, RequestLog, lenet_logits, load_lenet


def only_input(payload: InferenceRequest, name: str):
    if len(payload.inputs) != 1 or payload.inputs[0].name != name:
        names = [i.name for i in payload.inputs]
        raise InferenceError(f"this model takes one input named {name!r}; the request has {names}")
    return payload.inputs[0]


class LeNetRuntime(MLModel):
    async def load(self) -> bool:
        self.net = load_lenet(self.settings.parameters.uri)
        self.log = RequestLog(self.name)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        tensor = only_input(payload, "images")
        if tensor.datatype != "FP32":
            raise InferenceError(f"input 'images' must be FP32, not {tensor.datatype}")
        images = NumpyCodec.decode_input(tensor)
        if images.shape[1:] != (1, 28, 28):
            raise InferenceError(f"input 'images' must have shape [-1, 1, 28, 28], not {list(images.shape)}")
        started = time.perf_counter()
        logits = lenet_logits(self.net, images.astype(np.float32))
        self.log.write(images.astype(np.float32), time.perf_counter() - started)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("logits", logits)])


class KeywordRuntime(MLModel):
    async def load(self) -> bool:
        self.model, self.log = KeywordModel(), RequestLog(self.name)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        texts = StringCodec.decode_input(only_input(payload, "text"))
        self.log.write(texts)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("logits", self.model(texts))])
