"""tutorial_lib.tools.course: the instructors' page is what the chapters' cards say, and stays so."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tutorial_lib.tools import course

ROOT = Path(__file__).resolve().parents[1]


def test_every_chapter_card_reads_and_needs_only_earlier_chapters():
    chapters = course.read_chapters(ROOT)
    assert [c.number for c in chapters] == list(range(1, len(chapters) + 1))
    for ch in chapters:
        assert len(ch.objectives) >= 3 and all(o.endswith((";", ".")) for o in ch.objectives), ch.number
        assert ch.number == 1 or ch.needs, f"chapter {ch.number} names no prerequisite chapter"
        assert all(n < ch.number for n in ch.needs)
        assert "s" in ch.run_time and len(ch.exercises) >= 2
        assert set(ch.checked) <= set(ch.exercises)
        assert list(ch.points) == [e.split(":")[0] for e in ch.exercises]
        assert all(1 <= p <= 5 and 5 <= m <= 60 for p, m in ch.points.values()), ch.points
    by_number = {c.number: c for c in chapters}
    assert by_number[4].needs == [2, 3] and by_number[10].needs == [7, 9]  # "Chapters 2 and 3", two "chapter N"s
    assert "10.1: the Bradley–Terry loss" in by_number[10].checked


def test_the_committed_instructors_page_is_up_to_date():
    expected = course.instructors_page(course.read_chapters(ROOT))
    assert (ROOT / course.PAGE).read_text(encoding="utf-8") == expected, \
        "book/instructors.md is stale: run `python -m tutorial_lib.tools.course`"
    assert (ROOT / course.GRAPH).is_file()


def test_the_page_and_graph_are_written(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    for p in sorted((ROOT / "notebooks").glob("*.ipynb"))[:3]:
        (tmp_path / "notebooks" / p.name).write_bytes(p.read_bytes())
    page, graph = course.write(tmp_path)
    assert graph.stat().st_size > 10_000 and graph.read_bytes()[:4] == b"\x89PNG"
    text = page.read_text()
    assert text.count("| {doc}`") == 3 and "chapter 3 needs 2" in text


def test_a_notebook_without_a_card_is_named(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 1. A title")])
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="01_x.ipynb: expected one chapter card, found 0"):
        course.read_chapter(path)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("no title")]), path)
    with pytest.raises(ValueError, match="the first cell must be the title"):
        course.read_chapter(path)


def test_a_card_that_misses_an_exercise_s_points_is_named(tmp_path):
    source = ROOT / "notebooks" / "01_language_models.ipynb"
    nb = nbformat.read(source, as_version=4)
    card = next(c for c in nb.cells if "Chapter card" in c.source)
    card.source = re.sub(r"1\.3: 1 point,\s+about 10 minutes;\s*", "", card.source)
    path = tmp_path / source.name
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match=r"gives points to \['1.1', '1.2', '1.4'\], but the chapter's "
                                         r"exercises are \['1.1', '1.2', '1.3', '1.4'\]"):
        course.read_chapter(path)
    card.source = card.source.split("**Exercises.**")[0] + "::::"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match=r"the chapter card has no \*\*Exercises.\*\* paragraph"):
        course.read_chapter(path)
