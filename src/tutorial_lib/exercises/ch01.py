"""Chapter 1 (Language models): the exercises' checkers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ._core import (
    Feedback,
    Mistake,
    _call,
    _check_number_fn,
    _compare,
    _describe,
    _fail,
    _numpy,
    _pass,
    _report,
    _scalar_verdict,
)


def check_perplexity(fn: Callable[[np.ndarray], float]) -> Feedback:
    """Chapter 1: check ``fn(log_probs) -> float``, the perplexity exp(-mean(log_probs)).

    ``log_probs``: (N,) natural-log probabilities the model gave to N tokens.
    """
    rng = np.random.default_rng(0)
    cases = [
        ("a uniform guess over V=4 symbols", np.full(10, np.log(0.25))),
        ("probabilities 1/2, 1/2, 1/4, 1", np.log([0.5, 0.5, 0.25, 1.0])),
        ("50 random probabilities", np.log(rng.uniform(0.01, 1.0, size=50))),
    ]
    mistakes: list[Mistake] = [
        (lambda lp: np.exp(np.mean(lp)), "that is exp(mean(log_probs)), the minus sign is missing. "
         "Log-probabilities are <= 0, so perplexity = exp(-mean(log_probs)) >= 1."),
        (lambda lp: -np.mean(lp), "that is the cross-entropy in nats; perplexity is its exponential, "
         "exp(-mean(log_probs))."),
        (lambda lp: np.mean(lp), "that is the mean log-probability; negate it and take the exponential."),
        (lambda lp: 2.0 ** -np.mean(lp), "you mixed bases (log2 vs natural log): log_probs are natural logs, "
         "so use np.exp; 2 ** H is only right when H is in bits (log2)."),
        (lambda lp: np.exp(-np.mean(lp) / np.log(2)), "you mixed bases (log2 vs natural log): in bits (log2) the "
         "perplexity is 2 ** H, in nats it is exp(H); don't combine log2 with exp."),
        (lambda lp: np.exp(-np.sum(lp)), "you used the sum of the log-probabilities; perplexity uses the mean "
         "(divide by the number of tokens)."),
    ]

    def reference(lp: np.ndarray) -> float:
        return float(np.exp(-np.mean(lp)))

    wrong = _check_number_fn(fn, "check_perplexity", cases, reference, mistakes,
                             "perplexity = exp(-mean(log_probs)); a uniform guess over V symbols gives exactly V.")
    right = _pass("perplexity = exp(-mean(log_probs)) on all 3 test cases (a uniform guess over 4 symbols gives 4.0).")
    return _report(wrong if wrong is not None else right)


def _bigram_counts(ids: Sequence[int], V: int) -> np.ndarray:
    C = np.zeros((V, V))  # C[a, b] = count of a followed by b
    np.add.at(C, (np.asarray(ids[:-1]), np.asarray(ids[1:])), 1)
    return C


def check_bigram_table(fn: Callable[[list[int], int, float], np.ndarray]) -> Feedback:
    """Chapter 1: check ``fn(ids, vocab_size, alpha) -> P``, the add-alpha bigram table.

    ``P`` is (V, V) with ``P[a, b] = p(b | a) = (count(a, b) + alpha) / (count(a) + alpha * V)``,
    where ``count(a)`` counts ``a`` as a context (positions 0 .. len(ids) - 2).
    """
    rng = np.random.default_rng(0)
    cases = [
        ("ids=[0, 1, 2, 0, 1, 1], V=3, alpha=1.0", [0, 1, 2, 0, 1, 1], 3, 1.0),
        ("60 random ids, V=5, alpha=0.5", rng.integers(0, 5, size=60).tolist(), 5, 0.5),
    ]
    for case, ids, V, alpha in cases:
        got, error = _call(fn, "check_bigram_table", case, list(ids), V, alpha)
        if error is not None:
            return _report(error)
        if got is None:
            return _report(_fail(f"your function returned None (on {case}). "
                                 "Hint: did you forget to `return` the table?"))
        got = _numpy(got)
        if not isinstance(got, np.ndarray):
            return _report(_fail(f"your function should return a numpy array of shape ({V}, {V}), "
                                 f"got {_describe(got)} (on {case})."))
        if got.shape != (V, V):
            return _report(_fail(f"the table should have shape (V, V) = ({V}, {V}), got {got.shape} (on {case}). "
                                 "Hint: one row per context a, one column per next token b."))
        if got.dtype.kind not in "iuf":
            return _report(_fail(f"the table should hold real numbers, got dtype {got.dtype} (on {case})."))
        P = got.astype(np.float64)
        if np.isnan(P).any():
            return _report(_fail(f"the table contains NaN (on {case}). Hint: a 0/0 for a context never seen? "
                                 "With alpha > 0 the denominator count(a) + alpha * V is never 0."))
        C = _bigram_counts(ids, V)
        context = C.sum(axis=1, keepdims=True)  # (V, 1): count(a) as a context
        ref = (C + alpha) / (context + alpha * V)  # (V, V)
        if np.allclose(P, ref, rtol=1e-6, atol=1e-9):
            continue
        with np.errstate(all="ignore"):
            mistakes: list[tuple[np.ndarray, str]] = [
                (ref.T, "the table is transposed. P[a, b] is p(b | a): row a is the context (the previous token), "
                 "column b the next token, so each row, not each column, sums to 1."),
                ((C + alpha) / (context + alpha), "you forgot alpha * V in the denominator: adding alpha to each of "
                 "the V counts in a row adds alpha * V to the row total."),
                (C / context, "you forgot the smoothing: add alpha to every count and alpha * V to each row total."),
                ((C + alpha) / (np.bincount(ids, minlength=V)[:, None] + alpha * V), "count(a) must count a only as a "
                 "context, at positions 0 .. len(ids) - 2 (ids[:-1]): the last token has no next token."),
                (C + alpha, "those are the smoothed counts; divide each row by its total to get probabilities."),
            ]
        for wrong, why in mistakes:
            if np.allclose(P, wrong, rtol=1e-6, atol=1e-9):
                return _report(_fail(f"on {case}: {why}"))
        sums = P.sum(axis=1)
        if not np.allclose(sums, 1.0, atol=1e-6):
            return _report(_fail(f"each row should sum to 1 (row a is the distribution p(. | a)); your row sums are "
                                 f"{np.round(sums, 4).tolist()} (on {case})."))
        where = _compare(P, ref, "P", 1e-6, 1e-9).message.removeprefix("❌ Not yet: ")
        return _report(_fail(f"on {case}: {where} Hint: P[a, b] = (count(a, b) + alpha) / (count(a) + alpha * V)."))
    return _report(_pass("the bigram table has shape (V, V), rows summing to 1 and the right values "
                         "on both test cases."))


def check_chain_rule(fn: Callable[[Sequence[float]], float]) -> Feedback:
    """Chapter 1: check ``fn(cond_probs) -> float``, the log-probability sum_k log p(y_k | y_<k).

    ``cond_probs``: the T conditional probabilities of a sequence's tokens, as a list.
    """
    rng = np.random.default_rng(0)
    cases = [
        ("cond_probs = [0.5, 0.25, 0.125]", [0.5, 0.25, 0.125]),
        ("20 random probabilities", rng.uniform(0.05, 1.0, size=20).tolist()),
        ("cond_probs = [1.0]", [1.0]),
    ]
    mistakes: list[Mistake] = [
        (np.prod, "that is the probability itself (the product). Return its log, the sum of the log-probabilities: "
         "products of many small numbers underflow, sums of logs do not."),
        (lambda p: np.sum(np.log10(p)), "you used log10; the book uses natural logs (np.log or math.log)."),
        (lambda p: np.sum(np.log2(p)), "you used log2; the book uses natural logs (np.log or math.log)."),
        (lambda p: np.mean(np.log(p)), "you averaged; the log-probability of a sequence is the sum of the logs, "
         "not the mean."),
        (lambda p: -np.sum(np.log(p)), "wrong sign: that is the negative log-probability (the loss); "
         "the log-probability itself is <= 0."),
    ]

    def reference(p: list[float]) -> float:
        return float(np.sum(np.log(p)))

    wrong = _check_number_fn(fn, "check_chain_rule", cases, reference, mistakes,
                             "log p(y_1..y_T) = sum over k of log p(y_k | y_<k).")
    right = _pass("log p(sequence) = sum of log p(y_k | y_<k) on all 3 test cases.")
    return _report(wrong if wrong is not None else right)


def _window_counts(queries: np.ndarray, table: np.ndarray) -> np.ndarray:
    """How often each row of ``queries`` (N, k) occurs as a row of ``table`` (M, k)."""
    void = np.dtype((np.void, table.dtype.itemsize * table.shape[1]))  # a row as one opaque value
    keys, counts = np.unique(np.ascontiguousarray(table).view(void).ravel(), return_counts=True)
    q = np.ascontiguousarray(queries).view(void).ravel()
    i = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
    return np.where(keys[i] == q, counts[i], 0)


def check_smoothing_sweep(ces: Any, train_ids: Any, val_ids: Any, vocab_size: int) -> Feedback:
    """Chapter 1: check ``ces``, a dict {(order, alpha): cross-entropy} (exercise 1.4): the validation
    cross-entropy in nats per token of the add-alpha n-gram model fitted on ``train_ids``, for
    orders 3 and 6 and alpha in 0.003, 0.03, 0.3 and 3. Recomputed here from the counts."""
    orders, alphas = (3, 6), (0.003, 0.03, 0.3, 3.0)
    if not isinstance(ces, dict):
        return _report(_fail(f"pass a dict {{(order, alpha): cross-entropy}}; got {_describe(ces)}."))
    train, val = (np.asarray(_numpy(torch.as_tensor(x)), dtype=np.int64) for x in (train_ids, val_ids))
    reference = {}
    for n in orders:
        def windows(ids: np.ndarray) -> np.ndarray:  # (N, n): n - 1 tokens of context, then the next
            return np.lib.stride_tricks.sliding_window_view(ids, n)
        tr, va = windows(train), windows(val)
        for name, rows in (("val", va), ("train", tr)):
            pair, ctx = _window_counts(rows, tr), _window_counts(rows[:, :-1], tr[:, :-1])
            for a in alphas:  # add-alpha: p = (count(ctx, next) + a) / (count(ctx) + a V)
                reference[name, n, a] = float(-np.mean(np.log((pair + a) / (ctx + a * vocab_size))))
    for n in orders:
        for a in alphas:
            if (n, a) not in ces:
                return _report(_fail(f"ces has no value for order {n}, alpha {a:g}: key it (order, alpha), "
                                     f"e.g. ces[{n}, {a:g}]."))
            expected = reference["val", n, a]
            mistakes = [
                (reference["train", n, a], "that is the cross-entropy on the training text, which the counts "
                 "came from; measure it on the validation text."),
                (expected / math.log(2), "that is in bits; the book measures cross-entropy in nats (natural log)."),
                (reference["val", n, 0.03], "that is the value for alpha = 0.03: pass alpha= to NGramModel."),
            ]
            feedback = _scalar_verdict(ces[n, a], None, expected, mistakes, "", what=f"ces[{n}, {a:g}]",
                                       nonfinite="look for log(0): alpha must be > 0.", rtol=1e-6)
            if not feedback.ok:
                return _report(feedback)
    spread = {n: max(ces[n, a] for a in alphas) - min(ces[n, a] for a in alphas) for n in orders}
    return _report(_pass(f"all 8 cross-entropies; over these alphas order 6 moves by {spread[6]:.2f} nats, "
                         f"order 3 by {spread[3]:.2f}."))
