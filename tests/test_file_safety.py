"""Every file evoxplain reads is data: a crafted file never runs code, it is refused with a clear error.

Each malicious file below would create a marker file if anything unpickled it; the tests check
that the reader refuses it (an :class:`~evoxplain.EvoxplainError`) and that the marker is absent.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from evoxplain import GEEX, BlackBox, EvoxplainError, Explanation
from evoxplain.files import FileFormatError, load_tensors, save_tensors
from evoxplain.inputs import load_npy


class Payload:
    """Unpickling this runs ``os.system``, which writes the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a crafted file ran code"


def _linear() -> torch.nn.Module:
    return torch.nn.Linear(4, 3).eval()


def test_explanation_files_round_trip_and_refuse_pickles(tmp_path, marker):
    exp = GEEX(_linear(), queries=20, mask_size=None, seed=0).explain(torch.rand(4))
    exp.save(tmp_path / "a.evx")
    back = Explanation.load(tmp_path / "a.evx")
    assert torch.equal(back.values, exp.values) and torch.equal(back.stderr, exp.stderr)
    assert back.params == exp.params and (back.target, back.queries, back.method) == (
        exp.target,
        exp.queries,
        exp.method,
    )
    (tmp_path / "evil.evx").write_bytes(pickle.dumps(Payload(marker)))  # a pickle renamed .evx
    with pytest.raises(FileFormatError, match="nothing in it was run"):
        Explanation.load(tmp_path / "evil.evx")
    buffer = io.BytesIO()
    torch.save({"values": Payload(marker)}, buffer)  # what the old format was: torch.save of a dict
    (tmp_path / "old.evx").write_bytes(buffer.getvalue())
    with pytest.raises(FileFormatError):
        Explanation.load(tmp_path / "old.evx")


def test_explanation_files_broken_in_every_way_give_clear_errors(tmp_path):
    exp = GEEX(_linear(), queries=20, seed=0).explain(torch.rand(2, 4))
    exp.save(tmp_path / "ok.evx")
    blob = (tmp_path / "ok.evx").read_bytes()
    (tmp_path / "truncated.evx").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "garbage.evx").write_bytes(os.urandom(300))
    (tmp_path / "empty.evx").write_bytes(b"")
    save_tensors(tmp_path / "keys.evx", {"x": torch.ones(1)}, kind="evoxplain.Explanation", meta={"version": 1})
    save_tensors(tmp_path / "kind.evx", {"x": torch.ones(1)}, kind="something else", meta={})
    for name in ("missing", "truncated", "garbage", "empty", "keys", "kind"):
        with pytest.raises(EvoxplainError):
            Explanation.load(tmp_path / f"{name}.evx")
    with pytest.raises(EvoxplainError, match="does not exist"):
        exp.save(tmp_path / "no" / "such" / "folder" / "x.evx")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_text_explanations_round_trip(tmp_path):
    def model(texts):
        return torch.tensor([[float("good" in t), 1.0] for t in texts])

    exp = GEEX(BlackBox(model, output="logits"), queries=20, seed=0).explain(["a good film", "bad"])
    exp.save(tmp_path / "t.evx")
    back = Explanation.load(tmp_path / "t.evx")
    assert back.tokens == exp.tokens and all(torch.equal(a, b) for a, b in zip(back.values, exp.values))


def test_safetensors_readers_refuse_pickles(tmp_path, marker):
    (tmp_path / "w.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(FileFormatError):
        load_tensors(tmp_path / "w.safetensors", kind="anything")
    pytest.importorskip("evoxplain_zoo", reason="the built-in models: pip install -e ./zoo")
    from evoxplain_zoo.models.lenet import load_lenet

    with pytest.raises(EvoxplainError):
        load_lenet("mnist", path=tmp_path / "w.safetensors")


def test_npy_inputs_are_never_unpickled(tmp_path, marker):
    np.save(tmp_path / "evil.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(EvoxplainError, match="cannot read"):
        load_npy(tmp_path / "evil.npy")


def _export(path):
    net = _linear()
    program = torch.export.export(net, (torch.rand(2, 4),), dynamic_shapes=({0: torch.export.Dim("n")},))
    torch.export.save(program, str(path))


def _rewrite(source, target, change):
    """Copy the zip archive ``source`` to ``target``, passing each member through ``change``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, change(info.filename, old.read(info.filename)))


def test_export_archives_with_pickled_weights_are_refused_before_loading(tmp_path, marker):
    _export(tmp_path / "ok.pt2")
    assert BlackBox(str(tmp_path / "ok.pt2"))(torch.rand(3, 4)).shape == (3, 3)

    def pickled_weight(name, data):
        if name.endswith("weights/model_weights_config.json"):
            config = json.loads(data)
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            return json.dumps(config).encode()
        if name.endswith("weights/weight_0"):
            return pickle.dumps(Payload(marker))
        return data

    _rewrite(tmp_path / "ok.pt2", tmp_path / "weights.pt2", pickled_weight)

    def pickled_inputs(name, data):
        return pickle.dumps(Payload(marker)) if "/sample_inputs/" in name else data

    _rewrite(tmp_path / "ok.pt2", tmp_path / "inputs.pt2", pickled_inputs)
    for name in ("weights", "inputs"):
        with pytest.raises(EvoxplainError, match="allow_pickle=True"):
            BlackBox(str(tmp_path / f"{name}.pt2"))
    (tmp_path / "plain.pt2").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(EvoxplainError, match="not a torch.export archive"):
        BlackBox(str(tmp_path / "plain.pt2"))


def test_corrupt_onnx_and_torchscript_files_give_clear_errors(tmp_path):
    pytest.importorskip("onnxruntime", reason="ONNX files need onnxruntime: pip install -e '.[onnx]'")
    (tmp_path / "bad.onnx").write_bytes(os.urandom(200))
    with pytest.raises(EvoxplainError, match="ONNX"):
        BlackBox(str(tmp_path / "bad.onnx"))
    (tmp_path / "bad.pt").write_bytes(os.urandom(200))
    with pytest.raises(EvoxplainError, match="TorchScript"):
        BlackBox(str(tmp_path / "bad.pt"))
