"""What a model takes, and inputs read from files: :class:`InputSpec`, images and ``.npy`` arrays.

An :class:`InputSpec` states the images a model takes (channels, size, value range, what the
model does with them inside) and checks an input before the first query, so a wrong shape is a
sentence, not a kernel-size error from deep inside the model.

Example:
    >>> spec = InputSpec(channels=1, size=(28, 28))
    >>> spec.describe()
    '1×28×28 (grayscale) in [0, 1]'
    >>> spec.check(torch.rand(1, 28, 28)).shape
    torch.Size([1, 28, 28])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import InvalidInputError


@dataclass(frozen=True)
class InputSpec:
    """The images a model takes: ``(channels, height, width)`` with values in ``value_range``.

    Attributes:
        channels: 1 (grayscale) or 3 (RGB).
        size: ``(height, width)``, or None when any size is taken (image files keep their own).
        crop: how an image file of another size is fitted: resize the shorter side and crop the
            centre (True, the ImageNet transform) or resize to the size directly (False).
        value_range: the range of the values the model expects (``(0, 1)``: pixels / 255).
        inside: what the model does with its input itself, said to the reader (e.g.
            ``"normalised with the ImageNet mean and std"``); empty when nothing.
    """

    channels: int
    size: tuple[int, int] | None
    crop: bool = False
    value_range: tuple[float, float] = (0.0, 1.0)
    inside: str = ""

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise InvalidInputError(f"channels must be 1 (grayscale) or 3 (RGB), not {self.channels!r}")

    @property
    def shape(self) -> tuple[int, int, int] | None:
        """``(channels, height, width)``, or None when the size is not fixed."""
        return None if self.size is None else (self.channels, *self.size)

    def describe(self) -> str:
        """The spec in words, e.g. ``'3×224×224 (RGB) in [0, 1], normalised inside ...'``."""
        size = "H×W" if self.size is None else f"{self.size[0]}×{self.size[1]}"
        low, high = (f"{v:g}" for v in self.value_range)
        text = f"{self.channels}×{size} ({'grayscale' if self.channels == 1 else 'RGB'}) in [{low}, {high}]"
        return f"{text}, {self.inside}" if self.inside else text

    def check(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` if it is one input this model takes, else an :class:`InvalidInputError` that
        says what it got and what the model needs (before any query is sent)."""
        if self.shape is not None and tuple(x.shape) != self.shape:
            raise InvalidInputError(
                f"this model takes {self.describe()}; the input has shape {tuple(x.shape)}. "
                f"Give an image file (it is converted and resized) or an array of shape {self.shape}"
            )
        if self.shape is None and (x.ndim != 3 or x.shape[0] != self.channels):
            raise InvalidInputError(f"this model takes {self.describe()}; the input has shape {tuple(x.shape)}")
        low, high = self.value_range
        if x.numel() and (float(x.min()) < low - 1e-6 or float(x.max()) > high + 1e-6):
            raise InvalidInputError(
                f"this model takes values in [{low:g}, {high:g}]; the input spans "
                f"[{float(x.min()):.4g}, {float(x.max()):.4g}]. Scale it (pixels 0-255: divide by 255)"
            )
        return x


