"""A LeNet-style CNN for MNIST and Fashion-MNIST: shipped weights and reproducible training.

The model takes images in [0, 1], shape ``(N, 1, 28, 28)``, normalises them inside with the
dataset's pixel mean and std (stored as buffers, part of the state dict), and returns logits
``(N, 10)``. Wrap it as ``BlackBox(model, output="logits")``.

Layers: conv 6@5×5 (padding 2) → ReLU → max-pool 2 → conv 16@5×5 → ReLU → max-pool 2 →
fc 120 → ReLU → fc 84 → ReLU → fc 10.

Training is reproducible: weights are initialised and batches shuffled from a local
``torch.Generator`` seeded by ``seed``; the global random state is neither read nor changed.
On CPU, results are bit-identical for the same seed and the same number of torch threads.

Example:
    >>> from evoxplain_zoo.models.lenet import load_lenet
    >>> model = load_lenet("mnist")                 # weights shipped in the package, eval mode
    >>> from evoxplain_zoo.data import load_mnist
    >>> images, labels = load_mnist("test")         # (N, 1, 28, 28) in [0, 1]
    >>> model(images[:8]).argmax(1), labels[:8]
    (tensor([7, 2, 1, 0, 4, 1, 4, 9]), tensor([7, 2, 1, 0, 4, 1, 4, 9]))

Command line (trains, prints the test accuracy, saves the state dict)::

    python -m evoxplain_zoo.models.lenet --dataset mnist --out W/lenet-mnist.safetensors

(``W`` = ``zoo/src/evoxplain_zoo/models/weights``.)
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from evoxplain.errors import InvalidInputError

from .training import accuracy, fit_classifier
from .weights import WEIGHTS_DIR, load_weights, save_weights

Dataset = Literal["mnist", "fashion-mnist"]

# Pixel mean and std of each training set on a 0-1 scale.
_STATS = {"mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}
# Default epochs of train_lenet per dataset (what the shipped weights were trained with).
DEFAULT_EPOCHS = {"mnist": 8, "fashion-mnist": 20}


def _check_dataset(dataset: str) -> str:
    if dataset not in _STATS:
        raise InvalidInputError(f"dataset must be 'mnist' or 'fashion-mnist', not {dataset!r}")
    return dataset


class LeNet(nn.Module):
    """LeNet-style CNN from [0, 1] images ``(N, 1, 28, 28)`` to 10 logits.

    Args:
        mean, std: pixel statistics used to normalise the input inside the model.
        seed: seeds the weight initialisation (PyTorch's default scheme, drawn from a local
            generator: building a LeNet never touches the global random state).

    Example:
        >>> model = LeNet(mean=0.1307, std=0.3081, seed=0).eval()
        >>> model(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, mean: float = 0.1307, std: float = 0.3081, seed: int = 0):
        super().__init__()
        if not std > 0:
            raise InvalidInputError(f"std must be positive, not {std!r}")
        # Built on the meta device (no draws from the global generator), then initialised locally.
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2, device="meta")
        self.conv2 = nn.Conv2d(6, 16, 5, device="meta")
        self.fc1 = nn.Linear(16 * 5 * 5, 120, device="meta")
        self.fc2 = nn.Linear(120, 84, device="meta")
        self.fc3 = nn.Linear(84, 10, device="meta")
        self.to_empty(device="cpu")
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int = 0) -> None:
        """Re-initialise every weight (PyTorch's default scheme) from ``torch.Generator(seed)``."""
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in (self.conv1, self.conv2, self.fc1, self.fc2, self.fc3):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                fan_in = layer.weight[0].numel()
                bound = 1 / math.sqrt(fan_in)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def _load_data(dataset: str, split: str, root: str | Path | None):
    from ..data import load_fashion_mnist, load_mnist

    return (load_mnist if dataset == "mnist" else load_fashion_mnist)(split, root=root)


