"""Chapter 6's diagrams: each draws, carries the symbols it shares with the chapter, and rejects
bad arguments with a ValueError that names the argument."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from tutorial_lib.diagrams import transformer as d

CALLS = {  # each diagram with its default arguments and the other ones it draws
    "scaled_dot_product_attention": [{}, {"mask": False}],
    "multi_head_split": [{}, {"heads": 2}, {"heads": 8}],
    "pre_post_norm": [{}, {"show": ("pre",)}],
    "encoder_decoder_layers": [{}, {"norm_first": True}],
    "transformer_model": [{}, {"norm_first": False}],
    "three_variants": [{}, {"T": 3}, {"T": 8}],
}

BAD = [
    ("scaled_dot_product_attention", {"mask": 1}, "mask"),
    ("multi_head_split", {"heads": 1}, "heads"),
    ("multi_head_split", {"heads": 4.0}, "heads"),
    ("pre_post_norm", {"show": ("post", "post")}, "show"),
    ("pre_post_norm", {"show": ["pre"]}, "show"),
    ("pre_post_norm", {"show": ("sandwich",)}, "show"),
    ("encoder_decoder_layers", {"norm_first": "yes"}, "norm_first"),
    ("transformer_model", {"norm_first": None}, "norm_first"),
    ("three_variants", {"T": 9}, "T"),
    ("three_variants", {"T": True}, "T"),
]


def _texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def test_every_diagram_lists_its_symbols():
    assert set(d.SYMBOLS) == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_draws_a_figure_with_its_symbols(name):
    """With the default arguments (what the chapter draws), every symbol of SYMBOLS is in the
    figure; the other arguments draw too."""
    for kwargs in CALLS[name]:
        fig = getattr(d, name)(**kwargs)
        try:
            assert isinstance(fig, Figure)
            texts = _texts(fig)
            for symbol in d.SYMBOLS[name] if not kwargs else []:
                assert symbol in texts, f"{name}(): {symbol!r} is not in the figure"
        finally:
            plt.close(fig)


@pytest.mark.parametrize(("name", "kwargs", "argument"), BAD)
def test_bad_arguments_name_the_argument(name, kwargs, argument):
    with pytest.raises(ValueError, match=rf"^{argument} "):
        getattr(d, name)(**kwargs)


def test_the_mask_is_optional_and_the_heads_are_counted():
    with_mask, without = d.scaled_dot_product_attention(), d.scaled_dot_product_attention(mask=False)
    try:
        assert "mask" in _texts(with_mask) and "mask" not in _texts(without)
    finally:
        plt.close(with_mask)
        plt.close(without)
    fig = d.multi_head_split(heads=6)
    try:
        assert "(6.1) on all 6 heads at once" in _texts(fig)
    finally:
        plt.close(fig)


def test_layers_follow_norm_first():
    """Post-norm puts the LN after the sum, pre-norm before the sub-layer: in the decoder layer
    the first LN sits above the first sub-layer box in post-norm and below it in pre-norm."""
    for norm_first in (False, True):
        fig = d.encoder_decoder_layers(norm_first=norm_first)
        try:
            ax = fig.axes[0]
            ys = {t.get_text(): t.get_position()[1] for t in ax.texts}
            lns = sorted(t.get_position()[1] for t in ax.texts if t.get_text() == d.LN)
            assert len(lns) == 5  # two sub-layers in the encoder, three in the decoder
            below = min(lns) < ys["self-attention (6.2)"]
            assert below == norm_first
            assert f"norm_first={norm_first}" in fig.get_suptitle()
        finally:
            plt.close(fig)


def test_transformer_memory_flows_up_into_the_cross_attention():
    for norm_first in (False, True):
        fig = d.transformer_model(norm_first=norm_first)
        try:
            texts = fig.axes[0].texts
            assert sum(t.get_text() == d.LN for t in texts) == 5 + 2 * norm_first  # + a final LN per stack
            cross = next(t.get_position()[1] for t in texts if t.get_text() == "cross-attention")
            encoder = [t.get_position()[1] for t in texts if abs(t.get_position()[0] - 2.4) < 0.01]
            assert len(encoder) >= 6 and max(encoder) < cross  # the encoder's output goes up, never down
        finally:
            plt.close(fig)
