"""Every kind of report, and the notebook fragments, opened in a real browser (Debian's Chromium,
driven by Playwright): no console error, no network request, every image decoded, the expected
text in place; a screenshot of each is kept.

Screenshots go to a temporary folder the first test prints, or to ``$EVOXPLAIN_SCREENSHOTS``.
Playwright drives the system browser (``executable_path``); it never downloads one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from report_folders import (
    benchmark_file,
    dataset_folder,
    exemplar_folders,
    explanation_folder,
    row_folder,
)

from evoxplain import GEEX, BlackBox
from evoxplain.report.build import write_report
from evoxplain.report.page import page

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_HINT = "needs Chromium (apt-get install chromium) and Playwright for Python (pip install -e '.[test]')"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason=BROWSER_HINT)
    executable = chromium_path()
    if executable is None:
        pytest.skip(BROWSER_HINT)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("EVOXPLAIN_SCREENSHOTS") or tmp_path_factory.mktemp("report-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nreport screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("report-folders")


def open_page(browser, path: Path, shot: Path):
    """Open ``path``; fail on any console error, page error or request that leaves the file; check
    every image decodes; keep a full-page screenshot at ``shot``. Returns the page (open)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    errors, requests = [], []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("request", lambda request: requests.append(request.url))
    tab.goto(path.resolve().as_uri(), wait_until="load")
    images = tab.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.alt])")
    tab.screenshot(path=str(shot), full_page=True)
    outside = [url for url in requests if not url.startswith(("data:", "file:"))]
    assert not errors, errors
    assert not outside, outside
    assert [url for url in requests if url.startswith("file:")] == [path.resolve().as_uri()]  # the page alone
    assert all(complete and width > 0 for complete, width, _ in images), images
    return tab, images


def text_of(tab) -> str:
    return tab.inner_text("body")


def test_explanation_report(browser, root, shots):
    folder = explanation_folder(root)
    tab, images = open_page(browser, folder / "report.html", shots / "explanation.png")
    body = text_of(tab)
    assert len(images) == 1 and "Explained class" in body and "802 queries" in body
    assert "sampling noise" in body and "raises it: rows" in body and "evoxplain: 0.1.0" in body
    header = tab.inner_text("header.run")
    assert "model: tiny.pt" in header and "seed: 0" in header and "queries: 802" in header
    tab.emulate_media(media="print")  # printed, the metadata header repeats on every page
    assert tab.eval_on_selector("header.run", "e => getComputedStyle(e).position") == "fixed"
    assert tab.pdf().startswith(b"%PDF")


def test_row_report_draws_sorted_bars_with_the_features_values(browser, root, shots):
    folder = row_folder(root)
    write_report(folder, root / "row.html")
    tab, _ = open_page(browser, root / "row.html", shots / "tabular.png")
    rows = tab.eval_on_selector_all("table.bars tbody tr", "rows => rows.map(r => r.innerText.split('\\t'))")
    assert [row[0] for row in rows[:3]] == ["x5", "x4", "x3"]  # weights 5, 4, 3: the largest contributions first
    assert all(row[1] == "0.5" for row in rows)  # the feature's value beside its bar


def test_report_of_a_folder_that_lost_its_files_says_what_is_missing(browser, root, shots):
    folder = explanation_folder(root / "lost") if (root / "lost").mkdir() is None else None
    (folder / "d.evx").unlink()
    (folder / "d_heatmap.png").unlink()
    write_report(folder, root / "lost.html")
    tab, images = open_page(browser, root / "lost.html", shots / "explanation-missing-files.png")
    body = text_of(tab)
    assert not images and "Missing: the explanation file" in body and "d_heatmap.png is not in the folder" in body
    assert "Summary" in body and "explained class" in body  # the summary text still shown


def test_dataset_gallery_sorts_and_shows_failures_and_missing_pictures(browser, root, shots):
    folder = dataset_folder(root)
    write_report(folder, root / "dataset.html")
    tab, images = open_page(browser, root / "dataset.html", shots / "dataset.png")
    body = text_of(tab)
    assert "5 inputs, 1 failed" in body and "failed: ModelCallError" in body
    assert "heatmaps/img-1.png" in body or "img-1.png is not in the folder" in body  # said, and drawn over grey
    assert len(images) == 2 and "three (class 3)" in body and "top tokens: great" in body
    assert "great" in tab.inner_text(".card .tokens")  # the text row's tokens, highlighted
    tab.click("button[data-key=probability]")
    order = tab.eval_on_selector_all("#gallery .card", "cards => cards.map(c => c.dataset.id)")
    assert order[:3] == ["img-0", "txt-0", "tab-0"]  # 0.91, 0.77, 0.66
    tab.click("button[data-key=gap]")
    order = tab.eval_on_selector_all("#gallery .card", "cards => cards.map(c => c.dataset.id)")
    assert order[0] == "img-1"  # the largest completeness gap first
    tab.click("button[data-key=class]")
    order = tab.eval_on_selector_all("#gallery .card", "cards => cards.map(c => c.dataset.class)")
    assert order == sorted(order)


