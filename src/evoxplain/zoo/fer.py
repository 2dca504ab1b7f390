"""Small FER2013 models for the exemplar experiments: a VGG-style classifier and a convolutional VAE.

* :class:`FERClassifier` — the black box: [0, 1] faces ``(N, 1, 48, 48)`` → 7 logits. Three
  VGG blocks (conv-BN-ReLU ×2, max-pool) with 32/64/128 channels, average-pooled to 3×3, dropout,
  fc 128, dropout, fc 7. Normalises its input inside (mean/std buffers). Wrap it as
  ``BlackBox(model, output="logits")``.
* :class:`FERVAE` — the generator: encoder of strided convs (32/64/64) to a ``latent_dim``
  Gaussian, decoder fc → transposed convs → sigmoid ``(N, 1, 48, 48)``. Trained with a cyclical
  KL-annealing schedule (Fu et al. 2019). Use ``vae.decode`` as the exemplar generator.

Both are built on the meta device and initialised from a local ``torch.Generator``; training
draws shuffles, flips, dropout masks and VAE noise from local generators only, so the global
random state is neither read nor changed. Same seed and thread count → bit-identical on CPU.

Example:
    >>> from evoxplain.zoo.fer import load_fer_classifier, load_fer_vae
    >>> clf, vae = load_fer_classifier(), load_fer_vae()
    >>> ExemplarSearch(clf, vae.decode, latent_dim=vae.latent_dim, seed=0).run(3)   # "happy"

Command line (trains, prints test accuracy or reconstruction loss, saves the state dict)::

    python -m evoxplain.zoo.fer --model classifier --epochs 6 --out src/evoxplain/zoo/weights/fer-classifier.pt
    python -m evoxplain.zoo.fer --model vae --epochs 10 --out src/evoxplain/zoo/weights/fer-vae.pt
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InvalidInputError
from .training import accuracy, cosine_schedule, fit_classifier

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FER_MEAN, FER_STD = 0.5123, 0.2558  # pixel statistics of the training subset, 0-1 scale
NUM_CLASSES = 7


# -- initialisation and dropout from local generators ------------------------------------------


def init_module(module: nn.Module, seed: int) -> None:
    """Re-initialise every conv, linear and batch-norm layer of ``module`` from ``torch.Generator(seed)``.

    Convs and linears get PyTorch's default scheme (Kaiming-uniform weights, uniform bias);
    batch norms get weight 1, bias 0 and fresh running statistics.

    Example:
        >>> net = FERClassifier(seed=0); init_module(net, 1)
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.kaiming_uniform_(
                    layer.weight, a=math.sqrt(5), generator=generator
                )
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


