"""Chapter 2 (RNNs): the exercises' checkers."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._core import Feedback, _as_number, _call, _compare, _describe, _fail, _pass, _report
from .ch04 import _judge_one


def check_rnn_step(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 2: check ``fn(x_t, h_prev, W, U, b_h) -> h_t``, one step of seed eq. 2.1 with tanh.

    Shapes: x_t (B, d_x), h_prev (B, d_h), W (d_h, d_h), U (d_h, d_x), b_h (d_h,) -> h_t (B, d_h).
    """
    g = torch.Generator().manual_seed(0)
    B, d_x, d_h = 3, 4, 5  # d_x != d_h, so mixing up W and U fails loudly
    x_t, h_prev = torch.randn(B, d_x, generator=g), torch.randn(B, d_h, generator=g)
    W, U, b_h = torch.randn(d_h, d_h, generator=g), torch.randn(d_h, d_x, generator=g), torch.randn(d_h, generator=g)
    expected = torch.tanh(h_prev @ W.T + x_t @ U.T + b_h)  # (B, d_h)
    mistakes = [
        (torch.tanh(h_prev @ W + x_t @ U.T + b_h), "W is applied as h_prev @ W; with row vectors it is h_prev @ W.T "
         "(W h_{t-1} in the seed's column-vector notation)."),
        (h_prev @ W.T + x_t @ U.T + b_h, "the activation σ = tanh is missing."),
        (torch.tanh(h_prev @ W.T + x_t @ U.T), "the bias b_h is missing."),
        (torch.sigmoid(h_prev @ W.T + x_t @ U.T + b_h), "you used a sigmoid; this exercise asks for tanh."),
    ]
    got, error = _call(fn, "check_rnn_step", "x_t (3, 4), h_prev (3, 5)", x_t, h_prev, W, U, b_h)
    if error is not None:
        return _report(error)
    if got is None:
        return _report(_fail("your function returned None. Hint: did you forget to `return` h_t?"))
    if isinstance(got, torch.Tensor) and got.shape == expected.shape:
        for wrong, why in mistakes:
            if torch.allclose(got, wrong, atol=1e-6) and not torch.allclose(got, expected, atol=1e-6):
                return _report(_fail(why))
    feedback = _compare(got, expected, "h_t", rtol=1e-5, atol=1e-6)
    if feedback.ok:
        feedback = _pass("h_t = tanh(W h_{t-1} + U x_t + b_h) for a batch of 3.")
    return _report(feedback)


def check_rnn_param_count(fn: Callable[[int, int, int], int]) -> Feedback:
    """Chapter 2: check ``fn(d_x, d_h, d_o) -> int``, the number of parameters of eq. 2.1.

    U, W, b_h, V and b_o: d_h d_x + d_h^2 + d_h + d_o d_h + d_o.
    """
    cases = [(3, 5, 2), (64, 384, 94), (1, 1, 1)]
    for d_x, d_h, d_o in cases:
        expected = d_h * d_x + d_h * d_h + d_h + d_o * d_h + d_o
        got, error = _call(fn, "check_rnn_param_count", f"d_x={d_x}, d_h={d_h}, d_o={d_o}", d_x, d_h, d_o)
        if error is not None:
            return _report(error)
        value = _as_number(got)
        if value is None:
            return _report(_fail(f"your function should return a number, got {_describe(got)}."))
        if value == expected:
            continue
        hints = {
            expected - d_h - d_o: "the biases b_h and b_o are missing.",
            expected - d_o * d_h - d_o: "the output layer (V and b_o) is missing.",
            expected + d_h: "that counts two hidden biases, as PyTorch's nn.RNN stores them; eq. 2.1 has one, b_h.",
            expected - d_h * d_h + d_h: "W is d_h x d_h, so it has d_h squared entries.",
        }
        why = hints.get(int(value), "count the entries of U, W, b_h, V and b_o (their shapes are listed under eq. 2.1).")
        return _report(_fail(f"for d_x={d_x}, d_h={d_h}, d_o={d_o} you returned {value:g}, expected {expected}: {why}"))
    return _report(_pass("d_h d_x + d_h^2 + d_h + d_o d_h + d_o on all 3 cases."))


def check_every_step_shares(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 2: check ``fn(cell, xs) -> shares`` (exercise 2.3): the size of each step's share of
    dL/dW when the loss is the sum of the squares of all states, L = Σ_t ‖h_t‖².

    ``cell`` is an ``rnn.RNNCell`` (W (d_h, d_h), U (d_h, d_x), b_h (d_h,)), xs (T, B, d_x) and
    h_0 = 0; shares (T,) holds ‖∂L/∂W^(t)‖, for a separate copy W^(t) of W used at step t only.
    """
    from tutorial_lib.rnn import RNNCell

    g = torch.Generator().manual_seed(2)
    T, B, d_x, d_h = 8, 2, 3, 6
    with torch.random.fork_rng():  # the learner's notebook keeps its random numbers
        cell = RNNCell(d_x, d_h)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.6)
    xs = torch.randn(T, B, d_x, generator=g)
    W, U, b = (p.detach() for p in (cell.W, cell.U, cell.b_h))

    def grads(loss_of: str) -> tuple[torch.Tensor, ...]:  # T x (d_h, d_h): ∂L/∂W^(t)
        copies = [W.clone().requires_grad_() for _ in range(T)]
        h, states = torch.zeros(B, d_h), []
        for t in range(T):
            h = torch.tanh(h @ copies[t].T + xs[t] @ U.T + b)  # eq. 2.1 with W^(t)
            states.append(h)
        loss = {"all": sum(s.square().sum() for s in states), "last": h.square().sum(),
                "unsquared": sum(s.sum() for s in states)}[loss_of]
        return torch.autograd.grad(loss, copies)

    def shares(loss_of: str) -> torch.Tensor:  # (T,)
        return torch.stack([g_t.norm() for g_t in grads(loss_of)])

    expected = shares("all")
    whole = sum(grads("all"))  # the shared W's gradient: the sum of the steps' shares
    mistakes = [
        (shares("last"), "that is section 2.2's loss, ‖h_T‖² alone: add every state's ‖h_t‖² to the loss."),
        (shares("unsquared"), "square the states: the loss is Σ_t ‖h_t‖², not the sum of their entries."),
        (whole.norm().expand(T), "that is the norm of the whole gradient at every step: give each step W^(t), "
         "a copy of W of its own, and take the norm of each copy's gradient."),
    ]
    got, error = _call(fn, "check_every_step_shares", "an RNNCell(3, 6) and xs (8, 2, 3)", cell, xs.clone())
    return _judge_one(got, error, expected, mistakes, "shares",
                      "each step's share of dL/dW when every state is in the loss.", atol=1e-5)
