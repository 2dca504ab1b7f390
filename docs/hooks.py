"""MkDocs hook: the benchmarks' scripts index and results are part of the site, so the pages link
to the results files themselves instead of copying their numbers."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
SHOWN = {".md", ".png"}


def on_files(files: Files, config) -> Files:
    for path in sorted((ROOT / "benchmarks").rglob("*")):
        if path.is_file() and path.suffix in SHOWN:
            relative = path.relative_to(ROOT).as_posix()
            files.append(File(relative, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Links written for the repository (``../../benchmarks/...`` from ``docs/guides/``) point
    into the site, where ``benchmarks/`` sits beside the pages."""
    depth = page.file.src_uri.count("/")
    return markdown.replace("](" + "../" * (depth + 1) + "benchmarks/", "](" + "../" * depth + "benchmarks/")
