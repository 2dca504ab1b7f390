"""The ``evoxplain`` command: explain one input of a model from the command line.

``evoxplain explain`` with no arguments explains the built-in EfficientNet-Lite0 on the built-in
photo of a cat (the large-image defaults, 1000 queries: about half a minute on two CPU cores) and
writes a heatmap PNG, the values and their standard errors (``.npy``) and a text summary.

Example::

    evoxplain explain                                   # EfficientNet-Lite0 on the sample cat
    evoxplain explain digit.png --model lenet-mnist --method geex --queries 4000
    evoxplain explain x.npy --model model.onnx --target 3 --out results/
    evoxplain models

The work is done by :func:`run_explain` (from Python too) and its steps, plain functions
(:func:`resolve_model`, :func:`load_input`, :func:`make_explainer`, :func:`summary_text`,
:func:`write_outputs`), so the commands stay thin.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from .attribution import GEEX, recommended_settings
from .attribution.defaults import bernoulli_mask, gaussian_mask
from .blackbox import BlackBox
from .errors import EvoxplainError, InvalidInputError, ModelCallError
from .explanation import Explanation

METHODS = ("auto", "gers", "geex", "ge", "bgeex")
ESTIMATORS = ("auto", "mean", "regression")
DESIGNS = ("auto", "random", "orthogonal")
DEFAULT_MODEL = "efficientnet-lite0"
_MODEL_SUFFIXES = {".pt", ".pth", ".ts", ".pt2", ".onnx"}

app = typer.Typer(
    name="evoxplain",
    help="Explain black-box models from queries alone: attributions (GEEX) and class exemplars (ES with momentum).",
    add_completion=False,
    no_args_is_help=True,
)


# -- the steps ------------------------------------------------------------------------------


@dataclass
class ResolvedModel:
    """What to query and how to read it.

    Attributes:
        model: a module, or the path of a TorchScript/ONNX file (BlackBox loads it).
        name: how the summary names it.
        classes: class names by index, or None (file models).
        spec: the image input it takes (:class:`evoxplain.zoo.InputSpec`), or None if unknown.
        builtin: whether it is one of :func:`evoxplain.zoo.available_models`.
    """

    model: Any
    name: str
    classes: list[str] | None
    spec: Any
    builtin: bool


def parse_pair(text: str | None, name: str) -> tuple[int, int] | None:
    """``"14"`` → ``(14, 14)``; ``"14,7"`` or ``"14x7"`` → ``(14, 7)``; None stays None.

    Example:
        >>> parse_pair("7", "--mask-size")
        (7, 7)
    """
    if text is None:
        return None
    parts = [p for p in re.split(r"[,x×\s]+", text.strip()) if p]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise InvalidInputError(f"{name} must be one positive integer or two as H,W (e.g. 14 or 14,14), not {text!r}")
    return values  # type: ignore[return-value]


def parse_baseline(text: str) -> float | str:
    """``"0"`` → ``0.0``; ``"auto"``, ``"blur"`` and ``"mean"`` stay names.

    Example:
        >>> parse_baseline("0.5"), parse_baseline("blur")
        (0.5, 'blur')
    """
    if text in ("auto", "blur", "mean"):
        return text
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"--baseline must be a number, 'auto', 'blur' or 'mean', not {text!r}") from None


def resolve_model(name: str, size: tuple[int, int] | None = None, channels: int | None = None) -> ResolvedModel:
    """A built-in model by name, or a TorchScript (``.pt``/``.pth``/``.ts``) or ONNX file.

    ``size`` and ``channels`` say what a file model takes (image files are fitted to them).

    Example:
        >>> resolve_model("lenet-mnist").spec.shape
        (1, 28, 28)
    """
    from .zoo import InputSpec, available_models, load_model

    if channels is not None and channels not in (1, 3):
        raise InvalidInputError(f"--channels must be 1 (grayscale) or 3 (RGB), not {channels}")
    if name in available_models():
        module, classes, spec = load_model(name)
        if (size is not None and size != spec.size) or (channels is not None and channels != spec.channels):
            raise InvalidInputError(
                f"--size and --channels describe model files; the built-in {name} takes "
                f"{spec.channels}x{spec.size[0]}x{spec.size[1]} images"
            )
        return ResolvedModel(module, name, classes, spec, builtin=True)
    path = Path(name)
    if not path.is_file():
        raise InvalidInputError(
            f"model {name!r} is neither a built-in model ({', '.join(available_models())}) nor an existing "
            "TorchScript (.pt, .pth, .ts) or ONNX (.onnx) file"
        )
    if path.suffix.lower() not in _MODEL_SUFFIXES:
        raise InvalidInputError(f"{path} is not a model file: give a TorchScript (.pt, .pth, .ts) or ONNX (.onnx) file")
    spec = InputSpec(channels or 3, size) if size is not None or channels is not None else None
    return ResolvedModel(str(path), path.name, None, spec, builtin=False)


def load_input(path: str | Path | None, spec: Any = None) -> tuple[torch.Tensor, str]:
    """The input to explain and a file stem for the outputs.

    * None: the built-in photo of a cat, fitted to ``spec`` (needs a spec with a size).
    * ``.npy``: one input, used as is (a leading batch dimension of 1 on a 4-D array is dropped).
    * an image file: converted to ``spec``'s channels and resized to its size when known;
      values in [0, 1].

    Example:
        >>> from PIL import Image
        >>> from evoxplain.zoo import InputSpec
        >>> Image.new("L", (32, 32)).save("digit.png")
        >>> x, stem = load_input("digit.png", InputSpec(1, (28, 28)))
        >>> x.shape, stem
        (torch.Size([1, 28, 28]), 'digit')
    """
    if path is None:
        if spec is None or spec.size is None:
            raise InvalidInputError(
                "give an INPUT to explain (an image file or a .npy array), or --size for the sample photo"
            )
        from .zoo.efficientnet import sample_image

        return sample_image(spec.size, spec.channels), "cat"
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no input file at {path}")
    if path.suffix.lower() == ".npy":
        return _load_npy(path), path.stem
    return _load_image(path, spec), path.stem


def _load_npy(path: Path) -> torch.Tensor:
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as err:
        raise InvalidInputError(f"cannot read {path} as a .npy array: {err}") from None
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"{path} holds {array.dtype} values; a .npy input must be numeric")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _load_image(path: Path, spec: Any) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as err:
        raise InvalidInputError(
            f"cannot read {path} as an image ({err}); give a PNG or JPEG file, or a .npy array"
        ) from None
    gray = image.mode in ("1", "L", "LA", "I", "I;16", "F")
    channels = spec.channels if spec is not None else (1 if gray else 3)
    if spec is not None and spec.size is not None:
        if spec.crop:
            from .zoo.efficientnet import center_crop

            return center_crop(image, spec.size, channels)
        image = image.resize((spec.size[1], spec.size[0]), Image.BILINEAR)
    array = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def default_mask(shape: tuple[int, ...], method: str = "bgeex") -> tuple[int, int]:
    """The mask size ``method`` (``bgeex`` or ``gers``) gets for an image of ``shape`` ``(..., H, W)``:
    :func:`~evoxplain.attribution.defaults.bernoulli_mask` or
    :func:`~evoxplain.attribution.defaults.gaussian_mask`.

    Example:
        >>> default_mask((3, 224, 224)), default_mask((3, 224, 224), "gers"), default_mask((1, 28, 28))
        ((14, 14), (7, 7), (14, 14))
    """
    return gaussian_mask(shape) if method == "gers" else bernoulli_mask(shape)


def make_explainer(
    blackbox: BlackBox,
    shape: tuple[int, ...],
    method: str = "auto",
    queries: int = 1000,
    sigma: float = 0.2,
    mask_size: tuple[int, int] | None = None,
    baseline: float | str = "auto",
    fitness: str = "prob",
    seed: int | None = 0,
    progress: bool = False,
    estimator: str = "auto",
    design: str = "auto",
) -> GEEX:
    """The GEEX preset called ``method`` for inputs of ``shape``.

    ``auto``: :func:`recommended_settings` for the shape and ``queries`` (images over 64 px:
    Bernoulli masks of crisp cells fitted by regression, not integrated, 28 cells along the shorter
    side from two mirrored pairs per cell on, else 14; smaller images: ``bgeex``; anything else:
    ``geex``); ``ge``: plain gradient estimate; ``geex``: integrated; ``gers``: integrated with
    noise drawn at ``mask_size`` (default :func:`default_mask`) for every channel and upsampled;
    ``bgeex``: the paper's integrated Bernoulli masks at ``mask_size``, shared by the channels. A
    ``mask_size`` given to ``ge`` or ``geex`` resizes their noise too. ``estimator`` (Bernoulli
    masks): ``mean`` or ``regression``; ``auto`` keeps the preset's (``mean`` but where ``auto``
    recommends the regression). ``design``: ``random`` or ``orthogonal`` directions; ``auto``
    keeps the preset's (orthogonal where ``auto`` recommends it). ``baseline="auto"``: a blurred
    copy for images larger than 64 pixels, else 0.

    GERS noise is not shared by the channels: a shared Gaussian mask moves them together, so it
    sees only the gradient summed over the channels and misses what depends on colour.

    Example:
        >>> make_explainer(BlackBox(model), (3, 224, 224), "gers").mask_size
        (7, 7)
        >>> make_explainer(BlackBox(model), (3, 224, 224)).estimator
        'regression'
    """
    if method not in METHODS:
        raise InvalidInputError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    if estimator not in ESTIMATORS:
        raise InvalidInputError(f"--estimator must be one of {', '.join(ESTIMATORS)}, not {estimator!r}")
    if design not in DESIGNS:
        raise InvalidInputError(f"--design must be one of {', '.join(DESIGNS)}, not {design!r}")
    recommended = recommended_settings(shape, queries)
    if method in ("gers", "bgeex") and len(shape) < 2:
        raise InvalidInputError(
            f"method {method} needs an image input (C, H, W); this input has shape {tuple(shape)}: "
            "use --method geex or ge"
        )
    if method == "auto":
        settings = {key: value for key, value in recommended.items() if key not in ("sigma", "baseline")}
    elif method == "ge":
        settings = {"integrated": False}
    elif method == "bgeex":
        settings = {"distribution": "bernoulli", "mask_size": default_mask(shape, method)}
    else:
        settings = {"mask_size": default_mask(shape, method)} if method == "gers" else {}
    if mask_size is not None:
        settings["mask_size"] = mask_size
    if estimator != "auto":
        settings["estimator"] = estimator
    if design != "auto":
        settings["design"] = design
    if baseline == "auto":
        baseline = recommended.get("baseline", 0.0)
    return GEEX(
        blackbox,
        queries=queries,
        sigma=sigma,
        baseline=baseline,
        fitness=fitness,
        seed=seed,
        progress=progress,
        **settings,
    )


def class_name(classes: list[str] | None, index: int) -> str:
    """``"281 (tabby)"``, or ``"281"`` without class names."""
    return f"{index} ({classes[index]})" if classes and 0 <= index < len(classes) else str(index)


def summary_text(
    model_name: str,
    exp: Explanation,
    probs: torch.Tensor,
    classes: list[str] | None,
    input_shape: tuple[int, ...],
    total_queries: int,
    method: str | None = None,
) -> str:
    """The text summary of one explanation: prediction, settings, cost, completeness, regions.

    Example:
        >>> from evoxplain.data import MNIST_CLASSES
        >>> bb = BlackBox(model)
        >>> exp = GEEX(bb, queries=2000, mask_size=(14, 14), seed=0).explain(digit)
        >>> probs = bb.probabilities(digit[None])[0]
        >>> print(summary_text("lenet-mnist", exp, probs, MNIST_CLASSES, (1, 28, 28), 2003, "geex"))
        model: lenet-mnist
        ...
    """
    from .viz import top_regions

    predicted = int(probs.argmax())
    p = exp.params
    shown = ["queries", "sigma", "baseline", "mask_size", "shared_mask", "design", "fitness", "seed"]
    if p.get("distribution") == "bernoulli":
        shown[shown.index("sigma")] = "estimator"  # σ is unused by present/absent masks
    settings = ", ".join(f"{key}={p[key]}" for key in shown if p.get(key) is not None)
    lines = [
        f"model: {model_name}",
        f"input shape: {tuple(input_shape)}",
        f"predicted class: {class_name(classes, predicted)}, probability {float(probs[predicted]):.4f}",
        f"explained class: {class_name(classes, exp.target)}, probability {float(probs[exp.target]):.4f}",
        f"method: {method + ' = ' if method else ''}{exp.method} ({settings})",
        f"queries used: {exp.queries} for the explanation, {total_queries} in all",
        f"seconds: {exp.seconds:.1f}",
    ]
    if exp.baseline_score is not None and p.get("integrated") is False:  # Bernoulli masks at full strength
        lines.append(
            f"sum of values: {float(exp.totals):.4f}, f(x) - f(baseline) = {float(exp.score - exp.baseline_score):.4f} "
            "(not integrated: each cell's average effect over random masks; they add up to the change only "
            "for a model additive in the cells)"
        )
    elif exp.baseline_score is not None:
        delta = float(exp.score - exp.baseline_score)
        total = float(exp.totals)
        lines.append(
            f"completeness: f(x) - f(baseline) = {delta:.4f}, sum of values = {total:.4f}, "
            f"gap = {abs(total - delta):.4f}"
        )
    else:
        lines.append(f"sum of values: {float(exp.totals):.4f} (GE is not integrated: no completeness check)")
    if exp.stderr is not None:
        bounds = p.get("design") == "orthogonal" and p.get("estimator") != "regression"  # the regression's stay fit
        lines.append(noise_line(exp.values, exp.stderr, upper_bounds=bounds))
    values = exp.values
    if values.ndim >= 2:
        lines.append("top regions (rows, columns: sum of values):")
        for sign, label in ((1, "+"), (-1, "-")):
            for (r0, r1, c0, c1), value in top_regions(values, sign=sign, k=3):
                lines.append(f"  {label} rows {r0}-{r1 - 1}, cols {c0}-{c1 - 1}: {value:+.4f}")
    else:
        order = values.abs().argsort(descending=True)[:5].tolist()
        lines.append("top features (index: value): " + ", ".join(f"{i}: {float(values[i]):+.4f}" for i in order))
    return "\n".join(lines) + "\n"


def noise_line(values: torch.Tensor, stderr: torch.Tensor, upper_bounds: bool = False) -> str:
    """How far the values stand above their sampling noise, in one line of the summary
    (``upper_bounds``: the errors overstate the noise, as the mean estimators' with orthogonal designs).

    Example:
        >>> noise_line(torch.tensor([3.0, 0.5]), torch.tensor([1.0, 1.0]))
        'sampling noise: 50% of the values are more than 2 standard errors from 0 (the largest: 3.0); ...'
    """
    known = stderr.isfinite() & (stderr > 0)
    if not bool(known.any()):
        return "sampling noise: not estimable (about as few query pairs as mask cells: use more queries)"
    z = values[known].abs() / stderr[known]
    bounds = " (upper bounds of the errors: orthogonal design)" if upper_bounds else ""
    return (
        f"sampling noise: {float((z > 2).float().mean()):.0%} of the values are more than 2 standard errors "
        f"from 0 (the largest: {float(z.max()):.1f}){bounds}; the errors shrink as 1/sqrt(queries)"
    )


def write_outputs(
    out: str | Path, stem: str, x: torch.Tensor, exp: Explanation, title: str, summary: str
) -> list[Path]:
    """Write ``<stem>_heatmap.png``, ``<stem>_values.npy`` and ``<stem>_summary.txt`` under ``out``
    (and ``<stem>_stderr.npy``, the values' standard errors, where the method estimates them).

    Example:
        >>> exp = GEEX(model, queries=500, seed=0).explain(image)
        >>> [p.name for p in write_outputs("results", "cat", image, exp, "tabby", "a summary")]
        ['cat_heatmap.png', 'cat_values.npy', 'cat_summary.txt', 'cat_stderr.npy']
    """
    from .viz import bars, overlay

    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidInputError(f"cannot create the output folder {folder}: {err}") from None
    png, npy, txt = (folder / f"{stem}_{kind}" for kind in ("heatmap.png", "values.npy", "summary.txt"))
    values = exp.values.detach().cpu()
    if values.ndim >= 2:
        picture = x.detach().cpu().reshape(-1, *x.shape[-2:])
        low, high = float(picture.min()), float(picture.max())
        if low < 0 or high > 1:  # a .npy input on another scale: stretch it to [0, 1] to show it
            picture = (picture - low) / max(high - low, 1e-12)
        channels = picture.shape[0]
        shown = picture if channels in (1, 3) else picture.mean(dim=0, keepdim=True)
        overlay(shown, values.reshape(-1, *x.shape[-2:]).sum(dim=0), path=png, title=title)
    else:
        bars(values, path=png, title=title)
    np.save(npy, values.numpy())
    txt.write_text(summary, encoding="utf-8")
    written = [png, npy, txt]
    if exp.stderr is not None:
        written.append(folder / f"{stem}_stderr.npy")
        np.save(written[-1], exp.stderr.detach().cpu().numpy())
    return written


@dataclass
class ExplainResult:
    """What :func:`run_explain` made: the explanation, the model's answer, and the files."""

    explanation: Explanation
    probabilities: torch.Tensor
    classes: list[str] | None
    paths: list[Path]
    seconds: float

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())


def run_explain(
    source: str | Path | None = None,
    model: str = DEFAULT_MODEL,
    method: str = "auto",
    queries: int | None = None,
    sigma: float = 0.2,
    mask_size: tuple[int, int] | None = None,
    target: int | None = None,
    seed: int | None = 0,
    baseline: float | str = "auto",
    fitness: str = "prob",
    batch_size: int | None = None,
    size: tuple[int, int] | None = None,
    channels: int | None = None,
    out: str | Path = "evoxplain-out",
    progress: bool = False,
    estimator: str = "auto",
    design: str = "auto",
) -> ExplainResult:
    """Everything ``evoxplain explain`` does: load, predict, explain, write the files.

    ``source`` is the input file (None: the sample photo); the other arguments are the command's
    options, parsed.

    ``queries`` defaults to 1000 for the built-in EfficientNet-Lite0 (about a minute on two CPU
    cores), 2000 otherwise; ``batch_size`` to 32 for inputs over 10,000 values, else 256.

    Example:
        >>> from PIL import Image
        >>> Image.new("L", (28, 28)).save("digit.png")
        >>> result = run_explain("digit.png", model="lenet-mnist", method="geex", out="results")
        >>> result.explanation.queries, [p.name for p in result.paths]
        (2002, ['digit_heatmap.png', 'digit_values.npy', 'digit_summary.txt', 'digit_stderr.npy'])
    """
    resolved = resolve_model(model, size, channels)
    x, stem = load_input(source, resolved.spec)
    if batch_size is None:
        batch_size = 32 if x.numel() > 10_000 else 256  # large images: bounded memory
    blackbox = BlackBox(resolved.model, output="logits" if resolved.builtin else "auto", batch_size=batch_size)
    try:
        probs = blackbox.probabilities(x[None])[0].cpu()
    except ModelCallError as err:
        if resolved.spec is None and x.ndim == 3:
            raise ModelCallError(f"{err} Use --size H,W and --channels C to say what images the model takes.") from err
        raise
    if target is not None and not 0 <= target < len(probs):
        raise InvalidInputError(
            f"--target {target} is out of range: the model has {len(probs)} classes (0..{len(probs) - 1})"
        )
    if queries is None:
        queries = 1000 if resolved.name == DEFAULT_MODEL else 2000
    explainer = make_explainer(
        blackbox,
        tuple(x.shape),
        method,
        queries,
        sigma,
        mask_size,
        baseline,
        fitness,
        seed,
        progress,
        estimator,
        design,
    )
    started = time.perf_counter()
    exp = explainer.explain(x, target, batched=False)
    seconds = time.perf_counter() - started
    summary = summary_text(resolved.name, exp, probs, resolved.classes, tuple(x.shape), blackbox.queries, method)
    name = class_name(resolved.classes, exp.target)
    title = f"{name}: p={float(probs[exp.target]):.3f} ({method}, {exp.queries} queries)"
    paths = write_outputs(out, stem, x, exp, title, summary)
    return ExplainResult(exp, probs, resolved.classes, paths, seconds)


# -- the commands ---------------------------------------------------------------------------


@app.command()
def explain(
    input: Annotated[
        str | None,
        typer.Argument(
            metavar="INPUT", help="An image file (PNG/JPEG) or a .npy array; default: the sample photo of a cat."
        ),
    ] = None,
    model: Annotated[
        str, typer.Option(help="A built-in model (see `evoxplain models`) or a TorchScript/ONNX file.")
    ] = DEFAULT_MODEL,
    method: Annotated[
        str,
        typer.Option(
            help="auto (the benchmarked defaults: Bernoulli masks for images, geex for anything else), "
            "bgeex, gers, geex or ge."
        ),
    ] = "auto",
    estimator: Annotated[
        str, typer.Option(help="Bernoulli masks: mean or regression; auto: the method's (regression for large images).")
    ] = "auto",
    design: Annotated[
        str,
        typer.Option(
            help="random or orthogonal directions (same distribution per query, less noise); auto: the method's."
        ),
    ] = "auto",
    queries: Annotated[
        int | None, typer.Option(help="Perturbed inputs (even). Default: 1000 for efficientnet-lite0, else 2000.")
    ] = None,
    sigma: Annotated[float, typer.Option(help="Search radius, in input units.")] = 0.2,
    mask_size: Annotated[
        str | None,
        typer.Option(
            help="Mask H,W (or one int); default: half the size for small images, else 14 cells along the "
            "shorter side (auto: 28 once queries reach 4 per cell of that grid), gers size/32 (at least 7)."
        ),
    ] = None,
    target: Annotated[int | None, typer.Option(help="Class to explain; default: the predicted class.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    baseline: Annotated[
        str, typer.Option(help="A number, 'blur', 'mean' or auto (blur for images over 64 px, else 0).")
    ] = "auto",
    fitness: Annotated[str, typer.Option(help="prob, logit, logprob or entropy.")] = "prob",
    batch_size: Annotated[int | None, typer.Option(help="Most inputs per model call.")] = None,
    size: Annotated[str | None, typer.Option(help="Image size H,W a model file takes.")] = None,
    channels: Annotated[int | None, typer.Option(help="Image channels a model file takes (1 or 3).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the heatmap, values and summary.")] = Path("evoxplain-out"),
) -> None:
    """Explain one input: writes OUT/<name>_heatmap.png, _values.npy, _stderr.npy and _summary.txt."""
    try:
        result = run_explain(
            input, model, method, queries, sigma, parse_pair(mask_size, "--mask-size"), target, seed,
            parse_baseline(baseline), fitness, batch_size, parse_pair(size, "--size"), channels, out, progress=True,
            estimator=estimator, design=design,
        )  # fmt: skip
    except EvoxplainError as err:
        _fail(err)
    exp, probs, predicted = result.explanation, result.probabilities, result.predicted
    typer.echo(f"predicted: {class_name(result.classes, predicted)}, probability {float(probs[predicted]):.4f}")
    if exp.target != predicted:
        typer.echo(f"explained: {class_name(result.classes, exp.target)}, probability {float(probs[exp.target]):.4f}")
    typer.echo(f"queries: {exp.queries}, time: {result.seconds:.1f} s")
    for path in result.paths:
        typer.echo(f"wrote {path}")


@app.command()
def exemplars(
    dataset: Annotated[
        str,
        typer.Argument(
            help="What to explain: 'adult' (a random forest on UCI Adult), 'fer' (the FER2013 "
            "classifier), 'fashion-mnist' (the Fashion-MNIST LeNet) or 'imdb' (a BiLSTM sentiment classifier)."
        ),
    ] = "adult",
    target: Annotated[
        str | None,
        typer.Option(help="A class name or index (images: also a list, e.g. happy,surprise); default: every class."),
    ] = None,
    runs: Annotated[
        int | None, typer.Option(help="Independent searches per class (default: adult 10, images 4).")
    ] = None,
    per_class: Annotated[
        int | None, typer.Option(help="Exemplars shown per class (default: adult 5, images 4).")
    ] = None,
    max_queries: Annotated[
        int | None, typer.Option(help="Query budget of each search (default: adult 5000, images 2000).")
    ] = None,
    momentum: Annotated[float, typer.Option(help="ES momentum (0: plain ES).")] = 0.3,
    generator: Annotated[
        str | None,
        typer.Option(
            help="Images: vae, dcgan, vae-disjoint, vae-no-surprise or dcgan-no-surprise (the last three: fer only). "
            "Default vae."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="Images: es (black box) or gd (white-box gradient descent).")] = "es",
    fitted_classifier: Annotated[
        bool,
        typer.Option(
            "--fitted-classifier",
            help="fer: explain the classifier trained with light regularisation (56.4% test accuracy, "
            "sure of real faces of 5 classes) instead of the default one (51.3%, 2 classes); with "
            "vae-disjoint, the half-data one trained so (50.0%, 5 classes; default 50.1%, 2).",
        ),
    ] = False,
    epochs: Annotated[int, typer.Option(help="Adult: epochs of the generator's training.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    data: Annotated[
        str | None, typer.Option(help="Adult: data folder holding adult/ (default $EVOXPLAIN_DATA).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the tables (and the image grid).")] = Path("evoxplain-out"),
) -> None:
    """Typical inputs of each class, searched in a generator's latent space; writes tables (and a PNG grid)."""
    options = ExemplarOptions(
        target, runs, per_class, max_queries, momentum, generator, method, epochs, seed, data, out, fitted_classifier
    )
    try:
        text = run_exemplars(dataset, options)
    except EvoxplainError as err:
        _fail(err)
    typer.echo(text)


@dataclass
class ExemplarOptions:
    """The options of ``evoxplain exemplars`` (None: the dataset's default, see :data:`EXEMPLAR_DEFAULTS`)."""

    target: str | None = None
    runs: int | None = None
    per_class: int | None = None
    max_queries: int | None = None
    momentum: float = 0.3
    generator: str | None = None
    method: str = "es"
    epochs: int = 30
    seed: int = 0
    data: str | Path | None = None
    out: str | Path = "evoxplain-out"
    fitted_classifier: bool = False

    def value(self, name: str, kind: str) -> Any:
        """The option ``name``, or its default for ``kind`` (``"tabular"`` or ``"image"``)."""
        given = getattr(self, name)
        return EXEMPLAR_DEFAULTS[kind][name] if given is None else given


EXEMPLAR_DEFAULTS = {
    "tabular": {"runs": 10, "per_class": 5, "max_queries": 5000, "generator": "vae"},
    "image": {"runs": 4, "per_class": 4, "max_queries": 2000, "generator": "vae"},
    "text": {"runs": 10, "per_class": 5, "max_queries": 5000, "generator": "vae"},
}


def _only_fer_is_fitted(dataset: str, options: ExemplarOptions) -> None:
    if options.fitted_classifier and dataset != "fer":
        raise InvalidInputError(f"--fitted-classifier applies to fer only: leave it out for {dataset}")


def _adult_exemplars(dataset: str, options: ExemplarOptions) -> str:
    if options.value("generator", "tabular") != "vae" or options.method != "es":
        raise InvalidInputError("adult exemplars use the tabular VAE and ES: leave --generator and --method out")
    return run_tabular_exemplars(
        dataset, options.target, options.value("runs", "tabular"), options.value("per_class", "tabular"),
        options.value("max_queries", "tabular"), options.momentum, options.epochs, options.seed, options.data,
        options.out,
    )  # fmt: skip


def _image_exemplars(dataset: str, options: ExemplarOptions) -> str:
    from .exemplars.images import run_image_exemplars

    return run_image_exemplars(
        dataset, options.value("generator", "image"), options.target, options.value("runs", "image"),
        options.value("per_class", "image"), options.value("max_queries", "image"), options.momentum,
        options.seed, options.out, options.method, options.fitted_classifier,
    )  # fmt: skip


def _text_exemplars(dataset: str, options: ExemplarOptions) -> str:
    if options.value("generator", "text") != "vae" or options.method != "es":
        raise InvalidInputError("imdb exemplars use the sentence VAE and ES: leave --generator and --method out")
    from .exemplars.text import run_text_exemplars

    return run_text_exemplars(
        options.target, options.value("runs", "text"), options.value("per_class", "text"),
        options.value("max_queries", "text"), options.momentum, options.seed, options.out,
    )  # fmt: skip


# One runner per dataset ``evoxplain exemplars`` knows; a new modality is one more entry.
EXEMPLAR_RUNNERS = {
    "adult": _adult_exemplars,
    "fer": _image_exemplars,
    "fashion-mnist": _image_exemplars,
    "imdb": _text_exemplars,
}


def run_exemplars(dataset: str, options: ExemplarOptions | None = None) -> str:
    """What ``evoxplain exemplars DATASET`` does; returns the Markdown it wrote.

    Example:
        >>> print(run_exemplars("fashion-mnist", ExemplarOptions(target="Trouser", runs=2, per_class=2)))
        Exemplars (ES-momentum, fashion-mnist-vae (same data) → fashion-mnist classifier)
        ...
        | Trouser | 2 / 2 | ...
    """
    if dataset not in EXEMPLAR_RUNNERS:
        raise InvalidInputError(f"exemplars are available for {', '.join(EXEMPLAR_RUNNERS)}, not {dataset!r}")
    options = options or ExemplarOptions()
    _only_fer_is_fitted(dataset, options)
    return EXEMPLAR_RUNNERS[dataset](dataset, options)


def run_tabular_exemplars(
    dataset: str = "adult",
    target: str | None = None,
    runs: int = 10,
    per_class: int = 5,
    max_queries: int = 5000,
    momentum: float = 0.3,
    epochs: int = 30,
    seed: int = 0,
    data: str | Path | None = None,
    out: str | Path = "evoxplain-out",
) -> str:
    """What ``evoxplain exemplars adult`` does; returns the Markdown table it wrote.

    The Adult experiment of the exemplar paper: a mixed-type VAE trained on one half of the
    training split, a random forest (the black box) on the other, ES with momentum in the VAE's
    4-d latent space for each class, exemplars decoded to the original columns.

    Example:
        >>> print(run_tabular_exemplars(target=">50K", runs=2, per_class=1, epochs=2))
        | feature | >50K #1 |
        |---|---|
        | age | ...
    """
    if dataset != "adult":
        raise InvalidInputError(f"exemplars are available for 'adult' (tabular) so far, not {dataset!r}")
    from .data import ADULT_CLASSES, load_adult
    from .exemplars import TabularGenerator, fit_forest, split_halves, tabular_exemplars
    from .zoo.tabular_vae import TabularEncoding, train_tabular_vae

    classes = dict(enumerate(ADULT_CLASSES))
    if target is not None:
        chosen = [i for i, name in classes.items() if target in (name, str(i))]
        if not chosen:
            raise InvalidInputError(f"--target {target!r} is not a class: choose one of {ADULT_CLASSES} or its index")
        classes = {chosen[0]: classes[chosen[0]]}
    train = load_adult("train", root=data)
    encoding = TabularEncoding.fit(train, target="income", log=["capital-gain", "capital-loss"])
    vae_half, forest_half = split_halves(train, seed=seed)
    typer.echo(f"training the generator ({epochs} epochs) and the random forest ...", err=True)
    vae = train_tabular_vae(vae_half, encoding, epochs=epochs, seed=seed)
    forest = fit_forest(forest_half, encoding, "income", seed=seed)
    found = tabular_exemplars(
        forest, TabularGenerator(vae), classes, runs=runs, per_class=per_class, seed=seed,
        momentum=momentum, max_queries=max_queries,
    )  # fmt: skip
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    found.save(folder / "adult_exemplars.csv", folder / "adult_exemplars.md")
    return found.markdown()


@app.command()
def models() -> None:
    """List the built-in models."""
    from .zoo import DESCRIPTIONS, available_models

    for name in available_models():
        typer.echo(f"{name:<22}{DESCRIPTIONS.get(name, '')}")


def _fail(err: Exception) -> None:
    message = " ".join(str(err).split()) or type(err).__name__
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def main() -> None:
    """Entry point for ``python -m evoxplain.cli``."""
    app()


if __name__ == "__main__":
    main()
