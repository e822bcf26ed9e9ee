"""The book's diagrams: every architecture and pipeline the source notes draw (chapters 2-10).

Each function draws one diagram in the book's style (see :mod:`tutorial_lib.diagrams.canvas`)
and returns its matplotlib figure, labelled with the symbols of the equation it sits next to.
The chapter's cell that calls it carries the figure's alt text in its metadata.

- ``rnn``          the unrolled RNN and truncated BPTT                     (chapter 2)
- ``gates``        the LSTM cell and the GRU cell, side by side            (chapter 4)
- ``seq2seq``      the encoder-decoder bottleneck, additive attention      (chapter 5)
- ``transformer``  attention, heads, layers, the transformer, its variants  (chapter 6)
- ``training``     the stages of training, foundation models, RLHF vs DPO  (chapters 7, 10)
- ``finetune``     five ways to fine-tune, the SFT loss mask               (chapter 9)
"""

from tutorial_lib.diagrams import finetune as _finetune
from tutorial_lib.diagrams import gates as _gates
from tutorial_lib.diagrams import rnn as _rnn
from tutorial_lib.diagrams import seq2seq as _seq2seq
from tutorial_lib.diagrams import training as _training
from tutorial_lib.diagrams import transformer as _transformer
from tutorial_lib.diagrams.canvas import Canvas
from tutorial_lib.diagrams.finetune import finetuning_methods, sft_loss_mask
from tutorial_lib.diagrams.gates import lstm_gru_cells
from tutorial_lib.diagrams.rnn import truncated_bptt, unrolled_rnn
from tutorial_lib.diagrams.seq2seq import additive_attention, encoder_decoder
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
    "lstm_gru_cells": 4,
    "encoder_decoder": 5,
    "additive_attention": 5,
    "scaled_dot_product_attention": 6,
    "multi_head_split": 6,
    "pre_post_norm": 6,
    "encoder_decoder_layers": 6,
    "three_variants": 6,
    "transformer_model": 6,
    "training_stages": 7,
    "foundation_model": 7,
    "finetuning_methods": 9,
    "sft_loss_mask": 9,
    "rlhf_vs_dpo": 10,
}

# name -> the symbols it shares with its chapter's equations, written the same in both
SYMBOLS: dict[str, list[str]] = {
    **_rnn.SYMBOLS, **_gates.SYMBOLS, **_seq2seq.SYMBOLS, **_transformer.SYMBOLS,
    **_training.SYMBOLS, **_finetune.SYMBOLS,
}

__all__ = ["CHAPTERS", "SYMBOLS", "Canvas", *CHAPTERS]
