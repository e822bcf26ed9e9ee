"""The book's diagrams: each is drawn in its chapter, next to the symbols of its equation, with alt text.

The per-module tests (test_diagrams_<module>.py) check each drawing; this file checks the book
around them: every registered diagram is called in exactly one code cell of its chapter, that
cell carries alt text for myst-nb, and the symbols the diagram shares with the chapter's
equations are written the same way in the figure and in the chapter's prose.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from tutorial_lib import diagrams
from tutorial_lib.diagrams.canvas import Canvas

ROOT = Path(__file__).resolve().parents[1]
CALL = re.compile(r"\bdiagrams\.(\w+)\(")


def _notebook(chapter: int) -> dict:
    (path,) = (ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb")
    return json.loads(path.read_text(encoding="utf-8"))


def _calls(nb: dict) -> list[tuple[str, dict]]:
    """(diagram name, cell) for every call of a diagram in the notebook's code cells."""
    return [(name, cell) for cell in nb["cells"] if cell["cell_type"] == "code"
            for name in CALL.findall("".join(cell["source"]))]


def _texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def test_every_diagram_is_registered_with_its_symbols():
    assert set(diagrams.SYMBOLS) == set(diagrams.CHAPTERS)
    for name in diagrams.CHAPTERS:
        assert callable(getattr(diagrams, name)), name


@pytest.mark.parametrize("name", sorted(diagrams.CHAPTERS))
def test_drawn_once_in_its_chapter_with_alt_text(name):
    nb = _notebook(diagrams.CHAPTERS[name])
    cells = [cell for called, cell in _calls(nb) if called == name]
    assert len(cells) == 1, f"{name} is drawn {len(cells)} times in chapter {diagrams.CHAPTERS[name]}"
    alt = cells[0]["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
    assert len(alt.split()) >= 15, f"{name}: the cell's metadata mystnb.image.alt is missing or short: {alt!r}"


@pytest.mark.parametrize("name", sorted(diagrams.CHAPTERS))
def test_symbols_match_the_chapter(name):
    fig = getattr(diagrams, name)()
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    plt.close(fig)
    prose = "\n".join("".join(c["source"]) for c in _notebook(diagrams.CHAPTERS[name])["cells"]
                      if c["cell_type"] == "markdown")
    assert diagrams.SYMBOLS[name], f"{name} lists no symbols"
    for symbol in diagrams.SYMBOLS[name]:
        assert symbol in texts, f"{name}: {symbol!r} is not in the figure"
        assert symbol in prose, f"{name}: {symbol!r} is not in chapter {diagrams.CHAPTERS[name]}'s prose"


def test_no_chapter_draws_an_unregistered_diagram():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        chapter = int(path.name[:2])
        for name, _ in _calls(nb):
            assert diagrams.CHAPTERS.get(name) == chapter, f"{path.name} draws {name}, registered for " \
                                                           f"chapter {diagrams.CHAPTERS.get(name)}"


def test_unrolled_rnn_draws_every_step_with_its_loss():
    fig = diagrams.unrolled_rnn(steps=3)
    texts = [t.get_text() for t in fig.findobj(Text)]
    plt.close(fig)
    for t in (1, 2, 3):
        for symbol in (rf"$\mathbf{{x}}_{t}$", rf"$\mathbf{{h}}_{t}$", rf"$\mathbf{{o}}_{t}$", f"$L_{t}$"):
            assert symbol in texts
    assert texts.count(r"$\mathbf{W}$") == 3 and texts.count(r"$\mathbf{U}$") == 3
    # the caption adds the loss at step t-1 to the gradient coming back from step t
    assert any(r"+ \partial L_{t-1}/\partial \mathbf{h}_{t-1}" in t for t in texts)


def test_truncated_bptt_draws_each_window_in_both_rows():
    fig = diagrams.truncated_bptt(windows=3, steps=3)
    texts = [t.get_text() for t in fig.findobj(Text)]
    plt.close(fig)
    assert texts.count("window 3") == 2 and texts.count("detach()") == 2
    assert texts.count(r"$\mathbf{0}$") == 3 + 1  # every window of the reset row, the first carried one


@pytest.mark.parametrize("call, match", [
    (lambda: diagrams.unrolled_rnn(steps=0), "steps must be an int in"),
    (lambda: diagrams.unrolled_rnn(steps=2.0), "steps must be an int in"),
    (lambda: diagrams.truncated_bptt(windows=1), "windows must be an int in"),
    (lambda: Canvas(0, 3), "width must be a number of units"),
    (lambda: Canvas(4, "3"), "height must be a number of units"),
    (lambda: Canvas(4, 3).box(1, 1, kind="weights"), "kind must be one of"),
    (lambda: Canvas(4, 3).arrow((0, 0), (1, 1), kind="dotted"), "kind must be one of"),
    (lambda: Canvas(4, 3).arrow((0, 0), (1, 1), corner="x"), "corner must be"),
    (lambda: Canvas(4, 3).line([(0, 0)]), "points must hold at least 2"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
    plt.close("all")
