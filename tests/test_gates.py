"""Tests of tutorial_lib.gates: the seed's LSTM and GRU by hand, against nn.LSTM / nn.GRU
(outputs and gradients on copied weights, several layers, both layouts), the seed's GRU
versus PyTorch's, parameter counts, the SequenceClassifier, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tutorial_lib import gates
from tutorial_lib.gates import (GRU, LSTM, GRUCell, LSTMCell, SequenceClassifier, copy_from_torch,
                                gru_param_count, lstm_param_count, rnn_param_count)

TIGHT = dict(rtol=1e-10, atol=1e-12)  # float64
B, T, D_X, D_H = 3, 7, 5, 6


def make_pair(kind: str, num_layers: int, batch_first: bool, seed: int = 0):
    """A random nn.LSTM / nn.GRU (float64) and ours with its weights copied across."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if kind == "lstm":
            theirs = nn.LSTM(D_X, D_H, num_layers, batch_first=batch_first, dtype=torch.float64)
            ours = LSTM(D_X, D_H, num_layers, batch_first=batch_first).double()
        else:
            theirs = nn.GRU(D_X, D_H, num_layers, batch_first=batch_first, dtype=torch.float64)
            ours = GRU(D_X, D_H, num_layers, batch_first=batch_first, reset="after").double()
        x = torch.randn(B, T, D_X, dtype=torch.float64)
    if not batch_first:
        x = x.transpose(0, 1).contiguous()
    return copy_from_torch(ours, theirs), theirs, x


def torch_grads_as_ours(kind: str, theirs: nn.Module, layer: int) -> dict[str, torch.Tensor]:
    """PyTorch's gradients mapped to the seed's parameters of one layer: W_g = [W_hg, W_ig]."""
    n = 4 if kind == "lstm" else 3
    gi = getattr(theirs, f"weight_ih_l{layer}").grad.chunk(n)
    gh = getattr(theirs, f"weight_hh_l{layer}").grad.chunk(n)
    bi = getattr(theirs, f"bias_ih_l{layer}").grad.chunk(n)
    bh = getattr(theirs, f"bias_hh_l{layer}").grad.chunk(n)
    if kind == "lstm":
        names, signs = ("i", "f", "C", "o"), (1, 1, 1, 1)
    else:
        names, signs = ("r", "z", ""), (1, -1, 1)
    out = {}
    for k, (g, s) in enumerate(zip(names, signs)):
        W, b = (f"W_{g}", f"b_{g}") if g else ("W", "b")
        out[W] = s * torch.cat([gh[k], gi[k]], dim=1)
        out[b] = s * bi[k]  # d/db_g of b_ig + b_hg: both PyTorch biases get the same gradient
        if not (kind == "gru" and g == ""):
            torch.testing.assert_close(bi[k], bh[k], **TIGHT)
    if kind == "gru":
        out["b_hn"] = bh[2]
    return out


# ---------------------------------------------------------------------- by hand
def test_lstm_step_by_hand():
    cell = LSTMCell(1, 1)
    with torch.no_grad():
        for g, (w_h, w_x, b) in {"f": (0.0, 0.0, 0.0), "i": (0.0, 0.0, 100.0),
                                 "C": (0.0, 1.0, 0.0), "o": (0.0, 0.0, 100.0)}.items():
            getattr(cell, f"W_{g}").copy_(torch.tensor([[w_h, w_x]]))
            getattr(cell, f"b_{g}").fill_(b)
    # f = σ(0) = 1/2, i = o = 1, C̃ = tanh(x): C_t = C_{t-1}/2 + tanh(x), h_t = tanh(C_t)
    x, C_prev = torch.tensor([[0.5]]), torch.tensor([[2.0]])
    s = cell.step(x, torch.zeros(1, 1), C_prev)
    C = 1.0 + torch.tanh(torch.tensor(0.5))
    torch.testing.assert_close(s["f"], torch.tensor([[0.5]]))
    torch.testing.assert_close(s["C"], C.reshape(1, 1))
    torch.testing.assert_close(s["h"], torch.tanh(C).reshape(1, 1))
    h, C2 = cell(x, (torch.zeros(1, 1), C_prev))
    assert torch.equal(h, s["h"]) and torch.equal(C2, s["C"])


