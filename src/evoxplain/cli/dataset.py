"""``evoxplain explain-dataset``: explain every input of a dataset into a folder, resumably.

INPUT is a folder of images, a ``.npy``, ``.parquet``, ``.csv`` or ``.txt`` file (see
:func:`evoxplain.dataset.open_source`). The settings are those of ``evoxplain explain``, chosen for
the first input's shape; the folder gets ``results/`` (Parquet, one row per input),
``manifest.json``, ``summary.json`` and, with ``--heatmaps``, ``heatmaps/<id>.png``. Run the same
command again after a crash: it explains only the inputs not yet written.

Example::

    evoxplain explain-dataset digits/ --model lenet-mnist --out run/ --queries 1000
    evoxplain explain-dataset images/ --model efficientnet-lite0 --out run/ --engine ray --actors 8 \\
        --gpus-per-actor 1 --address auto
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from ..dataset import RayOptions, explain_dataset, open_source
from ..dataset.sources import Source
from ..errors import EvoxplainError, InvalidInputError
from .common import app, fail, parse_baseline, parse_pair
from .explain import DEFAULT_MODEL, explainer_settings, resolve_model


def first_shape(source: Source) -> tuple[int, ...] | None:
    """The shape of the first input that can be read (None for text)."""
    if source.kind == "text":
        return None
    for record in itertools.islice(source.records(), 16):
        try:
            return tuple(source.decode(record).shape)
        except (EvoxplainError, OSError, ValueError):
            continue
    raise InvalidInputError("none of the first 16 inputs can be read; check the inputs (and --column, --size)")


def dataset_settings(
    shape: tuple[int, ...] | None,
    method: str,
    *,
    queries: int,
    fitness: str,
    mask_size: str | None,
    baseline: str,
    **options: Any,
) -> dict[str, Any]:
    """The explainer's settings, as ``evoxplain explain`` chooses them for ``shape`` (text, None: the
    queries and the fitness only); ``mask_size`` and ``baseline`` as typed on the command line."""
    if shape is None:
        return {"queries": queries, "fitness": fitness}
    return explainer_settings(
        shape, method, queries=queries, fitness=fitness, mask_size=parse_pair(mask_size, "--mask-size"),
        baseline=parse_baseline(baseline), **options,
    )  # fmt: skip


def blackbox_options(shape: tuple[int, ...] | None, *, builtin: bool, batch_size: int | None) -> dict[str, Any]:
    """The BlackBox's options: logits of a built-in model, and for large images (as ``explain``) a
    smaller default batch, so memory stays bounded."""
    large = shape is not None and math.prod(shape) > 10_000
    return {"output": "logits" if builtin else "auto", "batch_size": batch_size or (32 if large else 256)}


@app.command("explain-dataset")
def explain_dataset_command(
    input: Annotated[str, typer.Argument(metavar="INPUT", help="A folder of images, or a .npy/.parquet/.csv/.txt.")],
    model: Annotated[
        str, typer.Option(help="A built-in model (see `evoxplain models`) or a TorchScript/torch.export/ONNX file.")
    ] = DEFAULT_MODEL,
    out: Annotated[Path, typer.Option(help="The run's folder (an earlier run's folder is resumed).")] = Path(
        "evoxplain-dataset"
    ),
    method: Annotated[str, typer.Option(help="auto, bgeex, gers, geex or ge (as `evoxplain explain`).")] = "auto",
    queries: Annotated[int, typer.Option(help="Perturbed inputs per explanation (even).")] = 1000,
    estimator: Annotated[str, typer.Option(help="Bernoulli masks: mean, regression or auto.")] = "auto",
    design: Annotated[str, typer.Option(help="random, orthogonal or auto.")] = "auto",
    sigma: Annotated[float, typer.Option(help="Search radius, in input units.")] = 0.2,
    mask_size: Annotated[str | None, typer.Option(help="Mask H,W (or one int); default: the method's.")] = None,
    baseline: Annotated[str, typer.Option(help="A number, 'blur', 'mean' or auto.")] = "auto",
    fitness: Annotated[str, typer.Option(help="prob, logit, logprob or entropy.")] = "prob",
    seed: Annotated[int, typer.Option(help="The run's seed (each input's derives from it and its id).")] = 0,
    shard_size: Annotated[int, typer.Option(help="Inputs per results file (at most one redone after a crash).")] = 64,
    share: Annotated[
        int | None,
        typer.Option(help="Inputs explained side by side, sharing each model call (default: 8 on a GPU, else 1)."),
    ] = None,
    heatmaps: Annotated[bool, typer.Option(help="Also write heatmaps/<id>.png for images.")] = False,
    batch_size: Annotated[int | None, typer.Option(help="Most inputs per model call.")] = None,
    size: Annotated[str | None, typer.Option(help="Image size H,W a model file takes (with --channels).")] = None,
    channels: Annotated[int | None, typer.Option(help="Image channels a model file takes (1 or 3).")] = None,
    id_column: Annotated[str, typer.Option(help="Tables: the column of ids.")] = "id",
    column: Annotated[str | None, typer.Option(help="Tables: the column holding each input (text or list).")] = None,
    target: Annotated[int | None, typer.Option(help="The class to explain; default: the predicted one.")] = None,
    target_column: Annotated[str | None, typer.Option(help="Tables: the column of each row's class.")] = None,
    engine: Annotated[str, typer.Option(help="local (this process) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray: a cluster to join (e.g. auto); default: start one.")] = None,
    actors: Annotated[int, typer.Option(help="Ray: model copies explaining in parallel.")] = 2,
    cpus_per_actor: Annotated[float, typer.Option(help="Ray: CPUs per actor (fractions leave room to read).")] = 1.0,
    gpus_per_actor: Annotated[float, typer.Option(help="Ray: GPUs per actor.")] = 0.0,
    in_flight: Annotated[int, typer.Option(help="Ray: chunks per actor at once (a model behind an endpoint).")] = 1,
) -> None:
    """Explain every input of INPUT: OUT/results/*.parquet, manifest.json, summary.json."""
    try:
        resolved = resolve_model(model, parse_pair(size, "--size"), channels)
        source = open_source(
            input, spec=resolved.spec, id_column=id_column, column=column, target=target, target_column=target_column
        )
        shape = first_shape(source)
        settings = dataset_settings(
            shape, method, queries=queries, sigma=sigma, mask_size=mask_size, baseline=baseline, fitness=fitness,
            estimator=estimator, design=design,
        )  # fmt: skip
        options = blackbox_options(shape, builtin=resolved.builtin, batch_size=batch_size)
        explain_dataset(
            resolved.model, source, out, settings=settings, seed=seed, engine=engine, shard_size=shard_size,
            share=share, heatmaps=heatmaps, blackbox=options, model_name=resolved.name, class_names=resolved.classes,
            ray=RayOptions(
                address=address, actors=actors, cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor,
                in_flight=in_flight,
            ),
        )  # fmt: skip
    except EvoxplainError as err:
        fail(err)
    typer.echo(f"wrote {out}")