def _set_dropout_generator(
    module: nn.Module, generator: torch.Generator | None
) -> None:
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
            raise InvalidInputError(
                f"channels must be three positive widths, not {channels!r}"
            )
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            _block(1, c1), _block(c1, c2), _block(c2, c3), nn.AdaptiveAvgPool2d(3)
        )
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
    """Convolutional VAE for 48×48 faces; :meth:`decode` maps latents ``(B, l)`` to ``(B, 1, 48, 48)``.

    Args:
        latent_dim: the size ``l`` of the latent space.
        channels: the widths of the encoder's three stride-2 convs (the decoder mirrors them).
        seed: seeds the weight initialisation.

    Example:
        >>> vae = FERVAE(latent_dim=16, seed=0).eval()
        >>> vae.decode(torch.randn(4, 16)).shape
        torch.Size([4, 1, 48, 48])
    """

    def __init__(
        self,
        latent_dim: int = 16,
        channels: tuple[int, int, int] = (32, 64, 64),
        seed: int = 0,
    ):
        super().__init__()
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise InvalidInputError(
                f"latent_dim must be a positive integer, not {latent_dim!r}"
            )
        c1, c2, c3 = channels
        self.latent_dim = latent_dim
        self.channels = (c1, c2, c3)
        m = "meta"
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1, device=m), nn.ReLU(),   # 24×24
            nn.Conv2d(c1, c2, 3, stride=2, padding=1, device=m), nn.ReLU(),  # 12×12
            nn.Conv2d(c2, c3, 3, stride=2, padding=1, device=m), nn.ReLU(),  # 6×6
            nn.Flatten(),
        )  # fmt: skip
        self.to_stats = nn.Linear(c3 * 36, 2 * latent_dim, device=m)
        self.from_latent = nn.Linear(latent_dim, c3 * 36, device=m)
        self.decoder = nn.Sequential(
            nn.ReLU(), nn.Unflatten(1, (c3, 6, 6)),
            nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1, device=m), nn.ReLU(),  # 12×12
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1, device=m), nn.ReLU(),  # 24×24
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1, device=m),              # 48×48
        )  # fmt: skip
        self.to_empty(device="cpu")
        init_module(self, seed)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior mean and log-variance ``(B, l)`` of images ``(B, 1, 48, 48)``."""
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``(B, 1, 48, 48)`` for latents ``(B, l)``."""
        return self.decoder(self.from_latent(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], ``(B, 1, 48, 48)``, for latents ``(B, l)``: the exemplar generator."""
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
        >>> recon, kl = vae_losses(x, *vae(x))
    """
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(x)
    return recon, kl


def cyclical_beta(
    step: int, total: int, cycles: int = 4, ramp: float = 0.5, beta_max: float = 1.0
) -> float:
    """Cyclical KL weight (Fu et al. 2019): in each of ``cycles`` cycles, rise linearly from 0 to
    ``beta_max`` over the first ``ramp`` fraction, then stay there.

    Example:
        >>> [cyclical_beta(s, 8, cycles=2) for s in range(8)]
        [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]
    """
    period = max(total / cycles, 1.0)
    phase = (step % period) / period
    return beta_max * min(phase / ramp, 1.0)


# -- training --------------------------------------------------------------------------------------


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, not {value!r}")


def _data(split: str, root: str | Path | None, subset: int | None):
    from ..data.fer import load_fer2013

    x, y, _ = load_fer2013(split, root=root)
    if subset is not None:
        _check_positive("subset", subset)
        x, y = x[:subset], y[:subset]
    return x, y


def _flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def train_fer_classifier(
    epochs: int = 6,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    train_subset: int | None = None,
    test_subset: int | None = None,
    verbose: bool = False,
) -> tuple[FERClassifier, float]:
    """Train a :class:`FERClassifier` reproducibly on CPU; return it (eval mode) and its test accuracy.

    AdamW with cosine decay, cross entropy, random horizontal flips; init, shuffles, flips and
    dropout all come from generators seeded by ``seed``.

    Example:
        >>> model, acc = train_fer_classifier(epochs=6, seed=0)
    """
    _check_positive("epochs", epochs)
    _check_positive("batch_size", batch_size)
    x_train, y_train = _data("train", root, train_subset)
    x_test, y_test = _data("test", root, test_subset)
    model = FERClassifier(seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    _set_dropout_generator(model, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def report(epoch: int, loss: float) -> None:
        if verbose:
            acc = accuracy(model, x_test, y_test)
            print(f"epoch {epoch + 1}/{epochs}: train loss {loss:.4f}, test accuracy {acc:.4f}", flush=True)

    fit_classifier(
        model, x_train, y_train, optimizer,
        epochs=epochs, batch_size=batch_size, generator=generator, augment=_flip, report=report,
    )  # fmt: skip
    _set_dropout_generator(model, None)
    model.eval()
    return model, accuracy(model, x_test, y_test)


@torch.no_grad()
def vae_test_loss(
    vae: FERVAE, images: torch.Tensor, batch_size: int = 500
) -> tuple[float, float]:
    """Mean per-image reconstruction BCE and KL on ``images``, with ``z = mu`` (deterministic)."""
    was_training = vae.training
    vae.eval()
    recon = kl = 0.0
    for s in range(0, len(images), batch_size):
        x = images[s : s + batch_size]
        mu, logvar = vae.encode(x)
        r, k = vae_losses(x, vae.decode_logits(mu), mu, logvar)
        recon, kl = recon + float(r) * len(x), kl + float(k) * len(x)
    vae.train(was_training)
    return recon / len(images), kl / len(images)


def train_fer_vae(
    epochs: int = 10,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    latent_dim: int = 16,
    batch_size: int = 64,
    lr: float = 2e-3,
    cycles: int = 4,
    train_subset: int | None = None,
    test_subset: int | None = None,
    verbose: bool = False,
) -> tuple[FERVAE, float, float]:
    """Train a :class:`FERVAE` with cyclical KL annealing; return it (eval), test recon BCE and KL.

    Loss per image: BCE summed over pixels + ``β(step)·KL``, ``β`` from :func:`cyclical_beta`
    (``cycles`` cycles over all steps, ramp 0.5). Adam with cosine decay.

    Example:
        >>> vae, recon, kl = train_fer_vae(epochs=10, seed=0)
    """
    _check_positive("epochs", epochs)
    _check_positive("batch_size", batch_size)
    x_train, _ = _data("train", root, train_subset)
    x_test, _ = _data("test", root, test_subset)
    vae = FERVAE(latent_dim=latent_dim, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    total_steps = epochs * math.ceil(len(x_train) / batch_size)
    optimizer = torch.optim.Adam(vae.parameters(), lr=lr)
    scheduler = cosine_schedule(optimizer, total_steps)
    vae.train()
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(x_train), batch_size):
            x = _flip(x_train[order[start : start + batch_size]], generator)
            recon, kl = vae_losses(x, *vae(x, generator))
            loss = recon + cyclical_beta(step, total_steps, cycles) * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
        if verbose:
            r, k = vae_test_loss(vae, x_test)
            print(
                f"epoch {epoch + 1}/{epochs}: test recon BCE {r:.2f}, KL {k:.2f} (per image)",
                flush=True,
            )
    vae.eval()
    return (vae, *vae_test_loss(vae, x_test))


# -- shipped weights -------------------------------------------------------------------------------


def _load(model: nn.Module, path: Path, kind: str) -> nn.Module:
    if not path.is_file():
        raise InvalidInputError(
            f"no FER {kind} weights at {path}; train them with: python -m evoxplain.zoo.fer "
            f"--model {kind} --out {path}"
        )
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_fer_classifier(path: str | Path | None = None) -> FERClassifier:
    """The FER classifier with the shipped weights (or those at ``path``), in eval mode.

    Example:
        >>> bb = BlackBox(load_fer_classifier(), output="logits")
    """
    path = Path(path) if path is not None else WEIGHTS_DIR / "fer-classifier.pt"
    return _load(FERClassifier(), path, "classifier")


def load_fer_vae(path: str | Path | None = None, latent_dim: int = 16) -> FERVAE:
    """The FER VAE with the shipped weights (or those at ``path``), in eval mode.

    Example:
        >>> vae = load_fer_vae(); vae.decode(torch.zeros(1, vae.latent_dim))
    """
    path = Path(path) if path is not None else WEIGHTS_DIR / "fer-vae.pt"
    return _load(FERVAE(latent_dim=latent_dim), path, "vae")


def main(argv: list[str] | None = None) -> float:
    """Command line: train a FER classifier or VAE, print its test score, save its state dict."""
    parser = argparse.ArgumentParser(
        prog="python -m evoxplain.zoo.fer", description=main.__doc__
    )
    parser.add_argument("--model", choices=["classifier", "vae"], required=True)
    parser.add_argument(
        "--out", type=Path, required=True, help="where to save the state dict (.pt)"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: 6 (classifier), 10 (vae)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latent-dim", type=int, default=16, help="vae only")
    parser.add_argument(
        "--root", default=None, help="data folder (default: $EVOXPLAIN_DATA)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1)"
    )
    parser.add_argument(
        "--train-subset", type=int, default=None, help="first N training images only"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    begin = time.perf_counter()
    common = {
        "seed": args.seed,
        "root": args.root,
        "train_subset": args.train_subset,
        "verbose": True,
    }
    if args.model == "classifier":
        epochs = args.epochs or 6
        model, score = train_fer_classifier(epochs, **common)
        summary = f"test accuracy {score:.4f} ({score * 100:.2f}%)"
    else:
        epochs = args.epochs or 10
        model, score, kl = train_fer_vae(epochs, latent_dim=args.latent_dim, **common)
        summary = f"test reconstruction BCE {score:.2f} per image (KL {kl:.2f})"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), args.out)
    print(
        f"fer {args.model}: {summary} after {epochs} epochs, seed {args.seed}, "
        f"{time.perf_counter() - begin:.0f} s, {torch.get_num_threads()} threads; saved {args.out}"
    )
    return score


if __name__ == "__main__":
    main()
