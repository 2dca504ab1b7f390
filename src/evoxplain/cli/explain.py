"""``evoxplain explain``: explain one input of a model from the command line.

With no arguments it explains the built-in EfficientNet-Lite0 on its sample photo (the large-image
defaults, 1000 queries) and writes a heatmap PNG, the values and their standard errors (``.npy``)
and a text summary.

Example::

    evoxplain explain                                   # EfficientNet-Lite0 on the sample photo
    evoxplain explain digit.png --model lenet-mnist --method geex --queries 4000
    evoxplain explain x.npy --model model.onnx --target 3 --out results/
    evoxplain explain digit.png --model http://127.0.0.1:8080/v2/models/lenet --concurrency 4 --journal q.sqlite

The work is done by :func:`run_explain` (from Python too) and its steps, plain functions
(:func:`resolve_model`, :func:`load_source`, :func:`make_explainer`, :func:`summary_text`,
:func:`write_outputs`), so the command stays thin.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import typer

from ..attribution import (
    GEEX,
    LIME,
    RISE,
    Explainer,
    IntegratedGradients,
    KernelSHAP,
    Occlusion,
    Saliency,
    SmoothGrad,
    recommended_settings,
)
from ..attribution.defaults import bernoulli_mask, gaussian_mask
from ..blackbox import BlackBox
from ..diagnostics import EvoxplainWarning
from ..endpoints import InferenceEndpoint, endpoint_from_url, is_url, safe_url
from ..errors import EvoxplainError, InvalidInputError, ModelCallError
from ..explanation import Explanation
from ..files import atomic_path
from ..inputs import InputSpec, fit_image, load_input
from ..model_files import fixed_batch_hint, load_function, onnx_fixed_batch
from ..plugins import ZOO_HINT, builtin_model, builtin_models
from ..report.build import write_report
from ..runs import Manifest, now, write_manifest
from .common import app, class_name, fail, parse_baseline, parse_pair

GEEX_METHODS = ("auto", "gers", "geex", "ge", "bgeex")
BLACK_BOX = ("lime", "kernelshap", "occlusion", "rise")
WHITE_BOX = ("saliency", "ig", "smoothgrad")
METHODS = GEEX_METHODS + BLACK_BOX + WHITE_BOX
ESTIMATORS = ("auto", "mean", "regression")
DESIGNS = ("auto", "random", "orthogonal")
DEFAULT_MODEL = "efficientnet-lite0"
REPORT = "report.html"
"""The HTML report ``evoxplain explain`` writes beside its PNG (:mod:`evoxplain.report`)."""
_MODEL_SUFFIXES = {".pt", ".pth", ".ts", ".pt2", ".onnx"}


@dataclass
class ResolvedModel:
    """What to query and how to read it.

    Attributes:
        model: a module, the path of a TorchScript/ONNX file (BlackBox loads it), or an endpoint.
        name: how the summary names it.
        classes: class names by index, or None (file models).
        spec: the image input it takes (:class:`evoxplain.inputs.InputSpec`), or None if unknown.
        builtin: whether it is a built-in model (:func:`evoxplain.plugins.builtin_models`).
    """

    model: Any
    name: str
    classes: list[str] | None
    spec: Any
    builtin: bool


def resolve_model(
    name: str, size: tuple[int, int] | None = None, channels: int | None = None, **endpoint: Any
) -> ResolvedModel:
    """A built-in model by name (see ``evoxplain models``), a TorchScript (``.pt``/``.pth``/``.ts``),
    ``torch.export`` (``.pt2``) or ONNX file, or a model behind an endpoint (an
    ``http://.../v2/models/NAME`` or ``.../invocations`` URL; ``endpoint`` holds its options, see
    :func:`evoxplain.endpoints.endpoint_from_url`).

    ``size`` and ``channels`` say what a file or endpoint model takes (image files are fitted to
    them); an endpoint whose metadata gives an image shape says it itself.

    Example:
        >>> torch.jit.script(model).save("model.pt")
        >>> resolve_model("model.pt", size=(28, 28), channels=1).spec.shape
        (1, 28, 28)
    """
    if channels is not None and channels not in (1, 3):
        raise InvalidInputError(f"--channels must be 1 (grayscale) or 3 (RGB), not {channels}")
    if size is not None and channels is None:
        raise InvalidInputError("--size needs --channels too (1 for grayscale, 3 for RGB): a model file does not say")
    if is_url(name):
        return resolve_endpoint(name, size=size, channels=channels, options=endpoint)
    path = Path(name)
    if path.suffix.lower() not in _MODEL_SUFFIXES:
        entry = builtin_model(name) if name in builtin_models() or not path.exists() else None
        if entry is None:
            raise InvalidInputError(
                f"{path} is not a model file: give a TorchScript (.pt, .pth, .ts), torch.export (.pt2) or ONNX "
                "(.onnx) file"
            )
        spec = entry.spec
        if (size is not None and size != spec.size) or (channels is not None and channels != spec.channels):
            raise InvalidInputError(
                f"--size and --channels describe model files; the built-in {name} takes {spec.describe()}"
            )
        return ResolvedModel(model=entry.load(), name=name, classes=entry.class_names(), spec=spec, builtin=True)
    if not path.is_file():
        known = ", ".join(sorted(builtin_models())) or f"none installed ({ZOO_HINT})"
        raise InvalidInputError(
            f"model {name!r} is neither a built-in model ({known}) nor an existing TorchScript (.pt, .pth, .ts), "
            "torch.export (.pt2) or ONNX (.onnx) file"
        )
    spec = InputSpec(channels, size) if channels is not None else None
    # TorchScript and torch.export files open as modules, so the white-box methods work on them too
    model = str(path) if path.suffix.lower() == ".onnx" else load_function(path)
    return ResolvedModel(model=model, name=path.name, classes=None, spec=spec, builtin=False)


def resolve_endpoint(
    url: str, *, size: tuple[int, int] | None, channels: int | None, options: dict[str, Any]
) -> ResolvedModel:
    """A model behind ``url``, checked for readiness now; its image input from the metadata
    (an Open Inference Protocol server publishing a ``(C, H, W)`` shape) or ``size``/``channels``."""
    model = endpoint_from_url(url, **{k: v for k, v in options.items() if v is not None})
    spec = InputSpec(channels, size) if channels is not None else None
    shape = model.input_shape() if isinstance(model, InferenceEndpoint) else None
    if spec is None and shape is not None and len(shape) == 3 and shape[0] in (1, 3) and min(shape[1:]) > 0:
        spec = InputSpec(shape[0], (shape[1], shape[2]))
    return ResolvedModel(model=model, name=safe_url(url), classes=None, spec=spec, builtin=False)


def load_source(path: str | Path | None, spec: InputSpec | None = None) -> tuple[torch.Tensor, str]:
    """The input to explain and a file stem for the outputs.

    * None: the sample photo of an installed plugin (the built-in EfficientNet-Lite0's cameraman),
      fitted to ``spec`` (which needs a size);
    * a file: :func:`evoxplain.inputs.load_input` (a ``.npy`` array, or an image fitted to
      ``spec``), checked against ``spec`` before any query.

    Example:
        >>> from PIL import Image
        >>> Image.new("L", (32, 32)).save("digit.png")
        >>> x, stem = load_source("digit.png", InputSpec(1, (28, 28)))
        >>> x.shape, stem
        (torch.Size([1, 28, 28]), 'digit')
    """
    if path is None:
        if spec is None or spec.size is None:
            raise InvalidInputError(
                "give an INPUT to explain (an image file or a .npy array), or --size and --channels for the "
                "sample photo"
            )
        samples = [m.sample for m in builtin_models().values() if m.sample is not None]
        if not samples:
            raise InvalidInputError(f"give an INPUT to explain: no sample photo is installed ({ZOO_HINT})")
        photo, stem = samples[0]()
        return fit_image(photo, spec), stem
    x = load_input(path, spec)
    if spec is not None and x.ndim == 2 and spec.channels == 1 and (spec.size is None or tuple(x.shape) == spec.size):
        x = x[None]  # an (H, W) array for a model of one channel: the channel axis is certain
    if spec is not None:
        x = spec.check(x)
        if spec.channels == 1 and Path(path).suffix.lower() != ".npy" and _is_colour(path):
            warnings.warn(
                f"{Path(path).name} is a colour image; it was converted to grayscale because the model takes "
                f"{spec.describe()}",
                EvoxplainWarning,
                stacklevel=2,
            )
    return x, Path(path).stem


def _is_colour(path: str | Path) -> bool:
    """Whether an image file's pixels differ between its colour channels."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    return bool((rgb[..., 0] != rgb[..., 1]).any() or (rgb[..., 1] != rgb[..., 2]).any())


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
    *,
    queries: int = 1000,
    sigma: float = 0.2,
    mask_size: tuple[int, int] | None = None,
    baseline: float | str = "auto",
    fitness: str = "prob",
    seed: int | None = 0,
    progress: bool = False,
    estimator: str = "auto",
    design: str = "auto",
    cell: int | None = None,
) -> Explainer:
    """The explainer called ``method`` for inputs of ``shape``: a GEEX preset (:data:`GEEX_METHODS`),
    another black-box method (``lime``, ``kernelshap``, ``occlusion``, ``rise``) or a white-box one
    (``saliency``, ``ig``, ``smoothgrad``: a torch model only, a clear error otherwise).

    GEEX presets: ``auto``: :func:`recommended_settings` for the shape and ``queries`` (images:
    Bernoulli masks of crisp cells fitted by regression, not integrated, orthogonal; images over
    64 px: 14 cells along the shorter side, 28 from two mirrored pairs per cell on; smaller images:
    half-size cells, one per pixel from two pairs per pixel on; rows: Bernoulli masks over the
    features fitted by regression, not integrated; anything else: ``geex``); ``ge``: plain
    gradient estimate; ``geex``: integrated; ``gers``: integrated with
    noise drawn at ``mask_size`` (default :func:`default_mask`) for every channel and upsampled;
    ``bgeex``: the paper's integrated Bernoulli masks at ``mask_size``, shared by the channels. A
    ``mask_size`` given to ``ge`` or ``geex`` resizes their noise too. ``estimator`` (Bernoulli
    masks): ``mean`` or ``regression``; ``auto`` keeps the preset's (``mean`` but where ``auto``
    recommends the regression). ``design``: ``random`` or ``orthogonal`` directions; ``auto`` keeps
    the preset's (orthogonal where ``auto`` recommends it).

    The others: ``queries`` is LIME's and KernelSHAP's coalitions and RISE's masks; ``cell`` (pixels)
    is LIME's and KernelSHAP's superpixel side, RISE's grid cell and Occlusion's window (their
    defaults when None). ``baseline="auto"``: a blurred copy for images larger than 64 pixels, else 0.

    GERS noise is not shared by the channels: a shared Gaussian mask moves them together, so it
    sees only the gradient summed over the channels and misses what depends on colour.

    Example:
        >>> make_explainer(BlackBox(model), (3, 224, 224), "gers").mask_size
        (7, 7)
        >>> make_explainer(BlackBox(model), (3, 224, 224)).estimator
        'regression'
        >>> make_explainer(BlackBox(model), (1, 28, 28), "lime", queries=500, cell=4)
        LIME(baseline=0.0, fitness='prob', queries=500, superpixel=4, alpha=0.0, kernel_width=1.0)
    """
    if method not in METHODS:
        raise InvalidInputError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    if baseline == "auto":
        baseline = recommended_settings(shape, queries).get("baseline", 0.0)
    if method in GEEX_METHODS:
        settings = explainer_settings(
            shape, method, queries=queries, sigma=sigma, mask_size=mask_size, baseline=baseline, fitness=fitness,
            estimator=estimator, design=design,
        )  # fmt: skip
        explainer = GEEX(blackbox, seed=seed, **settings)
    else:
        common = {"baseline": baseline, "fitness": fitness, "seed": seed}
        explainer = _other_method(blackbox, shape, method, queries=queries, cell=cell, common=common)
    explainer.progress = progress
    return explainer


