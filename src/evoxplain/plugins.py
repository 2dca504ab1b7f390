"""Built-in models, exemplar scenarios and extra commands, found in installed plugins.

The library ships no models or datasets. A distribution adds them by declaring an entry point in
the group ``evoxplain.plugins`` whose object is a function returning a :class:`Plugin`; the
project's own ``evoxplain-zoo`` (the papers' models, data and scenarios) is one. ``import
evoxplain`` loads no plugin: they are loaded the first time a built-in model, a scenario or the
command line asks for them.

Example:
    >>> plugin = Plugin(models=[BuiltinModel("toy", "a toy model", load=lambda: model, classes=["a", "b"],
    ...                                      spec=InputSpec(3, (224, 224)))])
    >>> [m.name for m in plugin.models], plugin.models[0].spec.describe()
    (['toy'], '3×224×224 (RGB) in [0, 1]')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .errors import EvoxplainError, InvalidInputError
from .inputs import InputSpec

GROUP = "evoxplain.plugins"
ZOO_HINT = (
    "the built-in models and scenarios come with the evoxplain-zoo distribution: install it "
    "(from a checkout of evoxplain: pip install -e ./zoo)"
)


@dataclass(frozen=True)
class BuiltinModel:
    """A model a user can name on the command line.

    Attributes:
        name: the name, e.g. ``"lenet-mnist"``.
        description: one line for ``evoxplain models``.
        load: returns the model in eval mode (a ``torch.nn.Module``).
        classes: the class names by index, or a function returning them (loaded lazily).
        spec: the input it takes (checked before the first query).
        output: what it returns: ``"logits"`` or ``"probs"``.
        sample: returns a sample photo (a PIL image) and its name, the command's default input
            (fitted to the model's spec), or None.
    """

    name: str
    description: str
    load: Callable[[], Any]
    classes: Sequence[str] | Callable[[], Sequence[str]]
    spec: InputSpec
    output: str = "logits"
    sample: Callable[[], tuple[Any, str]] | None = None

    def class_names(self) -> list[str]:
        """The class names by index."""
        return list(self.classes() if callable(self.classes) else self.classes)


@dataclass
class ScenarioOptions:
    """The options of ``evoxplain exemplars SCENARIO`` (None: the scenario's own default)."""

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

    def value(self, name: str, default: Any) -> Any:
        """The option ``name``, or ``default`` when it was not given."""
        given = getattr(self, name)
        return default if given is None else given


@dataclass(frozen=True)
class Scenario:
    """A named exemplar experiment (``evoxplain exemplars NAME``): ``run(options)`` searches,
    writes its files under ``options.out`` and returns the Markdown it wrote."""

    name: str
    description: str
    run: Callable[[ScenarioOptions], str]


@dataclass
class Plugin:
    """What one distribution adds: built-in models, scenarios, and sub-commands (Typer apps
    with a ``name``, e.g. ``evoxplain data``)."""

    models: list[BuiltinModel] = field(default_factory=list)
    scenarios: list[Scenario] = field(default_factory=list)
    commands: list[Any] = field(default_factory=list)


@lru_cache(maxsize=1)
def installed() -> tuple[Plugin, ...]:
    """Every installed plugin, loaded once (an entry point that fails to load is an error that
    names it)."""
    found = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        try:
            found.append(point.load()())
        except Exception as err:
            raise EvoxplainError(f"the evoxplain plugin {point.name!r} ({point.value}) failed to load: {err}") from err
    return tuple(found)


def builtin_models() -> dict[str, BuiltinModel]:
    """The built-in models of every installed plugin, by name."""
    return {model.name: model for plugin in installed() for model in plugin.models}


def builtin_model(name: str) -> BuiltinModel:
    """The built-in model called ``name``, or an error listing the names there are."""
    models = builtin_models()
    if name not in models:
        known = ", ".join(sorted(models)) or f"none ({ZOO_HINT})"
        raise InvalidInputError(f"unknown built-in model {name!r}; the built-in models are: {known}")
    return models[name]


def scenarios() -> dict[str, Scenario]:
    """The exemplar scenarios of every installed plugin, by name."""
    return {scenario.name: scenario for plugin in installed() for scenario in plugin.scenarios}
