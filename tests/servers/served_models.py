"""What the test servers serve, shared by the servers and the tests (no evoxplain inside).

* :func:`load_lenet`: the shipped MNIST LeNet, from the TorchScript file the fixtures write;
* :class:`KeywordModel`: a text classifier of two classes (negative, positive) from keyword
  counts, the same in the servers and in the tests' own process;
* :class:`RequestLog`: the servers' own request log, one JSON line per answered request with the
  number of inputs and a hash of each (the tests check the client's counters against it).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

import numpy as np

POSITIVE = ("good", "great", "fine", "love", "best")
NEGATIVE = ("bad", "awful", "poor", "hate", "worst")


class KeywordModel:
    """Two logits per text: ``[negatives - 0.5, positives]`` over lower-cased words."""

    def __call__(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            words = str(text).lower().split()
            rows.append([sum(w in NEGATIVE for w in words) - 0.5, float(sum(w in POSITIVE for w in words))])
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 2)


def load_lenet(path: str):
    import torch

    torch.set_num_threads(int(os.environ.get("EVOXPLAIN_SERVER_THREADS", "1")))
    return torch.jit.load(path, map_location="cpu").eval()


def lenet_logits(model, images: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))).numpy()


def input_hashes(inputs) -> list[str]:
    if isinstance(inputs, np.ndarray):
        return [hashlib.sha256(row.tobytes()).hexdigest()[:20] for row in np.ascontiguousarray(inputs)]
    return [hashlib.sha256(str(t).encode()).hexdigest()[:20] for t in inputs]


class RequestLog:
    """Appends ``{"model", "n", "inputs": [hash, ...], "seconds"}`` per answered request to
    ``$EVOXPLAIN_SERVER_LOG`` (``seconds``: the model's own compute time)."""

    def __init__(self, model: str):
        self.model, self.path, self.lock = model, os.environ.get("EVOXPLAIN_SERVER_LOG"), threading.Lock()

    def write(self, inputs, seconds: float = 0.0) -> None:
        if not self.path:
            return
        line = json.dumps({"model": self.model, "n": len(inputs), "inputs": input_hashes(inputs), "seconds": seconds})
        with self.lock, open(self.path, "a", encoding="utf-8") as file:
            file.write(line + "\n")


def read_log(path) -> list[dict]:
    """The lines of a :class:`RequestLog` file (none if it does not exist yet)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
