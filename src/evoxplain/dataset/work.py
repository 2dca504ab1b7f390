"""What a worker does with a chunk of inputs: read, explain, write one shard (and heatmaps).

The local engine runs one :class:`ChunkWorker` in the calling process; the Ray engine one per
actor. Each explains the records of a chunk with its input's own seed
(:func:`~evoxplain.dataset.rows.input_seed`), records an input that cannot be read or explained
as a row with its error, writes the chunk's rows as one shard
(:func:`~evoxplain.dataset.shards.write_shard`) and returns what the progress bar and the
summary need: ``[{"id", "queries", "error"}]``. A budget that runs out, or an interrupt, writes
the rows already made before it stops, so no finished explanation is lost.

Example:
    >>> from evoxplain import GEEX
    >>> from evoxplain.dataset import open_source
    >>> source = open_source(torch.rand(4, 1, 28, 28))
    >>> worker = ChunkWorker(BlackBox(model), GEEX, {"queries": 100}, 0, source, "run")
    >>> [r["queries"] for r in worker.process(list(source.records()))]
    [102, 102, 102, 102]
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from ..attribution.base import Explainer
from ..blackbox import BlackBox
from ..errors import QueryBudgetExceeded
from ..explanation import Explanation
from ..files import atomic_path
from .batching import FAILURES, SharedSteps
from .rows import error_row, explanation_row, input_seed, rows_table
from .shards import RESULTS, write_shard
from .sources import Record, Source

HEATMAPS = "heatmaps"


class ChunkWorker:
    """Explains chunks of records with one explainer and writes each chunk as a shard.

    Args:
        blackbox: the model, counted.
        explainer: the explainer class (e.g. :class:`~evoxplain.GEEX`).
        settings: its settings (keywords), the seed aside.
        run_seed: the run's seed; each input's seed derives from it and the input's id.
        source: reads a record into the input to explain.
        out: the run's folder (shards go to ``out/results``).
        heatmaps: also write ``out/heatmaps/<id>.png`` for image inputs.
        share: inputs explained side by side whose queries share each model call
            (:class:`~evoxplain.dataset.batching.SharedSteps`); 1 explains one input at a time.
            Methods that query the model themselves (LIME, KernelSHAP, ...) go one at a time.
        max_batch: the most inputs of a shared model call (default: the BlackBox's batch size);
            each input asks for ``max_batch / share`` at a time, so ``share`` of them fill a call.
    """

    def __init__(
        self,
        blackbox: BlackBox,
        explainer: type[Explainer],
        settings: dict[str, Any],
        run_seed: int,
        source: Source,
        out: str | Path,
        heatmaps: bool = False,
        share: int = 1,
        max_batch: int | None = None,
    ):
        max_batch = max_batch or blackbox.batch_size
        share = max(1, share) if explainer.stepwise else 1
        step = max(1, max_batch // share)  # share steps fill one model call
        self.explainer = explainer(blackbox, **{"batch_size": step, **settings, "seed": 0})
        self.shared = SharedSteps(self.explainer, share=share, max_batch=max_batch) if explainer.stepwise else None
        self.run_seed = int(run_seed)
        self.source = source
        self.out = Path(out)
        self.heatmaps = heatmaps

    def process(self, records: list[Record]) -> list[dict[str, Any]]:
        """Explain ``records``, write their shard, and return ``[{"id", "queries", "error"}]``.

        The rows are in the records' order whatever order they were made in, so the shard (and
        its name) is the same. A budget that runs out or an interrupt writes the rows made so far
        and is raised again."""
        rows: list[dict[str, Any] | None] = [None] * len(records)
        inputs: dict[int, Any] = {}
        try:
            for index, result in self._explained(records, inputs):
                rows[index] = self._row(records[index], inputs.pop(index, None), result)
        finally:  # also when the budget runs out or the run is interrupted: what is done is kept
            made = [row for row in rows if row is not None]
            if made:
                write_shard(self.out / RESULTS, rows_table(made))
        return [{"id": r["id"], "queries": r["queries"], "error": r["error"]} for r in made]

    def _explained(self, records: list[Record], inputs: dict[int, Any]) -> Iterator[tuple[int, Any]]:
        """``(index, explanation or error)`` for each record, as they finish; ``inputs`` holds the
        decoded inputs of those in flight (for heatmaps)."""

        def jobs() -> Iterator[Any]:
            for index, record in enumerate(records):
                seed = input_seed(self.run_seed, record["id"])
                try:
                    x = self.source.decode(record)
                except FAILURES as err:  # an unreadable input fails alone
                    failed.append((index, err))
                    continue
                inputs[index] = x
                yield index, x, record.get("target"), seed

        failed: list[tuple[int, BaseException]] = []
        if self.shared is not None:
            for index, result in self.shared.explain(jobs()):
                yield from _drain(failed)
                yield index, result
        else:
            for index, x, target, seed in jobs():
                yield from _drain(failed)
                yield index, self._explain_alone(x, target, seed)
        yield from _drain(failed)

    def _explain_alone(self, x: Any, target: int | None, seed: int) -> Explanation | BaseException:
        """One input explained with ``explain`` (methods whose queries Captum makes)."""
        self.explainer.seed = seed
        try:
            return self.explainer.explain(x, target, batched=False)
        except QueryBudgetExceeded:
            raise
        except FAILURES as err:
            return err

    def _row(self, record: Record, x: Any, result: Explanation | BaseException) -> dict[str, Any]:
        ident = record["id"]
        seed = input_seed(self.run_seed, ident)
        if isinstance(result, BaseException):
            return error_row(ident=ident, seed=seed, error=result, method=self.explainer.method)
        row = explanation_row(ident, seed, result)
        if self.heatmaps and isinstance(x, torch.Tensor) and x.ndim == 3:
            write_heatmap(
                self.out / HEATMAPS, ident=ident, x=x, values=result.values, title=f"{ident}: class {row['target']}"
            )
        return row


def _drain(failed: list[tuple[int, BaseException]]) -> Iterator[tuple[int, BaseException]]:
    while failed:
        yield failed.pop(0)


def heatmap_path(folder: Path, ident: str) -> Path | None:
    """``folder/<id>.png``, or None for an id that is not a plain relative path (it would leave
    the folder)."""
    parts = PurePosixPath(ident).parts
    if not parts or PurePosixPath(ident).is_absolute() or any(p in ("..", ".", "") for p in parts) or "\\" in ident:
        return None
    return folder.joinpath(*parts[:-1], parts[-1] + ".png")


def write_heatmap(folder: Path, ident: str, x: torch.Tensor, values: torch.Tensor, title: str) -> Path | None:
    """The values over the image, written atomically to :func:`heatmap_path` (None if the id
    cannot name a file)."""
    from ..viz import overlay

    path = heatmap_path(folder, ident)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = x.detach().cpu().float()
    low, high = float(picture.min()), float(picture.max())
    if low < 0 or high > 1:
        picture = (picture - low) / max(high - low, 1e-12)
    if picture.shape[0] not in (1, 3):
        picture = picture.mean(dim=0, keepdim=True)
    with atomic_path(path) as tmp:
        overlay(picture, values.detach().cpu().sum(dim=0), path=tmp, title=title)
    return path
