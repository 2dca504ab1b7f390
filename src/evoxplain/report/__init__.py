"""HTML reports of what evoxplain wrote: one explanation, a dataset run, exemplar searches, a benchmark.

``evoxplain report RESULTS -o report.html`` (or :func:`write_report`) reads an output folder by
its ``manifest.json`` (:mod:`evoxplain.runs`), or a benchmark's results JSON, and writes one
self-contained HTML file: pictures inline, no network access, printable, the run's metadata on
every page. The same fragments render explanations and exemplars in Jupyter (``_repr_html_``).
"""

from .fragments import explanation_html, feature_bars, tokens_html

__all__ = ["explanation_html", "feature_bars", "tokens_html"]
