"""Measure the shipped image black boxes and generators of the exemplar experiments.

For each classifier (the FER ones also in their fitted versions): accuracy on the whole test split
(the whole-data FER ones: on their training split too).
For each VAE: the test reconstruction BCE and KL per image (``z = mu``). For each generator with
its paired black box (and the FER generators with the fitted version of it too): the
fraction of generated images whose top-class probability is ≥ 0.95 (is a confident answer
reachable?) for latents from N(0, I) and from U(−5, 5)^l (where the search starts), and the
predicted classes.

Usage::

    python benchmarks/image_generators.py --data ../shared/data --out benchmarks/results/image_generators.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from evoxplain_zoo.models.fer import _data, dataset_classes, vae_test_loss
from evoxplain_zoo.models.generators import (
    available_generators,
    generator_info,
    load_exemplar_classifier,
    load_generator,
    sample_confidence,
)
from evoxplain_zoo.models.training import accuracy


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder holding fer2013/ (default: $EVOXPLAIN_DATA)")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    begin = time.perf_counter()
    report: dict = {"classifiers": {}, "generators": {}}
    # --data holds fer2013/; Fashion-MNIST may also come from Debian's package (searched without a root)
    tests = {"fer": _data("test", args.data, None, "fer"), "fashion-mnist": _data("test", None, None, "fashion-mnist")}
    train_fer = _data("train", args.data, None, "fer")
    for dataset, half, fitted in (
        ("fer", None, False),
        ("fer", 0, False),
        ("fer", None, True),
        ("fer", 0, True),
        ("fashion-mnist", None, False),
    ):
        model, _ = load_exemplar_classifier(dataset, half=half, fitted=fitted)
        acc = accuracy(model, *tests[dataset])
        name = dataset + ("" if half is None else f"-half{half}") + ("-fitted" if fitted else "")
        report["classifiers"][name] = acc
        if dataset == "fer" and half is None:  # how well it fits its own training faces
            report["classifiers"][f"{name} (training split)"] = accuracy(model, *train_fer)
        print(f"classifier {name}: test accuracy {acc:.4f}", flush=True)
    fitted_fer = {half: load_exemplar_classifier("fer", half=half, fitted=True)[0] for half in (None, 0)}
    for name in available_generators():
        info = generator_info(name)
        classifier, _ = load_exemplar_classifier(info.dataset, half=info.classifier_half)
        generator = load_generator(name)
        row: dict = {"dataset": info.dataset, "kind": info.kind, "scenario": info.scenario}
        if info.kind == "vae":
            row["test_recon_bce"], row["test_kl"] = vae_test_loss(generator.vae, tests[info.dataset][0])
        black_boxes = {"": classifier}
        if info.dataset == "fer":  # the fitted version of the paired classifier too
            black_boxes["_fitted"] = fitted_fer[info.classifier_half]
        for suffix, black_box in black_boxes.items():
            for label, init_range in (("normal", None), ("uniform5", 5.0)):
                fraction, counts = sample_confidence(
                    black_box, generator, samples=args.samples, seed=0, init_range=init_range
                )
                row[f"confident_{label}{suffix}"] = fraction
                row[f"predicted_{label}{suffix}"] = dict(zip(dataset_classes(info.dataset), counts.tolist()))
        report["generators"][name] = row
        print(name, {k: v for k, v in row.items() if not k.startswith("predicted")}, flush=True)
    report["seconds"] = time.perf_counter() - begin
    report["threads"] = torch.get_num_threads()
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
