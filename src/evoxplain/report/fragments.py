"""HTML fragments of explanations, shared by ``evoxplain report`` and Jupyter (``_repr_html_``).

* image explanations: :func:`~evoxplain.viz.explanation_figure` inline, with the change the values
  share out and the regions that raise and lower the score;
* tabular rows: a sorted bar chart of the features' contributions, each with the feature's value;
* text: the tokens highlighted, red raising the score and blue lowering it, noise-level ones plain.

Every fragment is self-contained: inline styles, pictures as ``data:`` URIs, nothing to load.

Example:
    >>> from evoxplain import GEEX
    >>> exp = GEEX(model, queries=200, seed=0).explain(digit)
    >>> fragment = explanation_html(exp, classes=[str(i) for i in range(10)])
    >>> fragment.startswith('<div class="evx')
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..viz.maps import AttributionMap, explanation_figure
from .page import escape, figure_uri, image_tag, missing, table
from .words import change_line, class_label, noise_summary, percent, region_lines, short_label, total_line

MAX_INPUTS = 12
"""The most inputs of a batch a fragment draws (the rest are counted, not drawn)."""
MAX_FEATURES = 20
"""The most features a bar chart shows (the largest contributions)."""
RED, BLUE = "214,39,40", "31,119,180"


def explanation_html(
    exp: Any,
    *,
    classes: Any = None,
    feature_names: Sequence[str] | None = None,
    image: Any = None,
    title: str | None = None,
) -> str:
    """An :class:`~evoxplain.Explanation` as an HTML fragment: a picture (image), bars (row) or
    highlighted tokens (text), with what was explained, what it cost and what stands out of the noise.

    Args:
        exp: one explanation or a batch (the first :data:`MAX_INPUTS` inputs are drawn).
        classes: class names by index (a list or a dict), for the labels.
        feature_names: names of a row's features (default ``x0``, ``x1``, ...).
        image: the input image, where ``exp.input`` was not kept (else a neutral grey stands in).
        title: a heading over the fragment.
    """
    if exp.batched:
        parts = [
            explanation_html(exp[i], classes=classes, feature_names=feature_names, image=_pick(image, i))
            for i in range(min(len(exp), MAX_INPUTS))
        ]
        more = f"<p>{len(exp) - MAX_INPUTS} more inputs not drawn.</p>" if len(exp) > MAX_INPUTS else ""
        head = f"<h3>{escape(title)}</h3>" if title else ""
        return f'<div class="evx evx-batch">{head}{"".join(parts)}{more}</div>'
    label = class_label(classes, int(exp.target))
    lead = (
        f'<p class="lead" style="margin:.3em 0">Explained class: <b>{escape(label)}</b>. '
        f"{escape(change_line(exp, short_label(classes, int(exp.target))))}</p>"
    )
    cost = (
        f'<p style="margin:.3em 0">Method {escape(exp.method)}: {exp.queries} queries, {exp.seconds:.1f} s, '
        f"seed {escape(exp.params.get('seed', '–'))}. {escape(total_line(exp))}.</p>"
    )
    if exp.tokens is not None:
        body = tokens_html(exp)
    elif np.ndim(exp.values) >= 2:
        body = _image_body(exp, classes, image)
    else:
        body = feature_bars(exp, feature_names=feature_names, row=exp.input)
    head = f"<h3>{escape(title)}</h3>" if title else ""
    return f'<div class="evx evx-explanation" style="margin:.5em 0 1.2em">{head}{lead}{cost}{body}</div>'


def _pick(images: Any, index: int) -> Any:
    return None if images is None else images[index]


def _image_body(exp: Any, classes: Any, image: Any) -> str:
    picture = exp.input if exp.input is not None else image
    note = ""
    if picture is None:
        note = missing("the input image was not kept with this explanation: the map is drawn over grey")
        picture = np.full(tuple(np.shape(exp.values)[-2:]), 0.5)
    elif np.ndim(picture) == 3 and np.shape(picture)[0] not in (1, 3):
        picture = np.asarray(picture).mean(axis=0)
    picture = _unit_range(np.asarray(picture, dtype=np.float64))
    amap = AttributionMap.of(exp)
    fig = explanation_figure(picture, exp, label=short_label(classes, int(exp.target)))
    uri = figure_uri(fig)
    bounds = exp.params.get("design") == "orthogonal" and exp.params.get("estimator") != "regression"
    regions = "".join(f"<li>{escape(line)}</li>" for line in region_lines(amap))
    alt = f"explanation of {class_label(classes, int(exp.target))}"
    return (
        f'{note}<figure style="margin:.4em 0">{image_tag(uri, alt)}'
        f'</figure><p style="margin:.2em 0">{escape(noise_summary(amap, bounds))}.</p>'
        f'<p style="margin:.2em 0">Regions (rows and columns in pixels):</p><ul class="regions">{regions}</ul>'
    )


def _unit_range(picture: np.ndarray) -> np.ndarray:
    low, high = float(picture.min()), float(picture.max())
    if low < 0 or high > 1:  # an input on another scale: stretched to [0, 1] to show it
        return (picture - low) / max(high - low, 1e-12)
    return picture


def feature_bars(exp: Any, *, feature_names: Sequence[str] | None = None, row: Any = None) -> str:
    """A row's attributions as a bar chart sorted by size: each feature's name, value and share of
    the change (noise-level bars faded), the picture shap users expect."""
    amap = AttributionMap.of(exp)
    shares, significant = amap.shares, amap.significant
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(len(shares))]
    values = None if row is None else np.asarray(row, dtype=np.float64).reshape(-1)
    order = np.argsort(-np.abs(shares), kind="stable")[:MAX_FEATURES]
    top = float(np.abs(shares).max()) or 1.0
    unit = "share of the change" if amap.in_shares else "value"
    rows = []
    for i in order:
        share = float(shares[i])
        width = 100 * abs(share) / top
        colour = RED if share >= 0 else BLUE
        fade = "" if significant[i] else ";opacity:.35"
        bar = (
            f'<span class="bar" style="display:inline-block;height:.9em;width:{width:.1f}%;'
            f'background:rgb({colour}){fade}"></span>'
        )
        shown = _shown(share, amap.in_shares, signed=True)
        error = "" if amap.stderr is None else f" ± {_shown(2 * float(amap.stderr[i]) / amap.scale, amap.in_shares)}"
        feature_value = "" if values is None else f"{values[i]:.4g}"
        rows.append(
            f"<tr><td>{escape(names[i])}</td><td class=num>{escape(feature_value)}</td>"
            f'<td style="width:40%">{bar}</td><td class=num>{escape(shown)}{escape(error)}</td></tr>'
        )
    more = f"<p>{len(shares) - len(order)} smaller contributions not shown.</p>" if len(shares) > len(order) else ""
    legend = f"<p>{escape(noise_summary(amap, noun='features'))} (faded bars); ± two standard errors.</p>"
    head = f"<tr><th>feature</th><th class=num>value</th><th>contribution</th><th class=num>{escape(unit)}</th></tr>"
    return f'<table class="bars"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>{more}{legend}'


def _shown(value: float, in_shares: bool, signed: bool = False) -> str:
    """A share as a percentage (``signed``: with its sign), or a raw value."""
    sign = "+" if signed else ""
    return f"{value * 100:{sign}.1f}%" if in_shares else f"{value:{sign}.4g}"


def token_spans(tokens: Sequence[str], amap: AttributionMap) -> str:
    """Tokens as ``<span>``s shaded by their shares (red raises, blue lowers); noise-level ones plain."""
    shares, significant = amap.shares, amap.significant
    top = float(np.abs(shares[significant]).max()) if significant.any() else 1.0
    spans = []
    for token, share, clear in zip(tokens, shares, significant):
        colour = RED if share >= 0 else BLUE
        alpha = min(1.0, abs(float(share)) / top) * 0.85 if clear else 0.0
        tip = percent(float(share)) if amap.in_shares else f"{float(share):+.4g}"
        spans.append(
            f'<span style="background:rgba({colour},{alpha:.2f});padding:.1em .15em;border-radius:3px" '
            f'title="{escape(tip)}">{escape(token)}</span>'
        )
    return " ".join(spans)


def tokens_html(exp: Any) -> str:
    """The tokens of a text explanation, shaded red (raise the score) or blue (lower it) by their
    share of the change; tokens within two standard errors of zero stay plain."""
    amap = AttributionMap.of(exp)
    shares = amap.shares
    ranked = np.argsort(-shares, kind="stable")[:5]
    top_rows = [[exp.tokens[i], percent(float(shares[i])) if amap.in_shares else f"{shares[i]:+.4g}"] for i in ranked]
    return (
        f'<p class="tokens" style="line-height:2">{token_spans(exp.tokens, amap)}</p>'
        f"<p>{escape(noise_summary(amap, noun='tokens'))}.</p>"
        + table(["token", "share of the change" if amap.in_shares else "value"], top_rows, numeric=(1,))
    )


__all__ = ["explanation_html", "feature_bars", "token_spans", "tokens_html"]