def load_input(path: str | Path, spec: InputSpec | None = None) -> torch.Tensor:
    """One input from a file: a ``.npy`` array, or an image fitted to ``spec``.

    * ``.npy``: numeric, never unpickled (a leading batch dimension of 1 is dropped); pixels
      stored as ``uint8`` / ``uint16`` are scaled to [0, 1] when ``spec`` says the model takes
      [0, 1], and refused without a spec (only the caller knows the model's range);
    * an image file: converted to ``spec``'s channels and fitted to its size when known; values
      in [0, 1] (8-bit images / 255, 16-bit ones / 65535, never clipped); more pixels than
      Pillow's decompression-bomb limit are refused before they are decoded.

    Example:
        >>> from PIL import Image
        >>> Image.new("L", (32, 32)).save("digit.png")
        >>> load_input("digit.png", InputSpec(1, (28, 28))).shape
        torch.Size([1, 28, 28])
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no input file at {path}")
    if path.suffix.lower() == ".npy":
        return load_npy(path, spec)
    return load_image(path, spec)


PIXEL_SCALES = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
"""Integer pixel types and the value that is white in each."""


def load_npy(path: str | Path, spec: InputSpec | None = None) -> torch.Tensor:
    """A numeric ``.npy`` array as a float32 tensor (never unpickled).

    Example:
        >>> np.save("pixels.npy", np.full((1, 4, 4), 255, dtype=np.uint8))
        >>> float(load_npy("pixels.npy", InputSpec(1, (4, 4))).max())      # the model takes [0, 1]
        1.0
    """
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as err:
        raise InvalidInputError(f"cannot read {path} as a .npy array: {err}") from None
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"{path} holds {array.dtype} values; a .npy input must be numeric")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    white = PIXEL_SCALES.get(array.dtype)
    if white is not None:
        if spec is None or spec.value_range != (0.0, 1.0):
            raise InvalidInputError(
                f"{path} holds {array.dtype} pixels (0-{white}) and the range the model takes is not known: save "
                f"floats in that range (pixels / {white} for [0, 1]), or say what images the model takes "
                "(--size and --channels: images in [0, 1])"
            )
        return torch.from_numpy(array.astype(np.float32) / white)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def load_image(path: str | Path, spec: InputSpec | None = None) -> torch.Tensor:
    """An image file as a float ``(C, H, W)`` tensor in [0, 1], fitted to ``spec`` when given."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InvalidInputError(
            f"{path} has more pixels than evoxplain decodes ({err}). Resize it first (at most "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels), or raise PIL.Image.MAX_IMAGE_PIXELS for a file you trust"
        ) from None
    except (UnidentifiedImageError, OSError) as err:
        raise InvalidInputError(
            f"cannot read {path} as an image ({err}); give a PNG or JPEG file, or a .npy array"
        ) from None
    return fit_image(image, spec)


def fit_image(image, spec: InputSpec | None = None) -> torch.Tensor:
    """A PIL image as a float ``(C, H, W)`` tensor in [0, 1]: converted to ``spec``'s channels
    and fitted to its size (centre crop or resize, as the spec says); as it is without a spec.
    A 16-bit image keeps its depth (values / 65535)."""
    from PIL import Image

    image = _deep_as_float(image)
    gray = image.mode in ("1", "L", "LA", "F")
    channels = spec.channels if spec is not None else (1 if gray else 3)
    if spec is not None and spec.size is not None:
        if spec.crop:
            return center_crop(image, spec.size, channels)
        image = image.resize((spec.size[1], spec.size[0]), Image.BILINEAR)
    return to_tensor(_convert(image, channels), channels)


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
    image = _convert(_deep_as_float(image), channels)
    scale = round(256 * max(h, w) / 224) / min(image.size)
    new_w = max(w, round(image.size[0] * scale))
    new_h = max(h, round(image.size[1] * scale))
    image = image.resize((new_w, new_h), Image.BILINEAR)
    left, top = round((new_w - w) / 2), round((new_h - h) / 2)
    return to_tensor(image.crop((left, top, left + w, top + h)), channels)


def to_tensor(image, channels: int | None = None) -> torch.Tensor:
    """An 8-bit PIL image (``L`` or ``RGB``) as a float ``(C, H, W)`` tensor in [0, 1]; a float
    one (``F``, values already in [0, 1]) as it is, repeated to ``channels``."""
    if image.mode == "F":
        tensor = torch.from_numpy(np.asarray(image, dtype=np.float32).copy())[None]
        return tensor.expand(channels or 1, -1, -1).contiguous()
    array = np.asarray(image, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def _convert(image, channels: int):
    """``L`` or ``RGB`` for 8-bit images; a float (``F``) image stays as it is (gray)."""
    return image if image.mode == "F" else image.convert("L" if channels == 1 else "RGB")


def _deep_as_float(image):
    """A 16-bit or float image as a float (``F``) image in [0, 1]; 8-bit images as they are."""
    from PIL import Image

    if image.mode.startswith("I;16"):
        return Image.fromarray(np.asarray(image, dtype=np.float32) / 65535.0, mode="F")
    if image.mode in ("I", "F"):
        array = np.asarray(image, dtype=np.float32)
        if image.mode == "I" or array.min() < 0 or array.max() > 1:
            raise InvalidInputError(
                f"this {image.mode}-mode image (32-bit {'integers' if image.mode == 'I' else 'floats'}, "
                f"values {array.min():g} to {array.max():g}) has no certain scale to [0, 1]: save it as an 8- or "
                "16-bit PNG, or as a .npy array in the range the model takes"
            )
        return Image.fromarray(array, mode="F")
    return image
