"""The book builds with zero warnings, and its pages have what a reader needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tutorial_lib.tools import book

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(built_book) -> Path:
    """The whole book, built once per test session by conftest.built_book."""
    return built_book


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


def test_every_diagram_is_on_its_chapter_page_with_its_alt_text(built):
    """myst-nb writes the cell metadata's mystnb.image.alt onto the figure's <img>."""
    import html as html_lib
    import json

    from tutorial_lib import diagrams

    for name, chapter in diagrams.CHAPTERS.items():
        (path,) = (ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb")
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                 if c["cell_type"] == "code" and f"diagrams.{name}(" in "".join(c["source"])]
        alt = cells[0]["metadata"]["mystnb"]["image"]["alt"]
        page = (built / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        alts = [html_lib.unescape(a) for a in re.findall(r'<img [^>]*alt="([^"]*)"', page)]
        assert alt in alts, f"{path.stem}.html has no image with the alt text of {name}"


def test_every_chapter_numbers_its_equations_one_way(built):
    """Equations carry the chapter's own number, ``\\tag{N.k}``, written in the TeX; none carries
    Sphinx's running number as well (a ``:label:`` adds one: "(11.1) (6)")."""
    for page in chapter_pages(built):
        html = page.read_text()
        chapter = str(int(page.stem[:2]))
        assert 'class="eqno"' not in html, f"{page.name}: an equation shows Sphinx's running number too"
        tags = re.findall(r"\\tag\{([^}]*)\}", html)
        assert tags, f"{page.name}: no numbered equation"
        assert all(t.split(".")[0] == chapter for t in tags), f"{page.name}: tags {tags}"
        assert len(set(tags)) == len(tags), f"{page.name}: an equation number is used twice: {tags}"
