"""Local attributions: why did the model decide this for this input?

Every method shares :class:`~evoxplain.attribution.base.Explainer`'s
``explain(x, target=None, *, batched=None)`` and returns an :class:`~evoxplain.Explanation`
whose ``queries`` count every input the model saw.
"""

from .base import Explainer
from .captum_methods import LIME, KernelSHAP, Occlusion
from .defaults import recommended_settings
from .geex import GEEX
from .rise import RISE
from .whitebox import IntegratedGradients, Saliency, SmoothGrad

__all__ = [
    "GEEX",
    "LIME",
    "RISE",
    "Explainer",
    "IntegratedGradients",
    "KernelSHAP",
    "Occlusion",
    "Saliency",
    "SmoothGrad",
    "recommended_settings",
]
