"""Is GE right on a large model? Its estimate against what it estimates, on one ImageNet sample.

For a score f that is linear at the scale σ, GE with resized noise d = T z estimates
``T Tᵀ ∇f / gain`` (:mod:`evoxplain.sampling`). This computes that expectation with
autograd through EfficientNet-Lite0 and reports the cosine and norm ratio of the estimate to it,
for a few σ (a linear f gives a cosine near ``1 / sqrt(1 + dims / pairs)``).

    python benchmarks/imagenet_gradient_check.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shlex
import sys
from pathlib import Path

import torch
from evoxplain_zoo.data import load_imagenet_samples
from evoxplain_zoo.models.efficientnet import efficientnet_lite0

from evoxplain import GEEX, BlackBox
from evoxplain.sampling import make_sampler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder with imagenet_samples/ (default $EVOXPLAIN_DATA)")
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--mask", type=int, default=7)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.001, 0.01, 0.05, 0.2])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "imagenet_cpu_preview"))
    args = parser.parse_args(argv)

    x = load_imagenet_samples(args.data).images[args.sample]
    model = efficientnet_lite0().eval()
    blackbox = BlackBox(model, output="logits", batch_size=64)
    target = int(blackbox.predict(x[None])[0])
    image = x[None].clone().requires_grad_(True)
    model(image).softmax(-1)[0, target].backward()
    sampler = make_sampler(tuple(x.shape), mask_size=(args.mask, args.mask))
    z = torch.zeros((1, *sampler.low_shape), requires_grad=True)
    (adjoint,) = torch.autograd.grad(sampler.transform(z), z, image.grad)
    expected = sampler.transform(adjoint)[0] / sampler.gain

    pairs = args.queries // 2
    linear = (1 + (sampler.dimensions + 1) / pairs) ** -0.5
    command = shlex.join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# GE against its expectation on an ImageNet sample",
        "",
        f"- Command: `python benchmarks/imagenet_gradient_check.py {command}`",
        f"- Machine: {platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- EfficientNet-Lite0, sample {args.sample} (predicted class {target}), f = its probability; GE with "
        f"{args.mask}×{args.mask} noise per channel ({sampler.dimensions} dimensions), {args.queries} queries. "
        f"Expectation T Tᵀ ∇f / gain by autograd. A linear f would give a cosine of about {linear:.3f}.",
        "",
        "| σ | cosine to the expectation | norm ratio |",
        "|---|---|---|",
    ]
    for sigma in args.sigmas:
        ge = GEEX(blackbox, queries=args.queries, integrated=False, mask_size=args.mask, sigma=sigma, seed=0)
        estimate = ge.explain(x, target).values
        cosine = float(estimate.flatten() @ expected.flatten() / (estimate.norm() * expected.norm()))
        lines.append(f"| {sigma} | {cosine:.3f} | {float(estimate.norm() / expected.norm()):.3f} |")
        print(lines[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gradient_check.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
