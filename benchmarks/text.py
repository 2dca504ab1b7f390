"""Attributions of sentences: GEEX's token masks against LIME, KernelSHAP and occlusion on IMDB.

The black box is the shipped BiLSTM sentiment classifier (``evoxplain_zoo.models.text``), asked
about single sentences of the test reviews it never saw (reviews 0-2499), 8 to 20 whitespace tokens
long; every method explains the probability of the predicted class over the same whitespace
tokens, an absent token being dropped from the sentence:

* GEEX on the string (Bernoulli masks over tokens), the mean and the regression estimator, each
  with random or orthogonal designs chosen on held-out sentences by AOPC deletion;
* Captum's LIME and KernelSHAP through evoxplain on the sentence's token-presence vector (a model
  of {0, 1}^tokens that composes the sentence of the present tokens);
* leave-one-token-out occlusion (tokens + 1 queries, whatever the budget);
* the ``evoxplain default``: GEEX with ``recommended_settings`` for a string.

Scores on other sentences: token-deletion and insertion AOPC (tokens dropped, or put back into an
empty sentence, most important first; the mean over sentences of each one's normalised AOPC),
stability (Spearman correlation of the values of two seeds, sentence by sentence) and seconds per
sentence.

    python -m benchmarks.text
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmarks import feature_scores as fs
from benchmarks.harness import BenchmarkError, RunFolder, default_folder, main_of, markdown_table, option
from benchmarks.tabular import data_root
from evoxplain import GEEX, LIME, BlackBox, KernelSHAP, Occlusion, recommended_settings

CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "bGEEX": [{"design": d} for d in ("random", "orthogonal")],
    "bGEEX regression": [{"estimator": "regression", "design": d} for d in ("random", "orthogonal")],
    "LIME": [{}],
    "KernelSHAP": [{}],
    "Occlusion": [{}],
    "evoxplain default": [{}],
}
SEEDS = (0, 1)
"""Every method explains every scored sentence with each seed; the first seed's values are scored."""
_TOKEN = re.compile(r"\S+")


@dataclass
class Settings:
    """Methods, budgets and sentences."""

    benchmark: ClassVar[str] = "text"
    title: ClassVar[str] = "Sentences: token attributions of the IMDB BiLSTM"
    methods: list[str] = option(list(CANDIDATES), "methods", sep=",")
    budgets: list[int] = option([200, 1000, 5000], "queries per explanation", sep=",")
    sentences: int = option(40, "scored sentences")
    held_out: int = option(10, "held-out sentences that choose the settings")
    min_tokens: int = option(8, "the shortest sentence, in whitespace tokens")
    max_tokens: int = option(20, "the longest sentence")
    seed: int = option(0, "seeds the choice of sentences")
    data: Path | None = option(None, "the data folder (default $EVOXPLAIN_DATA or ../shared/data)")
    resume: bool = option(False, "keep the rows of an earlier run in the folder; measure only the missing")
    out: Path | None = option(None, "the run folder (default benchmarks/results/text/imdb)")


def load_sentences(settings: Settings) -> tuple[list[str], list[str]]:
    """Held-out and scored sentences of the classifier's unseen test reviews, in a seeded order."""
    from evoxplain_zoo.data.imdb import load_imdb, split_sentences
    from evoxplain_zoo.models.text import HELD_OUT_REVIEWS

    reviews = load_imdb("test", data_root(settings.data))["text"].iloc[HELD_OUT_REVIEWS.start : HELD_OUT_REVIEWS.stop]
    found = [
        s
        for text in reviews
        for s in split_sentences(text)
        if settings.min_tokens <= len(_TOKEN.findall(s)) <= settings.max_tokens
    ]
    wanted = settings.held_out + settings.sentences
    if len(found) < wanted:
        raise BenchmarkError(f"only {len(found)} sentences of {settings.min_tokens}-{settings.max_tokens} tokens")
    order = np.random.default_rng(settings.seed).permutation(len(found))[:wanted]
    chosen = [found[i] for i in order]
    return chosen[: settings.held_out], chosen[settings.held_out :]


def classifier() -> BlackBox:
    from evoxplain_zoo.models.text import load_sentiment_classifier

    return BlackBox(load_sentiment_classifier().model_of_strings(), output="logits", batch_size=512)


