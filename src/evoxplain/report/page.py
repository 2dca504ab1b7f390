"""The HTML page of a report: one self-contained file, pictures inline, no network, printable.

Every picture is a ``data:`` URI and the page's Content-Security-Policy forbids loading anything
else, so a report opens offline and never reaches the network. The run's metadata (model,
settings, seed, queries, time, library version) sits in a header that is repeated on every
printed page.

Example:
    >>> html_page = page("Results", "<p>hello</p>", [("model", "lenet-mnist"), ("queries", 2002)])
    >>> html_page.startswith("<!doctype html>"), "lenet-mnist" in html_page
    (True, True)
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from typing import Any

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
"""Nothing but the page itself and its inline pictures may load."""

STYLE = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1c1c1c; }
body { margin: 0 auto; max-width: 1100px; padding: 0 1.2em 2em; line-height: 1.45; }
header.run { border-bottom: 1px solid #bbb; padding: .5em 0; font-size: .82em; color: #333; background: #fff; }
header.run span { margin-right: 1.1em; overflow-wrap: anywhere; }
header.run b { font-weight: 600; }
h1 { font-size: 1.45em; margin: .6em 0 .3em; }
h2 { font-size: 1.15em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: .9em; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85em; background: #f6f6f6; padding: .6em; }
.evx { font-family: system-ui, sans-serif; }
.evx .lead { font-size: 1.02em; margin: .3em 0; }
.evx .note, .missing { color: #7a4b00; background: #fff6e0; border-left: 3px solid #e0a000; padding: .3em .6em; }
.evx .muted { color: #888; }
.evx .bar { display: inline-block; height: .9em; vertical-align: middle; }
.evx .pos { background: #d62728; } .evx .neg { background: #1f77b4; }
.evx .insig { opacity: .35; }
.evx .tokens { line-height: 2; font-size: 1.02em; }
.evx .tokens span { padding: .1em .15em; border-radius: 3px; }
.gallery { display: flex; flex-wrap: wrap; gap: .8em; }
.card { border: 1px solid #ddd; border-radius: 4px; padding: .4em; width: 250px; break-inside: avoid; }
.card img { width: 100%; }
.card .caption { font-size: .82em; }
.card.failed { background: #fff0f0; }
.sorter button { margin-right: .4em; }
@media print {
  header.run { position: fixed; top: 0; left: 0; right: 0; padding: .2em 1em; }
  body { margin-top: 4.5em; max-width: none; }
  .sorter { display: none; }
  .card, figure, table { break-inside: avoid; }
}
"""

SORT_SCRIPT = """
document.querySelectorAll('.sorter button').forEach(function (button) {
  button.addEventListener('click', function () {
    var gallery = document.getElementById(button.dataset.gallery);
    var key = button.dataset.key, descending = button.dataset.order === 'desc';
    var cards = Array.prototype.slice.call(gallery.children);
    cards.sort(function (a, b) {
      var x = a.dataset[key], y = b.dataset[key];
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
      return descending ? -order : order;
    });
    cards.forEach(function (card) { gallery.appendChild(card); });
  });
});
"""


def escape(value: Any) -> str:
    """``value`` as text safe inside HTML (and inside attribute quotes)."""
    return html.escape(str(value), quote=True)


def png_uri(data: bytes) -> str:
    """PNG bytes as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_uri(fig: Any, dpi: int = 90) -> str:
    """A matplotlib figure (or a PIL image) as an inline PNG ``data:`` URI."""
    buffer = io.BytesIO()
    if hasattr(fig, "savefig"):
        fig.savefig(buffer, format="png", dpi=dpi)
    else:
        fig.save(buffer, format="PNG")
    return png_uri(buffer.getvalue())


def image_tag(uri: str, alt: str, width: int | None = None) -> str:
    """An ``<img>`` of an inline picture, with its alternative text; ``width`` enlarges it (pixels
    kept sharp)."""
    size = f' width="{width}" style="image-rendering: pixelated"' if width else ""
    return f'<img src="{uri}" alt="{escape(alt)}"{size}>'


def png_width(uri: str) -> int:
    """The width in pixels of an inline PNG (from its header), 0 if it is not one."""
    data = base64.b64decode(uri.split(",", 1)[1][:64]) if uri.startswith("data:image/png;base64,") else b""
    return int.from_bytes(data[16:20], "big") if data[12:16] == b"IHDR" else 0


def missing(what: str) -> str:
    """A visible note that something the report should show is missing, and why."""
    return f'<p class="missing">Missing: {escape(what)}</p>'


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped, columns in ``numeric`` right-aligned."""

    def cells(values: Sequence[Any], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=num' if i in numeric else ''}>{escape(v)}</{tag}>" for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>"


def metadata_header(items: Sequence[tuple[str, Any]]) -> str:
    """The run's metadata as the page's header (repeated on every printed page)."""
    spans = "".join(f"<span><b>{escape(key)}:</b> {escape(value)}</span>" for key, value in items if value != "")
    return f'<header class="run">{spans}</header>'


def page(title: str, body: str, metadata: Sequence[tuple[str, Any]], script: bool = False) -> str:
    """A whole report page: the metadata header, the title and ``body`` (HTML)."""
    code = f"<script>{SORT_SCRIPT}</script>" if script else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>"
        f"{metadata_header(metadata)}<main><h1>{escape(title)}</h1>{body}</main>{code}</body></html>\n"
    )


__all__ = ["escape", "figure_uri", "image_tag", "metadata_header", "missing", "page", "png_uri", "png_width", "table"]
