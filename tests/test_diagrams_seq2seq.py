"""Chapter 5's diagrams: the encoder-decoder bottleneck and additive attention (5.1)-(5.5)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from tutorial_lib.diagrams.seq2seq import SYMBOLS, additive_attention, encoder_decoder

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_attention.ipynb"
DRAW = {"encoder_decoder": encoder_decoder, "additive_attention": additive_attention}


def _texts(fig: Figure) -> list[str]:
    texts = [t.get_text() for t in fig.findobj(Text)]
    plt.close(fig)
    return texts


@pytest.mark.parametrize("name", sorted(DRAW))
def test_labels_are_the_chapters_symbols(name):
    fig = DRAW[name]()
    assert isinstance(fig, Figure)
    texts = "\n".join(_texts(fig))
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for symbol in SYMBOLS[name]:
        assert symbol in texts, f"{name}: {symbol!r} is not in the figure"
        assert symbol in prose, f"{name}: {symbol!r} is not in chapter 5's markdown"


@pytest.mark.parametrize("steps", [2, 4])
def test_encoder_decoder_draws_every_decoder_step(steps):
    texts = _texts(encoder_decoder(steps=steps))
    for i in range(1, steps + 1):
        assert rf"$\mathbf{{s}}_{i}$" in texts and f"$y_{i}$" in texts
    assert rf"$\mathbf{{s}}_{steps + 1}$" not in texts
    assert "<bos>" in texts and r"$\mathbf{s}_0$" in texts
    assert r"$\mathbf{c}$" in texts  # one vector, the same at every step


def test_additive_attention_scores_and_weights_every_position():
    texts = _texts(additive_attention())
    for j in ("1", "2", "S"):
        assert f"$e_{{i{j}}}$" in texts and rf"$\alpha_{{i{j}}}$" in texts and rf"$\mathbf{{h}}_{j}$" in texts
    for tag in ("(5.1)", "(5.2)", "(5.3)", "(5.4)"):
        assert tag in texts
    assert r"$(B, S, C_k)$" in texts
    assert r"$(B, S, C_k)$" not in _texts(additive_attention(shapes=False))


@pytest.mark.parametrize("call, match", [
    (lambda: encoder_decoder(steps=1), "steps must be an int in"),
    (lambda: encoder_decoder(steps=3.0), "steps must be an int in"),
    (lambda: additive_attention(shapes=None), "shapes must be True or False"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
    plt.close("all")
