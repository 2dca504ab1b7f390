"""A DCGAN (Radford et al. 2016) for 1-channel 48×48 (FER2013) and 28×28 (Fashion-MNIST) images.

* :class:`DCGANGenerator` — latents ``(B, latent_dim)`` → images ``(B, 1, S, S)`` in [0, 1]:
  a transposed conv from 1×1 to the base grid (6×6 or 7×7), then stride-2 transposed convs
  with batch norm and ReLU, and ``(tanh + 1) / 2`` at the end. The latent is first projected
  onto the sphere of radius ``√l`` (the latent normalisation of progressive GANs, Karras et al.
  2018), so *every* latent, however far outside N(0, I), maps to a latent the generator was
  trained on: the exemplar search may start in ``U(−5, 5)^l`` and move freely.
* :class:`DCGANDiscriminator` — strided convs with LeakyReLU(0.2) (batch norm after the first),
  then a conv over the base grid to one logit.

Training (:func:`train_dcgan`): Adam (lr 2e-4, β1 0.5), the non-saturating GAN loss; weights
drawn from N(0, 0.02) (batch norm: N(1, 0.02), bias 0) as in the DCGAN paper. Every draw (init,
shuffles, latents, flips) comes from local generators seeded by ``seed``; after training the
generator's batch-norm statistics are re-estimated on fresh latents, so eval-mode samples match
training-mode ones. Same seed and thread count → bit-identical weights on CPU.

Example:
    >>> from evoxplain_zoo.models.dcgan import load_dcgan
    >>> gan = load_dcgan("fer")                        # shipped weights, eval mode
    >>> gan(torch.randn(4, gan.latent_dim)).shape      # any latents, even U(-5, 5)
    torch.Size([4, 1, 48, 48])

Command line (trains, prints the final losses, saves the generator's state dict)::

    python -m evoxplain_zoo.models.dcgan --dataset fer --out W/fer-dcgan.safetensors
    python -m evoxplain_zoo.models.dcgan --dataset fashion-mnist --out W/fashion-mnist-dcgan.safetensors
    python -m evoxplain_zoo.models.dcgan --dataset fer --exclude-class surprise \
        --out W/fer-dcgan-no-surprise.safetensors

(``W`` = ``zoo/src/evoxplain_zoo/models/weights``; ``--exclude-class`` gives the unseen-class scenario.)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from evoxplain.constraints import COUNT
from evoxplain.errors import InvalidInputError

from .fer import DATASETS, IMAGE_SIZES, _check_dataset, _flip, scenario_data
from .weights import WEIGHTS_DIR, load_weights, save_weights

_BASE = {48: 6, 28: 7}  # the side of the first (smallest) feature map
DEFAULT_EPOCHS = {"fer": 25, "fashion-mnist": 6}


def _check_size(image_size: int) -> int:
    if image_size not in _BASE:
        raise InvalidInputError(f"image_size must be 48 (FER2013) or 28 (Fashion-MNIST), not {image_size!r}")
    return image_size


def dcgan_init(module: nn.Module, seed: int) -> None:
    """DCGAN initialisation from ``torch.Generator(seed)``: conv weights ~ N(0, 0.02), batch-norm
    weights ~ N(1, 0.02), biases 0.

    Example:
        >>> g = DCGANGenerator(); dcgan_init(g, seed=1)
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(layer.weight, 0.0, 0.02, generator=generator)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
            elif isinstance(layer, nn.BatchNorm2d):
                nn.init.normal_(layer.weight, 1.0, 0.02, generator=generator)
                nn.init.zeros_(layer.bias)
                layer.reset_running_stats()