class Presence:
    """The sentence as a model of token-presence vectors ``(N, tokens)``: present tokens, in order."""

    def __init__(self, blackbox: BlackBox, sentence: str):
        self.blackbox, self.tokens = blackbox, _TOKEN.findall(sentence)

    def compose(self, present: np.ndarray) -> list[str]:
        return [" ".join(t for t, keep in zip(self.tokens, row) if keep) for row in present]

    def __call__(self, presence: torch.Tensor) -> torch.Tensor:
        return self.blackbox(self.compose((presence > 0.5).cpu().numpy()))


def explain(method: str, options: dict, blackbox: BlackBox, sentence: str, budget: int, seed: int) -> dict:
    """One sentence's token values with ``method`` at ``budget`` (queries counted by ``blackbox``)."""
    before = blackbox.queries
    if method == "evoxplain default":
        exp = GEEX(blackbox, queries=budget, seed=seed, **recommended_settings(sentence, queries=budget)).explain(
            sentence
        )
    elif method.startswith("bGEEX"):
        exp = GEEX(blackbox, queries=budget, distribution="bernoulli", seed=seed, **options).explain(sentence)
    else:
        model = Presence(blackbox, sentence)
        ones = torch.ones(len(model.tokens))
        if method == "Occlusion":
            explainer = Occlusion(model, window=1, stride=1, baseline=0.0)
        else:
            explainer = {"LIME": LIME, "KernelSHAP": KernelSHAP}[method](model, queries=budget, baseline=0.0, seed=seed)
        exp = explainer.explain(ones, batched=False)
    return {"values": exp.values.numpy().astype(float), "seconds": exp.seconds, "queries": blackbox.queries - before}


def token_aopc(blackbox: BlackBox, sentence: str, values: np.ndarray) -> dict[str, float]:
    """Deletion and insertion AOPC of one sentence (tokens dropped / put back, most important first)."""
    model = Presence(blackbox, sentence)
    out = {}
    for kind in ("deletion", "insertion"):
        present = fs.step_masks(values[None], kind)[0]
        raw = blackbox.model(model.compose(present))
        probs = raw.softmax(1)
        target = int(probs[0 if kind == "deletion" else -1].argmax())
        out[kind] = fs.aopc(probs[None, :, target].numpy(), kind)["score"]
    return out


def measure(method: str, blackbox: BlackBox, held: list[str], scored: list[str], budget: int) -> dict:
    """One row: settings chosen on held-out sentences, then every scored sentence with each seed."""
    candidates, held_scores = CANDIDATES[method], None
    if len(candidates) > 1:

        def held_out_score(options: dict) -> float:
            runs = [explain(method, options, blackbox=blackbox, sentence=s, budget=budget, seed=99) for s in held]
            return float(np.mean([token_aopc(blackbox, s, r["values"])["deletion"] for s, r in zip(held, runs)]))

        chosen, held_scores = fs.choose(candidates, held_out_score)
    else:
        chosen = candidates[0]
    per_sentence = []
    for sentence in scored:
        runs = [
            explain(method, chosen, blackbox=blackbox, sentence=sentence, budget=budget, seed=seed) for seed in SEEDS
        ]
        stability = float(fs.spearman(runs[0]["values"][None], runs[1]["values"][None])[0])
        aopc = token_aopc(blackbox, sentence, runs[0]["values"])
        per_sentence.append(
            {**aopc, "stability": stability, "seconds": runs[0]["seconds"], "queries": runs[0]["queries"]}
        )
    row = {"method": method, "budget": None if method == "Occlusion" else budget, "settings": chosen}
    row["held_out"] = held_scores
    for field in ("deletion", "insertion", "stability", "seconds", "queries"):
        values = [p[field] for p in per_sentence]
        row[field], row[f"{field}_per_sentence"] = fs.mean_and_se(values), values
    return row


def run(settings: Settings) -> list[dict]:
    """Every (method, budget) row, written as it comes; occlusion once; ``resume`` measures only the missing."""
    unknown = sorted(set(settings.methods) - set(CANDIDATES))
    if unknown:
        raise BenchmarkError(f"unknown methods {unknown}: choose from {list(CANDIDATES)}")
    if any(b < 2 or b % 2 for b in settings.budgets):
        raise BenchmarkError(f"budgets must be even numbers of queries, not {settings.budgets}")
    folder = RunFolder(
        settings.out or default_folder(settings, "imdb"), settings, render=markdown, resume=settings.resume
    )
    folder.rows.extend((folder.earlier or {}).get("rows", []))
    done = {(r["method"], r["budget"]) for r in folder.rows}
    held, scored = load_sentences(settings)
    folder.results["sentences"] = {"held_out": held, "scored": scored}
    blackbox = classifier()
    for budget in settings.budgets:
        for method in settings.methods:
            wanted = (method, None if method == "Occlusion" else budget)
            if wanted in done:
                continue
            done.add(wanted)
            folder.rows.append(measure(method, blackbox, held=held, scored=scored, budget=budget))
            r = folder.rows[-1]
            print(f"{method:18} {r['budget']}: deletion {r['deletion'][0]:.3f} stability {r['stability'][0]:.3f}")
            folder.save(status=f"running: {len(folder.rows)} rows")
    folder.finish()
    return folder.rows


