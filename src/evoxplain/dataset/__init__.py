"""Explaining a whole dataset: resumable runs on one machine, or on a Ray cluster.

:func:`explain_dataset` explains every input of a folder of images, an array, a Parquet or CSV
table, a text file or a Ray Dataset into an output folder: ``results/`` (Parquet shards, one row
per input: :mod:`.rows`), ``manifest.json``, ``summary.json`` and optional heatmaps. A run killed
at any point and started again on the same folder skips the ids already written; each input's
seed derives from the run's seed and its id, so the values do not depend on order, shard size,
workers or engine (``engine="local"`` or ``"ray"``). :func:`search_many` runs many exemplar
searches the same way.

Example:
    >>> run = explain_dataset(model, torch.rand(4, 1, 28, 28), "run", settings={"queries": 200}, progress=False)
    >>> table = read_results("run")
    >>> table.num_rows, table.column("queries").to_pylist()
    (4, [202, 202, 202, 202])
"""

from .exemplars import search_many
from .rows import input_seed
from .run import DatasetRun, RayOptions, explain_dataset
from .shards import done_ids, read_results
from .sources import Source, open_source
from .summary import summarise

__all__ = [
    "DatasetRun",
    "RayOptions",
    "Source",
    "done_ids",
    "explain_dataset",
    "input_seed",
    "open_source",
    "read_results",
    "search_many",
    "summarise",
]
