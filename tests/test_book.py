"""The book builds with zero warnings, and its pages have what a reader needs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tutorial_lib import book

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).with_name("jupyter-book")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Build the whole book into a temporary folder, exactly as `make book` does."""
    if not JB.exists():
        pytest.fail(f"jupyter-book is not installed next to {sys.executable}")
    out = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [str(JB), "build", "--all", "-W", "-n", "--keep-going", "--path-output", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "WARNING" not in log, "\n".join(l for l in log.splitlines() if "WARNING" in l)[:4000]
    return out / "_build" / "html"


def chapter_pages(html: Path) -> list[Path]:
    return sorted((html / "notebooks").glob("*.html"))


def test_index_and_every_toc_page_built(built):
    assert (built / "index.html").is_file()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    for entry in files:
        assert (built / f"{entry}.html").is_file(), f"{entry}.html was not built"


def test_chapter_pages_have_math_figures_exercises_and_colab(built):
    url, branch = book.repository(ROOT)
    pages = chapter_pages(built)
    assert pages
    for page in pages:
        html = page.read_text()
        assert 'class="math' in html, f"{page.name}: no math"
        assert len(re.findall(r"<img [^>]*src=\"[^\"]+\.png\"", html)) >= 2, f"{page.name}: figures"
        assert "exercise" in html and "solution" in html, f"{page.name}: exercises"
        assert "dropdown" in html, f"{page.name}: solutions are not folded away"
        repo = url.removeprefix("https://github.com/")
        colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{page.stem}.ipynb"
        assert colab in html, f"{page.name}: no Colab link of the form {colab}"


def test_bibliography_lists_the_cited_works(built):
    html = (built / "book" / "bibliography.html").read_text()
    for name in ("Vaswani", "Bahdanau", "Hochreiter", "Rafailov"):
        assert name in html
