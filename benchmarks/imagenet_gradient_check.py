"""Is GE right on a large model? Its estimate against what it estimates, on one ImageNet sample.

For a score f that is linear at the scale σ, GE with resized noise d = T z estimates
``T Tᵀ ∇f / gain`` (:mod:`evoxplain.sampling`). This computes that expectation with
autograd through EfficientNet-Lite0 and reports the cosine and norm ratio of the estimate to it,
for a few σ (a linear f gives a cosine near ``1 / sqrt(1 + dims / pairs)``).

    python -m benchmarks.imagenet_gradient_check --data ../shared/data
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from evoxplain_zoo.data import load_imagenet_samples
from evoxplain_zoo.models.efficientnet import efficientnet_lite0

from benchmarks.harness import RunFolder, default_folder, main_of, option
from evoxplain import GEEX, BlackBox
from evoxplain.sampling import make_sampler


@dataclass
class Settings:
    """The sample, the budget, the noise's resolution and the σ compared."""

    benchmark: ClassVar[str] = "imagenet_gradient_check"
    title: ClassVar[str] = "GE against its expectation on an ImageNet sample"
    data: str | None = option(None, "folder with imagenet_samples/ (default $EVOXPLAIN_DATA)")
    sample: int = option(0, "the sample explained")
    queries: int = option(2000, "query budget")
    mask: int = option(7, "noise cells along each side, per channel")
    sigmas: list[float] = option([0.001, 0.01, 0.05, 0.2], "σ compared")
    out: Path | None = option(None, "the run folder (default benchmarks/results/imagenet_gradient_check/sample-<n>)")


def expectation(model: torch.nn.Module, x: torch.Tensor, target: int, mask: int):
    """``T Tᵀ ∇f / gain`` for f = the probability of ``target``, by autograd, and the sampler."""
    image = x[None].clone().requires_grad_(True)
    model(image).softmax(-1)[0, target].backward()
    sampler = make_sampler(tuple(x.shape), mask_size=(mask, mask))
    z = torch.zeros((1, *sampler.low_shape), requires_grad=True)
    (adjoint,) = torch.autograd.grad(sampler.transform(z), z, image.grad)
    return sampler.transform(adjoint)[0] / sampler.gain, sampler


def run(settings: Settings) -> list[dict]:
    """One row per σ: the estimate's cosine and norm ratio to the expectation."""
    x = load_imagenet_samples(settings.data).images[settings.sample]
    model = efficientnet_lite0().eval()
    blackbox = BlackBox(model, output="logits", batch_size=64)
    target = int(blackbox.predict(x[None])[0])
    expected, sampler = expectation(model, x, target=target, mask=settings.mask)
    folder = RunFolder(settings.out or default_folder(settings, f"sample-{settings.sample}"), settings, render=markdown)
    folder.results["setup"] = {"target": target, "dimensions": sampler.dimensions}
    for sigma in settings.sigmas:
        ge = GEEX(blackbox, queries=settings.queries, integrated=False, mask_size=settings.mask, sigma=sigma, seed=0)
        estimate = ge.explain(x, target).values
        cosine = float(estimate.flatten() @ expected.flatten() / (estimate.norm() * expected.norm()))
        folder.rows.append({"sigma": sigma, "cosine": cosine, "norm_ratio": float(estimate.norm() / expected.norm())})
        print(folder.rows[-1], flush=True)
        folder.save()
    folder.finish()
    return folder.rows


def markdown(results: dict) -> list[str]:
    """The setup and one table line per σ."""
    s, setup = results["settings"], results["setup"]
    linear = (1 + (setup["dimensions"] + 1) / (s["queries"] // 2)) ** -0.5
    lines = [
        f"- EfficientNet-Lite0, sample {s['sample']} (predicted class {setup['target']}), f = its probability; GE "
        f"with {s['mask']}×{s['mask']} noise per channel ({setup['dimensions']} dimensions), {s['queries']} "
        f"queries. Expectation T Tᵀ ∇f / gain by autograd. A linear f would give a cosine of about {linear:.3f}.",
        "",
        "| σ | cosine to the expectation | norm ratio |",
        "|---|---|---|",
    ]
    return lines + [f"| {r['sigma']} | {r['cosine']:.3f} | {r['norm_ratio']:.3f} |" for r in results["rows"]]


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
