"""Bit-identity check: every seeded result the library makes, written to one file, compared later.

Run it on two checkouts (before and after a change) and compare the files::

    python tests/probes/snapshot.py before.safetensors          # on the old code
    python tests/probes/snapshot.py after.safetensors --compare before.safetensors

It explains a few inputs (an RGB image, a gray digit, a table row, a sentence) with every GEEX
variant (Gaussian / Bernoulli, integrated or not, plain / resized / smoothed noise, mean /
regression, random / orthogonal designs), RISE, LIME, KernelSHAP and Occlusion at several batch
sizes, runs every exemplar search, and records every value, standard error, score, target and
query count. ``--compare`` prints each entry that differs in any bit.
"""

from __future__ import annotations

import argparse
import sys

import torch
from safetensors.torch import load_file, save_file


def cnn(channels: int, classes: int = 10) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(channels, 4, 3, padding=1),
            torch.nn.Tanh(),
            torch.nn.AdaptiveAvgPool2d(7),
            torch.nn.Flatten(),
            torch.nn.Linear(196, classes),
        ).eval()
    with torch.no_grad():
        model[-1].weight *= 10
    return model


def text_model(texts):
    good = torch.tensor([[t.count("good") - t.count("bad"), t.count("film") * 0.5] for t in texts], dtype=torch.float32)
    return torch.stack([-good[:, 0], good[:, 0] + good[:, 1]], dim=1)


GEEX_VARIANTS = {
    "geex": {},
    "ge": {"integrated": False, "sigma": 0.1},
    "gers": {"mask_size": (7, 7)},
    "gers_nearest": {"mask_size": 7, "mask_interpolation": "nearest", "fitness": "logit"},
    "smooth": {"smoothing": (5, 1.0)},
    "shared": {"shared_mask": True, "fitness": "logprob"},
    "bgeex": {"distribution": "bernoulli", "mask_size": (14, 14)},
    "bgeex_plain": {"distribution": "bernoulli", "baseline": "mean"},
    "bge": {"distribution": "bernoulli", "mask_size": (7, 7), "integrated": False, "baseline": "blur"},
    "breg": {"distribution": "bernoulli", "mask_size": (7, 7), "estimator": "regression"},
    "breg_orth": {
        "distribution": "bernoulli",
        "mask_size": (7, 7),
        "estimator": "regression",
        "design": "orthogonal",
        "integrated": False,
    },
    "orth": {"design": "orthogonal", "mask_size": (7, 7)},
    "entropy": {"fitness": "entropy", "integrated": False},
}
TEXT_VARIANTS = {
    "mean": {},
    "regression": {"estimator": "regression", "distribution": "bernoulli"},
    "orthogonal": {"design": "orthogonal"},
    "filler": {"baseline": "[MASK]"},
}