@pytest.mark.parametrize("kind", ["image", "table", "text"])
def test_exemplar_reports(browser, root, shots, kind):
    folders = exemplar_folders(root / kind) if (root / kind).mkdir() is None else None
    write_report(folders[kind], root / f"exemplars-{kind}.html")
    tab, images = open_page(browser, root / f"exemplars-{kind}.html", shots / f"exemplars-{kind}.png")
    body = text_of(tab)
    assert "Per class" in body and "Exemplars shown" in body and "queries in all" in body
    names = {"image": ("top", "bottom"), "table": ("low", "high"), "text": ("negative", "positive")}[kind]
    assert all(name in body for name in names)
    assert len(images) == (1 if kind == "image" else 0)
    if kind == "table":
        assert "age" in body and "score" in body
    if kind == "text":
        assert "a good film" in body and "a bad film" in body


def test_benchmark_report(browser, root, shots):
    write_report(benchmark_file(root), root / "benchmark.html")
    tab, images = open_page(browser, root / "benchmark.html", shots / "benchmark.png")
    body = text_of(tab)
    assert len(images) == 1 and "bGEEX" in body and "LIME" in body and "IG (white-box)" in body
    assert "0.910 ± 0.010" in body and "3.50" in body  # AOPC with its standard error; seconds per explanation
    assert "command: python benchmarks/aopc.py --dataset toy" in tab.inner_text("header.run")


def test_notebook_fragments(browser, root, shots):
    """What Jupyter shows for an image, a row and a text explanation and an exemplar search,
    checked in a page with the report's policy (no network) and nothing else."""
    from report_folders import Faces, brightness_model, tiny_cnn

    from evoxplain import ExemplarSearch

    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    picture = GEEX(BlackBox(tiny_cnn()), queries=200, distribution="bernoulli", mask_size=(7, 7), seed=0)
    row = GEEX(BlackBox(torch.nn.Linear(4, 2).eval()), queries=100, seed=0)

    def keywords(texts):
        return torch.tensor([[t.count("bad") - t.count("good"), t.count("good") - t.count("bad")] for t in texts]) * 3.0

    from report_folders import Rows

    from evoxplain.exemplars import image_exemplars, tabular_exemplars

    def rule(x):
        return torch.stack([-x[:, 2], x[:, 2]], 1) * 5

    fragments = [
        picture.explain(image)._repr_html_(),
        row.explain(torch.tensor([0.1, 0.2, 0.3, 0.4]))._repr_html_(),
        GEEX(keywords, queries=64, seed=0).explain("a good but long and bad film")._repr_html_(),
        ExemplarSearch(brightness_model, Faces(), latent_dim=4, seed=0).run(0)._repr_html_(),
        image_exemplars(brightness_model, Faces(), ["top", "bottom"], runs=2, per_class=1, seed=0)._repr_html_(),
        tabular_exemplars(rule, Rows(), ["low", "high"], runs=2, per_class=1, seed=0)._repr_html_(),
    ]
    (root / "notebook.html").write_text(page("notebook fragments", "".join(fragments), []))
    tab, images = open_page(browser, root / "notebook.html", shots / "notebook.png")
    body = text_of(tab)
    assert len(images) == 3 and body.count("Explained class") == 3 and "ES-momentum exemplar" in body
    assert "good" in tab.inner_text(".tokens") and "p(target)" in body
    assert body.count("Per class") == 2 and "hours" in body and "bottom" in body  # the exemplar containers


def test_report_of_a_committed_benchmark_run(browser, root, shots):
    """A real results file of the repository (AOPC curves on ImageNet), read by its keys."""
    run = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "aopc" / "imagenet-gpu" / "results.json"
    assert '"deletion_curve"' in run.read_text(encoding="utf-8"), "the ImageNet AOPC run keeps its curves"
    write_report(run, root / "committed.html")
    tab, images = open_page(browser, root / "committed.html", shots / "benchmark-committed.png")
    body = text_of(tab)
    assert len(images) == 1 and "LIME" in body and "seconds per explanation" in body
