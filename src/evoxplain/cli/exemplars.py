"""``evoxplain exemplars``: typical inputs of each class, for your own models or a named scenario.

* Your own classifier and generator (decoder): ``--model FILE|URL --generator FILE --latent-dim N``
  (TorchScript, ``torch.export`` or ONNX files; a model at an ``http(s)://`` URL is downloaded
  first). :func:`run_own_exemplars` searches the generator's latent space with ES with momentum
  and writes a PNG grid when the generator makes images ``(N, C, H, W)``, a CSV table when it
  makes rows ``(N, D)``, and a Markdown summary either way.
* A named scenario of an installed plugin (``adult``, ``fer``, ``fashion-mnist``, ``imdb`` with
  evoxplain-zoo), which writes its tables (and a PNG grid for images) under ``--out``.

Each run shows a progress bar of the searches and ends by listing the files it wrote.

Example::

    evoxplain exemplars --model classifier.onnx --generator decoder.pt --latent-dim 16 --target 3,5
    evoxplain exemplars fashion-mnist --target Trouser --runs 2
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import torch
import typer

from ..blackbox import BlackBox
from ..errors import EvoxplainError, InvalidInputError
from ..exemplars import image_exemplars, tabular_exemplars
from ..model_files import load_export, load_function
from ..plugins import ZOO_HINT, ScenarioOptions, scenarios
from ..progress import progress_bars
from .common import app, fail


def run_exemplars(scenario: str, options: ScenarioOptions | None = None) -> str:
    """What ``evoxplain exemplars SCENARIO`` does; returns the Markdown it wrote.

    Example:
        >>> print(run_exemplars("fashion-mnist", ScenarioOptions(target="Trouser", runs=2, per_class=2)))
        Exemplars (ES-momentum, fashion-mnist-vae (same data) → fashion-mnist classifier)
        ...
        | Trouser | 2 / 2 | ...
    """
    known = scenarios()
    if scenario not in known:
        names = ", ".join(known) if known else f"no scenario is installed ({ZOO_HINT})"
        raise InvalidInputError(f"exemplars are available for {names}, not {scenario!r}")
    return known[scenario].run(options or ScenarioOptions())


class FileGenerator:
    """A generator from a model file (:func:`evoxplain.model_files.load_function`) with its
    ``latent_dim``, as the exemplar searches take it."""

    def __init__(self, path: str | Path, latent_dim: int):
        self.function = load_function(path)
        self.latent_dim = latent_dim
        self.name = Path(path).name

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.function(z)


@dataclass
class OwnExemplars:
    """What :func:`run_own_exemplars` made: the Markdown summary and the files written."""

    markdown: str
    paths: list[Path]


def run_own_exemplars(
    model: str,
    generator: str,
    latent_dim: int,
    *,
    target: str | None = None,
    classes: list[str] | None = None,
    runs: int = 4,
    per_class: int = 4,
    max_queries: int = 2000,
    momentum: float = 0.3,
    seed: int = 0,
    out: str | Path = "evoxplain-out",
) -> OwnExemplars:
    """Exemplars of your own classifier (``model``: a file or URL) through your own generator.

    ``target``: class indices or names (``classes``) separated by commas; default every class.
    Writes ``exemplars.png`` (image outputs) or ``exemplars.csv`` (rows), and ``exemplars.md``.

    Example:
        >>> torch.jit.script(model).save("classifier.pt")
        >>> torch.jit.script(generator).save("decoder.pt")
        >>> made = run_own_exemplars("classifier.pt", "decoder.pt", 8, target="3", runs=2, per_class=1, out="ex")
        >>> [p.name for p in made.paths]
        ['exemplars.png', 'exemplars.md']
    """
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise InvalidInputError(
            f"--latent-dim must be a positive integer (the generator's input size), not {latent_dim}"
        )
    gen = FileGenerator(local_model_file(generator), latent_dim)
    probe = _probe(gen, latent_dim)
    path = local_model_file(model)
    blackbox = BlackBox(load_export(path) if path.suffix.lower() == ".pt2" else str(path))
    names = classes or [str(i) for i in range(blackbox.probabilities(probe).shape[1])]
    chosen = _targets(target, names)
    settings = {"runs": runs, "per_class": per_class, "seed": seed, "momentum": momentum, "max_queries": max_queries}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if probe.ndim == 4:
        found = image_exemplars(
            blackbox, gen, chosen, latent_dim=latent_dim, title=f"{gen.name} → {path.name}", **settings
        )
        paths = [folder / "exemplars.png", folder / "exemplars.md"]
    else:
        found = tabular_exemplars(blackbox, gen, chosen, **settings)
        paths = [folder / "exemplars.csv", folder / "exemplars.md"]
    found.save(*paths)
    return OwnExemplars(found.markdown(), paths)


def _probe(generator: FileGenerator, latent_dim: int) -> torch.Tensor:
    """Two outputs of the generator, checked: images ``(2, C, H, W)`` or rows ``(2, D)``."""
    try:
        probe = torch.as_tensor(generator(torch.zeros(2, latent_dim)))
    except Exception as err:
        raise InvalidInputError(
            f"the generator {generator.name} failed on latents of shape (2, {latent_dim}): {err}. Check --latent-dim"
        ) from None
    if probe.ndim not in (2, 4) or len(probe) != 2:
        raise InvalidInputError(
            f"the generator {generator.name} returned shape {tuple(probe.shape)} for 2 latents; it must return "
            "images (N, C, H, W) or rows (N, D) that the model takes"
        )
    return probe


def _targets(target: str | None, names: list[str]) -> dict[int, str]:
    """``None`` → every class; ``"3,5"`` or ``"cat,dog"`` → those classes."""
    if target is None:
        return dict(enumerate(names))
    chosen = {}
    for part in (p.strip() for p in target.split(",") if p.strip()):
        index = names.index(part) if part in names else int(part) if part.isdigit() else -1
        if not 0 <= index < len(names):
            raise InvalidInputError(f"--target {part!r} is not a class: give an index 0..{len(names) - 1} or a name")
        chosen[index] = names[index]
    return chosen


def local_model_file(name: str) -> Path:
    """A model file: the path itself, or for an ``http(s)://`` URL the file downloaded into
    ``~/.cache/evoxplain/models`` (once, with a progress bar)."""
    if not name.startswith(("http://", "https://")):
        return Path(name)
    import shutil
    import urllib.request

    from tqdm.auto import tqdm

    from ..files import atomic_path

    folder = Path.home() / ".cache" / "evoxplain" / "models"
    target = folder / f"{hashlib.sha256(name.encode()).hexdigest()[:12]}-{Path(name.split('?')[0]).name}"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(name, timeout=60) as response, atomic_path(target) as tmp, open(tmp, "wb") as sink:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm.wrapattr(response, "read", total=size, desc=target.name.split("-", 1)[1]) as source:
                shutil.copyfileobj(source, sink)
    except OSError as err:
        raise InvalidInputError(f"cannot download the model at {name}: {err}") from None
    return target


# The longer options of ``evoxplain exemplars``, named here to keep the command short.
ScenarioArgument = Annotated[
    str | None,
    typer.Argument(
        help="A named scenario: 'adult' (a random forest on UCI Adult), 'fer' (the FER2013 classifier), "
        "'fashion-mnist' (the Fashion-MNIST LeNet) or 'imdb' (a BiLSTM sentiment classifier). "
        "Leave it out with --model and --generator."
    ),
]
GeneratorOption = Annotated[
    str | None,
    typer.Option(
        help="With --model: your generator file (latents to the model's inputs). Scenarios: vae, dcgan, "
        "vae-disjoint, vae-no-surprise or dcgan-no-surprise (the last three: fer only); default vae."
    ),
]
FittedClassifierOption = Annotated[
    bool,
    typer.Option(
        "--fitted-classifier",
        help="fer: explain the classifier trained with light regularisation (surer of real faces) instead of "
        "the default one; with vae-disjoint, the half-data one trained so.",
    ),
]


@app.command()
def exemplars(
    scenario: ScenarioArgument = None,
    model: Annotated[
        str | None, typer.Option(help="Your classifier: a TorchScript, torch.export or ONNX file, or its URL.")
    ] = None,
    generator: GeneratorOption = None,
    latent_dim: Annotated[int | None, typer.Option(help="With --model: the generator's latent size.")] = None,
    classes: Annotated[
        str | None, typer.Option(help="With --model: the class names, comma-separated (default 0, 1, ...).")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="A class name or index, or several separated by commas; default: every class."),
    ] = None,
    runs: Annotated[
        int | None, typer.Option(help="Independent searches per class (default: adult 10, images and --model 4).")
    ] = None,
    per_class: Annotated[
        int | None, typer.Option(help="Exemplars shown per class (default: adult 5, images and --model 4).")
    ] = None,
    max_queries: Annotated[
        int | None, typer.Option(help="Query budget of each search (default: adult 5000, images and --model 2000).")
    ] = None,
    momentum: Annotated[float, typer.Option(help="ES momentum (0: plain ES).")] = 0.3,
    method: Annotated[str, typer.Option(help="Images: es (black box) or gd (white-box gradient descent).")] = "es",
    fitted_classifier: FittedClassifierOption = False,
    epochs: Annotated[int, typer.Option(help="Adult: epochs of the generator's training.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    data: Annotated[
        str | None, typer.Option(help="Adult: data folder holding adult/ (default $EVOXPLAIN_DATA, then the cache).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the tables (and the image grid).")] = Path("evoxplain-out"),
) -> None:
    """Typical inputs of each class, searched in a generator's latent space; writes tables (and a PNG grid)."""
    before = _snapshot(out)
    try:
        with progress_bars():
            if model is not None or scenario is None:
                text = _own(
                    scenario, model=model, generator=generator, latent_dim=latent_dim, classes=classes,
                    target=target, runs=runs, per_class=per_class, max_queries=max_queries, momentum=momentum,
                    seed=seed, out=out,
                ).markdown  # fmt: skip
            else:
                options = ScenarioOptions(
                    target=target, runs=runs, per_class=per_class, max_queries=max_queries, momentum=momentum,
                    generator=generator, method=method, epochs=epochs, seed=seed, data=data, out=out,
                    fitted_classifier=fitted_classifier,
                )  # fmt: skip
                text = run_exemplars(scenario, options)
    except EvoxplainError as err:
        fail(err)
    typer.echo(text)
    for path in written_since(out, before):
        typer.echo(f"wrote {path}")


