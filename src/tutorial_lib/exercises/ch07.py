"""Chapter 7 (Pretraining): the exercises' checkers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch

from ._core import (
    Feedback,
    _as_number,
    _call,
    _compare,
    _describe,
    _fail,
    _judge_cases,
    _pass,
    _report,
    _scalar_verdict,
)


def check_min_p_filter(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> Feedback:
    """Chapter 7: check ``fn(logits, p) -> logits``, min-p filtering: keep every token whose
    probability is at least ``p`` times the largest one, set the others' logits to -inf.

    logits (B, V) with rows of different confidence; p in (0, 1].
    """
    logits = torch.tensor([[4.0, 2.0, 1.0, 0.5, -1.0, -3.0],  # a confident row
                           [0.3, 0.2, 0.1, 0.0, -0.1, -0.2]])  # a flat one
    p = 0.12
    probs = torch.softmax(logits, dim=-1)
    top = probs.max(dim=-1, keepdim=True).values

    def cut(keep: torch.Tensor) -> torch.Tensor:
        return logits.masked_fill(~keep, float("-inf"))

    expected = cut(probs >= p * top)
    mistakes = [
        (cut(probs >= p), "compare each probability with p times the largest one (p * max), not with p itself."),
        (cut(logits >= p * logits.max(dim=-1, keepdim=True).values),
         "the threshold is on probabilities (softmax of the logits), not on the logits."),
        (logits.masked_fill(probs < p * top, 0.0), "set the removed logits to -inf (their probability becomes 0), "
         "not to 0 (a logit of 0 still has probability)."),
    ]
    got, error = _call(fn, "check_min_p_filter", "logits (2, 6), p = 0.12", logits.clone(), p)
    if error is not None:
        return _report(error)
    for wrong, why in mistakes:
        if isinstance(got, torch.Tensor) and got.shape == wrong.shape and torch.equal(got, wrong):
            return _report(_fail(why))
    feedback = _compare(got, expected, "the filtered logits", rtol=1e-6, atol=1e-6)
    return _report(_pass("min-p keeps 2 of 6 tokens when the model is sure and all 6 when it is not.")
                   if feedback.ok else feedback)


def check_gru_lm_flops(fn: Callable[[int, int, int], float]) -> Feedback:
    """Chapter 7: check ``fn(V, d_x, d_h) -> float`` (exercise 7.2), the training FLOPs per token by
    (7.4) of a GRU language model: 6 x (3 gates' d_h x (d_x + d_h) weights + the output layer's V x d_h);
    the embedding is a lookup, not a product."""
    cases = []
    for V, d_x, d_h in ((94, 64, 256), (10, 3, 5)):
        out = V * d_h
        mistakes = [
            (6 * (4 * d_h * (d_x + d_h) + out), "that is the LSTM's count: a GRU has three weight matrices "
             "(update, reset, candidate), not four."),
            (2 * (3 * d_h * (d_x + d_h) + out), "that is the forward pass only: (7.4) counts training, "
             "2 FLOPs per weight forward and 4 backward, 6 in all."),
            (6 * 3 * d_h * (d_x + d_h), "the output layer (V x d_h) is missing."),
            (6 * (3 * d_h * (d_x + d_h) + out + V * d_x), "the embedding is a table lookup, not a matrix "
             "product: (7.4) leaves it out."),
            (6 * (3 * d_h * d_h + out), "each gate multiplies [h_{t-1}, x_t]: d_h + d_x inputs, not d_h."),
        ]
        cases.append((f"V={V}, d_x={d_x}, d_h={d_h}", (V, d_x, d_h), 6 * (3 * d_h * (d_x + d_h) + out), mistakes))
    return _judge_cases(fn, "check_gru_lm_flops", cases,
                        "6 (3 d_h (d_x + d_h) + V d_h) FLOPs per token.", "the FLOPs per token")


def check_loss_units(fn: Callable[[float], tuple[float, float]]) -> Feedback:
    """Chapter 7: check ``fn(loss) -> (bits, perplexity)`` (exercise 7.3): a cross-entropy in nats
    per character as bits per character (loss / ln 2) and as a perplexity (e^loss)."""
    for loss in (1.2, math.log(94)):
        bits, perplexity = loss / math.log(2), math.exp(loss)
        got, error = _call(fn, "check_loss_units", f"loss = {loss:.3g} nats", loss)
        if error is not None:
            return _report(error)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return _report(_fail(f"return the pair (bits, perplexity); got {_describe(got)}."))
        if all(_as_number(v) is not None for v in got) and math.isclose(float(got[0]), perplexity) \
                and math.isclose(float(got[1]), bits):
            return _report(_fail("the pair is the wrong way round: (bits, perplexity)."))
        bit_mistakes = [
            (loss * math.log(2), "divide by ln 2 (one bit is ln 2 ≈ 0.69 nats, so there are more bits than nats)."),
            (loss / math.log(10), "that is in bans (log base 10): bits use ln 2."),
        ]
        ppl_mistakes = [
            (2 ** loss, "the loss is in nats, so the perplexity is e^loss; 2^H is for H in bits."),
            (math.exp(bits), "e^bits mixes the bases: the perplexity is e^(nats) = 2^(bits)."),
            (math.exp(-loss), "the loss is already the negative log-likelihood: e^loss, no minus sign."),
        ]
        for value, expected, mistakes, what in ((got[0], bits, bit_mistakes, "bits per character"),
                                                (got[1], perplexity, ppl_mistakes, "the perplexity")):
            feedback = _scalar_verdict(value, None, expected, mistakes, "", what=what,
                                       nonfinite="look for an overflow.", rtol=1e-6)
            if not feedback.ok:
                return _report(replace(feedback, message=f"{feedback.message} (for a loss of {loss:.3g} nats)"))
    return _report(_pass("bits = nats / ln 2 and perplexity = e^nats; a uniform guess over 94 characters "
                         "gives 6.55 bits and a perplexity of 94."))
