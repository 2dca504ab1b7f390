"""How much memory a device has free, and a refusal, before any query, of work that cannot fit.

:func:`available_bytes` reads what the operating system says (``MemAvailable`` in
``/proc/meminfo``, less where ``resource.RLIMIT_AS`` caps this process) or, for a GPU, what CUDA
has free plus what torch holds cached. :func:`check_fits` raises a clear error, with the figures
and the fix, when the memory one step of the work needs is more than that.

Example:
    >>> available_bytes("cpu") > 0
    True
    >>> check_fits(10**13, "cpu", what="one step", fix="lower batch_size")
    Traceback (most recent call last):
    ...
    evoxplain.errors.InvalidInputError: one step needs about 10,000.0 GB of memory, but about ... GB are free ...
"""

from __future__ import annotations

import resource
from pathlib import Path

import torch

from .errors import InvalidInputError

HEADROOM = 0.8
"""The share of the free memory a step may plan to use (the model's activations need the rest)."""


def available_bytes(device: str | torch.device) -> int | None:
    """The memory free for this process on ``device``, in bytes; None where it cannot be told."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type != "cpu":
        return None
    free = _meminfo("MemAvailable")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = _status("VmSize")
        if used is not None:
            free = min(free, soft - used) if free is not None else soft - used
    return free


def check_fits(needed: int, device: str | torch.device, *, what: str, fix: str) -> None:
    """Raise :class:`~evoxplain.InvalidInputError` if ``needed`` bytes are more than the device's
    free memory (times :data:`HEADROOM`); say ``what`` needs them and ``fix``."""
    free = available_bytes(device)
    if free is None or needed <= HEADROOM * free:
        return
    raise InvalidInputError(
        f"{what} needs about {needed / 1e9:,.1f} GB of memory, but about {max(free, 0) / 1e9:,.1f} GB are free "
        f"on {device}: {fix}"
    )


def _meminfo(key: str) -> int | None:
    return _read_kb(Path("/proc/meminfo"), key)


def _status(key: str) -> int | None:
    return _read_kb(Path("/proc/self/status"), key)


def _read_kb(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
