"""How close is the NES gradient estimate to the true gradient, as queries grow?

Cosine similarity between GE (plain Gaussian noise, and with mask resizing) and the autograd
gradient of the shipped MNIST LeNet's score for its predicted class — the probability (GEEX's
default fitness) and the logit — on MNIST test images. σ is chosen per method, fitness and query
budget on held-out images (test images 5000+), never on the scored ones (test images 0+); the
largest budget reuses the σ chosen for the one below it.
With resized masks the estimator targets the gradient seen through smooth masks (:mod:`evoxplain.sampling`), so
its cosine to the raw gradient plateaus; the column ``own target`` is its cosine to that
smoothed gradient, G·∇f / G·1 with G = U Uᵀ, computed exactly by autograd.

    python -m benchmarks.gradient_fidelity --data ../shared/data --images 12
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from evoxplain_zoo.data import load_mnist
from evoxplain_zoo.models.lenet import load_lenet

from benchmarks.harness import RunFolder, default_folder, main_of, option, torch_threads
from evoxplain import GEEX
from evoxplain.sampling import make_sampler

QUERIES = [100, 300, 1000, 3000, 10000, 30000]
SIGMAS = [0.01, 0.03, 0.1, 0.3]
METHODS = {"GE": {}, "GE, mask 14x14": {"mask_size": (14, 14)}, "GE, mask 7x7": {"mask_size": (7, 7)}}
HELD_OUT = slice(5000, 5004)  # the test images σ is chosen on


@dataclass
class Settings:
    """The images scored, the budgets and the σ candidates."""

    benchmark: ClassVar[str] = "gradient_fidelity"
    title: ClassVar[str] = "Gradient fidelity: cosine of the NES estimate to the true gradient"
    data: str = option(help="folder holding mnist/")
    images: int = option(32, "MNIST test images scored (0, 1, …)")
    queries: list[int] = option(QUERIES, "query budgets, ascending (the largest reuses the σ of the one below)")
    sigmas: list[float] = option(SIGMAS, "σ candidates, chosen per budget on held-out images")
    threads: int = option(2, "torch CPU threads")
    out: Path | None = option(None, "the run folder (default benchmarks/results/gradient_fidelity/mnist)")


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


def estimate(model, images, targets, options, fitness, sigma, queries, seed):
    """GE's gradient estimates of ``images`` (not integrated)."""
    explainer = GEEX(
        model, queries=queries, sigma=sigma, fitness=fitness, integrated=False, batch_size=1000, seed=seed, **options
    )
    return explainer.explain(images, target=targets.tolist(), batched=True).values


def choose_sigmas(model, x, t, name: str, fitness: str, settings: Settings) -> dict[str, float]:
    """σ for each budget of one method by the mean cosine on the held-out images ``x`` (the
    largest budget takes the σ of the one below it)."""
    options, chosen = METHODS[name], {}
    truth = true_gradients(model, x, t, fitness=fitness)
    sigma = settings.sigmas[0]
    for n in settings.queries[:-1]:  # σ for this budget, on held-out images
        score = {
            s: float(
                cosines(
                    estimate(model, x, t, options=options, fitness=fitness, sigma=s, queries=n, seed=1), truth
                ).mean()
            )
            for s in settings.sigmas
        }
        sigma = chosen[f"{fitness} / {name} / {n}"] = max(score, key=score.get)
        print(f"{fitness} / {name} / {n}: held-out cosine by sigma {score}", flush=True)
    chosen[f"{fitness} / {name} / {settings.queries[-1]}"] = sigma
    return chosen


def scored_rows(model, x, t, name: str, fitness: str, chosen: dict[str, float], settings: Settings) -> list[dict]:
    """One row per budget: the cosines of the estimates with the chosen σ on the scored images."""
    options = METHODS[name]
    truth = true_gradients(model, x, t, fitness=fitness)
    own = smoothed(truth, options["mask_size"]) if "mask_size" in options else truth
    rows = []
    for n in settings.queries:
        sigma = chosen[f"{fitness} / {name} / {n}"]
        start = time.perf_counter()
        found = estimate(model, x, t, options=options, fitness=fitness, sigma=sigma, queries=n, seed=0)
        seconds = time.perf_counter() - start
        cos, cos_own = cosines(found, truth), cosines(found, own)
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
    return rows


def run(settings: Settings) -> list[dict]:
    """One row per fitness, method and budget."""
    folder = RunFolder(settings.out or default_folder(settings, "mnist"), settings, render=markdown, figures=plot)
    chosen: dict[str, float] = {}
    folder.results["setup"] = {
        "images": f"MNIST test images 0..{settings.images - 1} "
        f"(sigma chosen on test images {HELD_OUT.start}..{HELD_OUT.stop - 1})",
        "model": "LeNet (shipped weights, evoxplain_zoo.models.lenet.load_lenet('mnist')), target = predicted class",
        "note": "seconds are from a shared 2-core machine with other jobs running: indicative only",
        "sigma_selection": chosen,
    }
    with torch_threads(settings.threads):
        model = load_lenet("mnist")
        images, _ = load_mnist("test", root=settings.data)
        with torch.no_grad():
            predicted = model(images[:6000]).argmax(1)
        scored = slice(0, settings.images)
        for fitness in ("prob", "logit"):
            for name in METHODS:
                held = dict(x=images[HELD_OUT], t=predicted[HELD_OUT], name=name, fitness=fitness, settings=settings)
                chosen.update(choose_sigmas(model, **held))
                scoring = dict(x=images[scored], t=predicted[scored], name=name, fitness=fitness, settings=settings)
                folder.rows.extend(scored_rows(model, chosen=chosen, **scoring))
                folder.save()
    folder.finish()
    return folder.rows


def markdown(results: dict) -> list[str]:
    """The setup and one table line per row."""
    lines = [f"- **{key}**: {value}" for key, value in results["setup"].items()]
    lines += [
        "",
        "| fitness | method | σ | queries | cosine to ∇f: mean | median | min | cosine to own target | s / image |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['fitness']} | {r['method']} | {r['sigma']} | {r['queries']} | {r['cosine_mean']:.3f} "
            f"| {r['cosine_median']:.3f} | {r['cosine_min']:.3f} | {r['cosine_own_target']:.3f} "
            f"| {r['seconds_per_image']:.3f} |"
        )
    return lines


def plot(folder: Path, results: dict) -> None:
    """``results.png``: the mean cosine against queries, one panel per fitness."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
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
    fig.savefig(folder / "results.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
