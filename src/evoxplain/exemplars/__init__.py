"""Global exemplars: search a generator's latent space until a black box gives a chosen output.

:class:`ExemplarSearch` is the evolution strategy with momentum of the exemplar paper
(Algorithm 1); :class:`RandomSearch` and :class:`CMAESSearch` are black-box baselines and
:class:`GradientSearch` the white-box one, all with the same ``run`` / ``run_many`` interface,
query counting and :class:`ExemplarResult`. What they share (population, elite, stopping rule,
limits, seed, batch size, device) is one :class:`SearchSettings`; each declares only its own knobs.

Example:
    >>> from evoxplain.exemplars import ExemplarSearch
    >>> res = ExemplarSearch(model, generator, latent_dim=32, seed=0).run(3)   # generator: latents -> images
    >>> res.converged, res.exemplar.shape, bool(res.probabilities[3] >= 0.95)
    (True, torch.Size([1, 28, 28]), True)
"""

from .baselines import CMAESSearch, RandomSearch
from .engine import LatentSearch
from .gradient import GradientSearch
from .images import ImageExemplars, image_exemplars
from .objective import Objective
from .result import ExemplarResult, Generation, best_runs, summarise_by_class
from .search import ExemplarSearch
from .settings import SearchSettings
from .tabular import TabularExemplars, tabular_exemplars
from .text import TextExemplars, text_exemplars

__all__ = [
    "CMAESSearch",
    "ExemplarResult",
    "ExemplarSearch",
    "Generation",
    "GradientSearch",
    "ImageExemplars",
    "LatentSearch",
    "Objective",
    "RandomSearch",
    "SearchSettings",
    "TabularExemplars",
    "TextExemplars",
    "best_runs",
    "summarise_by_class",
    "image_exemplars",
    "tabular_exemplars",
    "text_exemplars",
]
