"""Chapter 6 (Transformers): the exercises' checkers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch

from ._core import Feedback, _call, _compare, _describe, _fail, _judge_cases, _pass, _report
from .ch04 import _first_match


def check_kv_cache(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 6: check ``fn(layer, x_new, cache) -> out`` (exercise 6.1), causal self-attention for
    the newest position with a KV cache: ``layer`` a ``transformer.MultiHeadAttention``, x_new
    (B, 1, C), ``cache`` a dict the function keeps the keys and values in; out (B, 1, C).

    Fed a sequence one position at a time, the outputs must be the full causal self-attention's,
    with each key projected once.
    """
    from tutorial_lib.transformer import MultiHeadAttention

    with torch.random.fork_rng():  # the learner's notebook keeps its random numbers
        torch.manual_seed(6)
        layer = MultiHeadAttention(16, 4)
        x = torch.randn(2, 7, 16)  # (B, T, C)
    B, T, C, H = 2, 7, 16, 4
    D = C // H

    def attend(causal: bool = True, scale: bool = True, self_only: bool = False) -> torch.Tensor:
        with torch.no_grad():  # (6.1) and (6.2) written out: project, split heads, mask, mix
            q, k, v = (m(x).view(B, T, H, D).transpose(1, 2) for m in (layer.W_Q, layer.W_K, layer.W_V))
            scores = q @ k.transpose(-2, -1) / (math.sqrt(D) if scale else 1.0)  # (B, H, T, T)
            allowed = torch.ones(T, T).tril() if causal else torch.ones(T, T)
            if self_only:
                allowed = torch.eye(T)
            weights = torch.softmax(scores.masked_fill(allowed == 0, float("-inf")), dim=-1)
            return layer.W_O((weights @ v).transpose(1, 2).reshape(B, T, C))  # (B, T, C)

    expected = attend()
    mistakes = [
        (attend(self_only=True), "each position attended only to itself: append the new key and value to the "
         "cache and attend to all of them."),
        (attend(scale=False), "divide the scores by sqrt(D), D = C / H the width of one head."),
    ]
    projected = [0]  # how many positions went through W_K
    hook = layer.W_K.register_forward_hook(lambda m, inp, out: projected.__setitem__(
        0, projected[0] + inp[0].numel() // (B * C)))
    cache: dict = {}
    outs = []
    try:
        for t in range(T):
            out, error = _call(fn, "check_kv_cache", f"position {t} of 7, x_new (2, 1, 16)",
                               layer, x[:, t : t + 1].clone(), cache)
            if error is not None:
                return _report(error)
            if not isinstance(out, torch.Tensor) or out.shape != (B, 1, C):
                return _report(_fail(f"at position {t} return the output for the new position, shape (2, 1, 16); "
                                     f"got {_describe(out)}. Hint: merge the heads and apply W_O."))
            outs.append(out.detach())
    finally:
        hook.remove()
    got = torch.cat(outs, dim=1)  # (B, T, C)
    why = _first_match(got, mistakes, expected)
    feedback = _fail(why) if why is not None else _compare(got, expected, "the outputs", rtol=1e-4, atol=1e-5)
    if not feedback.ok:
        return _report(feedback)
    if projected[0] > T:
        return _report(_fail(f"the outputs are right, but W_K projected {projected[0]} positions for {T} tokens: "
                             "keep the keys in the cache and project only the new position's."))
    if not cache:
        return _report(_fail("the outputs are right, but the cache dict is still empty: keep the keys and values "
                             "in the cache you are given, not elsewhere."))
    return _report(_pass(f"one position at a time equals full causal attention, with {T} key projections for "
                         f"{T} tokens instead of {T * (T + 1) // 2}."))


def check_shift_matrix(fn: Callable[[int, float], torch.Tensor]) -> Feedback:
    """Chapter 6: check ``fn(k, omega) -> M`` (exercise 6.2), the (2, 2) matrix that moves a sinusoid
    pair k positions on: (sin((t+k)ω), cos((t+k)ω)) = (sin(tω), cos(tω)) @ M for every t."""
    for k, omega in ((5, 10000 ** (-4 / 16)), (3, 1.0)):
        c, s = math.cos(k * omega), math.sin(k * omega)
        expected = torch.tensor([[c, -s], [s, c]])
        mistakes = [
            (expected.T, "that is the rotation by -kω: it moves the pair k positions back. Expand "
             "sin((t+k)ω) and cos((t+k)ω) with the angle-addition formulas."),
            (torch.tensor([[math.cos(omega), -math.sin(omega)], [math.sin(omega), math.cos(omega)]]),
             "that moves one position on; rotate by the angle kω."),
        ]
        got, error = _call(fn, "check_shift_matrix", f"k={k}, omega={omega:.3g}", k, omega)
        if error is not None:
            return _report(error)
        why = _first_match(got, mistakes, expected)
        feedback = _fail(why) if why is not None else _compare(got, expected, "M", rtol=1e-5, atol=1e-6)
        if not feedback.ok:
            return _report(replace(feedback, message=f"{feedback.message} (k={k}, omega={omega:.3g})"))
    return _report(_pass("M is the rotation by kω, whatever t: 'k positions on' is one fixed linear map."))


def check_encoder_layer_params(fn: Callable[[int], int]) -> Feedback:
    """Chapter 6: check ``fn(C) -> int`` (exercise 6.3), the parameters of one encoder layer of width C
    with an FFN of width 4C, biases everywhere and two LayerNorms: 12 C² + 13 C, whatever the heads."""
    cases = []
    for C in (64, 8, 1):
        mistakes = [
            (12 * C * C, "the biases and the LayerNorms' scale and shift are missing."),
            (12 * C * C + 9 * C, "the two LayerNorms are missing: a scale and a shift of C each."),
            (12 * C * C + 11 * C, "there are two LayerNorms (one after attention, one after the FFN)."),
            (6 * C * C + 10 * C, "the FFN is 4C wide: W_1 is (4C, C) and W_2 (C, 4C)."),
            (11 * C * C + 12 * C, "attention has four projections: W_Q, W_K, W_V and the output W_O."),
        ]
        cases.append((f"C={C}", (C,), 12 * C * C + 13 * C, mistakes))
    return _judge_cases(fn, "check_encoder_layer_params", cases,
                        "12C² + 13C: two thirds in the FFN, and no H anywhere.", "the count")
