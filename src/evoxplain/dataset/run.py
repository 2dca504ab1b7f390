"""``explain_dataset``: explain every input of a dataset into a folder, resumably.

The folder gets ``manifest.json`` (:mod:`evoxplain.runs`, kind ``"dataset"``), ``results/``
(Parquet shards, one row per input: :mod:`.rows`), ``summary.json`` and, when asked,
``heatmaps/<id>.png``. Started again on the same folder, a run reads the ids its shards hold and
explains only the others: a run killed at any point loses at most the shards in flight and never
writes an id twice. The folder's settings (explainer, settings, seed, model) must match the
run's; the engine, the shard size and the number of workers may change between runs, since each
input's values depend only on the run's seed and its id.

Example:
    >>> run = explain_dataset(model, torch.rand(5, 1, 28, 28), "run", settings={"queries": 200}, progress=False)
    >>> run.summary["inputs"], run.summary["failed"], run.explained_now
    (5, 0, 5)
    >>> explain_dataset(model, torch.rand(5, 1, 28, 28), "run", settings={"queries": 200}, progress=False).explained_now
    0
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..attribution import GEEX, recommended_settings
from ..attribution.base import Explainer
from ..blackbox import BlackBox, as_blackbox
from ..errors import EvoxplainError, InvalidInputError
from ..explanation import _to_json
from ..files import write_text_atomic
from ..runs import MANIFEST, Manifest, now, read_manifest, write_manifest
from .shards import RESULTS, done_ids
from .sources import Source, check_unique, open_source
from .summary import summarise, summary_text
from .work import HEATMAPS, ChunkWorker

SUMMARY = "summary.json"
ENGINES = ("local", "ray")


@dataclass
class RayOptions:
    """How the Ray engine runs (see :mod:`evoxplain.dataset.ray_engine`).

    Attributes:
        address: a running cluster to join (``"auto"``, ``"ray://host:10001"``); None starts a
            local one on this machine.
        actors: model copies explaining in parallel (one actor each).
        cpus_per_actor: CPUs each actor holds (fractions leave room for the reading tasks).
        torch_threads: torch's threads in each actor (default: ``cpus_per_actor``, rounded, at least 1).
        gpus_per_actor: GPUs each actor holds (its model moves to the GPU when > 0).
        in_flight: chunks an actor works on at once (threads): for a model behind an endpoint,
            several requests in flight from CPU actors.
        num_cpus: CPUs of a local cluster started here (None: all).
    """

    address: str | None = None
    actors: int = 2
    cpus_per_actor: float = 1.0
    torch_threads: int | None = None
    gpus_per_actor: float = 0.0
    in_flight: int = 1
    num_cpus: int | None = None


@dataclass
class DatasetRun:
    """What :func:`explain_dataset` did: the folder, its summary, and this call's share."""

    out: Path
    summary: dict[str, Any]
    explained_now: int
    skipped: int
    seconds: float
    manifest: Manifest = field(repr=False)


