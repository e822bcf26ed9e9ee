"""Chapter 5 (Attention): the exercises' checkers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ._core import Feedback, _as_number, _call, _describe, _fail, _judge_cases, _pass, _report
from .ch04 import _judge_pair


def check_dot_attention_step(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> Feedback:
    """Chapter 5: check ``fn(query, keys, mask) -> (context, weights)``, one decoder step of
    scaled dot-product attention.

    query (B, D), keys (B, S, D), mask (B, S) bool (True on real words). Scores
    e_j = q·h_j / sqrt(D), weights α = softmax over j with α_j = 0 where mask is False,
    context = Σ_j α_j h_j (B, D).
    """
    g = torch.Generator().manual_seed(5)
    B, S, D = 3, 6, 4
    query, keys = torch.randn(B, D, generator=g), torch.randn(B, S, D, generator=g)
    mask = torch.ones(B, S, dtype=torch.bool)
    mask[1, 4:] = False  # a sentence of 4 words padded to 6
    mask[2, 2:] = False

    def attend(scores: torch.Tensor, m: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        e = scores if m is None else scores.masked_fill(~m, float("-inf"))
        a = torch.softmax(e, dim=-1)
        return (a[:, :, None] * keys).sum(1), a

    raw = torch.einsum("bd,bsd->bs", query, keys)  # q·h_j (B, S)
    expected = attend(raw / math.sqrt(D), mask)
    mistakes = [
        (attend(raw, mask), "divide the scores by sqrt(D) before the softmax (D = the width of q and h_j)."),
        (attend(raw / math.sqrt(D), None), "the padded positions got weight: set their scores to -inf "
         "(masked_fill(~mask, float('-inf'))) before the softmax."),
        (attend(raw / D, mask), "the scale is 1 / sqrt(D), not 1 / D."),
    ]
    got, error = _call(fn, "check_dot_attention_step", "query (3, 4), keys (3, 6, 4), mask (3, 6)",
                       query, keys, mask)
    return _judge_pair(got, error, expected, mistakes, ("context", "weights"),
                       "scaled dot-product attention for one step, padding masked.")


def check_alignment_score(fn: Callable[[np.ndarray, Sequence[int]], float]) -> Feedback:
    """Chapter 5: check ``fn(weights, alignment) -> float``: the fraction of target words j whose
    largest weight falls on the true source position ``alignment[j]``.

    weights (T', S) may have more rows than ``alignment`` has entries (e.g. a row for <eos>);
    only the first len(alignment) rows count.
    """
    w = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    alignment = [0, 1, 0]  # the last row (for <eos>) does not count
    expected = 2 / 3
    got, error = _call(fn, "check_alignment_score", "a 4 x 3 heatmap and alignment [0, 1, 0]", w, alignment)
    if error is not None:
        return _report(error)
    value = _as_number(got)
    if value is None:
        return _report(_fail(f"return one number, the fraction of matches; got {_describe(got)}."))
    if math.isclose(value, 2, abs_tol=1e-9):
        return _report(_fail("return a fraction (matches / words), not the count of matches."))
    if math.isclose(value, 0.5, abs_tol=1e-9):
        return _report(_fail("only the first len(alignment) rows count; the extra row is <eos>."))
    if math.isclose(value, 1 / 3, abs_tol=1e-9):
        return _report(_fail("take the argmax over source positions (axis 1, along a row), not over target words."))
    if not math.isclose(value, expected, abs_tol=1e-9):
        return _report(_fail(f"expected {expected:.4f}, got {value:.4f}."))
    return _report(_pass("the argmax of each row compared with the true alignment, 2 of 3 here."))


def check_sentence_bits(fn: Callable[[int, int], float]) -> Feedback:
    """Chapter 5: check ``fn(n_words, vocab_size) -> float`` (exercise 5.3 (a)), the bits it takes to
    write down a sentence of ``n_words`` words, each any of ``vocab_size``: n log2 V."""
    cases = []
    for n, V in ((16, 19), (1, 2), (5, 1000)):
        bits = n * math.log2(V)
        mistakes = [
            (n * math.log(V), "that is in nats (natural log); bits use log2."),
            (float(V) ** n, "that is the number of different sentences; the bits to tell them apart are its log2."),
            (math.log2(n * V), "each of the n words is one of V: log2(V^n) = n log2 V, not log2(n V)."),
            (float(math.ceil(bits)), "keep the fraction: n log2 V is the information; a code rounds up only "
             "once, for the whole message."),
        ]
        cases.append((f"{n} words from {V}", (n, V), bits, mistakes))
    return _judge_cases(fn, "check_sentence_bits", cases,
                        "n log2 V bits: 16 words from 19 fit in 68 bits, far less than 128 floats.", "the bits")
