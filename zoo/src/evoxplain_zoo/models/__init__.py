"""The built-in models, by name: the model, its class names and the input it takes.

Each is a :class:`evoxplain.plugins.BuiltinModel`, registered with evoxplain by this
distribution's plugin, so ``evoxplain explain --model NAME`` and ``evoxplain models`` know it.
Every model takes images in [0, 1] (normalised inside) and returns logits.

Example:
    >>> from evoxplain_zoo.models import available_models, load_model
    >>> available_models()
    ['efficientnet-lite0', 'lenet-fashion-mnist', 'lenet-mnist']
    >>> model, classes, spec = load_model("lenet-mnist")
    >>> spec.describe()
    "1×28×28 (grayscale) in [0, 1], normalised inside with the dataset's mean and std"
"""

from __future__ import annotations

from torch import nn

from evoxplain.errors import InvalidInputError
from evoxplain.inputs import InputSpec
from evoxplain.plugins import BuiltinModel

from ..data.idx import FASHION_MNIST_CLASSES, MNIST_CLASSES

IMAGENET_SPEC = InputSpec(3, (224, 224), crop=True, inside="normalised inside with the ImageNet mean and std")
DIGIT_SPEC = InputSpec(1, (28, 28), inside="normalised inside with the dataset's mean and std")


def _efficientnet() -> nn.Module:
    from .efficientnet import efficientnet_lite0

    return efficientnet_lite0()


def _imagenet_classes() -> list[str]:
    from .efficientnet import imagenet_classes

    return imagenet_classes()


def _sample_photo():
    from .efficientnet import sample_photo

    return sample_photo(), "cameraman"


def _lenet(dataset: str):
    def load() -> nn.Module:
        from .lenet import load_lenet

        return load_lenet(dataset)

    return load


MODELS = [
    BuiltinModel(
        "efficientnet-lite0",
        "EfficientNet-Lite0, ImageNet (1000 classes)",
        load=_efficientnet,
        classes=_imagenet_classes,
        spec=IMAGENET_SPEC,
        sample=_sample_photo,
    ),
    BuiltinModel(
        "lenet-fashion-mnist",
        "LeNet, Fashion-MNIST clothes (10 classes)",
        load=_lenet("fashion-mnist"),
        classes=FASHION_MNIST_CLASSES,
        spec=DIGIT_SPEC,
    ),
    BuiltinModel(
        name="lenet-mnist",
        description="LeNet, MNIST digits (10 classes)",
        load=_lenet("mnist"),
        classes=MNIST_CLASSES,
        spec=DIGIT_SPEC,
    ),
]


def available_models() -> list[str]:
    """The names :func:`load_model` accepts, sorted.

    Example:
        >>> "lenet-mnist" in available_models()
        True
    """
    return sorted(model.name for model in MODELS)


def load_model(name: str) -> tuple[nn.Module, list[str], InputSpec]:
    """A built-in model in eval mode, its class names, and the :class:`InputSpec` it takes.

    Example:
        >>> from evoxplain_zoo.models.efficientnet import sample_image
        >>> model, classes, spec = load_model("efficientnet-lite0")
        >>> classes[int(model(sample_image()[None]).argmax())]
        'tripod'
    """
    for model in MODELS:
        if model.name == name:
            return model.load(), model.class_names(), model.spec
    raise InvalidInputError(f"unknown model {name!r}; the built-in models are: {', '.join(available_models())}")


__all__ = ["DIGIT_SPEC", "IMAGENET_SPEC", "MODELS", "available_models", "load_model"]