def test_gru_step_by_hand_seed_form():
    cell = GRUCell(1, 1)  # reset="before", the seed's eq. 4.9
    with torch.no_grad():
        cell.W_z.copy_(torch.tensor([[0.0, 0.0]]))
        cell.b_z.fill_(0.0)  # z = 1/2
        cell.W_r.copy_(torch.tensor([[0.0, 0.0]]))
        cell.b_r.fill_(100.0)  # r = 1
        cell.W.copy_(torch.tensor([[2.0, 1.0]]))
        cell.b.fill_(0.0)
    h_prev, x = torch.tensor([[0.25]]), torch.tensor([[0.5]])
    h_tilde = torch.tanh(torch.tensor(2 * 0.25 + 0.5))
    expected = 0.5 * 0.25 + 0.5 * h_tilde  # (1 - z) h_{t-1} + z h̃_t
    torch.testing.assert_close(cell(x, h_prev), expected.reshape(1, 1))


def test_gru_reset_before_and_after_differ_and_before_is_the_seed():
    torch.manual_seed(0)
    seed_cell = GRUCell(D_X, D_H, reset="before").double()
    x, h = torch.randn(B, D_X, dtype=torch.float64), torch.randn(B, D_H, dtype=torch.float64)
    s = seed_cell.step(x, h)
    # the seed's candidate, written out: tanh(W [r ⊙ h, x] + b)
    expected = torch.tanh(torch.cat([s["r"] * h, x], 1) @ seed_cell.W.T + seed_cell.b)
    torch.testing.assert_close(s["h_tilde"], expected, **TIGHT)
    after = GRUCell(D_X, D_H, reset="after").double()
    with torch.no_grad():
        for name, p in seed_cell.named_parameters():
            getattr(after, name).copy_(p)
        after.b_hn.zero_()
    # same weights, b_hn = 0: the two forms differ as soon as r ≠ 1
    assert (after(x, h) - seed_cell(x, h)).abs().max() > 1e-3


# ---------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("batch_first", [False, True])
def test_matches_torch_outputs_and_gradients(kind, num_layers, batch_first):
    ours, theirs, x = make_pair(kind, num_layers, batch_first)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    g = torch.Generator().manual_seed(1)
    h0 = torch.randn(num_layers, B, D_H, generator=g, dtype=torch.float64)
    state0 = (h0, torch.randn(num_layers, B, D_H, generator=g, dtype=torch.float64)) if kind == "lstm" else h0
    out1, s1 = ours(x1, state0)
    out2, s2 = theirs(x2, state0)
    torch.testing.assert_close(out1, out2, **TIGHT)
    for a, b in zip(s1 if kind == "lstm" else (s1,), s2 if kind == "lstm" else (s2,)):
        torch.testing.assert_close(a, b, **TIGHT)
    w = torch.randn(out1.shape, generator=g, dtype=torch.float64)  # a random linear loss
    last = s1[1] if kind == "lstm" else s1
    ((out1 * w).sum() + last.sum()).backward()
    ((out2 * w).sum() + (s2[1] if kind == "lstm" else s2).sum()).backward()
    torch.testing.assert_close(x1.grad, x2.grad, **TIGHT)
    for layer, cell in enumerate(ours.cells):
        for name, grad in torch_grads_as_ours(kind, theirs, layer).items():
            torch.testing.assert_close(getattr(cell, name).grad, grad, **TIGHT, msg=f"layer {layer} {name}")


def test_gru_update_gate_is_one_minus_torch():
    ours, theirs, x = make_pair("gru", 1, True)
    s = ours(x, record=True)
    z_torch = torch.sigmoid(x[:, 0] @ theirs.weight_ih_l0.chunk(3)[1].T + theirs.bias_ih_l0.chunk(3)[1]
                            + theirs.bias_hh_l0.chunk(3)[1])  # first step, h_0 = 0
    torch.testing.assert_close(s["z"][:, 0], 1 - z_torch, **TIGHT)


