"""evoxplain: explain models that can only be queried.

Local attributions by gradient estimation (GE, GEEX/iGEEX, mask resizing, smoothing, Bernoulli
masks) and global exemplars by evolution strategies, over one query engine, :class:`BlackBox`.

Example:
    >>> from evoxplain import GEEX
    >>> exp = GEEX(model, queries=2000, mask_size=(14, 14), seed=0).explain(image)
    >>> exp.values.shape == image.shape, exp.queries
    (True, 2002)
"""

from .attribution import (
    GEEX,
    LIME,
    RISE,
    IntegratedGradients,
    KernelSHAP,
    Occlusion,
    Saliency,
    SmoothGrad,
    recommended_settings,
)
from .blackbox import BlackBox, as_blackbox
from .errors import (
    EvoxplainError,
    InvalidInputError,
    MissingDependencyError,
    ModelCallError,
    ModelOutputError,
    QueryBudgetExceeded,
)
from .exemplars import (
    CMAESSearch,
    ExemplarResult,
    ExemplarSearch,
    GradientSearch,
    RandomSearch,
)
from .explanation import Explanation

__version__ = "0.1.0"

__all__ = [
    "BlackBox",
    "CMAESSearch",
    "ExemplarResult",
    "ExemplarSearch",
    "GradientSearch",
    "RandomSearch",
    "EvoxplainError",
    "Explanation",
    "GEEX",
    "IntegratedGradients",
    "InvalidInputError",
    "KernelSHAP",
    "LIME",
    "MissingDependencyError",
    "ModelCallError",
    "ModelOutputError",
    "Occlusion",
    "QueryBudgetExceeded",
    "recommended_settings",
    "RISE",
    "Saliency",
    "SmoothGrad",
    "as_blackbox",
]