def explain_dataset(
    model: Any,
    inputs: Any,
    out: str | Path,
    *,
    settings: dict[str, Any] | None = None,
    explainer: type[Explainer] = GEEX,
    seed: int = 0,
    engine: str = "local",
    shard_size: int = 64,
    share: int | None = None,
    heatmaps: bool = False,
    progress: bool = True,
    blackbox: dict[str, Any] | None = None,
    model_name: str | None = None,
    class_names: list[str] | None = None,
    ray: RayOptions | None = None,
) -> DatasetRun:
    """Explain every input of ``inputs`` with ``model`` into the folder ``out`` (resumable).

    Args:
        model: anything :class:`~evoxplain.BlackBox` accepts (a ``BlackBox`` too, on the local
            engine; the Ray engine rebuilds one in each actor from the model and ``blackbox``).
        inputs: anything :func:`~evoxplain.dataset.open_source` takes, or a source it made (for
            a table's columns, ids or a target).
        out: the run's folder; a folder of an earlier run with the same settings is resumed.
        settings: the explainer's settings (keywords, the seed aside); default: 1000 queries
            with :func:`~evoxplain.recommended_settings` for the first input's shape.
        explainer: the explainer class (default :class:`~evoxplain.GEEX`).
        seed: the run's seed; each input's seed derives from it and the input's id.
        engine: ``"local"`` (this process) or ``"ray"`` (needs ``evoxplain[ray]``).
        shard_size: inputs per shard (at most this many are redone after a crash).
        share: inputs explained side by side in each worker, their queries sharing each model
            call (:mod:`evoxplain.dataset.batching`); 1 explains one input at a time. Default: 8
            for a model on a GPU, where larger calls pay, else 1 (on CPUs they did not:
            ``benchmarks/results/dataset_scale``).
        heatmaps: also write ``heatmaps/<id>.png`` for image inputs.
        progress: show a progress bar (inputs, queries per second, time left).
        blackbox: keywords for :class:`~evoxplain.BlackBox` (``output``, ``batch_size``,
            ``precision``, ...) when ``model`` is not one.
        model_name: how the manifest names the model (default: from the model).
        class_names: the model's class names by index, for reports (the manifest keeps them).
        ray: the Ray engine's options (:class:`RayOptions`).
    """
    check_run_options(model, engine=engine, shard_size=shard_size, share=share, seed=seed)
    source = open_source(inputs)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder):
        done = done_ids(folder / RESULTS)
        ids = source.ids()
        check_unique(ids, source.description)
        pending = sum(1 for ident in ids if ident not in done)
        settings = dict(settings) if settings is not None else default_settings(source, done)
        name = model_name or model_identity(model)
        manifest = start_manifest(folder, name, explainer=explainer, settings=settings, seed=seed, source=source)
        if class_names is not None:
            manifest.extra["class_names"] = list(class_names)
        started = time.perf_counter()
        job = Job(
            model=model, blackbox=blackbox or {}, explainer=explainer, settings=settings, seed=int(seed),
            source=source, out=folder, heatmaps=heatmaps, shard_size=shard_size, share=share,
        )  # fmt: skip
        if engine == "local":
            run_local(job, done=done, pending=pending, progress=progress)
        else:
            from .ray_engine import run_ray

            run_ray(job, done=done, pending=pending, options=ray or RayOptions(), progress=progress)
        seconds = time.perf_counter() - started
        summary = finish_run(folder, manifest, run_inputs=pending, wall_seconds=round(seconds, 3), engine=engine)
    if progress:
        print(summary_text(summary))
    return DatasetRun(
        out=folder, summary=summary, explained_now=pending, skipped=len(done), seconds=seconds, manifest=manifest
    )


def check_run_options(model: Any, *, engine: str, shard_size: int, share: int | None, seed: int) -> None:
    """The checks of :func:`explain_dataset`'s options, before anything is read or written."""
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {ENGINES}, not {engine!r}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidInputError(f"shard_size must be a positive integer, not {shard_size!r}")
    if share is not None and (isinstance(share, bool) or not isinstance(share, int) or share < 1):
        raise InvalidInputError(f"share must be a positive integer (inputs explained side by side), not {share!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, not {seed!r}")
    if engine == "ray" and isinstance(model, BlackBox):
        raise InvalidInputError(
            "the Ray engine builds a BlackBox in each actor: pass the model itself, with blackbox={...} for its options"
        )


def finish_run(folder: Path, manifest: Manifest, **run: Any) -> dict[str, Any]:
    """Write the folder's ``summary.json`` (with this call's ``run`` facts) and its finished manifest;
    returns the summary."""
    summary = summarise(folder)
    summary.update(run)
    write_text_atomic(folder / SUMMARY, json.dumps(summary, indent=2) + "\n")
    manifest.finished = now()
    manifest.extra.update(inputs=summary["inputs"], failed=summary["failed"], queries=summary["queries"])
    write_manifest(folder, manifest)
    return summary