def probe_inputs() -> tuple[dict[str, torch.nn.Module], dict[str, torch.Tensor]]:
    """The models and inputs every explanation is made of: an RGB image, a digit, two digits, a row."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 40, 36, generator=g)
    digit = torch.rand(1, 28, 28, generator=g)
    digits = torch.rand(2, 1, 28, 28, generator=g)
    row = torch.rand(12, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        linear = torch.nn.Linear(12, 3).eval()
    models = {"image": cnn(3), "digit": cnn(1), "digits": cnn(1), "row": linear}
    return models, {"image": image, "digit": digit, "digits": digits, "row": row}


def record(out: dict[str, torch.Tensor], key: str, exp) -> None:
    """Every number of ``exp`` under ``key/…``."""
    values = exp.values if isinstance(exp.values, torch.Tensor) else torch.as_tensor(exp.values)
    out[f"{key}/values"] = values.float().contiguous()
    if exp.stderr is not None:
        out[f"{key}/stderr"] = torch.as_tensor(exp.stderr).float().contiguous()
    out[f"{key}/target"] = torch.as_tensor(exp.target).reshape(-1).long()
    out[f"{key}/queries"] = torch.tensor([exp.queries])
    if exp.score is not None:
        out[f"{key}/score"] = torch.as_tensor(exp.score).reshape(-1).float()
    if exp.baseline_score is not None:
        out[f"{key}/baseline_score"] = torch.as_tensor(exp.baseline_score).reshape(-1).float()


def _image_only(settings: dict) -> bool:
    return (
        any(key in settings for key in ("mask_size", "smoothing", "shared_mask")) or settings.get("baseline") == "blur"
    )


def geex_explanations(out: dict[str, torch.Tensor], models: dict, inputs: dict) -> None:
    from evoxplain import GEEX, BlackBox

    for name, settings in GEEX_VARIANTS.items():
        for kind in ("image", "digit", "digits", "row"):
            if kind == "row" and _image_only(settings):
                continue
            for batch in (1, 7, 64, 100, 256, 5000):
                if batch in (7, 100) and kind != "digit":
                    continue
                queries = 300 if kind != "row" else 200
                bb = BlackBox(models[kind], output="logits", batch_size=batch)
                exp = GEEX(bb, queries=queries, seed=3, **settings).explain(inputs[kind])
                record(out, f"geex/{name}/{kind}/{batch}", exp)


def text_explanations(out: dict[str, torch.Tensor]) -> None:
    from evoxplain import GEEX, BlackBox

    for settings_name, settings in TEXT_VARIANTS.items():
        for batch in (1, 10, 64, 256):
            bb = BlackBox(text_model, output="logits", batch_size=batch)
            texts = ["a good film , not a bad good film", "bad bad film"]
            exp = GEEX(bb, queries=120, seed=5, **settings).explain(texts)
            out[f"text/{settings_name}/{batch}/values"] = torch.cat([torch.as_tensor(v) for v in exp.values]).float()
            out[f"text/{settings_name}/{batch}/stderr"] = torch.cat([torch.as_tensor(v) for v in exp.stderr]).float()
            out[f"text/{settings_name}/{batch}/queries"] = torch.tensor([exp.queries])


def other_explanations(out: dict[str, torch.Tensor], models: dict, inputs: dict) -> None:
    from evoxplain import BlackBox
    from evoxplain.attribution import LIME, RISE, KernelSHAP, Occlusion

    for kind in ("image", "digit", "row"):
        for batch in (1, 33, 256):
            bb = BlackBox(models[kind], output="logits", batch_size=batch)
            for cell in (None, 4) if kind != "row" else (None,):
                record(
                    out, f"rise/{kind}/{batch}/{cell}", RISE(bb, queries=150, cell=cell, seed=1).explain(inputs[kind])
                )
            exp = RISE(bb, queries=100, seed=2, p=0.3, baseline=0.5).explain(inputs[kind])
            record(out, f"rise_blur/{kind}/{batch}", exp)
    for kind in ("digit", "row"):
        bb = BlackBox(models[kind], output="logits", batch_size=50)
        record(out, f"lime/{kind}", LIME(bb, queries=100, seed=0).explain(inputs[kind]))
        record(out, f"kernelshap/{kind}", KernelSHAP(bb, queries=100, seed=0).explain(inputs[kind]))
        record(out, f"occlusion/{kind}", Occlusion(bb).explain(inputs[kind]))


def explanations() -> dict[str, torch.Tensor]:
    """Every seeded explanation of the probe, by key (the same keys and order as before)."""
    models, inputs = probe_inputs()
    out: dict[str, torch.Tensor] = {}
    geex_explanations(out, models, inputs)
    text_explanations(out)
    other_explanations(out, models, inputs)
    return out


def exemplars() -> dict[str, torch.Tensor]:
    from evoxplain.exemplars import CMAESSearch, ExemplarSearch, GradientSearch, RandomSearch

    model = cnn(1)
    weight = torch.randn(8, 784, generator=torch.Generator().manual_seed(1))
    generator = lambda z: torch.sigmoid(z @ weight).view(-1, 1, 28, 28)  # noqa: E731
    out = {}
    searches = {
        "es": ExemplarSearch(model, generator, 8, seed=0, max_queries=3000),
        "es0": ExemplarSearch(model, generator, 8, momentum=0.0, seed=1, max_queries=3000, confidence=0.9),
        "random": RandomSearch(model, generator, 8, seed=0, max_queries=2000),
        "cma": CMAESSearch(model, generator, 8, seed=0, max_queries=2000, population=20, elite=5),
        "gd": GradientSearch(model, generator, 8, seed=0, lr=0.5, max_generations=50),
        "es_loss": ExemplarSearch(model, generator, 8, seed=2, max_loss=0.05, max_queries=2000, batch_size=37),
    }
    for name, search in searches.items():
        for i, res in enumerate(search.run_many([0, 3, 7])):
            out[f"exemplars/{name}/{i}/latent"] = res.latent.float()
            out[f"exemplars/{name}/{i}/queries"] = torch.tensor([res.queries, res.generations, int(res.converged)])
            out[f"exemplars/{name}/{i}/probabilities"] = res.probabilities.float()
    return out


def metrics() -> dict[str, torch.Tensor]:
    from evoxplain.metrics import aopc_deletion, aopc_insertion

    model = cnn(1)
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    values = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    out = {}
    for batch in (1, 50):
        d = aopc_deletion(model, images, values, stride=20, batch_size=batch)
        i = aopc_insertion(model, images, values, replacement="blur", stride=20, batch_size=batch)
        out[f"aopc/deletion/{batch}"] = d.curves
        out[f"aopc/insertion/{batch}"] = i.curves
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--compare", help="an earlier snapshot to compare with, bit for bit")
    args = parser.parse_args()
    torch.set_num_threads(1)
    snapshot = {**explanations(), **exemplars(), **metrics()}
    save_file(snapshot, args.path)
    print(f"{len(snapshot)} entries written to {args.path}")
    if args.compare:
        before = load_file(args.compare)
        missing = sorted(set(before) - set(snapshot))
        differ = [k for k in sorted(set(before) & set(snapshot)) if not torch.equal(before[k], snapshot[k])]
        for key in differ:
            print(f"differs: {key}")
        for key in missing:
            print(f"missing: {key}")
        print(f"{len(before)} entries before, {len(differ)} differ, {len(missing)} missing")
        sys.exit(1 if differ or missing else 0)


if __name__ == "__main__":
    main()
