"""Measure the shipped image black boxes and generators of the exemplar experiments.

For each classifier (the FER ones also in their fitted versions): accuracy on the whole test split
(the whole-data FER ones: on their training split too).
For each VAE: the test reconstruction BCE and KL per image (``z = mu``). For each generator with
its paired black box (and the FER generators with the fitted version of it too): the
fraction of generated images whose top-class probability is ≥ 0.95 (is a confident answer
reachable?) for latents from N(0, I) and from U(−5, 5)^l (where the search starts), and the
predicted classes.

Usage::

    python -m benchmarks.image_generators --data ../shared/data
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from evoxplain_zoo.models.fer import _data, dataset_classes, vae_test_loss
from evoxplain_zoo.models.generators import (
    available_generators,
    generator_info,
    load_exemplar_classifier,
    load_generator,
    sample_confidence,
)
from evoxplain_zoo.models.training import accuracy

from benchmarks.harness import RunFolder, default_folder, main_of, option, torch_threads

CLASSIFIERS = [("fer", None, False), ("fer", 0, False), ("fer", None, True), ("fer", 0, True)]
CLASSIFIERS += [("fashion-mnist", None, False)]  # (dataset, half, fitted)


@dataclass
class Settings:
    """The data, the generated samples per check and the torch threads."""

    benchmark: ClassVar[str] = "image_generators"
    title: ClassVar[str] = "Image black boxes and generators for exemplars"
    data: str | None = option(None, "folder holding fer2013/ (default: $EVOXPLAIN_DATA)")
    samples: int = option(1000, "generated images per confidence check")
    threads: int = option(1, "torch CPU threads")
    out: Path | None = option(None, "the run folder (default benchmarks/results/image_generators/shipped)")


def classifier_accuracies(tests: dict, data: str | None) -> dict[str, float]:
    """Test accuracy of every exemplar classifier (the whole-data FER ones: training accuracy too)."""
    found = {}
    train_fer = _data("train", data, None, "fer")
    for dataset, half, fitted in CLASSIFIERS:
        model, _ = load_exemplar_classifier(dataset, half=half, fitted=fitted)
        acc = accuracy(model, *tests[dataset])
        name = dataset + ("" if half is None else f"-half{half}") + ("-fitted" if fitted else "")
        found[name] = acc
        if dataset == "fer" and half is None:  # how well it fits its own training faces
            found[f"{name} (training split)"] = accuracy(model, *train_fer)
        print(f"classifier {name}: test accuracy {acc:.4f}", flush=True)
    return found


def generator_row(name: str, tests: dict, fitted_fer: dict, samples: int) -> dict:
    """A generator's VAE losses (if a VAE) and how often its samples are confidently classified."""
    info = generator_info(name)
    classifier, _ = load_exemplar_classifier(info.dataset, half=info.classifier_half)
    generator = load_generator(name)
    row: dict = {"generator": name, "dataset": info.dataset, "kind": info.kind, "scenario": info.scenario}
    if info.kind == "vae":
        row["test_recon_bce"], row["test_kl"] = vae_test_loss(generator.vae, tests[info.dataset][0])
    black_boxes = {"": classifier}
    if info.dataset == "fer":  # the fitted version of the paired classifier too
        black_boxes["_fitted"] = fitted_fer[info.classifier_half]
    for suffix, black_box in black_boxes.items():
        for label, init_range in (("normal", None), ("uniform5", 5.0)):
            fraction, counts = sample_confidence(black_box, generator, samples=samples, seed=0, init_range=init_range)
            row[f"confident_{label}{suffix}"] = fraction
            row[f"predicted_{label}{suffix}"] = dict(zip(dataset_classes(info.dataset), counts.tolist()))
    return row


def run(settings: Settings) -> list[dict]:
    """One row per generator; the classifiers' accuracies in ``classifiers``."""
    folder = RunFolder(settings.out or default_folder(settings, "shipped"), settings, render=markdown)
    begin = time.perf_counter()
    with torch_threads(settings.threads):
        # --data holds fer2013/; Fashion-MNIST may also come from Debian's package (searched without a root)
        tests = {
            "fer": _data("test", settings.data, None, "fer"),
            "fashion-mnist": _data("test", None, None, "fashion-mnist"),
        }
        folder.results["classifiers"] = classifier_accuracies(tests, settings.data)
        fitted_fer = {half: load_exemplar_classifier("fer", half=half, fitted=True)[0] for half in (None, 0)}
        for name in available_generators():
            folder.rows.append(generator_row(name, tests=tests, fitted_fer=fitted_fer, samples=settings.samples))
            print({k: v for k, v in folder.rows[-1].items() if not k.startswith("predicted")}, flush=True)
            folder.save()
    folder.results["seconds"] = time.perf_counter() - begin
    folder.finish()
    return folder.rows


def markdown(results: dict) -> list[str]:
    """The classifiers' accuracies and each generator's share of confident samples."""
    lines = ["| classifier | accuracy |", "|---|---|"]
    lines += [f"| {name} | {acc:.4f} |" for name, acc in results.get("classifiers", {}).items()]
    lines += [
        "",
        "| generator | black box | VAE test BCE / KL | confident from N(0, I) | from U(−5, 5)^l |",
        "|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        losses = f"{r['test_recon_bce']:.2f} / {r['test_kl']:.2f}" if "test_kl" in r else "–"
        for suffix, box in (("", "paired"), ("_fitted", "paired, fitted")):
            if f"confident_normal{suffix}" in r:
                lines.append(f"| {r['generator']} | {box} | {losses} | {r[f'confident_normal{suffix}']:.3f} | "
                             f"{r[f'confident_uniform5{suffix}']:.3f} |")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
