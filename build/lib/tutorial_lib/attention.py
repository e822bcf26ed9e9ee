"""Attention: a weighted average of vectors, with weights computed from a query (chapter 5).

Bahdanau et al. (2015) let a decoder look back at every encoder state h_1..h_S instead of one
summary vector. At decoder step i, with the previous decoder state s_{i-1} as the query:

    e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)       score, "additive" attention      (5.1)
    α_ij = exp(e_ij) / Σ_k exp(e_ik)               weights: a softmax over j         (5.2)
    c_i  = Σ_j α_ij h_j                            context: the weighted average     (5.3)

Chapter 6 replaces the small network of (5.1) by a dot product, q·k / sqrt(D), which needs no
parameters and runs as one matrix product for all queries at once.

- ``masked_softmax``         (5.2) over the last axis, ignoring padded positions
- ``AdditiveAttention``      (5.1)-(5.3) with learned W_a, U_a, v_a
- ``dot_product_attention``  the same with the score q·k / sqrt(D) (chapter 6's eq. 1)
- ``WordInContext``          a word that looks up its meaning in its sentence (the "bank" task)

Masks are boolean, True where a key is a real token and False where it is padding, so a
sentence padded to a longer batch gets exactly the weights it would get alone.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tutorial_lib.utils import check_ids

__all__ = ["masked_softmax", "AdditiveAttention", "dot_product_attention", "WordInContext"]


def _check_float(x: object, name: str, ndim: int, expected: str, at_least: bool = False) -> Tensor:
    """TypeError unless ``x`` is a floating tensor; ValueError unless it has ``ndim`` dims (at
    least ``ndim`` if ``at_least``) and is not empty."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor {expected}, got {got}")
    if (x.ndim < ndim if at_least else x.ndim != ndim) or x.numel() == 0:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")
    return x


def _check_mask(mask: object, shape: tuple[int, ...], expected: str) -> Tensor | None:
    if mask is None:
        return None
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = f"dtype {mask.dtype}" if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a torch.bool tensor {expected} (True = attend), got {got}")
    try:
        torch.broadcast_shapes(mask.shape, shape)
    except RuntimeError:
        raise ValueError(f"mask must broadcast to {expected} = {tuple(shape)}, got {tuple(mask.shape)}") from None
    if not mask.any(dim=-1).all():  # any() over a broadcast axis is the same: no need to expand
        raise ValueError("mask hides every key of some query: each row needs at least one True")
    return mask


