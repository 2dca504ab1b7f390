"""Small image models for the exemplar experiments: a VGG-style FER classifier and a conv VAE.

* :class:`FERClassifier` — the black box: [0, 1] faces ``(N, 1, 48, 48)`` → 7 logits. Three
  VGG blocks (conv-BN-ReLU ×2, max-pool) with 32/64/128 channels, average-pooled to 3×3, dropout,
  fc 128, dropout, fc 7. Normalises its input inside (mean/std buffers). Wrap it as
  ``BlackBox(model, output="logits")``. Trained with flips, small random shifts and weight decay;
  a second one (``fitted=True``) without dropout and with light regularisation, which fits its
  data: more accurate and sure of real faces of more classes.
* :class:`FERVAE` — the generator: encoder of strided convs (32/64/64) to a ``latent_dim``
  Gaussian, decoder fc → transposed convs → sigmoid. ``image_size=48`` (FER2013, 6×6
  bottleneck) or ``28`` (Fashion-MNIST, 7×7 bottleneck). Trained with a cyclical KL-annealing
  schedule (Fu et al. 2019). Use ``vae.decode`` as the exemplar generator.

The exemplar paper's scenarios (§4.2, Figure 2) are training options: ``half=0|1`` trains on one
of two disjoint, class-stratified halves of the training split (:func:`training_indices`; the
classifier on one, the generator on the other) and ``exclude_class`` leaves a class out (a VAE
that never saw a 'surprise' face).

Both models are built on the meta device and initialised from a local ``torch.Generator``;
training draws shuffles, flips, shifts, dropout masks and VAE noise from local generators only,
so the global random state is neither read nor changed. Same seed and thread count →
bit-identical on CPU.

Example:
    >>> from evoxplain_zoo.models.fer import load_fer_classifier, load_fer_vae
    >>> clf, vae = load_fer_classifier(), load_fer_vae()
    >>> from evoxplain import ExemplarSearch
    >>> ExemplarSearch(clf, vae.decode, latent_dim=vae.latent_dim, seed=0).run(3)   # "happy"
    ExemplarResult(ES-momentum, target=3, converged=True, ...)

Command line (trains, prints test accuracy or reconstruction loss, saves the state dict; the
shipped files are in ``zoo/src/evoxplain_zoo/models/weights/``, written ``W/`` here)::

    python -m evoxplain_zoo.models.fer --model classifier --out W/fer-classifier.safetensors
    python -m evoxplain_zoo.models.fer --model classifier --half 0 --out W/fer-classifier-half0.safetensors
    python -m evoxplain_zoo.models.fer --model classifier --epochs 30 --weight-decay 5e-4 --max-shift 1 --dropout 0 \
        --out W/fer-classifier-fitted.safetensors
    python -m evoxplain_zoo.models.fer --model classifier --half 0 --epochs 30 --weight-decay 5e-4 --max-shift 1 \
        --dropout 0 --out W/fer-classifier-half0-fitted.safetensors
    python -m evoxplain_zoo.models.fer --model vae --out W/fer-vae.safetensors
    python -m evoxplain_zoo.models.fer --model vae --half 1 --out W/fer-vae-half1.safetensors
    python -m evoxplain_zoo.models.fer --model vae --exclude-class surprise --out W/fer-vae-no-surprise.safetensors
    python -m evoxplain_zoo.models.fer --model vae --dataset fashion-mnist --out W/fashion-mnist-vae.safetensors
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from evoxplain.constraints import COUNT, Integer
from evoxplain.errors import InvalidInputError

from .training import accuracy, fit_classifier, fit_vae
from .weights import WEIGHTS_DIR, load_weights, save_weights

FER_MEAN, FER_STD = 0.5123, 0.2558  # pixel statistics of the training subset, 0-1 scale
NUM_CLASSES = 7
DATASETS = ("fer", "fashion-mnist")
IMAGE_SIZES = {"fer": 48, "fashion-mnist": 28}
_BOTTLENECK = {48: 6, 28: 7}  # the VAE's feature-map side at its bottleneck
DEFAULT_CLASSIFIER_EPOCHS = 24  # what the shipped classifiers were trained with
DEFAULT_VAE_EPOCHS = {"fer": 10, "fashion-mnist": 8}


# -- initialisation and dropout from local generators ------------------------------------------


def init_module(module: nn.Module, seed: int) -> None:
    """Re-initialise every conv, linear and batch-norm layer of ``module`` from ``torch.Generator(seed)``.

    Convs and linears get PyTorch's default scheme (Kaiming-uniform weights, uniform bias);
    batch norms get weight 1, bias 0 and fresh running statistics.

    Example:
        >>> net = FERClassifier(seed=0); init_module(net, 1)
        >>> same = FERClassifier(seed=1).state_dict()
        >>> all(torch.equal(value, same[key]) for key, value in net.state_dict().items())
        True
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                if layer.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
            elif isinstance(layer, nn.BatchNorm2d):
                layer.reset_parameters()


