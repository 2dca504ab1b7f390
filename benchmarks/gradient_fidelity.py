"""How close is the NES gradient estimate to the true gradient, as queries grow?

Cosine similarity between GE (plain Gaussian noise, and with mask resizing) and the autograd
gradient of the target probability of the shipped MNIST LeNet, on MNIST test images. σ is chosen
per method on held-out images (test images 5000+), never on the scored ones (test images 0+).
With resized masks the estimator targets the gradient seen through smooth masks (DESIGN §1), so
its cosine to the raw gradient plateaus; the column ``own target`` is its cosine to that
smoothed gradient, G·∇f / G·1 with G = U Uᵀ, computed exactly by autograd.

    python benchmarks/gradient_fidelity.py --data ../shared/data --images 32
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from evoxplain import GEEX
from evoxplain.data import load_mnist
from evoxplain.sampling import make_sampler
from evoxplain.zoo.lenet import load_lenet

QUERIES = [100, 300, 1000, 3000, 10000, 30000]
SIGMAS = [0.003, 0.01, 0.03, 0.1, 0.3]
METHODS = {"GE": {}, "GE, mask 14x14": {"mask_size": (14, 14)}, "GE, mask 7x7": {"mask_size": (7, 7)}}


def true_gradients(model, images, targets):
    x = images.clone().requires_grad_(True)
    model(x).softmax(1).gather(1, targets[:, None]).sum().backward()
    return x.grad.detach()


def smoothed(gradients, mask_size):
    """The estimator's own target with resized masks: (U Uᵀ g) / (U Uᵀ 1), per image."""
    sampler = make_sampler(tuple(gradients.shape[1:]), mask_size=mask_size)
    z = torch.zeros((len(gradients), *sampler.low_shape), requires_grad=True)
    (adjoint,) = torch.autograd.grad(sampler.transform(z), z, gradients)
    return sampler.transform(adjoint) / sampler.gain


def cosines(estimates, truth):
    return torch.nn.functional.cosine_similarity(estimates.flatten(1), truth.flatten(1), dim=1)


def run(model, images, targets, options, sigma, queries, seed):
    explainer = GEEX(model, queries=queries, sigma=sigma, integrated=False, batch_size=1000, seed=seed, **options)
    return explainer.explain(images, target=targets.tolist(), batched=True).values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder holding mnist/")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    torch.set_num_threads(2)

    model = load_lenet("mnist")
    images, _ = load_mnist("test", root=args.data)
    with torch.no_grad():
        predicted = model(images[:6000]).argmax(1)
    scored, held_out = slice(0, args.images), slice(5000, 5000 + max(8, args.images // 4))

    chosen = {}
    for name, options in METHODS.items():  # σ per method on held-out images, at 1000 queries
        x, t = images[held_out], predicted[held_out]
        truth = true_gradients(model, x, t)
        score = {s: float(cosines(run(model, x, t, options, s, 1000, seed=1), truth).mean()) for s in SIGMAS}
        chosen[name] = max(score, key=score.get)
        print(f"{name}: held-out cosine by sigma {score} -> sigma {chosen[name]}", flush=True)

    x, t = images[scored], predicted[scored]
    truth = true_gradients(model, x, t)
    rows = []
    for name, options in METHODS.items():
        own = smoothed(truth, options["mask_size"]) if "mask_size" in options else truth
        for n in QUERIES:
            start = time.perf_counter()
            estimate = run(model, x, t, options, chosen[name], n, seed=0)
            seconds = time.perf_counter() - start
            cos, cos_own = cosines(estimate, truth), cosines(estimate, own)
            rows.append(
                {
                    "method": name,
                    "sigma": chosen[name],
                    "queries": n,
                    "cosine_mean": float(cos.mean()),
                    "cosine_std": float(cos.std()),
                    "cosine_own_target": float(cos_own.mean()),
                    "seconds_per_image": seconds / len(x),
                }
            )
            print(rows[-1], flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python benchmarks/gradient_fidelity.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "date": datetime.date.today().isoformat(),
        "images": f"MNIST test images 0..{args.images - 1} (sigma chosen on test images {held_out.start}..{held_out.stop - 1})",
        "model": "LeNet (shipped weights, evoxplain.zoo.lenet.load_lenet('mnist')), target = predicted class, f = probability",
        "sigma_selection": chosen,
    }
    (out / "gradient_fidelity.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    write_markdown(out / "gradient_fidelity.md", meta, rows)
    plot(out / "gradient_fidelity.png", rows)


def write_markdown(path: Path, meta: dict, rows: list[dict]) -> None:
    lines = ["# Gradient fidelity: cosine of the NES estimate to the true gradient", ""]
    lines += [f"- **{key}**: `{value}`" if key == "command" else f"- **{key}**: {value}" for key, value in meta.items()]
    lines += ["", "| method | σ | queries | cosine to ∇f (mean ± std) | cosine to own target | s / image |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['sigma']} | {r['queries']} | {r['cosine_mean']:.3f} ± {r['cosine_std']:.3f} "
            f"| {r['cosine_own_target']:.3f} | {r['seconds_per_image']:.3f} |"
        )
    path.write_text("\n".join(lines) + "\n")


def plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == name]
        ax.plot([r["queries"] for r in mine], [r["cosine_mean"] for r in mine], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("queries")
    ax.set_ylabel("cosine to the true gradient")
    ax.set_title("GE fidelity, MNIST LeNet")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