def _other_method(blackbox: BlackBox, shape: tuple[int, ...], method: str, *, queries, cell, common) -> Explainer:
    """LIME, KernelSHAP, Occlusion, RISE or a white-box method, with the command's settings."""
    if method in WHITE_BOX:
        if blackbox.kind != "torch":
            raise InvalidInputError(
                f"--method {method} is white-box: it backpropagates through the model, which needs a torch model "
                f"(a built-in one, a TorchScript file or a torch.export .pt2 file); this one is {blackbox.kind}. "
                "Use a black-box method: auto, geex, bgeex, gers, ge, lime, kernelshap, occlusion or rise"
            )
        if method == "saliency":
            return Saliency(blackbox, absolute=False, fitness=common["fitness"], seed=common["seed"])
        if method == "smoothgrad":
            return SmoothGrad(blackbox, fitness=common["fitness"], seed=common["seed"])
        return IntegratedGradients(blackbox, **common)
    if method == "lime":
        return LIME(blackbox, queries=queries, superpixel=cell, **common)
    if method == "kernelshap":
        return KernelSHAP(blackbox, queries=queries, superpixel=cell, **common)
    if method == "rise":
        return RISE(blackbox, queries=queries, cell=cell, **common)
    return Occlusion(blackbox, window=cell, **common)


