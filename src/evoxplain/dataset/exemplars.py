"""Exemplar searches at scale: many targets and seeds, in chunks, locally or on Ray actors, to Parquet.

:func:`search_many` runs search ``i`` (for ``targets[i]``) on random stream ``i`` of the call's
seed, exactly as one ``run_many(targets)`` call would (:mod:`evoxplain.exemplars.engine`): each
chunk is ``run_many(chunk_targets, streams=chunk_streams)``, locally or in one of a pool of Ray
actors (each builds its search once with ``make_search``), and is written as one shard of rows
under ``out/results`` (:mod:`.shards`). Started again on the same folder it runs only the searches
not yet written. A row holds ``id`` (the stream, as text), ``stream``, ``target``, ``method``,
``seed``, ``converged``, ``queries``, ``queries_to_best``, ``generations``, ``loss``,
``target_probability``, ``seconds``, ``stop_reason``, ``latent``, ``probabilities`` and the
``exemplar`` (flattened, with ``shape``; or ``text``).

Example:
    >>> from evoxplain.exemplars import ExemplarSearch
    >>> def make_search():
    ...     return ExemplarSearch(model, generator, latent_dim=8)
    >>> run = search_many(make_search, [3] * 4, "searches", seed=0, chunk=2, progress=False)
    >>> run.summary["searches"], run.summary["converged"]
    (4, 4)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import InvalidInputError, require
from ..exemplars.engine import LatentSearch
from ..exemplars.result import ExemplarResult
from ..files import write_text_atomic
from ..runs import Manifest, now, write_manifest
from .run import ENGINES, RayOptions, folder_lock
from .shards import RESULTS, done_ids, read_shards, write_shard

SUMMARY = "summary.json"


@dataclass
class SearchRun:
    """What :func:`search_many` did: the folder, its summary, and the searches run now."""

    out: Path
    summary: dict[str, Any]
    searched_now: int


def search_many(
    make_search: Callable[[], LatentSearch],
    targets: Sequence[Any],
    out: str | Path,
    *,
    seed: int = 0,
    chunk: int = 64,
    engine: str = "local",
    progress: bool = True,
    ray: RayOptions | None = None,
) -> SearchRun:
    """Run one exemplar search per target (search ``i`` on stream ``i`` of ``seed``) into ``out``.

    Args:
        make_search: builds the search (a :class:`~evoxplain.exemplars.LatentSearch`, e.g.
            :class:`~evoxplain.exemplars.ExemplarSearch`); called once per worker, so it must be
            a plain function (Ray sends it to the actors). Its own seed is replaced by ``seed``.
        targets: one target per search (a class index or a probability vector); repeat a
            target for several searches of it.
        out: the folder; an earlier folder of the same searches is resumed.
        seed: the call's seed.
        chunk: searches per ``run_many`` call and per shard.
        engine: ``"local"`` or ``"ray"``.
        progress: show a progress bar and print the summary.
        ray: the Ray engine's options.
    """
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {ENGINES}, not {engine!r}")
    targets = [t.tolist() if isinstance(t, (torch.Tensor, np.ndarray)) else t for t in targets]
    if not targets:
        raise InvalidInputError("search_many needs at least one target")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder):
        done = done_ids(folder / RESULTS)
        todo = [
            {"id": str(i), "stream": i, "target": json.dumps(t)} for i, t in enumerate(targets) if str(i) not in done
        ]
        manifest = Manifest(kind="exemplars", settings={"seed": int(seed), "searches": len(targets)})
        manifest.files = {"results": RESULTS, "summary": SUMMARY}
        write_manifest(folder, manifest)
        job = SearchJob(make_search, int(seed), folder)
        if engine == "local":
            with tqdm(total=len(todo), disable=not progress, unit="search") as bar:
                for start in range(0, len(todo), chunk):
                    bar.update(len(job.run(todo[start : start + chunk])))
        else:
            _run_on_ray(job, todo=todo, chunk=chunk, options=ray or RayOptions(), progress=progress)
        summary = search_summary(folder)
        write_text_atomic(folder / SUMMARY, json.dumps(summary, indent=2) + "\n")
        manifest.finished = now()
        write_manifest(folder, manifest)
    if progress:
        print(", ".join(f"{k}: {v}" for k, v in summary.items()))
    return SearchRun(folder, summary, len(todo))


@dataclass
class SearchJob:
    """Runs chunks of searches and writes each as a shard (locally, or in a Ray actor)."""

    make_search: Callable[[], LatentSearch]
    seed: int
    out: Path

    def __post_init__(self) -> None:
        self._search: LatentSearch | None = None

    def run(self, items: list[dict[str, Any]]) -> list[str]:
        """Run the searches of ``items`` (``id``, ``stream``, ``target``) and write their shard."""
        if self._search is None:
            self._search = self.make_search()
            self._search.settings = dataclasses.replace(self._search.settings, seed=self.seed)
        targets = [json.loads(item["target"]) for item in items]
        targets = [torch.tensor(t) if isinstance(t, list) else t for t in targets]
        results = self._search.run_many(targets, streams=[int(item["stream"]) for item in items])
        write_shard(self.out / RESULTS, result_table(results))
        return [item["id"] for item in items]


def result_table(results: list[ExemplarResult]):
    """Search results as a pyarrow Table, one row each."""
    pa = require("pyarrow", "dataset", "Parquet results")
    rows = []
    for r in results:
        exemplar = r.exemplar
        tensor = exemplar if isinstance(exemplar, torch.Tensor) else None
        rows.append(
            {
                "id": str(r.stream), "stream": r.stream, "seed": r.seed, "method": r.method,
                "target": json.dumps(r.target.tolist() if isinstance(r.target, torch.Tensor) else r.target),
                "converged": r.converged, "converged_best": r.converged_best, "queries": r.queries,
                "queries_to_best": r.queries_to_best, "generations": r.generations, "loss": r.loss,
                "target_probability": r.target_probability, "seconds": r.seconds, "stop_reason": r.stop_reason,
                "latent": r.latent.float().tolist(), "probabilities": r.probabilities.float().tolist(),
                "exemplar": None if tensor is None else tensor.detach().float().reshape(-1).tolist(),
                "shape": None if tensor is None else list(tensor.shape),
                "text": exemplar if isinstance(exemplar, str) else None,
            }
        )  # fmt: skip
    return pa.Table.from_pylist(rows)


def search_summary(folder: Path) -> dict[str, Any]:
    """Searches written, converged, and their queries and seconds."""
    searches = converged = queries = 0
    seconds = 0.0
    for _, table in read_shards(folder / RESULTS, ["converged", "queries", "seconds"]):
        rows = table.to_pydict()
        searches += table.num_rows
        converged += sum(rows["converged"])
        queries += sum(rows["queries"])
        seconds += sum(rows["seconds"])
    return {"searches": searches, "converged": converged, "queries": queries, "seconds": round(seconds, 3)}


class SearchActor:
    """A Ray actor that runs chunks of searches (its search built once)."""

    def __init__(self, job: SearchJob, threads: int):
        torch.set_num_threads(threads)
        self.job = job

    def __call__(self, table: Any) -> Any:
        pa = require("pyarrow", "dataset", "Parquet results")
        return pa.table({"id": self.job.run(table.to_pylist())})


def _run_on_ray(job: SearchJob, todo: list[dict[str, Any]], chunk: int, options: RayOptions, progress: bool) -> None:
    from .ray_engine import start_ray

    ray = require("ray", "ray", "the Ray engine")
    ray_data = require("ray.data", "ray", "the Ray engine")
    if not todo:
        return
    threads = options.torch_threads or max(1, round(options.cpus_per_actor))
    started_here = start_ray(options)
    try:
        ray_data.DataContext.get_current().enable_progress_bars = False
        results = ray_data.from_items(todo).map_batches(
            SearchActor,
            fn_constructor_kwargs={"job": job, "threads": threads},
            batch_size=chunk,
            batch_format="pyarrow",
            compute=ray_data.ActorPoolStrategy(size=int(options.actors)),
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor,
        )
        with tqdm(total=len(todo), disable=not progress, unit="search") as bar:
            for batch in results.iter_batches(batch_format="pyarrow", batch_size=None):
                bar.update(batch.num_rows)
    finally:
        if started_here:
            ray.shutdown()
