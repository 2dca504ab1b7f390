"""The entry point that registers the zoo with evoxplain (group ``evoxplain.plugins``).

Example:
    >>> sorted(m.name for m in plugin().models)
    ['efficientnet-lite0', 'lenet-fashion-mnist', 'lenet-mnist']
"""

from __future__ import annotations

from evoxplain.plugins import Plugin


def plugin() -> Plugin:
    """The zoo's built-in models, exemplar scenarios and the ``evoxplain data`` command."""
    from .cli import data
    from .models import MODELS
    from .scenarios import SCENARIOS

    return Plugin(models=list(MODELS), scenarios=list(SCENARIOS), commands=[data])