def explainer_settings(
    shape: tuple[int, ...],
    method: str = "auto",
    *,
    queries: int = 1000,
    sigma: float = 0.2,
    mask_size: tuple[int, int] | None = None,
    baseline: float | str = "auto",
    fitness: str = "prob",
    estimator: str = "auto",
    design: str = "auto",
) -> dict[str, Any]:
    """The keywords of :class:`~evoxplain.GEEX` (the model, seed and progress aside) for the GEEX
    preset ``method`` (one of :data:`GEEX_METHODS`, see :func:`make_explainer`) and inputs of ``shape``.

    Example:
        >>> explainer_settings((1, 28, 28), "bgeex", queries=500)["mask_size"]
        (14, 14)
    """
    if method not in GEEX_METHODS:
        raise InvalidInputError(f"--method must be one of {', '.join(GEEX_METHODS)} here, not {method!r}")
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
    return {"queries": queries, "sigma": sigma, "baseline": baseline, "fitness": fitness, **settings}


BASELINE_WORDS = {
    "blur": "a blurred copy of the input",
    "mean": "the input's own mean (per channel)",
    "tensor": "the tensor given",
}


def baseline_line(baseline: object) -> str:
    """The summary's line on the baseline: what absent features took, to be matched to the removal
    the user means (a deletion to black wants 0; to the data's mean pixel, that mean).

    Example:
        >>> baseline_line(0.0)
        'baseline: 0.0 (black), what absent pixels took: match it to the removal you mean (--baseline)'
    """
    if baseline is None:
        return "baseline: none (the method removes nothing)"
    words = BASELINE_WORDS.get(str(baseline), "black" if baseline == 0 else "a constant")
    return f"baseline: {baseline} ({words}), what absent pixels took: match it to the removal you mean (--baseline)"


