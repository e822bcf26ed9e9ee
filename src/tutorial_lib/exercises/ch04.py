"""Chapter 4 (LSTM and GRU): the exercises' checkers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._core import Feedback, _call, _compare, _describe, _fail, _pass, _report


def _gate_params(names: Sequence[str], d_x: int, d_h: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Random W_<name> (d_h, d_h + d_x) and b_<name> (d_h,) for each gate name ("" means plain W, b)."""
    params = {}
    for name in names:
        suffix = f"_{name}" if name else ""
        params[f"W{suffix}"] = torch.randn(d_h, d_h + d_x, generator=g) * 0.7
        params[f"b{suffix}"] = torch.randn(d_h, generator=g) * 0.5
    return params


def _first_match(got: Any, candidates: Sequence[tuple[Any, str]], expected: Any) -> str | None:
    """The hint of the first wrong answer ``got`` equals (tensors or tuples of tensors)."""
    def same(a: Any, b: Any) -> bool:
        if isinstance(b, tuple):
            return isinstance(a, (tuple, list)) and len(a) == len(b) and all(same(u, v) for u, v in zip(a, b))
        return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, atol=1e-6)
    if same(got, expected):
        return None
    return next((why for wrong, why in candidates if same(got, wrong)), None)


def _judge_pair(got: Any, error: Feedback | None, expected: tuple, mistakes: Sequence[tuple[Any, str]],
                names: tuple[str, str], success: str) -> Feedback:
    """The verdict on a function that must return a pair ``names`` = (first, second): its error,
    a wrong shape, a known mistake, then each value against ``expected`` (second one first)."""
    if error is not None:
        return _report(error)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return _report(_fail(f"return the pair ({names[0]}, {names[1]}); got {_describe(got)}."))
    why = _first_match(tuple(got), mistakes, expected)
    if why is not None:
        return _report(_fail(why))
    feedback = _compare(got[1], expected[1], names[1], rtol=1e-5, atol=1e-6)
    if feedback.ok:
        feedback = _compare(got[0], expected[0], names[0], rtol=1e-5, atol=1e-6)
    return _report(_pass(success) if feedback.ok else feedback)


def _judge_one(got: Any, error: Feedback | None, expected: torch.Tensor, mistakes: Sequence[tuple[Any, str]],
               name: str, success: str, atol: float = 1e-6) -> Feedback:
    """The verdict on a function that must return one tensor ``name``: its error, a known mistake,
    then the value against ``expected``."""
    if error is not None:
        return _report(error)
    why = _first_match(got, mistakes, expected)
    if why is not None:
        return _report(_fail(why))
    feedback = _compare(got, expected, name, rtol=1e-5, atol=atol)
    return _report(_pass(success) if feedback.ok else feedback)


