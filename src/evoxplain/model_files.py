"""Model files a :class:`~evoxplain.BlackBox` opens: TorchScript, ``torch.export`` and ONNX.

A ``torch.export`` archive (``.pt2``) can hold pickles that ``torch.export.load`` runs: weights or
constants saved with ``"use_pickle": true``, custom and opaque objects, and sample inputs that it
unpickles without restriction when the restricted load fails. So :func:`load_export` inspects the
archive first and opens only one whose every part is data (tensors as raw bytes, JSON, sample
inputs that load with ``torch.load(weights_only=True)``); any other is refused before anything
in it runs, unless the caller trusts the file (``allow_pickle=True``).

Example:
    >>> class Net(torch.nn.Module):
    ...     def forward(self, x): return x[:, :3] * 2
    >>> dims = {"x": {0: torch.export.Dim("n")}}
    >>> torch.export.save(torch.export.export(Net(), (torch.rand(2, 4),), dynamic_shapes=dims), "net.pt2")
    >>> load_export("net.pt2")(torch.ones(1, 4))
    tensor([[2., 2., 2.]])
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

from .errors import InvalidInputError

_PICKLED_CONSTANTS = ("custom_obj", "opaque_obj")


def load_export(path: str | Path, allow_pickle: bool = False) -> torch.nn.Module:
    """The module of a ``torch.export`` archive, refused if any part of it is a pickle (see the
    module's docstring) unless ``allow_pickle``."""
    path = Path(path)
    if not allow_pickle:
        problem = _pickled_part(path)
        if problem is not None:
            raise InvalidInputError(
                f"{path} is not opened: {problem}, and unpickling runs whatever code the file's author put "
                "there. Export the model again without pickled parts (plain tensors), or, if you trust "
                "whoever made the file, pass BlackBox(..., allow_pickle=True)"
            )
    try:
        return torch.export.load(str(path)).module()
    except Exception as err:
        raise InvalidInputError(f"{path} is not a torch.export program torch.export.load can read: {err}") from err


def _pickled_part(path: Path) -> str | None:
    """Why the archive at ``path`` is not plain data, or None when it is."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        return f"it is not a torch.export archive (a zip file): {err}"
    with archive:
        names = archive.namelist()
        if not any(name.endswith("/archive_format") for name in names):
            return "it is a torch.export file of the old layout, whose state is always pickled"
        for name in names:
            folder = name.rsplit("/", 2)
            if name.endswith("_config.json") and len(folder) == 3 and folder[1] in ("weights", "constants"):
                config = json.loads(archive.read(name)).get("config", {})
                for key, entry in config.items():
                    if entry.get("use_pickle") or str(entry.get("path_name", "")).startswith(_PICKLED_CONSTANTS):
                        return f"its {folder[1][:-1]} {key!r} is stored as a pickle"
            if "/sample_inputs/" in name and not _loads_as_tensors(archive.read(name)):
                return "its sample inputs are a pickle of more than tensors"
    return None


def _loads_as_tensors(blob: bytes) -> bool:
    try:
        torch.load(io.BytesIO(blob), weights_only=True)
    except Exception:
        return False
    return True


def onnx_fixed_batch(path: str | Path) -> int | None:
    """The batch size an ONNX file was exported with when its batch axis is fixed, else None.

    Example:
        >>> torch.onnx.export(torch.nn.Linear(4, 2), (torch.rand(1, 4),), "fixed.onnx", dynamo=False)
        >>> onnx_fixed_batch("fixed.onnx")
        1
    """
    from .errors import require

    ort = require("onnxruntime", "onnx", "ONNX models")
    try:
        shape = ort.InferenceSession(str(path)).get_inputs()[0].shape
    except Exception as err:
        raise InvalidInputError(f"{path} is not an ONNX model ONNX Runtime can open: {err}") from None
    return shape[0] if shape and isinstance(shape[0], int) else None


def fixed_batch_hint(fixed: int) -> str:
    """What to do about an ONNX file whose batch axis was fixed at ``fixed`` when exported."""
    fix = "pass batch_size=1 (on the command line --batch-size 1: one input per call, slower), or "
    fix = fix if fixed == 1 else ""
    return (
        f"this ONNX file takes batches of exactly {fixed} input{'s' if fixed > 1 else ''} (its batch axis was fixed "
        f"when it was exported), but evoxplain sends batches of many perturbed inputs: {fix}export it again with a "
        "dynamic batch axis: torch.onnx.export(model, (x,), path, dynamic_shapes=({0: torch.export.Dim('batch')},))"
    )


def load_function(path: str | Path) -> Callable[[torch.Tensor], torch.Tensor]:
    """A model file as a function of tensors on the CPU: TorchScript (``.pt``, ``.pth``, ``.ts``),
    ``torch.export`` (``.pt2``, opened as :func:`load_export` does) or ONNX (``.onnx``, run with
    ONNX Runtime). For a generator, say: latents in, inputs of the explained model out.

    Example:
        >>> torch.jit.script(torch.nn.Linear(2, 3)).save("decoder.pt")
        >>> load_function("decoder.pt")(torch.zeros(4, 2)).shape
        torch.Size([4, 3])
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(
            f"no model file at {path}; give a TorchScript (.pt, .pth, .ts), torch.export (.pt2) or ONNX (.onnx) file"
        )
    suffix = path.suffix.lower()
    if suffix == ".pt2":
        return load_export(path)
    if suffix == ".onnx":
        from .errors import require

        ort = require("onnxruntime", "onnx", "ONNX models")
        session = ort.InferenceSession(str(path))
        name = session.get_inputs()[0].name
        return lambda z: torch.from_numpy(session.run(None, {name: z.detach().cpu().numpy().astype("float32")})[0])
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as err:
        raise InvalidInputError(
            f"{path} is not a TorchScript file torch.jit.load can read ({err}); save one with "
            "torch.jit.script(model).save(path), or give a .pt2 or .onnx file"
        ) from None