def summary_text(
    model_name: str,
    exp: Explanation,
    probs: torch.Tensor,
    classes: list[str] | None,
    input_shape: tuple[int, ...],
    total_queries: int,
    method: str | None = None,
) -> str:
    """The text summary of one explanation, each line in words: what was predicted and explained,
    the change the values share out, the settings and cost, how the values add up, what stands out
    of the sampling noise, and the regions (features, tokens) that raise and lower the score most.

    Example:
        >>> bb = BlackBox(model)
        >>> exp = GEEX(bb, queries=2000, mask_size=(14, 14), seed=0).explain(digit)
        >>> probs = bb.probabilities(digit[None])[0]
        >>> print(summary_text("my-model", exp, probs, [str(d) for d in range(10)], (1, 28, 28), 2003, "geex"))
        model: my-model
        ...
    """
    from ..report.words import change_line, noise_summary, percent, region_lines, short_label, total_line
    from ..viz import AttributionMap

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
        "what the values mean: " + change_line(exp, short_label(classes, int(exp.target))),
        f"method: {method + ' = ' if method else ''}{exp.method} ({settings})",
        baseline_line(p.get("baseline")),
        f"queries used: {exp.queries} for the explanation, {total_queries} in all (with the prediction)",
        f"seconds: {exp.seconds:.1f}",
        total_line(exp),
    ]
    amap = AttributionMap.of(exp)
    bounds = p.get("design") == "orthogonal" and p.get("estimator") != "regression"  # the regression's stay fit
    if exp.stderr is not None:
        lines.append(noise_summary(amap, bounds, noun=None if exp.values.ndim >= 2 else "features"))
    if exp.values.ndim >= 2:
        what = "cells of the mask" if amap.cells else "cells of a 7 x 7 grid"
        lines.append(f"regions ({what}; rows and columns in pixels; share of the change):")
        lines += [f"  {line}" for line in region_lines(amap)]
    else:
        order = np.argsort(-np.abs(amap.shares), kind="stable")[:5].tolist()
        unit = "share of the change" if amap.in_shares else "value"
        shown = [percent(amap.shares[i]) if amap.in_shares else f"{amap.shares[i]:+.4f}" for i in order]
        lines.append(f"top features (index: {unit}): " + ", ".join(f"{i}: {v}" for i, v in zip(order, shown)))
    return "\n".join(lines) + "\n"