def test_lstm_record_matches_forward():
    ours, _, x = make_pair("lstm", 2, True)
    out, (h_T, C_T) = ours(x)
    rec = ours(x, record=True)
    assert set(rec) == {"f", "i", "C_tilde", "C", "o", "h"}
    torch.testing.assert_close(rec["h"], out, **TIGHT)
    torch.testing.assert_close(rec["C"][:, -1], C_T[-1], **TIGHT)
    assert all(((rec[g] > 0) & (rec[g] < 1)).all() for g in "fio")


# ---------------------------------------------------------------------- §4.5 parameter counts
@pytest.mark.parametrize("n,h", [(1, 1), (16, 64), (7, 3)])
def test_param_counts_match_modules(n, h):
    assert rnn_param_count(n, h) == sum(p.numel() for p in gates.RNN(n, h).parameters())
    assert lstm_param_count(n, h) == sum(p.numel() for p in LSTM(n, h).parameters())
    assert gru_param_count(n, h) == sum(p.numel() for p in GRU(n, h).parameters())
    # PyTorch keeps two biases per gate: one more h per gate
    assert lstm_param_count(n, h, biases=2) == sum(p.numel() for p in nn.LSTM(n, h).parameters())
    assert gru_param_count(n, h, biases=2) == sum(p.numel() for p in nn.GRU(n, h).parameters())
    assert rnn_param_count(n, h, biases=2) == sum(p.numel() for p in nn.RNN(n, h).parameters())


def test_param_count_bad_input():
    with pytest.raises(ValueError, match="n must"):
        lstm_param_count(0, 4)
    with pytest.raises(ValueError, match="biases must"):
        gru_param_count(3, 4, biases=3)


# ---------------------------------------------------------------------- SequenceClassifier
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_classifier_fast_and_slow_agree(cell):
    torch.manual_seed(0)
    fast = SequenceClassifier(cell, 11, 4, hidden_size=8, embed_size=5)
    slow = SequenceClassifier(cell, 11, 4, hidden_size=8, embed_size=5, fast=False).load_state_from(fast)
    idx = torch.randint(0, 11, (3, 9))
    torch.testing.assert_close(slow(idx), fast(idx), rtol=1e-5, atol=1e-6)
    y = torch.tensor([0, 1, 3])
    norms = slow.hidden_grad_norms(idx, y)
    assert norms.shape == (9,) and np.all(norms > 0)
    # the last state's gradient is the head's: ∂L/∂h_T = W_headᵀ (softmax - onehot)
    p = torch.softmax(slow(idx), -1) - nn.functional.one_hot(y, 4)
    expected = (p @ slow.head.weight).norm(dim=1).mean().item()
    assert norms[-1] == pytest.approx(expected, rel=1e-5)


def test_forget_bias_sets_the_keep_gates():
    lstm = SequenceClassifier("lstm", 5, 2, hidden_size=4, forget_bias=2.5)
    f_bias = lstm.rnn.bias_ih_l0[4:8] + lstm.rnn.bias_hh_l0[4:8]
    torch.testing.assert_close(f_bias, torch.full((4,), 2.5))
    slow = SequenceClassifier("lstm", 5, 2, hidden_size=4, fast=False, forget_bias=2.5)
    torch.testing.assert_close(slow.rnn.cells[0].b_f.detach(), torch.full((4,), 2.5))
    gru = SequenceClassifier("gru", 5, 2, hidden_size=4, fast=False, forget_bias=2.5)
    torch.testing.assert_close(gru.rnn.cells[0].b_z.detach(), torch.full((4,), -2.5))  # seed z = 1 - keep


