"""KServe's Python model server serving the MNIST LeNet (binary tensors or JSON), for the tests.

    python kserve_lenet.py --model_name lenet --http_port PORT --lenet lenet.pt --enable_grpc false

KServe's REST server binds every interface; here it is held to 127.0.0.1 (tests use loopback only).
"""

from __future__ import annotations

import argparse
import time

import kserve
import uvicorn
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from kserve.errors import InvalidInput
from served_models import RequestLog, lenet_logits, load_lenet

_config_init = uvicorn.Config.__init__


def _loopback_config(self, *args, **kwargs):
    kwargs["host"] = "127.0.0.1"
    _config_init(self, *args, **kwargs)


uvicorn.Config.__init__ = _loopback_config


class LeNet(Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path
        self.load()

    def load(self) -> bool:
        self.net, self.log = load_lenet(self.path), RequestLog(self.name)
        self.ready = True
        return True

    def get_input_types(self):
        return [{"name": "images", "datatype": "FP32", "shape": [-1, 1, 28, 28]}]

    def get_output_types(self):
        return [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]

    async def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        if len(payload.inputs) != 1 or payload.inputs[0].name != "images":
            raise InvalidInput(f"this model takes one input named 'images'; got {[i.name for i in payload.inputs]}")
        images = payload.inputs[0].as_numpy()
        if images.shape[1:] != (1, 28, 28):
            raise InvalidInput(f"input 'images' must have shape [-1, 1, 28, 28], not {list(images.shape)}")
        started = time.perf_counter()
        logits = lenet_logits(self.net, images)
        self.log.write(images, time.perf_counter() - started)
        output = InferOutput(name="logits", shape=list(logits.shape), datatype="FP32")
        output.set_data_from_numpy(logits, binary_data=payload.use_binary_outputs)
        return InferResponse(
            response_id=payload.id or "",
            model_name=self.name,
            infer_outputs=[output],
            use_binary_outputs=payload.use_binary_outputs,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--lenet", required=True, help="the TorchScript file of the LeNet")
    args, _ = parser.parse_known_args()
    ModelServer().start([LeNet(args.model_name, args.lenet)])
