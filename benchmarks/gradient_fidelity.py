"""How close is the NES gradient estimate to the true gradient, as queries grow?

Cosine similarity between GE (plain Gaussian noise, and with mask resizing) and the autograd
gradient of the shipped MNIST LeNet's score for its predicted class — the probability (GEEX's
default fitness) and the logit — on MNIST test images. σ is chosen per method, fitness and query
budget on held-out images (test images 5000+), never on the scored ones (test images 0+); the
largest budget reuses the σ chosen for the one below it.
With resized masks the estimator targets the gradient seen through smooth masks (:mod:`evoxplain.sampling`), so
its cosine to the raw gradient plateaus; the column ``own target`` is its cosine to that
smoothed gradient, G·∇f / G·1 with G = U Uᵀ, computed exactly by autograd.

    python benchmarks/gradient_fidelity.py --data ../shared/data --images 12
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
from evoxplain_zoo.data import load_mnist
from evoxplain_zoo.models.lenet import load_lenet

from evoxplain import GEEX
from evoxplain.sampling import make_sampler

QUERIES = [100, 300, 1000, 3000, 10000, 30000]
SIGMAS = [0.01, 0.03, 0.1, 0.3]
METHODS = {"GE": {}, "GE, mask 14x14": {"mask_size": (14, 14)}, "GE, mask 7x7": {"mask_size": (7, 7)}}


def true_gradients(model, images, targets, fitness):
    x = images.clone().requires_grad_(True)
    logits = model(x)
    scores = logits.softmax(1) if fitness == "prob" else logits
    scores.gather(1, targets[:, None]).sum().backward()
    return x.grad.detach()


def smoothed(gradients, mask_size):
    """The estimator's own target with resized masks: (U Uᵀ g) / (U Uᵀ 1), per image."""
    sampler = make_sampler(tuple(gradients.shape[1:]), mask_size=mask_size)
    z = torch.zeros((len(gradients), *sampler.low_shape), requires_grad=True)
    (adjoint,) = torch.autograd.grad(sampler.transform(z), z, gradients)
    return sampler.transform(adjoint) / sampler.gain


def cosines(estimates, truth):
    return torch.nn.functional.cosine_similarity(estimates.flatten(1), truth.flatten(1), dim=1)


def run(model, images, targets, options, fitness, sigma, queries, seed):
    explainer = GEEX(
        model, queries=queries, sigma=sigma, fitness=fitness, integrated=False, batch_size=1000, seed=seed, **options
    )
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
    scored, held_out = slice(0, args.images), slice(5000, 5004)

    chosen: dict[str, float] = {}
    rows = []
    for fitness in ("prob", "logit"):
        for name, options in METHODS.items():
            x, t = images[held_out], predicted[held_out]
            truth = true_gradients(model, x, t, fitness)
            sigma = SIGMAS[0]
            for n in QUERIES[:-1]:  # σ for this budget, on held-out images
                score = {
                    s: float(cosines(run(model, x, t, options, fitness, s, n, seed=1), truth).mean()) for s in SIGMAS
                }
                sigma = chosen[f"{fitness} / {name} / {n}"] = max(score, key=score.get)
                print(f"{fitness} / {name} / {n}: held-out cosine by sigma {score}", flush=True)
            chosen[f"{fitness} / {name} / {QUERIES[-1]}"] = sigma

            x, t = images[scored], predicted[scored]
            truth = true_gradients(model, x, t, fitness)
            own = smoothed(truth, options["mask_size"]) if "mask_size" in options else truth
            for n in QUERIES:
                sigma = chosen[f"{fitness} / {name} / {n}"]
                start = time.perf_counter()
                estimate = run(model, x, t, options, fitness, sigma, n, seed=0)
                seconds = time.perf_counter() - start
                cos, cos_own = cosines(estimate, truth), cosines(estimate, own)
                rows.append(
                    {
                        "fitness": fitness,
                        "method": name,
                        "sigma": sigma,
                        "queries": n,
                        "cosine_mean": float(cos.mean()),
                        "cosine_median": float(cos.median()),
                        "cosine_min": float(cos.min()),
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
        "images": f"MNIST test images 0..{args.images - 1} "
        f"(sigma chosen on test images {held_out.start}..{held_out.stop - 1})",
        "model": "LeNet (shipped weights, evoxplain_zoo.models.lenet.load_lenet('mnist')), target = predicted class",
        "note": "seconds are from a shared 2-core machine with other jobs running: indicative only",
        "sigma_selection": chosen,
    }
    (out / "gradient_fidelity.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    write_markdown(out / "gradient_fidelity.md", meta, rows)
    plot(out / "gradient_fidelity.png", rows)


def write_markdown(path: Path, meta: dict, rows: list[dict]) -> None:
    lines = ["# Gradient fidelity: cosine of the NES estimate to the true gradient", ""]
    lines += [f"- **{key}**: `{value}`" if key == "command" else f"- **{key}**: {value}" for key, value in meta.items()]
    lines += [
        "",
        "| fitness | method | σ | queries | cosine to ∇f: mean | median | min | cosine to own target | s / image |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['fitness']} | {r['method']} | {r['sigma']} | {r['queries']} | {r['cosine_mean']:.3f} "
            f"| {r['cosine_median']:.3f} | {r['cosine_min']:.3f} | {r['cosine_own_target']:.3f} "
            f"| {r['seconds_per_image']:.3f} |"
        )
    path.write_text("\n".join(lines) + "\n")


def plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fitnesses = list(dict.fromkeys(r["fitness"] for r in rows))
    fig, axes = plt.subplots(1, len(fitnesses), figsize=(6 * len(fitnesses), 4), sharey=True, squeeze=False)
    for ax, fitness in zip(axes[0], fitnesses):
        for name in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == name and r["fitness"] == fitness]
            ax.plot([r["queries"] for r in mine], [r["cosine_mean"] for r in mine], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("queries")
        ax.set_title(f"GE fidelity, MNIST LeNet, f = {fitness}")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0][0].set_ylabel("cosine to the true gradient")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