def paired(a: dict, b: dict, field: str) -> str:
    diff = np.asarray(a[f"{field}_per_sentence"]) - np.asarray(b[f"{field}_per_sentence"])
    mean, se = fs.mean_and_se(diff)
    return f"{mean:+.4f} ± {se:.4f} ({int((diff > 0).sum())}/{len(diff)})"


def markdown(results: dict) -> list[str]:
    """The table of every row, then the GEEX estimators against the others sentence by sentence."""
    s, rows = results["settings"], results["rows"]
    lines = [
        f"{s['sentences']} scored sentences ({s['min_tokens']}-{s['max_tokens']} tokens), settings chosen on "
        f"{s['held_out']} held-out ones. Deletion / insertion: mean per-sentence normalised AOPC (probability of the "
        f"predicted class; tokens dropped). Stability: Spearman correlation of seeds {SEEDS[0]} and {SEEDS[1]}. "
        "Mean ± s.e. over sentences.",
        "",
    ]
    fmt = lambda pair: f"{pair[0]:.3f} ± {pair[1]:.3f}"  # noqa: E731
    order = lambda r: (r["budget"] or 0, list(CANDIDATES).index(r["method"]))  # noqa: E731
    body = [
        [
            r["method"],
            r["budget"] or "–",
            fmt(r["deletion"]),
            fmt(r["insertion"]),
            fmt(r["stability"]),
            f"{r['seconds'][0]:.3f}",
            f"{r['queries'][0]:.0f}",
            ", ".join(f"{k}={v}" for k, v in r["settings"].items()),
        ]
        for r in sorted(rows, key=order)
    ]
    lines += markdown_table(
        ["method", "budget", "deletion", "insertion", "stability", "s/sentence", "queries", "chosen"], body
    )
    out = []
    for budget in sorted({r["budget"] for r in rows if r["budget"]}):
        at = {r["method"]: r for r in rows if r["budget"] in (budget, None)}
        for ours in ("evoxplain default", "bGEEX", "bGEEX regression"):
            for other in ("LIME", "KernelSHAP", "Occlusion"):
                if ours in at and other in at:
                    out.append(
                        f"- {budget}: {ours} − {other}: deletion {paired(at[ours], at[other], 'deletion')}; "
                        f"stability {paired(at[ours], at[other], 'stability')}"
                    )
    title = "Sentence by sentence (mean ± s.e., sentences where the first is higher):"
    return lines + goal_lines(rows) + (["", title, ""] + out if out else [])


def goal_lines(rows: list[dict]) -> list[str]:
    """The issue's goals: the default's AOPC deletion and stability against LIME, KernelSHAP and occlusion
    at every budget, sentence by sentence (a difference within two standard errors is a tie)."""
    out = []
    for budget in sorted({r["budget"] for r in rows if r["budget"]}):
        at = {r["method"]: r for r in rows if r["budget"] in (budget, None) and "GEEX" not in r["method"]}
        ours = at.pop("evoxplain default", None)
        for field in ("deletion", "stability") if ours else ():
            for other in at.values():
                diff = np.asarray(ours[f"{field}_per_sentence"]) - np.asarray(other[f"{field}_per_sentence"])
                mean, se = fs.mean_and_se(diff)
                verdict = "higher" if mean > 2 * se else "lower" if mean < -2 * se else "tie"
                out.append(f"- {budget}: {field}, default − {other['method']}: {mean:+.4f} ± {se:.4f}: {verdict}")
    title = "Goals (evoxplain default − the other, sentence by sentence; a tie is within two s.e.):"
    return ["", title, ""] + out if out else []


def main(argv: list[str] | None = None) -> list[dict]:
    return main_of(Settings, run, argv)


if __name__ == "__main__":
    main()