def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """Softmax over the last axis (5.2), with weight exactly 0 where ``mask`` is False.

    scores (..., S) float; mask broadcastable to it, bool, True = keep, at least one True per
    row (a row of nothing to attend to has no meaning). Returns weights (..., S) summing to 1.
    """
    if not isinstance(scores, Tensor) or not scores.is_floating_point() or scores.ndim == 0:
        raise TypeError("scores must be a floating-point torch.Tensor (..., S)")
    mask = _check_mask(mask, tuple(scores.shape), "(..., S)")
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # exp(-inf) = 0
    return torch.softmax(scores, dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention, eqs. (5.1)-(5.3) (chapter 5).

    W_a (A, C_q) maps the query, U_a (A, C_k) each key, v_a (A,) turns their tanh into a
    score; A = ``attention_size``. No biases, as in the paper. The keys are also the values:
    the context is a weighted average of the encoder states h_j themselves.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int = 64) -> None:
        super().__init__()
        for name, value in (("query_size", query_size), ("key_size", key_size),
                            ("attention_size", attention_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.query_size, self.key_size, self.attention_size = query_size, key_size, attention_size
        self.W_a = nn.Linear(query_size, attention_size, bias=False)
        self.U_a = nn.Linear(key_size, attention_size, bias=False)
        self.v_a = nn.Parameter(torch.empty(attention_size).uniform_(-1 / math.sqrt(attention_size),
                                                                      1 / math.sqrt(attention_size)))

    def project_keys(self, keys: Tensor) -> Tensor:
        """U_a h_j for every j: keys (B, S, C_k) -> (B, S, A). It does not depend on the
        decoder step, so a decoder computes it once per sentence and passes it to forward."""
        _check_float(keys, "keys", 3, f"(B, S, C_k) with C_k = {self.key_size}")
        if keys.shape[-1] != self.key_size:
            raise ValueError(f"keys must have shape (B, S, C_k) with C_k = {self.key_size}, got {tuple(keys.shape)}")
        return self.U_a(keys)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None,
                projected_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """query s_{i-1} (B, C_q), keys h (B, S, C_k), mask (B, S) bool -> context c_i (B, C_k)
        and weights α_i (B, S). ``projected_keys`` = :meth:`project_keys` (keys), if at hand."""
        _check_float(query, "query", 2, f"(B, C_q) with C_q = {self.query_size}")
        if query.shape[1] != self.query_size:
            raise ValueError(f"query must have shape (B, C_q) with C_q = {self.query_size}, got {tuple(query.shape)}")
        Uh = self.project_keys(keys) if projected_keys is None else projected_keys  # (B, S, A)
        B, S = keys.shape[:2]
        if query.shape[0] != B or Uh.shape != (B, S, self.attention_size):
            raise ValueError(f"query (B, C_q), keys (B, S, C_k) and projected_keys (B, S, A) must agree on B, S; "
                             f"got {tuple(query.shape)}, {tuple(keys.shape)}, {tuple(Uh.shape)}")
        Ws = self.W_a(query)[:, None, :]  # (B, 1, A), broadcast over the S keys
        e = torch.tanh(Ws + Uh) @ self.v_a  # (B, S, A) @ (A,) -> (B, S)        (5.1)
        alpha = masked_softmax(e, mask)  # (B, S)                                 (5.2)
        context = (alpha[:, :, None] * keys).sum(dim=1)  # Σ_j α_ij h_j (B, C_k)  (5.3)
        return context, alpha


def dot_product_attention(query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None,
                          scale: float | None = None) -> tuple[Tensor, Tensor]:
    """Attention with the score q·k scaled by ``scale`` (default 1 / sqrt(D)) (chapters 5, 6).

    query (..., T, D), keys (..., S, D), values (..., S, D_v), with the same leading dims
    (B, or B and H heads); mask broadcastable to (..., T, S), bool, True = attend. Returns
    outputs (..., T, D_v) and weights (..., T, S). With the default scale this is eq. 1 of the
    source notes, what ``F.scaled_dot_product_attention`` computes.
    """
    _check_float(query, "query", 3, "(..., T, D)", at_least=True)
    lead = tuple(query.shape[:-2])
    T, D = query.shape[-2:]
    _check_float(keys, "keys", query.ndim, "(..., S, D) with the leading dims of query")
    _check_float(values, "values", query.ndim, "(..., S, D_v) with the leading dims of query")
    if tuple(keys.shape[:-2]) != lead or keys.shape[-1] != D:
        raise ValueError(f"keys must have shape (..., S, D) = ({', '.join(map(str, lead))}, S, {D}) to match query, "
                         f"got {tuple(keys.shape)}")
    if values.shape[:-1] != keys.shape[:-1]:
        raise ValueError(f"values must have shape (..., S, D_v) with (..., S) = {tuple(keys.shape[:-1])}, "
                         f"got {tuple(values.shape)}")
    if scale is None:
        scale = 1 / math.sqrt(D)
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale must be a positive number or None (1 / sqrt(D)), got {scale!r}")
    scores = query @ keys.transpose(-2, -1) * scale  # (..., T, D) @ (..., D, S) -> (..., T, S)
    weights = masked_softmax(scores, _check_mask(mask, tuple(scores.shape), "(..., T, S)"))
    return weights @ values, weights  # (..., T, S) @ (..., S, D_v) -> (..., T, D_v)


class WordInContext(nn.Module):
    """Classify the sense of one word by letting it attend to the words of its sentence (chapter 5).

    No recurrence: the query is the embedding of the word to disambiguate (B, E), the keys are
    the embeddings of every word of the sentence (B, S, E), so the only way information moves
    from a context word to the answer is through the attention weights (5.1)-(5.3). A linear
    layer reads the class from the context vector. Input: ids (B, S) long, the positions of the
    word to classify (B,), and a mask (B, S) bool (True on words). Output: logits (B, num_classes)
    and the weights (B, S).
    """

    def __init__(self, vocab_size: int, num_classes: int, embed_size: int = 16, attention_size: int = 16) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.attention = AdditiveAttention(embed_size, embed_size, attention_size)
        self.head = nn.Linear(embed_size, num_classes)

    def forward(self, ids: Tensor, position: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        B, S = check_ids(ids, "ids", self.vocab_size, "(B, S)").shape
        if (not isinstance(position, Tensor) or position.dtype != torch.long or position.shape != (B,)
                or position.min() < 0 or position.max() >= S):
            raise ValueError(f"position must be a torch.long tensor (B,) = ({B},) with values in [0, {S})")
        x = self.embed(ids)  # (B, S, E): every word on its own, no context
        query = x[torch.arange(B), position]  # (B, E): the word to disambiguate
        context, alpha = self.attention(query, x, mask)  # (B, E), (B, S)
        return self.head(context), alpha  # (B, num_classes), (B, S)