def check_peephole_lstm_step(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> Feedback:
    """Chapter 4: check ``fn(x_t, h_prev, C_prev, params) -> (h_t, C_t)``, a peephole LSTM step.

    The gates also look at the cell (Gers & Schmidhuber, 2000): with [h, x] = [h_{t-1}, x_t],
    f_t = σ(W_f [h, x] + p_f ⊙ C_{t-1} + b_f), i_t = σ(W_i [h, x] + p_i ⊙ C_{t-1} + b_i),
    C_t as in eq. 4.4, o_t = σ(W_o [h, x] + p_o ⊙ C_t + b_o) (the new cell), h_t = o_t ⊙ tanh(C_t).
    ``params`` holds W_f, W_i, W_C, W_o (d_h, d_h + d_x), b_f, b_i, b_C, b_o and p_f, p_i, p_o (d_h,).
    """
    g = torch.Generator().manual_seed(0)
    B, d_x, d_h = 3, 4, 5
    x_t, h_prev, C_prev = (torch.randn(B, n, generator=g) for n in (d_x, d_h, d_h))
    params = _gate_params(("f", "i", "C", "o"), d_x, d_h, g)
    params.update({f"p_{k}": torch.randn(d_h, generator=g) for k in "fio"})

    def step(peep_f: bool = True, peep_o_new: bool = True, peep_o: bool = True, hx_order: bool = True):
        hx = torch.cat([h_prev, x_t] if hx_order else [x_t, h_prev], dim=1)  # (B, d_h + d_x)
        P = params
        f = torch.sigmoid(hx @ P["W_f"].T + (P["p_f"] * C_prev if peep_f else 0) + P["b_f"])
        i = torch.sigmoid(hx @ P["W_i"].T + (P["p_i"] * C_prev if peep_f else 0) + P["b_i"])
        C = f * C_prev + i * torch.tanh(hx @ P["W_C"].T + P["b_C"])
        peep = (P["p_o"] * (C if peep_o_new else C_prev)) if peep_o else 0
        o = torch.sigmoid(hx @ P["W_o"].T + peep + P["b_o"])
        return o * torch.tanh(C), C

    expected = step()
    mistakes = [
        (step(peep_o_new=False), "the output gate should look at the new cell C_t, not C_{t-1}: it is computed "
         "after the cell update."),
        (step(peep_f=False, peep_o=False), "the peepholes are missing: add p ⊙ C to the forget, input and output "
         "gates' pre-activations."),
        (step(peep_o=False), "the output gate's peephole p_o ⊙ C_t is missing."),
        (step(hx_order=False), "concatenate the hidden state first, [h_{t-1}, x_t], as in eq. 4.1."),
    ]
    got, error = _call(fn, "check_peephole_lstm_step", "x_t (3, 4), h_prev and C_prev (3, 5)",
                       x_t, h_prev, C_prev, dict(params))
    return _judge_pair(got, error, expected, mistakes, ("h_t", "C_t"),
                       "a peephole LSTM step: f and i see C_{t-1}, o sees C_t.")


def check_gru_without_reset(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 4: check ``fn(x_t, h_prev, params) -> h_t``, a GRU step with no reset gate (r_t = 1).

    z_t = σ(W_z [h_{t-1}, x_t] + b_z), h̃_t = tanh(W [h_{t-1}, x_t] + b),
    h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t (eqs. 4.7, 4.9, 4.10 with r_t = 1).
    ``params`` holds W_z, W (d_h, d_h + d_x) and b_z, b (d_h,).
    """
    g = torch.Generator().manual_seed(1)
    B, d_x, d_h = 3, 4, 5
    x_t, h_prev = torch.randn(B, d_x, generator=g), torch.randn(B, d_h, generator=g)
    P = _gate_params(("z", ""), d_x, d_h, g)
    hx = torch.cat([h_prev, x_t], dim=1)  # (B, d_h + d_x)
    z = torch.sigmoid(hx @ P["W_z"].T + P["b_z"])
    h_tilde = torch.tanh(hx @ P["W"].T + P["b"])
    expected = (1 - z) * h_prev + z * h_tilde
    mistakes = [
        (z * h_prev + (1 - z) * h_tilde, "z_t and 1 - z_t are swapped: in eq. 4.10 z_t weighs the candidate "
         "h̃_t (PyTorch's nn.GRU uses the opposite convention)."),
        ((1 - z) * h_prev + z * (hx @ P["W"].T + P["b"]), "the candidate needs its tanh, eq. 4.9."),
        (h_tilde, "that is the candidate alone; mix it with h_{t-1} through the update gate, eq. 4.10."),
    ]
    got, error = _call(fn, "check_gru_without_reset", "x_t (3, 4), h_prev (3, 5)", x_t, h_prev, dict(P))
    return _judge_one(got, error, expected, mistakes, "h_t",
                      "a GRU step with r_t = 1: (1 - z) ⊙ h_{t-1} + z ⊙ tanh(W [h_{t-1}, x_t] + b).")


def check_never_forget(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Chapter 4: check ``fn(C_0, C_tilde) -> C_T`` (exercise 4.3): the cell after T steps of eq. 4.4
    with the forget and input gates pinned at 1. C_0 (B, d_h), the candidates C_tilde (T, B, d_h).

    Also checks the gradient: C_T must stay connected to C_0, with ∂C_T/∂C_0 = I.
    """
    g = torch.Generator().manual_seed(4)
    C_0, C_tilde = torch.randn(2, 3, generator=g), torch.tanh(torch.randn(6, 2, 3, generator=g))
    expected = C_0.clone()
    for C_t in C_tilde:
        expected = 1.0 * expected + 1.0 * C_t  # eq. 4.4 with f_t = i_t = 1
    mistakes = [
        (C_tilde.sum(0), "the starting cell C_0 is missing: with f_t = 1 nothing is forgotten, C_0 included."),
        (C_tilde[-1], "that is the last candidate alone; with f_t = 1 the cell keeps everything it held."),
        (C_0 + C_tilde.mean(0), "the cell adds the candidates up (i_t = 1), it does not average them."),
        (torch.tanh(expected), "that is h_T with o_t = 1, tanh(C_T); the exercise asks for the cell C_T."),
    ]
    leaf = C_0.clone().requires_grad_()
    got, error = _call(fn, "check_never_forget", "C_0 (2, 3), C_tilde (6, 2, 3)", leaf, C_tilde.clone())
    if error is not None:
        return _report(error)
    why = _first_match(got, mistakes, expected)
    feedback = _fail(why) if why is not None else _compare(got, expected, "C_T", rtol=1e-5, atol=1e-5)
    if not feedback.ok:
        return _report(feedback)
    grad = torch.autograd.grad(got.sum(), leaf, allow_unused=True)[0] if got.requires_grad else None
    if grad is None:
        return _report(_fail("C_T is right but not connected to C_0 by autograd: compute it with torch "
                             "operations on the tensors you were given (no .detach(), .item() or numpy)."))
    if not torch.allclose(grad, torch.ones_like(grad)):
        return _report(_fail(f"∂C_T/∂C_0 should be the identity (a gradient of 1 for every entry), got "
                             f"entries between {grad.min():.3g} and {grad.max():.3g}."))
    return _report(_pass("C_T = C_0 + Σ_t C̃_t, and ∂C_T/∂C_0 = I: a running sum that never forgets."))
