"""The book's diagrams: every architecture and pipeline the source notes draw (chapters 2-10).

Each function draws one diagram in the book's style (see :mod:`tutorial_lib.diagrams.canvas`)
and returns its matplotlib figure, labelled with the symbols of the equation it sits next to.
The chapter's cell that calls it carries the figure's alt text in its metadata.

- ``rnn``          the unrolled RNN and truncated BPTT                     (chapter 2)
- ``transformer``  attention, heads, layers, the transformer, its variants  (chapter 6)
- ``training``     the stages of training, foundation models, RLHF vs DPO  (chapters 7, 10)
"""

from tutorial_lib.diagrams import rnn as _rnn
from tutorial_lib.diagrams import training as _training
from tutorial_lib.diagrams import transformer as _transformer
from tutorial_lib.diagrams.canvas import Canvas
from tutorial_lib.diagrams.rnn import truncated_bptt, unrolled_rnn
from tutorial_lib.diagrams.training import foundation_model, rlhf_vs_dpo, training_stages
from tutorial_lib.diagrams.transformer import (
    encoder_decoder_layers,
    multi_head_split,
    pre_post_norm,
    scaled_dot_product_attention,
    three_variants,
    transformer_model,
)

# name -> the chapter that draws it; a test checks each is drawn there once, with alt text
CHAPTERS: dict[str, int] = {
    "unrolled_rnn": 2,
    "truncated_bptt": 2,
    "scaled_dot_product_attention": 6,
    "multi_head_split": 6,
    "pre_post_norm": 6,
    "encoder_decoder_layers": 6,
    "three_variants": 6,
    "transformer_model": 6,
    "training_stages": 7,
    "foundation_model": 7,
    "rlhf_vs_dpo": 10,
}

# name -> the symbols it shares with its chapter's equations, written the same in both
SYMBOLS: dict[str, list[str]] = {**_rnn.SYMBOLS, **_transformer.SYMBOLS, **_training.SYMBOLS}

__all__ = ["CHAPTERS", "SYMBOLS", "Canvas", *CHAPTERS]
