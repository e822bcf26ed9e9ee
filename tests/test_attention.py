"""tutorial_lib.attention: additive attention against a hand computation, dot-product attention
against F.scaled_dot_product_attention, masks, gradients, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tutorial_lib import attention

TIGHT = {"rtol": 1e-10, "atol": 1e-12}  # float64


def _additive_by_hand(W_a, U_a, v_a, s, h, mask):
    """(5.1)-(5.3) one sentence at a time, one key at a time, in numpy."""
    B, S, _ = h.shape
    contexts, weights = np.zeros((B, h.shape[2])), np.zeros((B, S))
    for b in range(B):
        e = np.array([v_a @ np.tanh(W_a @ s[b] + U_a @ h[b, j]) if mask[b, j] else -np.inf for j in range(S)])
        a = np.exp(e - e[np.isfinite(e)].max())
        a /= a.sum()
        weights[b] = a
        contexts[b] = sum(a[j] * h[b, j] for j in range(S))
    return contexts, weights


def test_additive_attention_matches_a_hand_computation():
    torch.manual_seed(0)
    attend = attention.AdditiveAttention(query_size=3, key_size=5, attention_size=4).double()
    s, h = torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 6, 5, dtype=torch.float64)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2, 1:] = False  # a one-word sentence: all the weight on it
    context, alpha = attend(s, h, mask)
    W_a, U_a = attend.W_a.weight.detach().numpy(), attend.U_a.weight.detach().numpy()
    c_ref, a_ref = _additive_by_hand(W_a, U_a, attend.v_a.detach().numpy(), s.numpy(), h.numpy(), mask.numpy())
    np.testing.assert_allclose(alpha.detach().numpy(), a_ref, **TIGHT)
    np.testing.assert_allclose(context.detach().numpy(), c_ref, **TIGHT)
    assert alpha[2, 0] == 1 and (alpha[~mask] == 0).all()


def test_additive_attention_gradients_are_right():
    torch.manual_seed(1)
    attend = attention.AdditiveAttention(4, 6, 5).double()
    s = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 5, 6, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]).bool()
    assert torch.autograd.gradcheck(lambda s, h: attend(s, h, mask), (s, h))
    # padding gets no gradient: the padded keys do not enter the output
    context, _ = attend(s, h, mask)
    context.sum().backward()
    assert (h.grad[1, 3:] == 0).all() and (h.grad[1, :3] != 0).any()


def test_padding_gives_the_weights_of_the_sentence_alone():
    torch.manual_seed(2)
    attend = attention.AdditiveAttention(4, 6)
    s, h = torch.randn(1, 4), torch.randn(1, 3, 6)
    padded = torch.cat([h, torch.randn(1, 4, 6)], dim=1)  # 4 junk positions
    mask = torch.tensor([[True] * 3 + [False] * 4])
    c_alone, a_alone = attend(s, h)
    c_pad, a_pad = attend(s, padded, mask)
    torch.testing.assert_close(c_pad, c_alone, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(a_pad[:, :3], a_alone, rtol=1e-6, atol=1e-7)
    # precomputed U_a h gives the same result as computing it inside
    c_pre, _ = attend(s, padded, mask, projected_keys=attend.project_keys(padded))
    torch.testing.assert_close(c_pre, c_pad)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_dot_product_attention_matches_pytorch(masked, scale):
    torch.manual_seed(3)
    q = torch.randn(2, 4, 8, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 6, 8, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 6, 5, dtype=torch.float64, requires_grad=True)
    mask = None
    if masked:
        mask = torch.ones(2, 4, 6, dtype=torch.bool).tril(diagonal=2)  # every row keeps >= 1
        mask[1, :, 5] = False
    ours, weights = attention.dot_product_attention(q, k, v, mask, scale=scale)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    torch.testing.assert_close(ours, theirs, **TIGHT)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, dtype=torch.float64), **TIGHT)
    g = torch.randn_like(ours)
    grads_ours = torch.autograd.grad(ours, (q, k, v), g)
    grads_theirs = torch.autograd.grad(theirs, (q, k, v), g)
    for a, b in zip(grads_ours, grads_theirs):
        torch.testing.assert_close(a, b, **TIGHT)


def test_masked_softmax_zero_where_masked_and_broadcasts():
    scores = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    w = attention.masked_softmax(scores, torch.tensor([True, True, False]))  # broadcast over rows
    assert (w[:, 2] == 0).all()
    torch.testing.assert_close(w[1], torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(w[0, :2], torch.softmax(torch.tensor([1.0, 2.0]), 0))


def test_word_in_context_shapes_and_uses_the_query_word():
    torch.manual_seed(4)
    model = attention.WordInContext(vocab_size=10, num_classes=3)
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    mask = ids != 0
    logits, alpha = model(ids, torch.tensor([3, 1]), mask)
    assert logits.shape == (2, 3) and alpha.shape == (2, 4)
    assert (alpha[1, 2:] == 0).all()
    torch.testing.assert_close(alpha.sum(1), torch.ones(2))
    # a different query word gives different weights over the same sentence
    assert not torch.allclose(model(ids, torch.tensor([0, 0]), mask)[1], alpha)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda a: a(torch.randn(2, 3), torch.randn(2, 5, 6)), r"query must have shape \(B, C_q\) with C_q = 4"),
        (lambda a: a(torch.randn(2, 4), torch.randn(2, 5, 7)), r"keys must have shape \(B, S, C_k\) with C_k = 6"),
        (lambda a: a(torch.randn(3, 4), torch.randn(2, 5, 6)), "must agree on B, S"),
        (lambda a: a(torch.randn(2, 4), torch.randn(2, 5, 6), torch.ones(2, 5)), "mask must be a torch.bool"),
        (lambda a: a(torch.randn(2, 4), torch.randn(2, 5, 6), torch.ones(2, 4, dtype=torch.bool)),
         r"mask must broadcast to \(B, S\)|mask must broadcast"),
        (lambda a: a(torch.randn(2, 4), torch.randn(2, 5, 6), torch.zeros(2, 5, dtype=torch.bool)),
         "at least one True"),
        (lambda a: a(torch.randint(0, 3, (2, 4)), torch.randn(2, 5, 6)), "floating-point"),
    ],
)
def test_additive_attention_rejects_bad_input(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call(attention.AdditiveAttention(4, 6))


def test_bad_sizes_and_dot_product_shapes_are_rejected():
    with pytest.raises(ValueError, match="attention_size must be a positive integer"):
        attention.AdditiveAttention(4, 6, 0)
    q, k, v = torch.randn(2, 3, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 4)
    with pytest.raises(ValueError, match=r"keys must have shape \(..., S, D\) = \(2, S, 8\)"):
        attention.dot_product_attention(q, torch.randn(2, 5, 7), v)
    with pytest.raises(ValueError, match=r"values must have shape \(..., S, D_v\)"):
        attention.dot_product_attention(q, k, torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match="scale must be a positive number"):
        attention.dot_product_attention(q, k, v, scale=-1.0)
    with pytest.raises(ValueError, match="position must be a torch.long tensor"):
        attention.WordInContext(10, 2)(torch.tensor([[1, 2]]), torch.tensor([2]))
    with pytest.raises(TypeError, match="scores must be"):
        attention.masked_softmax([1.0, 2.0])


def test_scaled_scores_have_unit_variance():
    # the reason for 1 / sqrt(D): q·k of random unit-variance vectors has variance D
    torch.manual_seed(5)
    D = 256
    q, k = torch.randn(1, 2000, D), torch.randn(1, 2000, D)
    raw = (q * k).sum(-1)
    assert math.isclose(raw.var().item(), D, rel_tol=0.15)
    assert math.isclose((raw / math.sqrt(D)).var().item(), 1.0, rel_tol=0.15)