class LocalDropout(nn.Module):
    """Dropout whose masks come from ``self.generator`` (a ``torch.Generator``) when set.

    Example:
        >>> drop = LocalDropout(0.5); drop.generator = torch.Generator().manual_seed(0)
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise InvalidInputError(f"dropout p must be in [0, 1), not {p!r}")
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.p
        return x * keep / (1 - self.p)


def _set_dropout_generator(module: nn.Module, generator: torch.Generator | None) -> None:
    for layer in module.modules():
        if isinstance(layer, LocalDropout):
            layer.generator = generator


# -- the classifier ------------------------------------------------------------------------------


def _block(c_in: int, c_out: int) -> nn.Sequential:
    conv = lambda i, o: nn.Conv2d(i, o, 3, padding=1, bias=False, device="meta")
    return nn.Sequential(
        conv(c_in, c_out), nn.BatchNorm2d(c_out, device="meta"), nn.ReLU(),
        conv(c_out, c_out), nn.BatchNorm2d(c_out, device="meta"), nn.ReLU(),
        nn.MaxPool2d(2),
    )  # fmt: skip


class FERClassifier(nn.Module):
    """VGG-style CNN from [0, 1] faces ``(N, 1, 48, 48)`` to 7 emotion logits.

    Args:
        channels: the widths of the three conv blocks.
        hidden: the width of the hidden fully-connected layer.
        dropout: dropout before each fully-connected layer (masks from :class:`LocalDropout`).
        seed: seeds the weight initialisation (never the global random state).

    Example:
        >>> FERClassifier(seed=0).eval()(torch.rand(2, 1, 48, 48)).shape
        torch.Size([2, 7])
    """

    def __init__(
        self,
        channels: tuple[int, int, int] = (32, 64, 128),
        hidden: int = 128,
        dropout: float = 0.4,
        seed: int = 0,
        mean: float = FER_MEAN,
        std: float = FER_STD,
    ):
        super().__init__()
        if len(channels) != 3 or min(channels) < 1:
            raise InvalidInputError(f"channels must be three positive widths, not {channels!r}")
        c1, c2, c3 = channels
        self.features = nn.Sequential(_block(1, c1), _block(c1, c2), _block(c2, c3), nn.AdaptiveAvgPool2d(3))
        self.head = nn.Sequential(
            nn.Flatten(), LocalDropout(dropout), nn.Linear(c3 * 9, hidden, device="meta"), nn.ReLU(),
            LocalDropout(dropout), nn.Linear(hidden, NUM_CLASSES, device="meta"),
        )  # fmt: skip
        self.to_empty(device="cpu")
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        init_module(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - self.mean) / self.std))


# -- the VAE ---------------------------------------------------------------------------------------


class FERVAE(nn.Module):
    """Convolutional VAE for square 1-channel images; :meth:`decode` maps latents ``(B, l)`` to
    images ``(B, 1, S, S)`` in [0, 1].

    ``image_size=48`` (FER2013): three stride-2 convs 48 → 24 → 12 → 6, decoder mirrored.
    ``image_size=28`` (Fashion-MNIST): 28 → 14 → 7 → 7 (the last conv has stride 1), decoder
    7 → 7 → 14 → 28. The layers have the same names and order for both sizes.

    Args:
        latent_dim: the size ``l`` of the latent space.
        channels: the widths of the encoder's three convs (the decoder mirrors them).
        seed: seeds the weight initialisation.
        image_size: 48 or 28.

    Example:
        >>> vae = FERVAE(latent_dim=16, seed=0).eval()
        >>> vae.decode(torch.randn(4, 16)).shape
        torch.Size([4, 1, 48, 48])
        >>> FERVAE(image_size=28).eval().decode(torch.randn(2, 16)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(
        self,
        latent_dim: int = 16,
        channels: tuple[int, int, int] = (32, 64, 64),
        seed: int = 0,
        image_size: int = 48,
    ):
        super().__init__()
        COUNT.check("latent_dim", latent_dim)
        if image_size not in _BOTTLENECK:
            raise InvalidInputError(f"image_size must be 48 (FER2013) or 28 (Fashion-MNIST), not {image_size!r}")
        c1, c2, c3 = channels
        side = _BOTTLENECK[image_size]
        last = 2 if image_size == 48 else 1  # stride of the encoder's last conv
        self.latent_dim = latent_dim
        self.channels = (c1, c2, c3)
        self.image_size = image_size
        m = "meta"
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1, device=m), nn.ReLU(),      # 24 | 14
            nn.Conv2d(c1, c2, 3, stride=2, padding=1, device=m), nn.ReLU(),     # 12 | 7
            nn.Conv2d(c2, c3, 3, stride=last, padding=1, device=m), nn.ReLU(),  # 6 | 7
            nn.Flatten(),
        )  # fmt: skip
        self.to_stats = nn.Linear(c3 * side * side, 2 * latent_dim, device=m)
        self.from_latent = nn.Linear(latent_dim, c3 * side * side, device=m)
        first = (
            nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1, device=m)  # 6 → 12
            if image_size == 48
            else nn.ConvTranspose2d(c3, c2, 3, stride=1, padding=1, device=m)  # 7 → 7
        )
        self.decoder = nn.Sequential(
            nn.ReLU(), nn.Unflatten(1, (c3, side, side)), first, nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1, device=m), nn.ReLU(),  # 24 | 14
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1, device=m),              # 48 | 28
        )  # fmt: skip
        self.to_empty(device="cpu")
        init_module(self, seed)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior mean and log-variance ``(B, l)`` of images ``(B, 1, S, S)``."""
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``(B, 1, S, S)`` for latents ``(B, l)``."""
        return self.decoder(self.from_latent(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], ``(B, 1, S, S)``, for latents ``(B, l)``: the exemplar generator."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits, ``mu`` and ``logvar``; ``z = mu + σ·ε`` with ``ε`` from ``generator``."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        return self.decode_logits(mu + eps * (0.5 * logvar).exp()), mu, logvar


def vae_losses(
    x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image means of the reconstruction BCE (summed over pixels) and the KL to N(0, I).

    Example:
        >>> vae, x = FERVAE(seed=0), torch.rand(4, 1, 48, 48)
        >>> recon, kl = vae_losses(x, *vae(x, torch.Generator().manual_seed(0)))
        >>> recon.shape, bool(kl >= 0)
        (torch.Size([]), True)
    """
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(x)
    return recon, kl


# -- data and the paper's scenarios ----------------------------------------------------------------


def _check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise InvalidInputError(f"dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
    return dataset


def dataset_classes(dataset: str) -> list[str]:
    """The class names of ``"fer"`` or ``"fashion-mnist"``, in label order.

    Example:
        >>> dataset_classes("fer")[5]
        'surprise'
    """
    from ..data import FASHION_MNIST_CLASSES, FER2013_CLASSES

    classes = {"fer": FER2013_CLASSES, "fashion-mnist": FASHION_MNIST_CLASSES}
    return list(classes[_check_dataset(dataset)])


def class_index(name: int | str, classes: list[str]) -> int:
    """The index of a class given by name (case-insensitive) or by index.

    Example:
        >>> class_index("surprise", dataset_classes("fer")), class_index("3", ["a", "b", "c", "d"])
        (5, 3)
    """
    text = str(name).strip()
    lowered = [c.lower() for c in classes]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    if text.isdigit() and int(text) < len(classes):
        return int(text)
    raise InvalidInputError(f"{name!r} is not a class; choose one of {classes} or an index 0-{len(classes) - 1}")


def _data(
    split: str, root: str | Path | None, subset: int | None, dataset: str = "fer"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 1, S, S)`` in [0, 1] and labels of a split (the first ``subset`` only)."""
    if _check_dataset(dataset) == "fer":
        from ..data.fer import load_fer2013

        x, y, _ = load_fer2013(split, root=root)
    else:
        from ..data import load_fashion_mnist

        x, y = load_fashion_mnist(split, root=root)
    if subset is not None:
        COUNT.check("subset", subset)
        x, y = x[:subset], y[:subset]
    return x, y


def training_indices(
    labels: torch.Tensor,
    *,
    half: int | None = None,
    exclude_class: int | None = None,
    split_seed: int = 0,
) -> torch.Tensor:
    """The indices (ascending) of the training images a model learns from in a scenario.

    ``half`` (0 or 1) keeps one of two disjoint halves that together cover every image: for
    each class, its images are permuted by ``numpy.random.default_rng(split_seed)`` and the
    first ``⌊n/2⌋`` go to half 0, the others to half 1 (class-stratified, so both halves keep
    the class balance). ``exclude_class`` drops every image of that class. None keeps all.

    Example:
        >>> y = torch.tensor([0, 0, 1, 1, 1, 2])
        >>> training_indices(y, half=0).tolist(), training_indices(y, exclude_class=1).tolist()
        ([0, 4], [0, 1, 5])
    """
    labels = torch.as_tensor(labels)
    if labels.ndim != 1:
        raise InvalidInputError(f"labels must be 1-D, not of shape {tuple(labels.shape)}")
    keep = torch.ones(len(labels), dtype=torch.bool)
    if half is not None:
        if half not in (0, 1) or isinstance(half, bool):
            raise InvalidInputError(f"half must be 0, 1 or None, not {half!r}")
        rng = np.random.default_rng(split_seed)
        in_half = torch.zeros(len(labels), dtype=torch.bool)
        for value in torch.unique(labels).tolist():
            members = torch.nonzero(labels == value).flatten().numpy()
            members = members[rng.permutation(len(members))]
            first = members[: len(members) // 2]
            chosen = first if half == 0 else members[len(members) // 2 :]
            in_half[torch.from_numpy(chosen)] = True
        keep &= in_half
    if exclude_class is not None:
        keep &= labels != int(exclude_class)
    return torch.nonzero(keep).flatten()


def scenario_data(
    dataset: str = "fer",
    root: str | Path | None = None,
    *,
    half: int | None = None,
    exclude_class: int | str | None = None,
    split_seed: int = 0,
    train_subset: int | None = None,
    test_subset: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training images and labels a model of a scenario learns from (:func:`training_indices`
    of the first ``train_subset`` images), and the whole test split: ``x, y, x_test, y_test``.

    Example:
        >>> x, y, _, _ = scenario_data("fer", exclude_class="surprise")
        >>> bool((y == 5).any())
        False
    """
    x, y = _data(split="train", root=root, subset=train_subset, dataset=dataset)
    x_test, y_test = _data(split="test", root=root, subset=test_subset, dataset=dataset)
    if exclude_class is not None:
        exclude_class = class_index(exclude_class, dataset_classes(dataset))
    if half is not None or exclude_class is not None:
        keep = training_indices(y, half=half, exclude_class=exclude_class, split_seed=split_seed)
        x, y = x[keep], y[keep]
    return x, y, x_test, y_test


# -- augmentation from a local generator -----------------------------------------------------------


def _flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def random_shift(x: torch.Tensor, generator: torch.Generator, max_shift: int) -> torch.Tensor:
    """Shift each image of ``(B, C, H, W)`` by its own random offset in ``[-max_shift, max_shift]``
    pixels (rows and columns independently), filling the border by replicating the edge: a
    random crop of the edge-padded image.

    Example:
        >>> random_shift(torch.rand(8, 1, 48, 48), torch.Generator().manual_seed(0), 4).shape
        torch.Size([8, 1, 48, 48])
    """
    if max_shift == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="replicate").permute(0, 2, 3, 1)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    return padded[torch.arange(b)[:, None, None], rows, cols].permute(0, 3, 1, 2)


def augmentation(flip: bool, max_shift: int):
    """A batch transform ``(x, generator) → x`` of random flips and/or shifts (None: neither).

    Example:
        >>> augment = augmentation(flip=True, max_shift=4)
        >>> augment(torch.rand(8, 1, 48, 48), torch.Generator().manual_seed(0)).shape
        torch.Size([8, 1, 48, 48])
    """
    Integer(low=0).check("max_shift", max_shift)
    if not flip and max_shift == 0:
        return None

    def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = _flip(x, generator) if flip else x
        return random_shift(x, generator, max_shift)

    return augment


# -- training --------------------------------------------------------------------------------------


def train_fer_classifier(
    epochs: int = DEFAULT_CLASSIFIER_EPOCHS,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 5e-3,
    max_shift: int = 3,
    dropout: float = 0.25,
    half: int | None = None,
    split_seed: int = 0,
    train_subset: int | None = None,
    test_subset: int | None = None,
    verbose: bool = False,
) -> tuple[FERClassifier, float]:
    """Train a :class:`FERClassifier` reproducibly on CPU; return it (eval mode) and its test accuracy.

    AdamW (decoupled ``weight_decay``) with cosine decay, cross entropy, random horizontal
    flips and shifts of up to ``max_shift`` pixels; init, shuffles, augmentation and dropout all
    come from generators seeded by ``seed``. ``half`` trains on one half of the training split
    (:func:`training_indices` with ``split_seed``); the test split is always whole.

    Example:
        >>> model, acc = train_fer_classifier(epochs=1, train_subset=500, test_subset=200, seed=0)   # seconds
        >>> model_half0, _ = train_fer_classifier(epochs=1, half=0, train_subset=500, test_subset=200)  # disjoint data
        >>> 0.0 <= acc <= 1.0          # the shipped weights: 24 epochs on every training face
        True
    """
    COUNT.check("epochs", epochs)
    COUNT.check("batch_size", batch_size)
    augment = augmentation(True, max_shift)
    x_train, y_train, x_test, y_test = scenario_data(
        "fer", root, half=half, split_seed=split_seed, train_subset=train_subset, test_subset=test_subset
    )
    model = FERClassifier(seed=seed, dropout=dropout)
    generator = torch.Generator().manual_seed(seed + 1)
    _set_dropout_generator(model, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def report(epoch: int, loss: float) -> None:
        if verbose:
            acc = accuracy(model, x_test, y_test)
            print(
                f"epoch {epoch + 1}/{epochs}: train loss {loss:.4f}, test accuracy {acc:.4f}",
                flush=True,
            )

    fit_classifier(
        model=model, x=x_train, y=y_train, optimizer=optimizer,
        epochs=epochs, batch_size=batch_size, generator=generator, augment=augment, report=report,
    )  # fmt: skip
    _set_dropout_generator(model, None)
    model.eval()
    return model, accuracy(model, x_test, y_test)


@torch.no_grad()
def vae_test_loss(vae: FERVAE, images: torch.Tensor, batch_size: int = 500) -> tuple[float, float]:
    """Mean per-image reconstruction BCE and KL on ``images``, with ``z = mu`` (deterministic)."""
    was_training = vae.training
    vae.eval()
    recon = kl = 0.0
    for s in range(0, len(images), batch_size):
        x = images[s : s + batch_size]
        mu, logvar = vae.encode(x)
        r, k = vae_losses(x=x, logits=vae.decode_logits(mu), mu=mu, logvar=logvar)
        recon, kl = recon + float(r) * len(x), kl + float(k) * len(x)
    vae.train(was_training)
    return recon / len(images), kl / len(images)


def train_vae(
    dataset: str = "fer",
    epochs: int | None = None,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    latent_dim: int = 16,
    batch_size: int = 64,
    lr: float = 2e-3,
    cycles: int = 4,
    flip: bool | None = None,
    half: int | None = None,
    exclude_class: int | str | None = None,
    split_seed: int = 0,
    train_subset: int | None = None,
    test_subset: int | None = None,
    verbose: bool = False,
) -> tuple[FERVAE, float, float]:
    """Train a :class:`FERVAE` on ``dataset`` with cyclical KL annealing; return it (eval), the
    test reconstruction BCE and the test KL (per image, on the whole test split).

    Loss per image: BCE summed over pixels + ``β(step)·KL``, ``β`` from
    :func:`~evoxplain_zoo.models.training.cyclical_beta` (``cycles`` cycles over all steps, ramp
    0.5). Adam with cosine decay. ``flip`` mirrors random images (default: on for faces, off for
    Fashion-MNIST, whose shoes all face left). ``half`` and ``exclude_class`` (a name or index)
    select the scenario's training images (:func:`training_indices`).

    Example:
        >>> vae, recon, kl = train_vae("fashion-mnist", epochs=1, train_subset=500, test_subset=200, seed=0)
        >>> no_surprise, _, _ = train_vae("fer", 1, exclude_class="surprise", train_subset=500, test_subset=200)
        >>> vae.decode(torch.zeros(2, vae.latent_dim)).shape     # the shipped: 8 epochs on all images
        torch.Size([2, 1, 28, 28])
    """
    epochs = DEFAULT_VAE_EPOCHS[_check_dataset(dataset)] if epochs is None else epochs
    COUNT.check("epochs", epochs)
    COUNT.check("batch_size", batch_size)
    flip = dataset == "fer" if flip is None else flip
    x_train, _, x_test, _ = scenario_data(
        dataset, root, half=half, exclude_class=exclude_class, split_seed=split_seed,
        train_subset=train_subset, test_subset=test_subset,
    )  # fmt: skip
    vae = FERVAE(latent_dim=latent_dim, seed=seed, image_size=IMAGE_SIZES[dataset])
    generator = torch.Generator().manual_seed(seed + 1)

    def report(epoch: int) -> None:
        if verbose:
            r, k = vae_test_loss(vae, x_test)
            print(f"epoch {epoch + 1}/{epochs}: test recon BCE {r:.2f}, KL {k:.2f} (per image)", flush=True)

    fit_vae(
        model=vae, x=x_train, losses=lambda batch, g: vae_losses(batch, *vae(batch, g)),
        optimizer=torch.optim.Adam(vae.parameters(), lr=lr), epochs=epochs, batch_size=batch_size,
        generator=generator, cycles=cycles, augment=_flip if flip else None, report=report,
    )  # fmt: skip
    vae.eval()
    return (vae, *vae_test_loss(vae, x_test))


def train_fer_vae(
    epochs: int = DEFAULT_VAE_EPOCHS["fer"],
    seed: int = 0,
    root: str | Path | None = None,
    **options: Any,
) -> tuple[FERVAE, float, float]:
    """:func:`train_vae` on FER2013 (the shipped ``fer-vae.safetensors``).

    Example:
        >>> vae, recon, kl = train_fer_vae(epochs=1, train_subset=500, test_subset=200, seed=0)   # the shipped: 10, all
        >>> vae.latent_dim
        16
    """
    return train_vae(dataset="fer", epochs=epochs, seed=seed, root=root, **options)


# -- shipped weights -------------------------------------------------------------------------------


def _load(model: nn.Module, path: Path, train_hint: str) -> nn.Module:
    state, _ = load_weights(path, f"python -m evoxplain_zoo.models.fer {train_hint}")
    model.load_state_dict(state)
    return model.eval()


FITTED_CLASSIFIER_OPTIONS = "--epochs 30 --weight-decay 5e-4 --max-shift 1 --dropout 0"
"""How ``fer-classifier-fitted.safetensors`` was trained (beside ``--model classifier``): no dropout, light
weight decay and shifts, so it fits its data (and is surer) where the default recipe regularises."""


def fer_classifier_file(half: int | None = None, fitted: bool = False) -> str:
    """The shipped weights file of a FER classifier.

    Example:
        >>> fer_classifier_file(half=0), fer_classifier_file(fitted=True)
        ('fer-classifier-half0.safetensors', 'fer-classifier-fitted.safetensors')
    """
    if half not in (None, 0, 1):
        raise InvalidInputError(f"half must be 0, 1 or None, not {half!r}")
    return (
        "fer-classifier" + (f"-half{half}" if half is not None else "") + ("-fitted" if fitted else "") + ".safetensors"
    )


def load_fer_classifier(path: str | Path | None = None, half: int | None = None, fitted: bool = False) -> FERClassifier:
    """The FER classifier with the shipped weights (or those at ``path``), in eval mode.

    ``half=0`` gives the classifier trained on half 0 of the training split only (the
    disjoint-data scenario, paired with the VAE trained on half 1). ``fitted=True`` gives the
    one trained without dropout and with light regularisation (:data:`FITTED_CLASSIFIER_OPTIONS`):
    more accurate on the test split and confident on more faces of every class. Both together:
    the fitted classifier of half 0.

    Example:
        >>> from evoxplain import BlackBox
        >>> bb = BlackBox(load_fer_classifier(), output="logits")
        >>> surer = BlackBox(load_fer_classifier(fitted=True), output="logits")
    """
    name = fer_classifier_file(half, fitted)
    path = Path(path) if path is not None else WEIGHTS_DIR / name
    hint = "--model classifier" + (f" --half {half}" if half is not None else "")
    hint += f" {FITTED_CLASSIFIER_OPTIONS}" if fitted else ""
    return _load(FERClassifier(), path, hint)


def load_fer_vae(path: str | Path | None = None, latent_dim: int = 16, image_size: int = 48) -> FERVAE:
    """The FER VAE with the shipped weights (or those at ``path``), in eval mode.

    Example:
        >>> vae = load_fer_vae(); vae.decode(torch.zeros(1, vae.latent_dim)).shape
        torch.Size([1, 1, 48, 48])
        >>> fashion = load_fer_vae(WEIGHTS_DIR / "fashion-mnist-vae.safetensors", image_size=28)
    """
    path = Path(path) if path is not None else WEIGHTS_DIR / "fer-vae.safetensors"
    dataset = "fer" if image_size == 48 else "fashion-mnist"
    vae = FERVAE(latent_dim=latent_dim, image_size=image_size)
    return _load(vae, path, f"--model vae --dataset {dataset}")


def _parser() -> argparse.ArgumentParser:
    """The command line's options."""
    parser = argparse.ArgumentParser(prog="python -m evoxplain_zoo.models.fer", description=main.__doc__)
    parser.add_argument("--model", choices=["classifier", "vae"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to save the state dict (.safetensors)")
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="fer",
        help="vae only: fer (48x48) or fashion-mnist (28x28); the classifier is FER's",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"default: {DEFAULT_CLASSIFIER_EPOCHS} (classifier), {DEFAULT_VAE_EPOCHS} (vae)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latent-dim", type=int, default=16, help="vae only")
    parser.add_argument("--weight-decay", type=float, default=5e-3, help="classifier only (AdamW)")
    parser.add_argument("--max-shift", type=int, default=3, help="classifier only: random shifts, pixels")
    parser.add_argument("--dropout", type=float, default=0.25, help="classifier only")
    parser.add_argument(
        "--half",
        type=int,
        choices=[0, 1],
        default=None,
        help="train on one of two disjoint halves of the training split",
    )
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the halves (default 0)")
    parser.add_argument(
        "--exclude-class",
        default=None,
        help="vae only: leave this class (name or index) out of training",
    )
    parser.add_argument("--root", default=None, help="data folder (default: $EVOXPLAIN_DATA)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--train-subset", type=int, default=None, help="first N training images only")
    return parser


def main(argv: list[str] | None = None) -> float:
    """Command line: train a FER classifier or an image VAE, print its test score, save its state dict."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.model == "classifier" and (args.dataset != "fer" or args.exclude_class is not None):
        parser.error("--dataset and --exclude-class apply to --model vae only")
    torch.set_num_threads(args.threads)
    begin = time.perf_counter()
    common = {
        "seed": args.seed,
        "root": args.root,
        "half": args.half,
        "split_seed": args.split_seed,
        "train_subset": args.train_subset,
        "verbose": True,
    }
    if args.model == "classifier":
        epochs = args.epochs or DEFAULT_CLASSIFIER_EPOCHS
        model, score = train_fer_classifier(
            epochs, weight_decay=args.weight_decay, max_shift=args.max_shift, dropout=args.dropout, **common
        )
        summary = f"test accuracy {score:.4f} ({score * 100:.2f}%)"
    else:
        epochs = args.epochs or DEFAULT_VAE_EPOCHS[args.dataset]
        model, score, kl = train_vae(
            args.dataset,
            epochs,
            latent_dim=args.latent_dim,
            exclude_class=args.exclude_class,
            **common,
        )
        summary = f"test reconstruction BCE {score:.2f} per image (KL {kl:.2f})"
    save_weights(args.out, model.state_dict())
    print(
        f"{args.dataset} {args.model}: {summary} after {epochs} epochs, seed {args.seed}, "
        f"half {args.half}, excluded {args.exclude_class}, "
        f"{time.perf_counter() - begin:.0f} s, {torch.get_num_threads()} threads; saved {args.out}"
    )
    return score


if __name__ == "__main__":
    main()