def prepare_folder(out: str | Path) -> Path:
    """Make the output folder (and check it can be written) before any query is sent.

    Example:
        >>> prepare_folder("results").is_dir()
        True
    """
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / ".evoxplain-write-check"):
            pass
        (folder / ".evoxplain-write-check").unlink()
    except OSError as err:
        raise InvalidInputError(f"cannot write to the output folder {folder}: {err}. Choose another --out") from None
    return folder


def write_outputs(
    out: str | Path, stem: str, x: torch.Tensor, exp: Explanation, title: str, summary: str, label: str = ""
) -> list[Path]:
    """Write ``<stem>_heatmap.png``, ``<stem>_values.npy``, ``<stem>_summary.txt``, the explanation
    itself (``<stem>.evx``, :meth:`Explanation.save`) and the input (``<stem>_input.npy``) under
    ``out``, and ``<stem>_stderr.npy`` (the values' standard errors) where the method estimates
    them; all or nothing: every file is written beside its place first and renamed only when all
    are written, so a failure leaves the previous run's files as they were, none half-written or mixed.

    An image's PNG is :func:`evoxplain.viz.explanation_figure` (``label``: the explained class's
    name): the values at the resolution they were estimated at, in shares of the explained change,
    noise-level cells muted. A row's is a bar chart titled ``title``.

    Example:
        >>> exp = GEEX(model, queries=500, seed=0).explain(image)
        >>> [p.name for p in write_outputs("results", "cat", image, exp, "tabby", "a summary")]
        ['cat_heatmap.png', 'cat_values.npy', 'cat_summary.txt', 'cat.evx', 'cat_input.npy', 'cat_stderr.npy']
    """
    from ..viz import bars, explanation_figure

    folder = prepare_folder(out)
    kinds = ["_heatmap.png", "_values.npy", "_summary.txt", ".evx", "_input.npy"]
    written = [folder / f"{stem}{kind}" for kind in kinds + (["_stderr.npy"] if exp.stderr is not None else [])]
    values = exp.values.detach().cpu()
    with contextlib.ExitStack() as files:  # each file is written beside its place, then all are renamed, or none
        png, npy, txt, evx, given, *stderr = (files.enter_context(atomic_path(path)) for path in written)
        if values.ndim >= 2:
            picture = x.detach().cpu().reshape(-1, *x.shape[-2:])
            low, high = float(picture.min()), float(picture.max())
            if low < 0 or high > 1:  # a .npy input on another scale: stretch it to [0, 1] to show it
                picture = (picture - low) / max(high - low, 1e-12)
            shown = picture if picture.shape[0] in (1, 3) else picture.mean(dim=0, keepdim=True)
            explanation_figure(shown, exp, label=label or str(exp.target), path=png)
        else:
            bars(values, path=png, title=title)
        _save_npy(npy, values.numpy())
        txt.write_text(summary, encoding="utf-8")
        exp.save(evx)
        _save_npy(given, x.detach().cpu().numpy())
        if stderr:
            _save_npy(stderr[0], exp.stderr.detach().cpu().numpy())
    return written


def _role(path: Path, stem: str) -> str:
    """A written file's role in the manifest: ``heatmap``, ``values``, ``explanation`` ..."""
    return "explanation" if path.suffix == ".evx" else path.name.removeprefix(f"{stem}_").split(".")[0]


def _save_npy(path: Path, array: np.ndarray) -> Path:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    return path


