"""The ImageNet sample images (one JPEG per class) and the ImageNet class index.

Expected layout (under ``root``, or ``$EVOXPLAIN_DATA``)::

    imagenet_samples/
        imagenet_class_index.json     {"0": ["n01440764", "tench"], ...}
        images/<wnid>_<name>.JPEG

Example:
    >>> samples = load_imagenet_samples(size=224)
    >>> samples.images.shape, samples.files[0], samples.class_names[samples.labels[0]]
    (torch.Size([125, 3, 224, 224]), 'n01440764_tench.JPEG', 'tench')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from evoxplain.errors import InvalidInputError

from ._paths import DatasetFormatError, find_dataset

_INDEX = "imagenet_class_index.json"
_SUFFIXES = {".jpeg", ".jpg", ".png"}


class ImageNetSamples(NamedTuple):
    """Images and what they are.

    Attributes:
        images: float32 ``(N, 3, size, size)`` in [0, 1] (RGB, not normalised).
        labels: int64 ``(N,)`` ImageNet class indices (standard sorted-wnid order).
        files: the N file names, in sorted order (the order of ``images``).
        class_names: the names of all 1000 classes by index: ``class_names[labels[i]]`` names
            image ``i``'s class, ``class_names[model_prediction]`` a model's answer.
    """

    images: torch.Tensor
    labels: torch.Tensor
    files: list[str]
    class_names: list[str]


def load_imagenet_class_index(root: str | Path | None = None) -> dict[int, tuple[str, str]]:
    """The ImageNet class index ``{index: (wnid, name)}`` from ``imagenet_class_index.json``.

    Example:
        >>> load_imagenet_class_index()[0]
        ('n01440764', 'tench')
    """
    folder = find_dataset("imagenet_samples", [_INDEX], root)
    try:
        raw = json.loads((folder / _INDEX).read_text())
        return {int(k): (str(v[0]), str(v[1])) for k, v in raw.items()}
    except (ValueError, TypeError, IndexError) as err:
        raise DatasetFormatError(
            f'{folder / _INDEX} is not a class index of the form {{"0": ["n01440764", "tench"], ...}}: '
            f"{err}. Replace it with the standard Keras/torchvision file."
        ) from err


def preprocess_image(image, size: int = 224) -> torch.Tensor:
    """A PIL image to a float32 ``(3, size, size)`` tensor in [0, 1].

    Converts to RGB, resizes (bilinear) so the shorter side is ``round(256 * size / 224)``, then
    crops the centre ``size`` × ``size`` square — the standard ImageNet evaluation transform,
    without mean/std normalisation.

    Example:
        >>> from PIL import Image
        >>> preprocess_image(Image.new("RGB", (500, 375)), size=224).shape
        torch.Size([3, 224, 224])
    """
    from PIL import Image

    image = image.convert("RGB")
    short = round(256 * size / 224)
    w, h = image.size
    if w <= h:
        new_w, new_h = short, max(short, round(h * short / w))
    else:
        new_w, new_h = max(short, round(w * short / h)), short
    image = image.resize((new_w, new_h), Image.BILINEAR)
    left = round((new_w - size) / 2.0)
    top = round((new_h - size) / 2.0)
    image = image.crop((left, top, left + size, top + size))
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def load_imagenet_samples(
    root: str | Path | None = None, size: int = 224, *, download: bool = False
) -> ImageNetSamples:
    """Load the ``imagenet_samples/`` images, preprocessed to ``size`` × ``size``.

    Args:
        root: a folder containing ``imagenet_samples/`` (or that folder itself); defaults to
            ``$EVOXPLAIN_DATA``.
        size: the side of the square crop (224 for most ImageNet models).
        download: fetch the dataset into the cache (``evoxplain data download``) if it is found nowhere.

    Returns:
        :class:`ImageNetSamples` ``(images, labels, files, class_names)``, files sorted by name.

    Raises:
        DatasetNotFoundError: the folder, its class index or its images are missing.

    Example:
        >>> x, y, files, names = load_imagenet_samples(size=224)
        >>> x.shape, names[int(y[-1])]
        (torch.Size([125, 3, 224, 224]), 'agaric')
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise InvalidInputError(f"size must be a positive integer (e.g. 224), not {size!r}")
    from PIL import Image

    folder = find_dataset("imagenet_samples", [_INDEX], root, download=download)
    index = load_imagenet_class_index(folder)
    wnid_to_index = {wnid: i for i, (wnid, _) in index.items()}
    image_dir = folder / "images"
    files = sorted(p.name for p in image_dir.iterdir() if p.suffix.lower() in _SUFFIXES) if image_dir.is_dir() else []
    if not files:
        raise DatasetFormatError(
            f"no images (.JPEG, .jpg, .png) in {image_dir}; put the sample images there, named <wnid>_<name>.JPEG"
        )
    images, labels = [], []
    for name in files:
        wnid = name.split("_", 1)[0]
        if wnid not in wnid_to_index:
            raise DatasetFormatError(
                f"{image_dir / name}: its wnid {wnid!r} (the part before '_') is not in {_INDEX}; "
                "rename the file <wnid>_<name>.JPEG or remove it"
            )
        with Image.open(image_dir / name) as image:
            images.append(preprocess_image(image, size))
        labels.append(wnid_to_index[wnid])
    class_names = [index[i][1] for i in range(len(index))] if set(index) == set(range(len(index))) else []
    if not class_names:
        raise DatasetFormatError(f"{folder / _INDEX} does not number its classes 0..{len(index) - 1}")
    return ImageNetSamples(torch.stack(images), torch.tensor(labels, dtype=torch.int64), files, class_names)
