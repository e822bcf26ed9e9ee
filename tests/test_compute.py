"""FLOP counts of (7.4) against PyTorch's own FLOP counter (chapter 7)."""

import pytest
import torch

from tutorial_lib import compute, gates, rnn
from tutorial_lib.transformer import GPT, TransformerConfig

V, T = 20, 12


def _batch(B=3):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, V, (B, T), generator=g), torch.randint(0, V, (B, T), generator=g)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_recurrent_count_matches_the_flop_counter(cell):
    torch.manual_seed(0)
    model = gates.RecurrentLM(cell, V, hidden_size=32, embed_size=8, fast=False)  # our loops: visible
    counted = compute.counted_flops_per_token(model, *_batch())
    # (7.4) counts a gradient for h_0 too, which is a constant: one product fewer per window
    assert counted == pytest.approx(compute.training_flops_per_token(model, T), rel=1.5 / T)


def test_char_rnn_count_matches_the_flop_counter():
    torch.manual_seed(0)
    model = rnn.CharRNN(V, hidden_size=32, embed_size=8, fast=False)
    counted = compute.counted_flops_per_token(model, *_batch())
    assert counted == pytest.approx(compute.training_flops_per_token(model, T), rel=1.5 / T)


def test_gpt_count_matches_the_flop_counter_attention_included():
    torch.manual_seed(0)
    config = TransformerConfig(V, block_size=16, n_layer=2, n_head=2, n_embd=16, fast=False)  # our (6.1)
    model = GPT(config)
    counted = compute.counted_flops_per_token(model, *_batch())
    predicted = compute.training_flops_per_token(model, T)
    assert counted == pytest.approx(predicted, rel=0.01)
    attention = 12 * 2 * T * 16
    assert abs(counted - (predicted - attention)) > 0.05 * counted  # the attention term matters here


def test_matmul_weights_counts_the_tied_output_layer_once():
    model = GPT(TransformerConfig(V, block_size=16, n_layer=1, n_head=2, n_embd=16))
    per_layer = 4 * 16 * 16 + 2 * 16 * 64  # q, k, v, out projections; the FFN's two matrices
    assert compute.matmul_weights(model) == per_layer + V * 16  # + the logits' wteᵀ, not wpe


def test_gradients_are_cleared_after_counting():
    model = gates.RecurrentLM("gru", V, hidden_size=8, embed_size=4)
    compute.counted_flops_per_token(model, *_batch())
    assert all(p.grad is None for p in model.parameters())


def test_steps_for_budget():
    assert compute.steps_for_budget(1e9, 1e3, 10, 100) == 1000
    assert compute.steps_for_budget(1.0, 1e3, 10, 100) == 1  # at least one step


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="model must be one of"):
        compute.training_flops_per_token(torch.nn.Linear(2, 2), 4)
    model = GPT(TransformerConfig(V, block_size=16, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(ValueError, match="context must be <= the GPT's block_size 16"):
        compute.training_flops_per_token(model, 17)
    with pytest.raises(ValueError, match="context must be a positive integer"):
        compute.training_flops_per_token(model, 0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        compute.steps_for_budget(1e9, 1e3, 0, 10)
    with pytest.raises(ValueError, match="flops and flops_per_token must be > 0"):
        compute.steps_for_budget(-1, 1e3, 1, 10)
