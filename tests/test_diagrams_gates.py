"""Chapter 4's diagram: one LSTM step (4.1)-(4.6) beside one GRU step (4.7)-(4.10)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from tutorial_lib.diagrams.gates import SYMBOLS, gru_cell, lstm_cell, lstm_gru_cells

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_lstm_gru.ipynb"


def _texts(fig: Figure) -> list[str]:
    texts = [t.get_text() for t in fig.findobj(Text)]
    plt.close(fig)
    return texts


def test_labels_are_the_chapters_symbols():
    fig = lstm_gru_cells()
    assert isinstance(fig, Figure)
    texts = "\n".join(_texts(fig))
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for symbol in SYMBOLS["lstm_gru_cells"]:
        assert symbol in texts, f"{symbol!r} is not in the figure"
        assert symbol in prose, f"{symbol!r} is not in chapter 4's markdown"


def test_both_panels_label_every_equation():
    texts = _texts(lstm_gru_cells())
    assert "LSTM" in texts and "GRU" in texts
    for n in range(1, 11):
        assert f"(4.{n})" in texts, f"(4.{n}) is not in the figure"
    # 3 LSTM gates + 2 GRU gates; the LSTM's candidate, tanh(C_t) and the GRU's candidate
    assert texts.count(r"$\sigma$") >= 5 and texts.count(r"$\tanh$") >= 3
    assert any("(4.11)" in t for t in texts)
    assert not any("(4.11)" in t for t in _texts(lstm_gru_cells(highlight=False)))


def test_gru_uses_the_chapters_update_gate():
    texts = _texts(gru_cell())
    # h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t: the 1 - z_t multiplies the old state, not PyTorch's z
    assert r"$1 - \mathbf{z}_t$" in texts and r"$1 -$" in texts
    assert r"$\mathbf{C}_t$" not in texts and r"$\mathbf{C}_t$" in _texts(lstm_cell())


@pytest.mark.parametrize("draw", [lstm_gru_cells, lstm_cell, gru_cell])
@pytest.mark.parametrize("bad", [1, "yes", None])
def test_bad_input_is_named(draw, bad):
    with pytest.raises(ValueError, match="highlight must be True or False"):
        draw(highlight=bad)
    plt.close("all")