def _own(scenario: str | None, *, model, generator, latent_dim, classes, target, **search: Any) -> OwnExemplars:
    """``evoxplain exemplars --model ... --generator ...``: the checks, then :func:`run_own_exemplars`."""
    if scenario is not None:
        raise InvalidInputError(f"give either a scenario ({scenario!r}) or --model, not both")
    if model is None or generator is None or latent_dim is None:
        names = ", ".join(scenarios()) or f"none installed ({ZOO_HINT})"
        raise InvalidInputError(
            "give a scenario (" + names + "), or your own models: --model FILE|URL --generator FILE --latent-dim N"
        )
    defaults = {"runs": 4, "per_class": 4, "max_queries": 2000}
    settings = {key: value if value is not None else defaults.get(key) for key, value in search.items()}
    names = classes.split(",") if classes else None
    return run_own_exemplars(model, generator, latent_dim, target=target, classes=names, **settings)


def _snapshot(folder: Path) -> dict[Path, int]:
    """Every file under ``folder`` and its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


def written_since(folder: Path, before: dict[Any, int]) -> list[Path]:
    """The files under ``folder`` made or changed since ``before`` (a :func:`_snapshot`), sorted."""
    return sorted(p for p, mtime in _snapshot(folder).items() if before.get(p) != mtime)