@dataclass
class ExplainResult:
    """What :func:`run_explain` made: the explanation, the model's answer, and the files."""

    explanation: Explanation
    probabilities: torch.Tensor
    classes: list[str] | None
    paths: list[Path]
    seconds: float
    usage: dict[str, int] | None = None
    """The BlackBox's counters (:attr:`evoxplain.BlackBox.usage`)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())


@dataclass
class ExplainOptions:
    """The settings of ``evoxplain explain`` (parsed): see the command's ``--help``.

    ``queries`` defaults to 1000 for the built-in EfficientNet-Lite0, 2000 otherwise;
    ``batch_size`` to 32 for inputs over 10,000 values, else 256.
    """

    model: str = DEFAULT_MODEL
    method: str = "auto"
    queries: int | None = None
    sigma: float = 0.2
    mask_size: tuple[int, int] | None = None
    target: int | None = None
    seed: int | None = 0
    baseline: float | str = "auto"
    fitness: str = "prob"
    batch_size: int | None = None
    size: tuple[int, int] | None = None
    channels: int | None = None
    out: str | Path = "evoxplain-out"
    progress: bool = False
    estimator: str = "auto"
    design: str = "auto"
    cell: int | None = None
    concurrency: int | None = None
    max_batch: int | None = None
    token_env: str | None = None
    journal: str | Path | None = None


def run_explain(
    source: str | Path | None = None, options: ExplainOptions | None = None, **settings: Any
) -> ExplainResult:
    """Everything ``evoxplain explain`` does: load, check, predict, explain, write the files.

    ``source`` is the input file (None: the sample photo); ``options`` (or the same settings as
    keywords) the command's options, parsed. The output folder is checked before the first query.
    What :mod:`evoxplain.diagnostics` warns about is in ``warnings`` (and the manifest).

    Example:
        >>> from PIL import Image
        >>> Image.new("L", (28, 28)).save("digit.png")
        >>> torch.jit.script(model).save("model.pt")            # your model, as a TorchScript file
        >>> result = run_explain("digit.png", model="model.pt", size=(28, 28), channels=1, method="geex", out="results")
        >>> result.explanation.queries, [p.name for p in result.paths]
        (2002, ['digit_heatmap.png', 'digit_values.npy', 'digit_summary.txt', 'digit.evx', 'digit_input.npy',
                'digit_stderr.npy', 'manifest.json', 'report.html'])
    """
    o = options or ExplainOptions(**settings)
    started_at = now()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvoxplainWarning)
        done = _explain(source, o)
    messages = _pass_on(caught)
    exp, resolved, probs, stem = done.explanation, done.resolved, done.probabilities, done.stem
    summary = summary_text(
        model_name=resolved.name, exp=exp, probs=probs, classes=resolved.classes, input_shape=tuple(done.x.shape),
        total_queries=done.total, method=o.method,
    )  # fmt: skip
    name = class_name(resolved.classes, exp.target)
    title = f"{name}: p={float(probs[exp.target]):.3f} ({o.method}, {exp.queries} queries)"
    label = resolved.classes[exp.target] if resolved.classes else str(exp.target)
    paths = write_outputs(out=o.out, stem=stem, x=done.x, exp=exp, title=title, summary=summary, label=label)
    named = {i: resolved.classes[i] for i in {exp.target, int(probs.argmax())}} if resolved.classes else {}
    extra = {
        "queries": exp.queries, "seconds": exp.seconds, "input": stem, "shape": list(done.x.shape),
        "class_names": named, "probability": float(probs[exp.target]), "usage": done.usage,
    }  # fmt: skip
    manifest = Manifest(
        kind="explanation",
        model=resolved.name,
        settings={**exp.params, "method": exp.method, "target": exp.target},
        files={_role(path, stem): path.name for path in paths} | {"report": REPORT},
        started=started_at,
        extra={**extra, "warnings": messages} if messages else extra,
    )
    manifest.finished = now()
    paths.append(write_manifest(o.out, manifest))
    paths.append(write_report(o.out, Path(o.out) / REPORT))
    return ExplainResult(
        explanation=exp, probabilities=probs, classes=resolved.classes, paths=paths, seconds=done.seconds,
        usage=done.usage, warnings=messages,
    )  # fmt: skip


def _pass_on(caught: list[warnings.WarningMessage]) -> list[str]:
    """The messages of the :class:`EvoxplainWarning` caught; the other warnings issued again."""
    for w in caught:
        if not issubclass(w.category, EvoxplainWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return [str(w.message) for w in caught if issubclass(w.category, EvoxplainWarning)]


def _channels_of(source: str | Path | None, size: tuple[int, int] | None, channels: int | None) -> int | None:
    """``--channels`` as given; with ``--size`` alone, the channel axis of a ``(C, H, W)`` ``.npy``
    input (an array says how many channels it has, an image file or an ``(H, W)`` array does not)."""
    if channels is not None or size is None or source is None or Path(source).suffix.lower() != ".npy":
        return channels
    try:
        shape = np.load(source, mmap_mode="r", allow_pickle=False).shape
    except (OSError, ValueError):
        return None  # the input's own check says what is wrong with the file
    return shape[0] if len(shape) == 3 and shape[0] in (1, 3) else None


@dataclass
class _Explained:
    resolved: ResolvedModel
    x: torch.Tensor
    stem: str
    probabilities: torch.Tensor
    explanation: Explanation
    seconds: float
    total: int
    usage: dict[str, int] | None


def _explain(source: str | Path | None, o: ExplainOptions) -> _Explained:
    """Load and check the model and input, predict, explain (no file written but the folder check)."""
    if o.method not in METHODS:
        raise InvalidInputError(f"--method must be one of {', '.join(METHODS)}, not {o.method!r}")
    endpoint = {"concurrency": o.concurrency, "max_batch": o.max_batch, "token_env": o.token_env}
    if not is_url(o.model) and any(value is not None for value in endpoint.values()):
        raise InvalidInputError("--concurrency, --max-batch and --token-env are for a model behind an endpoint (a URL)")
    resolved = resolve_model(o.model, o.size, _channels_of(source, o.size, o.channels), **endpoint)
    x, stem = load_source(source, resolved.spec)
    prepare_folder(o.out)
    batch_size = o.batch_size or (32 if x.numel() > 10_000 else 256)  # large images: bounded memory
    if not resolved.builtin and str(resolved.model).lower().endswith(".onnx"):
        fixed = onnx_fixed_batch(resolved.model)
        if fixed is not None and (fixed != 1 or batch_size != 1):
            raise InvalidInputError(f"{resolved.name}: {fixed_batch_hint(fixed)}")
    blackbox = BlackBox(
        resolved.model, output="logits" if resolved.builtin else "auto", batch_size=batch_size, journal=o.journal
    )
    try:
        probs = blackbox.probabilities(x[None])[0].cpu()
    except ModelCallError as err:
        if resolved.spec is None and x.ndim in (2, 3):
            raise ModelCallError(
                f"{err} Use --size H,W and --channels C to say what images the model takes (an (H, W) array then "
                "gets its channel axis)."
            ) from err
        raise
    if o.target is not None and not 0 <= o.target < len(probs):
        raise InvalidInputError(
            f"--target {o.target} is out of range: the model has {len(probs)} classes (0..{len(probs) - 1})"
        )
    queries = o.queries or (1000 if resolved.name == DEFAULT_MODEL else 2000)
    explainer = make_explainer(
        blackbox, tuple(x.shape), method=o.method, queries=queries, sigma=o.sigma, mask_size=o.mask_size,
        baseline=o.baseline, fitness=o.fitness, seed=o.seed, progress=o.progress, estimator=o.estimator,
        design=o.design, cell=o.cell,
    )  # fmt: skip
    started = time.perf_counter()
    exp = explainer.explain(x, o.target, batched=False)
    seconds = time.perf_counter() - started
    return _Explained(
        resolved=resolved, x=x, stem=stem, probabilities=probs, explanation=exp, seconds=seconds,
        total=blackbox.queries, usage=blackbox.usage,
    )  # fmt: skip


HELP = {
    "input": "An image file (PNG/JPEG) or a .npy array; default: the sample photo (a cameraman).",
    "model": "A built-in model (see `evoxplain models`), a TorchScript/torch.export/ONNX file, or a model behind an "
    "endpoint: http://HOST:PORT/v2/models/NAME (Open Inference Protocol) or .../invocations (MLflow).",
    "method": "auto (the benchmarked defaults: Bernoulli masks for images, geex for anything else), bgeex, gers, "
    "geex, ge; lime, kernelshap, occlusion, rise; white-box (torch models only): saliency, ig, smoothgrad.",
    "estimator": "Bernoulli masks: mean or regression; auto: the method's (regression for large images).",
    "design": "random or orthogonal directions (same distribution per query, less noise); auto: the method's.",
    "queries": "Perturbed inputs (GEEX: even; LIME, KernelSHAP: coalitions; RISE: masks). "
    "Default: 1000 for efficientnet-lite0, else 2000.",
    "cell": "LIME/KernelSHAP superpixel side, RISE grid cell, Occlusion window, in pixels.",
    "sigma": "Search radius, in input units.",
    "mask_size": "Mask H,W (or one int); default: half the size for small images, else 14 cells along the shorter "
    "side (auto: 28 once queries reach 4 per cell of that grid), gers size/32 (at least 7).",
    "target": "Class to explain; default: the predicted class.",
    "seed": "Random seed.",
    "baseline": "What absent pixels take: a number, 'blur', 'mean' (the input's own) or auto (blur for images over "
    "64 px, else 0, black). Match it to the removal you mean: the data's mean pixel for a deletion to the mean.",
    "fitness": "prob, logit, logprob or entropy.",
    "batch_size": "Most inputs per model call.",
    "size": "Image size H,W a model file takes (with --channels, which a (C, H, W) .npy input gives itself).",
    "channels": "Image channels a model file takes (1 or 3).",
    "out": "Folder for the heatmap, values and summary.",
    "concurrency": "A model behind an endpoint: requests in flight at once (default 4).",
    "max_batch": "A model behind an endpoint: the most inputs per request (default 64).",
    "token_env": "A model behind an endpoint: the environment variable holding its bearer token.",
    "journal": "An SQLite query journal: inputs answered before are not sent again (any model).",
}
"""The help of each of ``evoxplain explain``'s arguments."""


