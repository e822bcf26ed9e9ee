"""Turning next-token logits into text: greedy, temperature, top-k, top-p (chapter 2).

A language model gives, at each position, logits over the V tokens of the vocabulary.
Decoding picks the next token from them:

- ``greedy``: always the most likely token (deterministic, often repetitive);
- ``sample_next``: draw from softmax(logits / temperature), optionally only among the
  k most likely tokens (top-k) or the smallest set holding probability p (top-p, "nucleus").

Temperature T rescales the logits: T < 1 sharpens the distribution (towards greedy),
T > 1 flattens it (towards uniform). Filters set the logits they drop to -inf, so
softmax gives those tokens probability exactly 0. Chapter 7 reuses these functions for
the GPT's sampling explorer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["apply_temperature", "top_k_filter", "top_p_filter", "sample_next", "greedy", "check_rule"]

# top_p_filter counts a set as "reaching p" when its mass is within this of p, so that
# p = 0.8 with probabilities [0.5, 0.3, ...] keeps two tokens despite rounding.
_P_TOLERANCE = 1e-6


def _check_logits(logits: object) -> Tensor:
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a torch.Tensor of shape (..., V), got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., V) with V >= 1, got {tuple(logits.shape)}")
    return logits


def _check_temperature(temperature: object) -> float:
    ok = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    if not ok or not 0 < temperature < math.inf:
        raise ValueError(
            f"temperature must be a finite number > 0 (for temperature 0 use greedy(logits)), got {temperature!r}"
        )
    return float(temperature)


def _check_k(k: object, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {k!r}")
    return k


def _check_p(p: object, name: str = "p") -> float:
    ok = isinstance(p, (int, float)) and not isinstance(p, bool)
    if not ok or not 0 < p <= 1:
        raise ValueError(f"{name} must be a number in (0, 1], got {p!r}")
    return float(p)


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """``logits / temperature`` (chapter 2): logits (..., V) -> (..., V).

    ``temperature`` > 0; below 1 sharpens the distribution, above 1 flattens it.
    """
    return _check_logits(logits) / _check_temperature(temperature)


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row, set the others to -inf (chapter 2).

    logits (..., V) -> (..., V). ``k`` >= 1; k > V keeps everything. Exactly
    min(k, V) entries stay finite per row, even with ties.
    """
    _check_logits(logits)
    k = min(_check_k(k), logits.shape[-1])
    values, idx = torch.topk(logits, k, dim=-1)  # (..., k), (..., k)
    return torch.full_like(logits, -math.inf).scatter(-1, idx, values)  # (..., V)


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering: keep the most likely tokens up to probability ``p`` (chapter 2).

    Per row, keeps the smallest set of most likely tokens whose total probability
    reaches ``p`` (up to a rounding tolerance of 1e-6), always at least one token; the
    other logits become -inf. logits (..., V) -> (..., V); 0 < p <= 1, p = 1 keeps all.
    Example: probabilities [0.5, 0.3, 0.15, 0.05] with p = 0.8 keep the first two.
    """
    _check_logits(logits)
    if _check_p(p) == 1.0:
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V), (..., V)
    probs = torch.softmax(sorted_logits.double(), dim=-1)  # (..., V), float64 for the running sum
    mass_before = probs.cumsum(dim=-1) - probs  # (..., V): mass of the more likely tokens
    drop_sorted = mass_before >= p - _P_TOLERANCE  # set already reached p: the first token never drops
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, -math.inf)  # (..., V)


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token id per row from the logits (chapter 2).

    logits (..., V) -> ids (...) long. Applies the temperature (> 0; temperature 0 is
    not allowed: use :func:`greedy`), then top-k, then top-p, then samples from the
    softmax with ``torch.multinomial``. Pass a ``torch.Generator`` (on the logits'
    device) for reproducible draws; without one the global RNG is used.
    """
    logits = apply_temperature(logits, temperature)  # (..., V)
    if top_k is not None:
        logits = top_k_filter(logits, _check_k(top_k, "top_k"))
    if top_p is not None:
        logits = top_p_filter(logits, _check_p(top_p, "top_p"))
    V = logits.shape[-1]
    probs = torch.softmax(logits.float(), dim=-1).reshape(-1, V)  # (..., V) -> (N, V), N = rows
    ids = torch.multinomial(probs, num_samples=1, generator=generator)  # (N, 1)
    return ids.reshape(logits.shape[:-1])  # (N, 1) -> (...)


def greedy(logits: Tensor) -> Tensor:
    """The most likely token id of each row, ``argmax`` (chapter 2): (..., V) -> (...) long."""
    return _check_logits(logits).argmax(dim=-1)


def check_rule(temperature: object, top_k: object = None, top_p: object = None, greedy_ok: bool = True) -> None:
    """Check a decoding rule before any token is drawn (chapters 2 and 7): ``temperature`` > 0
    (or exactly 0, greedy, when ``greedy_ok``), ``top_k`` None or an integer >= 1, ``top_p``
    None or in (0, 1]. A ValueError names the first bad argument, on every path: a greedy
    generation rejects a ``top_k`` of 0 as a sampling one does."""
    number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    if greedy_ok and not (number and (temperature == 0 or 0 < temperature < math.inf)):
        raise ValueError(f"temperature must be 0 (greedy) or a finite number > 0, got {temperature!r}")
    if not greedy_ok:
        _check_temperature(temperature)
    if top_k is not None:
        _check_k(top_k, "top_k")
    if top_p is not None:
        _check_p(top_p, "top_p")
