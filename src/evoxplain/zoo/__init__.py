"""Built-in models, by name: the model, its class names and the input it takes.

Example:
    >>> from evoxplain.zoo import available_models, load_model
    >>> available_models()
    ['efficientnet-lite0', 'lenet-fashion-mnist', 'lenet-mnist']
    >>> model, classes, spec = load_model("lenet-mnist")
    >>> spec.shape
    (1, 28, 28)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..data.idx import FASHION_MNIST_CLASSES, MNIST_CLASSES
from ..errors import InvalidInputError


@dataclass(frozen=True)
class InputSpec:
    """The images a model takes: ``(channels, height, width)`` in [0, 1].

    Attributes:
        channels: 1 (grayscale) or 3 (RGB).
        size: ``(height, width)``, or None when unknown (image files keep their own size).
        crop: how an image file of another size is fitted: resize the shorter side and crop the
            centre (True, the ImageNet transform) or resize to the size directly (False).
    """

    channels: int
    size: tuple[int, int] | None
    crop: bool = False

    @property
    def shape(self) -> tuple[int, int, int] | None:
        """``(channels, height, width)``, or None when the size is unknown."""
        return None if self.size is None else (self.channels, *self.size)


def _efficientnet() -> tuple[nn.Module, list[str], InputSpec]:
    from .efficientnet import efficientnet_lite0, imagenet_classes

    return efficientnet_lite0(), imagenet_classes(), InputSpec(3, (224, 224), crop=True)


def _lenet(dataset: str, classes: list[str]) -> Callable[[], tuple[nn.Module, list[str], InputSpec]]:
    def load() -> tuple[nn.Module, list[str], InputSpec]:
        from .lenet import load_lenet

        return load_lenet(dataset), list(classes), InputSpec(1, (28, 28))

    return load


_MODELS: dict[str, Callable[[], tuple[nn.Module, list[str], InputSpec]]] = {
    "efficientnet-lite0": _efficientnet,
    "lenet-mnist": _lenet("mnist", MNIST_CLASSES),
    "lenet-fashion-mnist": _lenet("fashion-mnist", FASHION_MNIST_CLASSES),
}

DESCRIPTIONS = {
    "efficientnet-lite0": "EfficientNet-Lite0, ImageNet (1000 classes), RGB 224x224 (needs evoxplain[zoo])",
    "lenet-mnist": "LeNet, MNIST digits (10 classes), grayscale 28x28",
    "lenet-fashion-mnist": "LeNet, Fashion-MNIST clothes (10 classes), grayscale 28x28",
}


def available_models() -> list[str]:
    """The names :func:`load_model` accepts, sorted.

    Example:
        >>> "lenet-mnist" in available_models()
        True
    """
    return sorted(_MODELS)


def load_model(name: str) -> tuple[nn.Module, list[str], InputSpec]:
    """A built-in model in eval mode, its class names, and the :class:`InputSpec` it takes.

    Every model takes images in [0, 1] (normalised inside) and returns logits.

    Example:
        >>> from evoxplain.zoo.efficientnet import sample_image
        >>> model, classes, spec = load_model("efficientnet-lite0")
        >>> classes[int(model(sample_image()[None]).argmax())]
        'Egyptian_cat'
    """
    if name not in _MODELS:
        raise InvalidInputError(f"unknown model {name!r}; the built-in models are: {', '.join(available_models())}")
    return _MODELS[name]()


__all__ = ["DESCRIPTIONS", "InputSpec", "available_models", "load_model"]
