"""Tests of tutorial_lib.rnn: eq. 2.1 by hand, against PyTorch's nn.RNN (outputs and
gradients on copied weights), the CharRNN's fast and slow versions, and bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tutorial_lib.rnn import ACTIVATIONS, RNN, CharRNN, RNNCell, copy_from_torch, to_torch
from tutorial_lib.sampling import sample_next
from tutorial_lib.train import lm_loss

TIGHT = dict(rtol=1e-10, atol=1e-12)  # float64
LOOSE = dict(rtol=1e-5, atol=1e-6)  # float32
B, T, D_X, D_H = 3, 7, 5, 6


def fresh(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_pair(activation: str, batch_first: bool, dtype: torch.dtype, seed: int = 0) -> tuple[RNN, nn.RNN]:
    """A random nn.RNN and our RNN with its weights copied across."""
    with torch.random.fork_rng():  # don't disturb the global RNG of other tests
        torch.manual_seed(seed)
        theirs = nn.RNN(D_X, D_H, nonlinearity=activation, batch_first=batch_first, dtype=dtype)
        ours = RNN(D_X, D_H, activation=activation, batch_first=batch_first).to(dtype)
    return copy_from_torch(ours, theirs), theirs


# ---------------------------------------------------------------------- by hand
def test_hand_computed_identity_rnn_and_output_layer():
    rnn = RNN(1, 1, output_size=2, activation="identity", batch_first=True)
    with torch.no_grad():
        rnn.U.fill_(1.0)
        rnn.W.fill_(0.5)
        rnn.b_h.zero_()
        rnn.V.copy_(torch.tensor([[2.0], [-1.0]]))  # o_t = (2 h_t + 1, -h_t)
        rnn.b_o.copy_(torch.tensor([1.0, 0.0]))
    x = torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1)  # (B, T, d_x)
    hs, h_T = rnn(x)
    torch.testing.assert_close(hs, torch.tensor([1.0, 0.5, 0.25]).reshape(1, 3, 1), rtol=0, atol=0)
    torch.testing.assert_close(h_T, torch.tensor([[0.25]]), rtol=0, atol=0)
    o = rnn.output(hs)  # (1, 3, 2)
    torch.testing.assert_close(o, torch.tensor([[[3.0, -1.0], [2.0, -0.5], [1.5, -0.25]]]), rtol=0, atol=0)
    h0 = torch.tensor([[4.0]])  # h_1 = 0.5 * 4 + 1 = 3, then 1.5, 0.75
    torch.testing.assert_close(rnn(x, h0)[0].flatten(), torch.tensor([3.0, 1.5, 0.75]), rtol=0, atol=0)


def test_hand_computed_tanh_step():
    cell = RNNCell(2, 1, activation="tanh")
    with torch.no_grad():
        cell.U.copy_(torch.tensor([[1.0, -2.0]]))
        cell.W.fill_(3.0)
        cell.b_h.fill_(0.25)
    h = cell(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.1]]))  # tanh(0.3 + 0.5 - 1 + 0.25)
    torch.testing.assert_close(h, torch.tanh(torch.tensor([[0.05]])), rtol=1e-6, atol=1e-7)


def test_activations_by_name():
    z = torch.tensor([-2.0, 0.0, 3.0])
    assert set(ACTIVATIONS) == {"tanh", "relu", "sigmoid", "identity"}
    torch.testing.assert_close(ACTIVATIONS["relu"](z), torch.tensor([0.0, 0.0, 3.0]))
    torch.testing.assert_close(ACTIVATIONS["identity"](z), z)
    torch.testing.assert_close(ACTIVATIONS["sigmoid"](torch.zeros(1)), torch.tensor([0.5]))


def test_initialisation_like_nn_rnn():
    cell = RNNCell(3, 16)
    bound = 16**-0.5
    for p in (cell.U, cell.W, cell.b_h):
        assert p.abs().max() <= bound and p.std() > bound / 4  # uniform in +-1/sqrt(d_h), not all zero
    assert [name for name, _ in RNN(3, 16, output_size=2).named_parameters()] == [
        "V", "b_o", "cell.U", "cell.W", "cell.b_h"
    ]


# ---------------------------------------------------------------------- against nn.RNN
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, TIGHT), (torch.float32, LOOSE)])
def test_matches_nn_rnn_outputs_and_gradients(activation, batch_first, dtype, tol):
    ours, theirs = make_pair(activation, batch_first, dtype)
    g = fresh(1)
    shape = (B, T, D_X) if batch_first else (T, B, D_X)
    x = torch.randn(shape, generator=g, dtype=dtype)
    h0 = torch.randn(B, D_H, generator=g, dtype=dtype)  # a non-zero initial state
    w_hs = torch.randn(shape[:2] + (D_H,), generator=g, dtype=dtype)  # random weights for a scalar loss
    w_hT = torch.randn(B, D_H, generator=g, dtype=dtype)

    x1, h1 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    hs, h_T = ours(x1, h1)
    ((hs * w_hs).sum() + (h_T * w_hT).sum()).backward()
    x2, h2 = x.clone().requires_grad_(), h0.clone().unsqueeze(0).requires_grad_()  # nn.RNN: (1, B, d_h)
    hs_ref, h_T_ref = theirs(x2, h2)
    ((hs_ref * w_hs).sum() + (h_T_ref[0] * w_hT).sum()).backward()

    torch.testing.assert_close(hs, hs_ref, **tol)
    torch.testing.assert_close(h_T, h_T_ref[0], **tol)
    torch.testing.assert_close(hs.select(1 if batch_first else 0, -1), h_T, rtol=0, atol=0)  # h_T is the last h_t
    torch.testing.assert_close(x1.grad, x2.grad, **tol)
    torch.testing.assert_close(h1.grad, h2.grad[0], **tol)
    torch.testing.assert_close(ours.U.grad, theirs.weight_ih_l0.grad, **tol)
    torch.testing.assert_close(ours.W.grad, theirs.weight_hh_l0.grad, **tol)
    torch.testing.assert_close(ours.b_h.grad, theirs.bias_ih_l0.grad, **tol)
    torch.testing.assert_close(ours.b_h.grad, theirs.bias_hh_l0.grad, **tol)


def test_copy_adds_the_two_biases_and_default_h0_is_zeros():
    ours, theirs = make_pair("tanh", False, torch.float64)
    torch.testing.assert_close(ours.b_h, theirs.bias_ih_l0 + theirs.bias_hh_l0, rtol=0, atol=0)
    x = torch.randn(T, B, D_X, generator=fresh(2), dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], **TIGHT)
    no_bias = nn.RNN(D_X, D_H, bias=False, dtype=torch.float64)
    copy_from_torch(ours, no_bias)
    assert torch.count_nonzero(ours.b_h) == 0
    torch.testing.assert_close(ours(x)[0], no_bias(x)[0], **TIGHT)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_to_torch_round_trip(activation):
    ours, _ = make_pair(activation, True, torch.float64, seed=3)
    theirs = to_torch(ours)
    assert (theirs.nonlinearity, theirs.batch_first, theirs.weight_ih_l0.dtype) == (activation, True, torch.float64)
    assert torch.count_nonzero(theirs.bias_hh_l0) == 0
    back = copy_from_torch(RNN(D_X, D_H, activation=activation, batch_first=True).double(), theirs)
    for name in ("U", "W", "b_h"):
        torch.testing.assert_close(getattr(back, name), getattr(ours, name), rtol=0, atol=0)
    x = torch.randn(B, T, D_X, generator=fresh(4), dtype=torch.float64)
    torch.testing.assert_close(theirs(x)[0], ours(x)[0], **TIGHT)


# ---------------------------------------------------------------------- CharRNN
def char_pair(dtype: torch.dtype = torch.float64, activation: str = "tanh") -> tuple[CharRNN, CharRNN]:
    with torch.random.fork_rng():
        torch.manual_seed(5)
        fast = CharRNN(vocab_size=11, hidden_size=16, embed_size=8, activation=activation).to(dtype)
        slow = CharRNN(vocab_size=11, hidden_size=16, embed_size=8, activation=activation, fast=False).to(dtype)
    return fast, slow.load_state_from(fast)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, TIGHT), (torch.float32, LOOSE)])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_char_rnn_fast_and_slow_agree(dtype, tol, activation):
    fast, slow = char_pair(dtype, activation)
    assert fast.fast and not slow.fast
    g = fresh(6)
    x, y = torch.randint(0, 11, (4, 9), generator=g), torch.randint(0, 11, (4, 9), generator=g)
    h0 = torch.randn(4, 16, generator=g, dtype=dtype)
    logits_f, h_f = fast.forward_with_state(x, h0)
    logits_s, h_s = slow.forward_with_state(x, h0)
    assert logits_f.shape == (4, 9, 11) and h_f.shape == (4, 16)
    torch.testing.assert_close(logits_f, logits_s, **tol)
    torch.testing.assert_close(h_f, h_s, **tol)
    lm_loss(fast, x, y).backward()
    lm_loss(slow, x, y).backward()
    for name in ("U", "W", "V", "b_o"):
        torch.testing.assert_close(getattr(fast, name).grad, getattr(slow, name).grad, **tol)
    torch.testing.assert_close(fast.embedding.weight.grad, slow.embedding.weight.grad, **tol)
    torch.testing.assert_close(fast.rnn.bias_ih_l0.grad, slow.b_h.grad, **tol)
    torch.testing.assert_close(fast.rnn.bias_hh_l0.grad, slow.b_h.grad, **tol)


def test_char_rnn_load_state_both_ways_and_properties():
    fast, slow = char_pair()
    torch.testing.assert_close(slow.b_h, fast.rnn.bias_ih_l0 + fast.rnn.bias_hh_l0, rtol=0, atol=0)
    with torch.no_grad():
        slow.W.mul_(0.5)
    fast.load_state_from(slow)  # slow -> fast: b_h goes to bias_ih_l0, bias_hh_l0 = 0
    assert torch.count_nonzero(fast.rnn.bias_hh_l0) == 0
    for name in ("U", "W", "b_h", "V", "b_o"):
        torch.testing.assert_close(getattr(fast, name), getattr(slow, name), rtol=0, atol=0)
    assert fast.U.data_ptr() == fast.rnn.weight_ih_l0.data_ptr()  # a view, not a copy


def test_char_rnn_state_carries_across_calls():
    fast, slow = char_pair()
    x = torch.randint(0, 11, (2, 10), generator=fresh(7))
    for model in (fast, slow):
        full = model(x)
        first, h = model.forward_with_state(x[:, :4])
        rest, _ = model.forward_with_state(x[:, 4:], h)
        torch.testing.assert_close(torch.cat([first, rest], dim=1), full, **TIGHT)
        hs = model.hidden_states(x)
        assert hs.shape == (2, 10, 16)
        torch.testing.assert_close(hs[:, 3], h, rtol=0, atol=0)


def test_generate_matches_recomputing_from_scratch():
    fast, slow = char_pair()
    prompt = torch.tensor([1, 2, 3])
    out = fast.generate(prompt, 12, temperature=0.8, top_k=5, generator=fresh(8))
    assert out.shape == (12,) and out.dtype == torch.long and 0 <= out.min() and out.max() < 11
    g, seq = fresh(8), prompt.clone()
    with torch.no_grad():
        for _ in range(12):  # the O(length^2) way: rerun the whole sequence each step
            nxt = sample_next(fast(seq[None])[:, -1], temperature=0.8, top_k=5, generator=g)
            seq = torch.cat([seq, nxt])
    assert torch.equal(out, seq[3:])
    assert torch.equal(slow.generate(prompt, 12, temperature=0.8, top_k=5, generator=fresh(8)), out)
    other_seed = fast.generate(prompt, 12, generator=fresh(9))
    assert not torch.equal(other_seed, fast.generate(prompt, 12, generator=fresh(10)))
    assert fast.generate(prompt, 0).shape == (0,)


def test_char_rnn_trains_with_lm_loss():
    fast, _ = char_pair(torch.float32)
    x = torch.arange(11).repeat(2, 2)[:, :20]  # (2, 20): 0, 1, ..., 10, 0, 1, ...
    y = (x + 1) % 11
    opt = torch.optim.Adam(fast.parameters(), lr=0.02)
    first = lm_loss(fast, x, y).item()
    for _ in range(25):
        opt.zero_grad()
        loss = lm_loss(fast, x, y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first  # a deterministic successor is easy to learn


# ---------------------------------------------------------------------- bad input
def test_rnn_rejects_bad_shapes():
    rnn = RNN(D_X, D_H)
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, d_x\).*3-D"):
        rnn(torch.randn(T, D_X))  # unbatched
    with pytest.raises(ValueError, match=r"x must have shape \(B, T, d_x\) with d_x = 5"):
        RNN(D_X, D_H, batch_first=True)(torch.randn(B, T, D_X + 1))
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, d_h\) = \(3, 6\), got \(1, 3, 6\)"):
        rnn(torch.randn(T, B, D_X), torch.zeros(1, B, D_H))  # nn.RNN's layout
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, d_h\) = \(3, 6\), got \(2, 6\)"):
        rnn(torch.randn(T, B, D_X), torch.zeros(2, D_H))  # batch-size mismatch
    with pytest.raises(TypeError, match="x must be a floating-point"):
        rnn(torch.zeros(T, B, D_X, dtype=torch.long))
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, d_x\)"):
        rnn.cell(torch.randn(B, D_X + 1), torch.zeros(B, D_H))
    with pytest.raises(ValueError, match=r"h_prev must have shape \(B, d_h\)"):
        rnn.cell(torch.randn(B, D_X), torch.zeros(B, D_H + 1))
    with pytest.raises(RuntimeError, match="no output layer"):
        rnn.output(torch.zeros(T, B, D_H))
    with pytest.raises(ValueError, match=r"hs must have shape \(\.\.\., d_h\) with d_h = 6"):
        RNN(D_X, D_H, output_size=2).output(torch.zeros(T, B, D_H + 1))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: RNNCell(0, 4), "input_size must be a positive integer"),
        (lambda: RNN(3, -1), "hidden_size must be a positive integer"),
        (lambda: RNN(3, 4, output_size=0), "output_size must be a positive integer"),
        (lambda: RNN(3, 2.5), "hidden_size must be a positive integer"),
        (lambda: CharRNN(0), "vocab_size must be a positive integer"),
        (lambda: CharRNN(10, embed_size=0), "embed_size must be a positive integer"),
        (lambda: RNNCell(3, 4, activation="softmax"), r"activation must be one of \['identity', 'relu'"),
        (lambda: CharRNN(10, activation="sigmoid"), "'tanh' or 'relu' with fast=True"),
        (lambda: to_torch(RNN(3, 4, activation="sigmoid")), "'tanh' or 'relu'"),
    ],
)
def test_bad_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()
    CharRNN(10, activation="sigmoid", fast=False)  # the slow version has every activation


@pytest.mark.parametrize(
    "theirs, match",
    [
        (nn.RNN(D_X, D_H + 1), r"torch_rnn.hidden_size must be 6"),
        (nn.RNN(D_X + 1, D_H), r"torch_rnn.input_size must be 5"),
        (nn.RNN(D_X, D_H, num_layers=2), "torch_rnn.num_layers must be 1"),
        (nn.RNN(D_X, D_H, bidirectional=True), "torch_rnn.bidirectional must be False"),
        (nn.RNN(D_X, D_H, nonlinearity="relu"), "torch_rnn.nonlinearity must be 'tanh'"),
        (nn.RNN(D_X, D_H, batch_first=True), "torch_rnn.batch_first must be False"),
    ],
)
def test_copy_from_torch_rejects_mismatches(theirs, match):
    with pytest.raises(ValueError, match=match):
        copy_from_torch(RNN(D_X, D_H), theirs)


def test_copy_from_torch_rejects_non_square_w():
    theirs = nn.RNN(D_X, D_H)
    theirs.weight_hh_l0 = nn.Parameter(torch.zeros(D_H, D_H + 1))
    expected = r"weight_hh_l0 must have the shape of W \(d_h, d_h\) = \(6, 6\), got \(6, 7\)"
    with pytest.raises(ValueError, match=expected):
        copy_from_torch(RNN(D_X, D_H), theirs)
    with pytest.raises(TypeError, match="expected"):
        copy_from_torch(RNN(D_X, D_H), nn.LSTM(D_X, D_H))


def test_char_rnn_rejects_bad_input():
    fast, slow = char_pair()
    prompt = torch.tensor([1, 2])
    for model in (fast, slow):
        with pytest.raises(ValueError, match="length must be an integer >= 0"):
            model.generate(prompt, -1)
        for temperature in (0, -1.0):
            with pytest.raises(ValueError, match="temperature must be a finite number > 0.*greedy"):
                model.generate(prompt, 5, temperature=temperature)
        with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
            model.generate(prompt, 5, top_k=0)
        with pytest.raises(ValueError, match=r"prompt must be a non-empty torch.long tensor of ids \(T0,\)"):
            model.generate(torch.tensor([[1, 2]]), 5)
        with pytest.raises(ValueError, match=r"idx must hold ids in \[0, 11\) \(the vocabulary\), got 11 at position \(0, 1\)"):
            model(torch.tensor([[1, 11]]))
        with pytest.raises(TypeError, match="idx must be a torch.long tensor"):
            model(torch.zeros(2, 3))
        with pytest.raises(ValueError, match=r"h0 must have shape \(B, d_h\) = \(1, 16\)"):
            model(torch.tensor([[1, 2]]), torch.zeros(2, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="other.hidden_size must be 16"):
        fast.load_state_from(CharRNN(11, hidden_size=8, embed_size=8))
