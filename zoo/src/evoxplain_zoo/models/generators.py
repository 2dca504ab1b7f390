"""The shipped image generators and black boxes for exemplars, by name.

Generators (each maps latents ``(B, latent_dim)`` to images ``(B, 1, S, S)`` in [0, 1], has
``.latent_dim`` and is in eval mode):

========================  ==============  ======================================================
name                      dataset         trained on
========================  ==============  ======================================================
``fer-vae``               FER2013 48×48   the whole training split (the classifier's data)
``fer-dcgan``             FER2013 48×48   the whole training split
``fer-vae-disjoint``      FER2013 48×48   half 1 of the training split (classifier: half 0)
``fer-vae-no-surprise``   FER2013 48×48   every training face but the 'surprise' ones
``fer-dcgan-no-surprise`` FER2013 48×48   every training face but the 'surprise' ones
``fashion-mnist-vae``     Fashion 28×28   the whole training split
``fashion-mnist-dcgan``   Fashion 28×28   the whole training split
========================  ==============  ======================================================

Black boxes: :func:`load_exemplar_classifier` gives the FER classifier (``"fer"``; with
``half=0`` the one trained on half 0 only, with ``fitted=True`` the lightly regularised one) and
the shipped LeNet for ``"fashion-mnist"``.

Example:
    >>> from evoxplain_zoo.models.generators import load_generator, load_exemplar_classifier
    >>> generator = load_generator("fer-vae")
    >>> classifier, classes = load_exemplar_classifier("fer")
    >>> from evoxplain import ExemplarSearch
    >>> ExemplarSearch(classifier, generator, generator.latent_dim, seed=0).run(classes.index("happy"))
    ExemplarResult(ES-momentum, target=3, converged=True, ...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from evoxplain.errors import InvalidInputError

from .fer import FERVAE, WEIGHTS_DIR, dataset_classes, load_fer_classifier, load_fer_vae


class VAEDecoder(nn.Module):
    """A VAE's decoder as a generator module: ``forward(z) = vae.decode(z)``, with ``.latent_dim``.

    Example:
        >>> generator = VAEDecoder(load_fer_vae())
        >>> generator(torch.zeros(2, generator.latent_dim)).shape
        torch.Size([2, 1, 48, 48])
    """

    def __init__(self, vae: FERVAE):
        super().__init__()
        self.vae = vae
        self.latent_dim = vae.latent_dim
        self.eval()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InvalidInputError(f"latents must be (B, {self.latent_dim}), not {tuple(z.shape)}")
        return self.vae.decode(z)


@dataclass(frozen=True)
class GeneratorInfo:
    """What a shipped generator is and how it was made.

    Attributes:
        name: its registry name.
        dataset: ``"fer"`` or ``"fashion-mnist"``: the black box it pairs with.
        kind: ``"vae"`` or ``"dcgan"``.
        scenario: the exemplar paper's scenario (Figure 2): same data, disjoint data or unseen
            class.
        weights: the file under ``zoo/weights/``.
        command: the command that trained it.
        classifier_half: the half of the training split the paired classifier was trained on
            (None: the whole split).
    """

    name: str
    dataset: str
    kind: str
    scenario: str
    weights: str
    command: str
    classifier_half: int | None = None


_FER = "python -m evoxplain_zoo.models.fer --model vae"
_GAN = "python -m evoxplain_zoo.models.dcgan"
_W = "zoo/src/evoxplain_zoo/models/weights/"
GENERATORS: dict[str, GeneratorInfo] = {
    info.name: info
    for info in (
        GeneratorInfo("fer-vae", "fer", "vae", "same data", "fer-vae.safetensors",
                      f"{_FER} --out {_W}fer-vae.safetensors"),
        GeneratorInfo("fer-dcgan", "fer", "dcgan", "same data", "fer-dcgan.safetensors",
                      f"{_GAN} --dataset fer --out {_W}fer-dcgan.safetensors"),
        GeneratorInfo("fer-vae-disjoint", "fer", "vae", "disjoint data", "fer-vae-half1.safetensors",
                      f"{_FER} --half 1 --out {_W}fer-vae-half1.safetensors", classifier_half=0),
        GeneratorInfo("fer-vae-no-surprise", "fer", "vae", "unseen class (surprise)",
                      "fer-vae-no-surprise.safetensors",
                      f"{_FER} --exclude-class surprise --out {_W}fer-vae-no-surprise.safetensors"),
        GeneratorInfo("fer-dcgan-no-surprise", "fer", "dcgan", "unseen class (surprise)",
                      "fer-dcgan-no-surprise.safetensors",
                      f"{_GAN} --dataset fer --exclude-class surprise --out {_W}fer-dcgan-no-surprise.safetensors"),
        GeneratorInfo("fashion-mnist-vae", "fashion-mnist", "vae", "same data",
                      "fashion-mnist-vae.safetensors",
                      f"{_FER} --dataset fashion-mnist --out {_W}fashion-mnist-vae.safetensors"),
        GeneratorInfo("fashion-mnist-dcgan", "fashion-mnist", "dcgan", "same data",
                      "fashion-mnist-dcgan.safetensors",
                      f"{_GAN} --dataset fashion-mnist --out {_W}fashion-mnist-dcgan.safetensors"),
    )
}  # fmt: skip


def available_generators() -> list[str]:
    """The names :func:`load_generator` accepts, sorted.

    Example:
        >>> "fer-vae" in available_generators()
        True
    """
    return sorted(GENERATORS)


def generator_info(name: str) -> GeneratorInfo:
    """The :class:`GeneratorInfo` of a shipped generator.

    Example:
        >>> generator_info("fer-vae-disjoint").classifier_half
        0
    """
    if name not in GENERATORS:
        raise InvalidInputError(
            f"unknown generator {name!r}; the shipped generators are: {', '.join(available_generators())}"
        )
    return GENERATORS[name]


def load_generator(name: str) -> nn.Module:
    """A shipped image generator in eval mode: latents ``(B, latent_dim)`` → ``(B, 1, S, S)``.

    Example:
        >>> gan = load_generator("fashion-mnist-dcgan")
        >>> gan(torch.zeros(5, gan.latent_dim)).shape
        torch.Size([5, 1, 28, 28])
    """
    info = generator_info(name)
    path = WEIGHTS_DIR / info.weights
    if info.kind == "dcgan":
        from .dcgan import load_dcgan

        return load_dcgan(info.dataset, path)
    size = 48 if info.dataset == "fer" else 28
    return VAEDecoder(load_fer_vae(path, image_size=size))


_CLASSIFIERS: dict[str, Callable[[int | None, bool], nn.Module]] = {
    "fer": lambda half, fitted: load_fer_classifier(half=half, fitted=fitted),
    "fashion-mnist": lambda half, fitted: _lenet_fashion(half, fitted),
}


def _lenet_fashion(half: int | None, fitted: bool) -> nn.Module:
    if half is not None or fitted:
        raise InvalidInputError("the Fashion-MNIST black box is the one shipped LeNet: leave half and fitted out")
    from .lenet import load_lenet

    return load_lenet("fashion-mnist")


def load_exemplar_classifier(
    dataset: str, half: int | None = None, fitted: bool = False
) -> tuple[nn.Module, list[str]]:
    """The black box whose exemplars are searched, and its class names.

    ``"fer"``: the FER classifier (:func:`~evoxplain_zoo.models.fer.load_fer_classifier`; ``half=0``:
    the one trained on half 0 of the training split; ``fitted=True``: the one trained with light
    regularisation, sure of real faces of more classes). ``"fashion-mnist"``: the shipped
    ``lenet-fashion-mnist``. Both take images in [0, 1] and return logits.

    Example:
        >>> model, classes = load_exemplar_classifier("fashion-mnist")
        >>> classes[9]
        'Ankle boot'
    """
    if dataset not in _CLASSIFIERS:
        raise InvalidInputError(
            f"unknown dataset {dataset!r}; image exemplars are available for: {', '.join(sorted(_CLASSIFIERS))}"
        )
    return _CLASSIFIERS[dataset](half, fitted), dataset_classes(dataset)


@torch.no_grad()
def sample_confidence(
    classifier: nn.Module,
    generator: nn.Module,
    samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    batch_size: int = 250,
    init_range: float | None = None,
) -> tuple[float, torch.Tensor]:
    """How reachable confident outputs are: the fraction of generated images ``G(z)`` whose top
    class has probability at least ``confidence`` under ``classifier`` (which returns logits),
    and the per-class counts of the predicted class. ``z ~ N(0, I)``, or ``U(−r, r)^l`` with
    ``init_range=r`` (where the exemplar search starts), from ``torch.Generator(seed)``.

    Example:
        >>> fraction, counts = sample_confidence(load_fer_classifier(), load_generator("fer-vae"))
    """
    rng = torch.Generator().manual_seed(seed)
    was_training = classifier.training
    classifier.eval()
    top, predicted = [], []
    for start in range(0, samples, batch_size):
        n = min(batch_size, samples - start)
        if init_range is None:
            z = torch.randn(n, generator.latent_dim, generator=rng)
        else:
            z = (torch.rand(n, generator.latent_dim, generator=rng) * 2 - 1) * init_range
        probs = classifier(generator(z))
        probs = probs.float().softmax(dim=1)
        top.append(probs.max(dim=1).values)
        predicted.append(probs.argmax(dim=1))
    classifier.train(was_training)
    classes = probs.shape[1]
    counts = torch.bincount(torch.cat(predicted), minlength=classes)
    return float((torch.cat(top) >= confidence).float().mean()), counts
