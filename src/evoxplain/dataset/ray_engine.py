"""The Ray engine: the same chunks as the local engine, explained by a pool of Ray actors.

Ray Data reads the records not yet written (``Source.ray_dataset``: a table is read by Ray's own
Parquet or CSV reader), ``map_batches`` hands chunks of ``shard_size`` records to a fixed pool of
actors (``ActorPoolStrategy``: one model copy per actor, ``gpus_per_actor`` GPUs and fractional
CPUs each, so the reading tasks are not starved), and each actor explains its chunk and writes it
as one shard with the local engine's :class:`~evoxplain.dataset.work.ChunkWorker`; only
``{id, queries, error}`` comes back to the driver, for the progress bar.

Resumption is the local engine's, by the ids already in ``results/``, so a folder can be started
on one engine and finished on the other. A killed actor is restarted and its chunk sent again
(Ray retries actor tasks); the chunk gives the same rows and so the same shard name, which
replaces a copy written before the kill: no row is lost or written twice. (Ray Data's own
``CheckpointConfig`` is not used: it checkpoints only pipelines that start with a file read,
and it writes its Parquet files in place rather than whole.)

Example::

    explain_dataset(model, "images/", "run", engine="ray", ray=RayOptions(address="auto", actors=8,
                    gpus_per_actor=1, cpus_per_actor=2))
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import torch
from tqdm.auto import tqdm

from ..errors import require
from .run import Job, RayOptions


def start_ray(options: RayOptions) -> bool:
    """Join ``options.address`` or start a local cluster (dashboard and usage statistics off);
    returns whether this call started Ray (and so should stop it). Does nothing if Ray runs."""
    ray = require("ray", "ray", "the Ray engine")
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if options.address is not None:
        ray.init(address=options.address, log_to_driver=False)
    else:
        ray.init(num_cpus=options.num_cpus, include_dashboard=False, log_to_driver=False)
    return True


class ExplainActor:
    """One model copy in a Ray actor: explains chunks of records into shards."""

    def __init__(self, job: Job, threads: int, gpus: float):
        torch.set_num_threads(threads)
        model = job.model
        if gpus > 0 and isinstance(model, torch.nn.Module) and torch.cuda.is_available():
            model = model.to("cuda")
        self.job, self.model = job, model
        self.local = threading.local()  # one explainer per thread when chunks run side by side

    def __call__(self, table: Any) -> Any:
        pa = require("pyarrow", "dataset", "Parquet results")
        if not hasattr(self.local, "worker"):
            self.local.worker = self.job.worker(self.model)
        finished = self.local.worker.process(table.to_pylist())
        schema = pa.schema([("id", pa.string()), ("queries", pa.int64()), ("error", pa.string())])
        return pa.Table.from_pylist(finished, schema=schema)


def run_ray(job: Job, done: set[str], pending: int, options: RayOptions, progress: bool) -> None:
    """Explain the records of ``job.source`` not in ``done`` on a Ray actor pool."""
    ray = require("ray", "ray", "the Ray engine")
    ray_data = require("ray.data", "ray", "the Ray engine")
    if pending == 0:
        return
    started_here = start_ray(options)
    try:
        context = ray_data.DataContext.get_current()
        context.enable_progress_bars = False
        in_flight = max(1, int(options.in_flight))
        pool = ray_data.ActorPoolStrategy(
            size=int(options.actors),
            max_tasks_in_flight_per_actor=in_flight,
            max_concurrent_calls_per_actor=in_flight,
            enable_true_multi_threading=in_flight > 1,
        )
        results = job.source.ray_dataset(done).map_batches(
            ExplainActor,
            fn_constructor_kwargs={
                "job": job,
                "threads": options.torch_threads or max(1, round(options.cpus_per_actor)),
                "gpus": options.gpus_per_actor,
            },
            batch_size=job.shard_size,
            batch_format="pyarrow",
            compute=pool,
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor,
        )
        follow(results, pending, progress)
    finally:
        if started_here:
            ray.shutdown()


def follow(results: Any, pending: int, progress: bool) -> None:
    """Pull the actors' brief rows as they come, for the progress bar."""
    queries, started = 0, time.perf_counter()
    with tqdm(total=pending, disable=not progress, unit="input", desc="explaining (ray)") as bar:
        for batch in results.iter_batches(batch_format="pyarrow", batch_size=None):
            queries += sum(q or 0 for q in batch.column("queries").to_pylist())
            bar.update(batch.num_rows)
            bar.set_postfix(queries_per_s=f"{queries / max(time.perf_counter() - started, 1e-9):.0f}")