class DCGANGenerator(nn.Module):
    """DCGAN generator: latents ``(B, latent_dim)`` → images ``(B, 1, S, S)`` in [0, 1].

    Layers for ``S = 48``: sphere projection → ConvT(l, 4w, 6) 6×6 → ConvT 12×12 (2w) → ConvT
    24×24 (w) → ConvT 48×48 (1), batch norm + ReLU after each but the last, ``(tanh + 1) / 2``.
    ``S = 28``: 7×7 (2w) → 14×14 (w) → 28×28.

    Args:
        latent_dim: ``l``.
        image_size: 48 or 28.
        width: ``w``, the channels of the last hidden layer.
        seed: seeds the initialisation.

    Example:
        >>> g = DCGANGenerator(latent_dim=32, image_size=28, seed=0).eval()
        >>> g(torch.randn(3, 32)).shape
        torch.Size([3, 1, 28, 28])
    """

    def __init__(self, latent_dim: int = 32, image_size: int = 48, width: int = 32, seed: int = 0):
        super().__init__()
        self.latent_dim = COUNT.check("latent_dim", latent_dim)
        self.image_size = _check_size(image_size)
        COUNT.check("width", width)
        ups = 3 if image_size == 48 else 2
        widths = [width * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 128, 64, 32
        m = "meta"
        layers: list[nn.Module] = [
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, widths[0], _BASE[image_size], bias=False, device=m),
            nn.BatchNorm2d(widths[0], device=m),
            nn.ReLU(),
        ]  # fmt: skip
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False, device=m),
                nn.BatchNorm2d(c_out, device=m),
                nn.ReLU(),
            ]
        layers.append(nn.ConvTranspose2d(widths[-1], 1, 4, 2, 1, device=m))
        self.net = nn.Sequential(*layers)
        self.to_empty(device="cpu")
        dcgan_init(self, seed)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` scaled onto the sphere of radius ``√l`` (where N(0, I) latents concentrate)."""
        norm = z.pow(2).mean(dim=1, keepdim=True).add(1e-8).sqrt()
        return z / norm

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InvalidInputError(f"latents must be (B, {self.latent_dim}), not {tuple(z.shape)}")
        return (torch.tanh(self.net(self.project(z))) + 1) / 2


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: images ``(B, 1, S, S)`` in [0, 1] → one logit each, ``(B,)``.

    Stride-2 convs (w, 2w[, 4w]) with LeakyReLU(0.2), batch norm after all but the first, then a
    conv over the 6×6 / 7×7 grid to one logit. Inputs are mapped to [−1, 1] inside.

    Example:
        >>> DCGANDiscriminator(image_size=48, seed=0)(torch.rand(2, 1, 48, 48)).shape
        torch.Size([2])
    """

    def __init__(self, image_size: int = 48, width: int = 32, seed: int = 0):
        super().__init__()
        self.image_size = _check_size(image_size)
        COUNT.check("width", width)
        downs = 3 if image_size == 48 else 2
        m = "meta"
        layers: list[nn.Module] = [nn.Conv2d(1, width, 4, 2, 1, device=m), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(downs - 1):
            layers += [
                nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False, device=m),
                nn.BatchNorm2d(2 * c, device=m),
                nn.LeakyReLU(0.2),
            ]
            c *= 2
        layers += [nn.Conv2d(c, 1, _BASE[image_size], device=m), nn.Flatten(0)]
        self.net = nn.Sequential(*layers)
        self.to_empty(device="cpu")
        dcgan_init(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


@dataclass
class GANHistory:
    """Mean losses per epoch: ``d_loss`` (real + fake BCE) and ``g_loss`` (non-saturating)."""

    d_loss: list[float]
    g_loss: list[float]
    seconds: float


@torch.no_grad()
def recalibrate_batchnorm(
    generator: DCGANGenerator,
    rng: torch.Generator,
    batches: int = 20,
    batch_size: int = 256,
) -> DCGANGenerator:
    """Re-estimate the generator's batch-norm statistics as plain averages over ``batches``
    batches of N(0, I) latents from ``rng``; return it in eval mode.

    Example:
        >>> gan = recalibrate_batchnorm(load_dcgan("fer"), torch.Generator().manual_seed(0))
        >>> gan.training
        False
    """
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    generator.train()
    for _ in range(batches):
        generator(torch.randn(batch_size, generator.latent_dim, generator=rng))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    return generator.eval()


def train_dcgan(
    dataset: str = "fer",
    epochs: int | None = None,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    latent_dim: int = 32,
    width: int = 32,
    batch_size: int = 64,
    lr: float = 2e-4,
    beta1: float = 0.5,
    flip: bool | None = None,
    bn_batches: int = 20,
    train_subset: int | None = None,
    exclude_class: int | str | None = None,
    verbose: bool = False,
) -> tuple[DCGANGenerator, GANHistory]:
    """Train a DCGAN on the training split of ``dataset``; return the generator (eval mode,
    batch norm recalibrated) and the per-epoch losses.

    Each step: the discriminator on a real batch (label 1) and on as many generated images
    (label 0); then the generator on a fresh batch of latents with the non-saturating loss
    ``−log D(G(z))``. Latents ~ N(0, I). ``flip`` mirrors random real images (default: on for
    faces, off for Fashion-MNIST). ``bn_batches`` batches of 256 latents re-estimate the
    generator's batch-norm statistics at the end (:func:`recalibrate_batchnorm`).
    ``exclude_class`` (a name or index) leaves that class out of the training images: the exemplar
    paper's unseen-class scenario.

    Example:
        >>> gan, history = train_dcgan("fashion-mnist", epochs=1, train_subset=512, seed=0)   # the shipped: 6, all
        >>> len(history.d_loss) == len(history.g_loss)
        True
    """
    dataset = _check_dataset(dataset)
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else epochs
    COUNT.check("epochs", epochs)
    COUNT.check("batch_size", batch_size)
    flip = dataset == "fer" if flip is None else flip
    begin = time.perf_counter()
    images, _, _, _ = scenario_data(dataset, root, exclude_class=exclude_class, train_subset=train_subset)
    size = IMAGE_SIZES[dataset]
    gen = DCGANGenerator(latent_dim, size, width, seed=seed)
    disc = DCGANDiscriminator(size, width, seed=seed + 1)
    rng = torch.Generator().manual_seed(seed + 2)
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=(beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(beta1, 0.999))
    history = GANHistory([], [], 0.0)
    gen.train()
    disc.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=rng)
        d_total = g_total = 0.0
        steps = 0
        for start in range(0, len(images), batch_size):
            real = images[order[start : start + batch_size]]
            real = _flip(real, rng) if flip else real
            d_loss, g_loss = _gan_step(gen=gen, disc=disc, optimizers=(opt_g, opt_d), real=real, rng=rng)
            d_total, g_total, steps = d_total + d_loss, g_total + g_loss, steps + 1
        history.d_loss.append(d_total / steps)
        history.g_loss.append(g_total / steps)
        if verbose:
            print(
                f"epoch {epoch + 1}/{epochs}: D loss {history.d_loss[-1]:.4f}, "
                f"G loss {history.g_loss[-1]:.4f}, {time.perf_counter() - begin:.0f} s",
                flush=True,
            )
    recalibrate_batchnorm(gen, rng, batches=bn_batches)
    history.seconds = time.perf_counter() - begin
    return gen, history


def _gan_step(gen: DCGANGenerator, disc: DCGANDiscriminator, optimizers: tuple, real: torch.Tensor,
              rng: torch.Generator) -> tuple[float, float]:  # fmt: skip
    """One step: the discriminator on ``real`` (label 1) and as many generated images (label 0),
    then the generator on fresh latents with the non-saturating loss; the two losses."""
    opt_g, opt_d = optimizers
    n = len(real)
    fake = gen(torch.randn(n, gen.latent_dim, generator=rng))
    d_real, d_fake = disc(real), disc(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(
        d_fake, torch.zeros_like(d_fake)
    )
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    d_gen = disc(gen(torch.randn(n, gen.latent_dim, generator=rng)))
    g_loss = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return float(d_loss.detach()), float(g_loss.detach())


def load_dcgan(
    dataset: str = "fer",
    path: str | Path | None = None,
    *,
    latent_dim: int = 32,
    width: int = 32,
) -> DCGANGenerator:
    """The DCGAN generator of ``dataset`` with the shipped weights (or those at ``path``), eval mode.

    Example:
        >>> gan = load_dcgan("fashion-mnist")
        >>> gan(torch.zeros(1, gan.latent_dim) + 3.0).shape
        torch.Size([1, 1, 28, 28])
    """
    dataset = _check_dataset(dataset)
    path = Path(path) if path is not None else WEIGHTS_DIR / f"{dataset}-dcgan.safetensors"
    state, _ = load_weights(path, f"python -m evoxplain_zoo.models.dcgan --dataset {dataset}")
    gen = DCGANGenerator(latent_dim, IMAGE_SIZES[dataset], width)
    gen.load_state_dict(state)
    return gen.eval()


def main(argv: list[str] | None = None) -> GANHistory:
    """Command line: train a DCGAN, print its losses, save the generator's state dict."""
    parser = argparse.ArgumentParser(prog="python -m evoxplain_zoo.models.dcgan", description=main.__doc__)
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to save the generator (.safetensors)")
    parser.add_argument("--epochs", type=int, default=None, help=f"default: {DEFAULT_EPOCHS}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--root", default=None, help="data folder (default: $EVOXPLAIN_DATA)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--train-subset", type=int, default=None, help="first N training images only")
    parser.add_argument("--exclude-class", default=None, help="leave this class out (the unseen-class scenario)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen, history = train_dcgan(
        dataset=args.dataset,
        epochs=args.epochs,
        seed=args.seed,
        root=args.root,
        latent_dim=args.latent_dim,
        train_subset=args.train_subset,
        exclude_class=args.exclude_class,
        verbose=True,
    )
    save_weights(args.out, gen.state_dict())
    print(
        f"{args.dataset} dcgan: final D loss {history.d_loss[-1]:.4f}, G loss "
        f"{history.g_loss[-1]:.4f} after {len(history.d_loss)} epochs, seed {args.seed}, "
        f"{history.seconds:.0f} s, {torch.get_num_threads()} threads; saved {args.out}"
    )
    return history


if __name__ == "__main__":
    main()
