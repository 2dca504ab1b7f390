"""Local attributions: why did the model decide this for this input?"""

from .geex import GEEX

__all__ = ["GEEX"]