@dataclass
class Job:
    """Everything a worker needs to explain chunks of a run (it travels to Ray actors)."""

    model: Any
    blackbox: dict[str, Any]
    explainer: type[Explainer]
    settings: dict[str, Any]
    seed: int
    source: Source
    out: Path
    heatmaps: bool
    shard_size: int
    share: int | None = None

    def worker(self, model: Any = None) -> ChunkWorker:
        """A worker over ``model`` (default: the job's), wrapped as a BlackBox with the job's options;
        it shares model calls between ``share`` inputs (default: 8 on a GPU, else 1)."""
        bb = as_blackbox(self.model if model is None else model, **self.blackbox)
        share = self.share or (8 if bb.device.type == "cuda" else 1)
        return ChunkWorker(
            bb, explainer=self.explainer, settings=self.settings, run_seed=self.seed, source=self.source,
            out=self.out, heatmaps=self.heatmaps, share=share,
        )  # fmt: skip


def run_local(job: Job, done: set[str], pending: int, progress: bool) -> None:
    """Explain the records not in ``done`` in this process, one shard of ``job.shard_size`` at a time."""
    worker = job.worker()
    records = job.source.records(done)
    queries, started = 0, time.perf_counter()
    with tqdm(total=pending, disable=not progress, unit="input", desc="explaining") as bar:
        while chunk := list(itertools.islice(records, job.shard_size)):
            finished = worker.process(chunk)
            queries += sum(r["queries"] for r in finished)
            bar.update(len(finished))
            bar.set_postfix(queries_per_s=f"{queries / max(time.perf_counter() - started, 1e-9):.0f}")


def default_settings(source: Source, done: set[str], queries: int = 1000) -> dict[str, Any]:
    """1000 queries and :func:`~evoxplain.recommended_settings` for the first readable input."""
    if source.kind == "text":
        return {"queries": queries}
    for record in itertools.islice(source.records(done), 16):
        try:
            x = source.decode(record)
        except (EvoxplainError, OSError, ValueError):
            continue
        return {"queries": queries, **recommended_settings(tuple(x.shape), queries)}
    raise InvalidInputError("none of the first inputs can be read to choose settings: pass settings= explicitly")


def model_identity(model: Any) -> str:
    """How the manifest names a model: a file's name, or the model's (class) name."""
    inner = model.model if isinstance(model, BlackBox) else model
    if isinstance(inner, (str, Path)):
        return Path(inner).name
    return getattr(inner, "__name__", type(inner).__name__)


def run_settings(explainer: type[Explainer], settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """What makes two runs the same run: the explainer, its settings and the seed, as JSON."""
    plain = {k: "tensor" if isinstance(v, (torch.Tensor, np.ndarray)) else v for k, v in settings.items()}
    return json.loads(json.dumps(_to_json({"explainer": explainer.__name__, **plain, "seed": int(seed)})))


def start_manifest(folder: Path, model: str, explainer, settings, seed: int, source: Source) -> Manifest:
    """The folder's manifest: a new one, or the earlier run's after checking it is the same run."""
    wanted = run_settings(explainer, settings, seed)
    if (folder / MANIFEST).is_file():
        manifest = read_manifest(folder)
        if manifest.kind != "dataset" or manifest.settings != wanted or manifest.model != model:
            raise InvalidInputError(
                f"{folder} holds another run ({manifest.kind} of {manifest.model!r} with {manifest.settings}); "
                f"this one is of {model!r} with {wanted}. Resume it with the same settings, or choose another folder"
            )
        manifest.finished = ""
        manifest.extra["resumed"] = int(manifest.extra.get("resumed", 0)) + 1
    else:
        files = {"results": RESULTS, "summary": SUMMARY, "heatmaps": HEATMAPS}
        manifest = Manifest(kind="dataset", model=model, settings=wanted, files=files)
        manifest.extra.update(dataset=source.description, kind=source.kind)
    write_manifest(folder, manifest)
    return manifest


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.evoxplain-lock`` for the run: a second run on the same folder is refused."""
    handle = open(folder / ".evoxplain-lock", "a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EvoxplainError(
                f"another run is writing to {folder} now; wait for it or choose another folder"
            ) from None
        yield
    finally:
        handle.close()