def train_lenet(
    dataset: Dataset = "mnist",
    epochs: int | None = None,
    seed: int = 0,
    root: str | Path | None = None,
    *,
    batch_size: int = 128,
    lr: float = 2e-3,
    train_subset: int | None = None,
    verbose: bool = False,
) -> tuple[LeNet, float]:
    """Train a :class:`LeNet` on ``dataset`` reproducibly on CPU; return it (eval mode) and its test accuracy.

    Adam (``lr``, weight decay 0) with a cosine learning-rate decay to 0 over all steps, cross
    entropy, batches of ``batch_size`` shuffled by a generator seeded with ``seed`` (the same seed
    initialises the weights). No augmentation.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        epochs: passes over the training set (default :data:`DEFAULT_EPOCHS` of the dataset).
        seed: seeds the initialisation and the shuffling.
        root: the data folder (see :mod:`evoxplain_zoo.data`).
        train_subset: train on the first ``train_subset`` training images only (for quick tests).
        verbose: print the loss and test accuracy after each epoch.

    Example:
        >>> model, acc = train_lenet("mnist", epochs=2, train_subset=5000, seed=0)   # seconds
        >>> acc            # the shipped weights: 8 epochs on all 60,000 images, above 0.985
        0.8856
    """
    dataset = _check_dataset(dataset)
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else epochs
    if not isinstance(epochs, int) or epochs < 1:
        raise InvalidInputError(f"epochs must be a positive integer, not {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive integer, not {batch_size!r}")
    if train_subset is not None and (not isinstance(train_subset, int) or train_subset < 1):
        raise InvalidInputError(f"train_subset must be a positive integer or None, not {train_subset!r}")
    x_train, y_train = _load_data(dataset, "train", root)
    x_test, y_test = _load_data(dataset, "test", root)
    if train_subset is not None:
        x_train, y_train = x_train[:train_subset], y_train[:train_subset]
    mean, std = _STATS[dataset]
    model = LeNet(mean, std, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def report(epoch: int, loss: float) -> None:
        if verbose:
            acc = accuracy(model, x_test, y_test)
            print(f"epoch {epoch + 1}/{epochs}: train loss {loss:.4f}, test accuracy {acc:.4f}", flush=True)

    fit_classifier(
        model=model,
        x=x_train,
        y=y_train,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=batch_size,
        generator=generator,
        report=report,
    )
    return model, accuracy(model, x_test, y_test)


def load_lenet(dataset: Dataset = "mnist", path: str | Path | None = None) -> LeNet:
    """The LeNet trained on ``dataset`` with the weights shipped in the package, in eval mode.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        path: a state dict saved by ``python -m evoxplain_zoo.models.lenet`` to load instead.

    Example:
        >>> from evoxplain import BlackBox
        >>> bb = BlackBox(load_lenet("fashion-mnist"), output="logits")
    """
    dataset = _check_dataset(dataset)
    path = Path(path) if path is not None else WEIGHTS_DIR / f"lenet-{dataset}.safetensors"
    state, _ = load_weights(path, f"python -m evoxplain_zoo.models.lenet --dataset {dataset}")
    model = LeNet(*_STATS[dataset])
    model.load_state_dict(state)
    return model.eval()


def main(argv: list[str] | None = None) -> float:
    """Command line: train a LeNet, print its test accuracy, save its state dict to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m evoxplain_zoo.models.lenet", description=main.__doc__)
    parser.add_argument("--dataset", choices=sorted(_STATS), default="mnist")
    parser.add_argument("--out", type=Path, required=True, help="where to save the state dict (.safetensors)")
    parser.add_argument("--epochs", type=int, default=None, help=f"default: {DEFAULT_EPOCHS}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=None, help="data folder (default: $EVOXPLAIN_DATA)")
    parser.add_argument("--train-subset", type=int, default=None, help="first N training images only (quick runs)")
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    model, acc = train_lenet(
        dataset=args.dataset,
        epochs=args.epochs,
        seed=args.seed,
        root=args.root,
        train_subset=args.train_subset,
        verbose=True,
    )
    save_weights(args.out, model.state_dict())
    print(
        f"{args.dataset}: test accuracy {acc:.4f} ({acc * 100:.2f}%) after "
        f"{args.epochs or DEFAULT_EPOCHS[args.dataset]} epochs, seed {args.seed}, "
        f"{time.perf_counter() - begin:.0f} s, {torch.get_num_threads()} threads; saved {args.out}"
    )
    return acc


if __name__ == "__main__":
    main()