def test_classifier_trace_and_errors():
    m = SequenceClassifier("lstm", 7, 3, hidden_size=4, fast=False)
    tr = m.trace(torch.randint(0, 7, (2, 5)))
    assert tr["f"].shape == (2, 5, 4)
    with pytest.raises(ValueError, match="fast=False"):
        SequenceClassifier("lstm", 7, 3).trace(torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceClassifier("transformer", 7, 3)
    with pytest.raises(ValueError, match=r"ids in \[0, 7\)"):
        m(torch.full((1, 3), 7))
    with pytest.raises(TypeError, match="torch.long"):
        m(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="y must be"):
        m.hidden_grad_norms(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="hidden_size must be"):
        SequenceClassifier("gru", 7, 3, hidden_size=0)
    with pytest.raises(ValueError, match="other.cell must be"):
        m.load_state_from(SequenceClassifier("gru", 7, 3, hidden_size=4))
    with pytest.raises(ValueError, match="fast -> slow"):
        SequenceClassifier("lstm", 7, 3, hidden_size=4).load_state_from(m)


# ---------------------------------------------------------------------- bad input
def test_bad_shapes_are_named():
    cell = LSTMCell(D_X, D_H)
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, d_x\) = \(B, 5\)"):
        cell(torch.zeros(2, 4), (torch.zeros(2, D_H), torch.zeros(2, D_H)))
    with pytest.raises(ValueError, match="C_prev must have shape"):
        cell(torch.zeros(2, D_X), (torch.zeros(2, D_H), torch.zeros(3, D_H)))
    with pytest.raises(TypeError, match="state must be a pair"):
        cell(torch.zeros(2, D_X), torch.zeros(2, D_H))
    with pytest.raises(ValueError, match="h_prev must have shape"):
        GRUCell(D_X, D_H)(torch.zeros(2, D_X), torch.zeros(2, D_H + 1))
    with pytest.raises(ValueError, match="reset must be"):
        GRUCell(D_X, D_H, reset="middle")
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, d_x\)"):
        LSTM(D_X, D_H)(torch.zeros(4, 2, D_X + 1))
    with pytest.raises(ValueError, match=r"h0 must have shape \(num_layers, B, d_h\) = \(2, 3, 6\)"):
        GRU(D_X, D_H, num_layers=2)(torch.zeros(4, 3, D_X), torch.zeros(1, 3, D_H))
    with pytest.raises(ValueError, match="num_layers must be"):
        LSTM(D_X, D_H, num_layers=0)
    with pytest.raises(TypeError, match="floating-point"):
        LSTM(D_X, D_H)(torch.zeros(4, 2, D_X, dtype=torch.long))


def test_copy_from_torch_rejects_mismatches():
    with pytest.raises(TypeError, match=r"\(LSTM, nn.LSTM\) or \(GRU, nn.GRU\)"):
        copy_from_torch(LSTM(D_X, D_H), nn.GRU(D_X, D_H))
    with pytest.raises(ValueError, match="theirs.hidden_size must be 6"):
        copy_from_torch(LSTM(D_X, D_H), nn.LSTM(D_X, D_H + 1))
    with pytest.raises(ValueError, match="theirs.num_layers must be 2"):
        copy_from_torch(GRU(D_X, D_H, 2, reset="after"), nn.GRU(D_X, D_H))
    with pytest.raises(ValueError, match="theirs.bidirectional must be False"):
        copy_from_torch(LSTM(D_X, D_H), nn.LSTM(D_X, D_H, bidirectional=True))
    with pytest.raises(ValueError, match="reset must be 'after'"):
        copy_from_torch(GRU(D_X, D_H), nn.GRU(D_X, D_H))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_recurrent_lm_fused_and_ours_agree(cell):
    """RecurrentLM (chapter 7): built from the same seed, PyTorch's fused layer and our loop
    start from the same recurrent weights (ours are copied from PyTorch's); with the output
    layer copied too they give the same logits and gradients at every position."""
    from tutorial_lib.gates import RecurrentLM

    models, default = [], torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # built in float64: the bias sums of the copy are exact
    try:
        for fast in (True, False):
            torch.manual_seed(3)
            models.append(RecurrentLM(cell, vocab_size=11, hidden_size=8, embed_size=5, fast=fast))
    finally:
        torch.set_default_dtype(default)
    models[1].head.load_state_dict(models[0].head.state_dict())  # created after the layer: other draws
    torch.testing.assert_close(models[0].embedding.weight, models[1].embedding.weight)
    idx = torch.randint(0, 11, (4, 7), generator=torch.Generator().manual_seed(0))
    outs = [m(idx) for m in models]
    assert outs[0].shape == (4, 7, 11)
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-9, atol=1e-10)
    for m, out in zip(models, outs):
        out.square().sum().backward()
    for a, b in ((models[0].embedding.weight, models[1].embedding.weight), (models[0].head.weight, models[1].head.weight)):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="cell must be one of"):
        RecurrentLM("transformer", 11)
    with pytest.raises(ValueError, match="idx"):
        models[0](torch.full((2, 3), 11))