@app.command()
def explain(
    input: Annotated[str | None, typer.Argument(metavar="INPUT", help=HELP["input"])] = None,
    model: Annotated[str, typer.Option(help=HELP["model"])] = DEFAULT_MODEL,
    method: Annotated[str, typer.Option(help=HELP["method"])] = "auto",
    estimator: Annotated[str, typer.Option(help=HELP["estimator"])] = "auto",
    design: Annotated[str, typer.Option(help=HELP["design"])] = "auto",
    queries: Annotated[int | None, typer.Option(help=HELP["queries"])] = None,
    cell: Annotated[int | None, typer.Option(help=HELP["cell"])] = None,
    sigma: Annotated[float, typer.Option(help=HELP["sigma"])] = 0.2,
    mask_size: Annotated[str | None, typer.Option(help=HELP["mask_size"])] = None,
    target: Annotated[int | None, typer.Option(help=HELP["target"])] = None,
    seed: Annotated[int, typer.Option(help=HELP["seed"])] = 0,
    baseline: Annotated[str, typer.Option(help=HELP["baseline"])] = "auto",
    fitness: Annotated[str, typer.Option(help=HELP["fitness"])] = "prob",
    batch_size: Annotated[int | None, typer.Option(help=HELP["batch_size"])] = None,
    size: Annotated[str | None, typer.Option(help=HELP["size"])] = None,
    channels: Annotated[int | None, typer.Option(help=HELP["channels"])] = None,
    out: Annotated[Path, typer.Option(help=HELP["out"])] = Path("evoxplain-out"),
    concurrency: Annotated[int | None, typer.Option(help=HELP["concurrency"])] = None,
    max_batch: Annotated[int | None, typer.Option(help=HELP["max_batch"])] = None,
    token_env: Annotated[str | None, typer.Option(help=HELP["token_env"])] = None,
    journal: Annotated[Path | None, typer.Option(help=HELP["journal"])] = None,
) -> None:
    """Explain one input: writes OUT/<name>_heatmap.png, _values.npy, _stderr.npy and _summary.txt."""
    try:
        options = ExplainOptions(
            model=model, method=method, queries=queries, sigma=sigma, mask_size=parse_pair(mask_size, "--mask-size"),
            target=target, seed=seed, baseline=parse_baseline(baseline), fitness=fitness, batch_size=batch_size,
            size=parse_pair(size, "--size"), channels=channels, out=out, progress=True, estimator=estimator,
            design=design, cell=cell, concurrency=concurrency, max_batch=max_batch, token_env=token_env,
            journal=journal,
        )  # fmt: skip
        result = run_explain(input, options)
    except EvoxplainError as err:
        fail(err)
    _print_result(result)


def _print_result(result: ExplainResult) -> None:
    """What ``evoxplain explain`` prints: the prediction, what was explained, the cost, the files."""
    for message in result.warnings:
        typer.echo(f"warning: {message}", err=True)
    exp, probs, predicted = result.explanation, result.probabilities, result.predicted
    typer.echo(f"predicted: {class_name(result.classes, predicted)}, probability {float(probs[predicted]):.4f}")
    if exp.target != predicted:
        typer.echo(f"explained: {class_name(result.classes, exp.target)}, probability {float(probs[exp.target]):.4f}")
    typer.echo(f"queries: {exp.queries}, time: {result.seconds:.1f} s")
    usage = result.usage or {}
    if usage.get("bytes_sent") or usage.get("journal_hits") or usage.get("retries"):
        typer.echo(
            f"sent: {usage['sent']} inputs in {usage['requests']} requests ({usage['retries']} retries, "
            f"{usage['bytes_sent']:,} bytes); journal hits: {usage['journal_hits']}"
        )
    for path in result.paths:
        typer.echo(f"wrote {path}")
