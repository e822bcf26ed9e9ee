"""Checkers that give a learner feedback on an exercise (all chapters).

A learner writes a function in an exercise cell and passes it to a checker,
e.g. ``check_perplexity(perplexity)``. The checker prints one line, either
``✅ Correct: ...`` or ``❌ Not yet: ...`` (what is wrong, expected vs got, and a
hint), and returns a :class:`Feedback`. A wrong answer never raises: an
exception from the learner's code is caught and reported.

The reference answers are written here independently, in a few lines of numpy,
so a checker never trusts the library code it is teaching.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True, repr=False)
class Feedback:
    """The verdict of a checker (all chapters): truthy when the answer is right."""

    ok: bool  # True when the answer is right
    message: str  # one line: "✅ Correct: ..." or "❌ Not yet: ..."
    printed: bool = field(default=False, compare=False)  # the checker already printed the message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        # As a cell's last value, show the verdict only if the checker has not already printed it.
        if not self.printed:
            print(self.message)


# ---------------------------------------------------------------- building blocks


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _pass(text: str) -> Feedback:
    return Feedback(True, "✅ Correct: " + _one_line(text))


def _fail(text: str) -> Feedback:
    return Feedback(False, "❌ Not yet: " + _one_line(text))


def _report(feedback: Feedback, quiet: bool = False) -> Feedback:
    """Print the verdict (unless ``quiet``) and return it."""
    if quiet:
        return feedback
    print(feedback.message)
    return replace(feedback, printed=True)


def _describe(x: Any) -> str:
    """A short description of a value's type (and shape), for messages."""
    if isinstance(x, torch.Tensor):
        return f"a torch.Tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"a numpy array of shape {x.shape} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def _as_number(x: Any) -> float | None:
    """``x`` as a float if it is a single real number (python, numpy or 0-d tensor), else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, numbers.Real):
        return float(x)
    if isinstance(x, torch.Tensor) and x.ndim == 0 and x.dtype != torch.bool and not x.is_complex():
        return float(x.item())
    if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf":
        return float(x)
    return None


def _numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """A tensor as a numpy array (bfloat16 widened, which numpy lacks); arrays unchanged."""
    if not isinstance(x, torch.Tensor):
        return x
    x = x.detach().cpu()
    return (x.float() if x.dtype == torch.bfloat16 else x).numpy()


def _index(idx: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _numbers_close(got: float, expected: float, name: str, rtol: float, atol: float) -> Feedback:
    if math.isnan(got) and not math.isnan(expected):
        return _fail(f"{name} is NaN, expected {expected:.6g}. Hint: look for 0/0, log(0) or inf - inf.")
    if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) or (math.isnan(got) and math.isnan(expected)):
        return _pass(f"{name} = {got:.6g} (abs error {abs(got - expected):.1e}).")
    return _fail(f"{name} = {got:.6g}, expected {expected:.6g} (abs error {abs(got - expected):.3g}).")


def _kind_group(dtype: np.dtype) -> str:
    return {"b": "boolean", "i": "integer", "u": "integer", "f": "floating point", "c": "complex"}.get(
        dtype.kind, str(dtype)
    )


def _compare(got: Any, expected: Any, name: str, rtol: float, atol: float) -> Feedback:
    """The verdict of :func:`check_close`, without printing."""
    if got is None:
        return _fail(f"{name} is None. Hint: did you forget to `return` the result?")
    expected_number = _as_number(expected) if not isinstance(expected, (np.ndarray, torch.Tensor)) else None
    if expected_number is not None:
        got_number = _as_number(got)
        if got_number is None:
            return _fail(f"{name} should be a single number, got {_describe(got)}.")
        return _numbers_close(got_number, expected_number, name, rtol, atol)
    if not isinstance(expected, (np.ndarray, torch.Tensor)):
        raise TypeError(f"expected must be a number, numpy array or tensor, got {type(expected).__name__}")
    for kind in (torch.Tensor, np.ndarray):
        if isinstance(expected, kind) and not isinstance(got, kind):
            hint = " Hint: convert with torch.as_tensor(...)." if kind is torch.Tensor else ""
            if kind is np.ndarray and isinstance(got, torch.Tensor):
                hint = " Hint: convert with .numpy()."
            return _fail(f"{name} should be a {kind.__module__}.{kind.__name__}, got {_describe(got)}.{hint}")
    g, e = _numpy(got), _numpy(expected)
    if g.dtype.kind not in "biufc":
        return _fail(f"{name} should hold numbers, got dtype {g.dtype}.")
    if g.shape != e.shape:
        return _fail(f"{name} has shape {g.shape}, expected {e.shape}.")
    if _kind_group(g.dtype) != _kind_group(e.dtype):
        return _fail(
            f"{name} has a {_kind_group(g.dtype)} dtype ({g.dtype}), expected {_kind_group(e.dtype)} ({e.dtype})."
        )
    if g.dtype.kind in "fc":
        bad = np.isnan(g) & ~np.isnan(e)
        if bad.any():
            first = _index(np.argwhere(bad)[0])
            return _fail(f"{name} contains NaN, first at index {first}. Hint: look for 0/0 or log(0).")
    close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g.astype(np.float64) - e.astype(np.float64))
    max_err = float(np.nanmax(err)) if err.size and not np.isnan(err).all() else 0.0
    if close.all():
        return _pass(f"{name} matches the expected values (max abs error {max_err:.1e}).")
    idx = tuple(np.argwhere(~close)[0])
    return _fail(
        f"{name} differs at {int((~close).sum())} of {close.size} entries; first at index {_index(idx)}: "
        f"expected {e[idx]:.6g}, got {g[idx]:.6g} (max abs error {max_err:.3g})."
    )


def check_close(
    got: Any,
    expected: Any,
    name: str = "your answer",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    *,
    quiet: bool = False,
) -> Feedback:
    """Check that ``got`` equals ``expected`` within ``rtol``/``atol`` (all chapters).

    Works for numbers, numpy arrays and tensors; reports a type, shape or dtype
    mismatch, NaNs, the max abs error and the first differing index. Prints the
    verdict unless ``quiet`` and returns a :class:`Feedback`.
    """
    return _report(_compare(got, expected, name, rtol, atol), quiet)


def check_shape(
    got: Any, expected_shape: Sequence[int | None], name: str = "your answer", *, quiet: bool = False
) -> Feedback:
    """Check that ``got.shape`` is ``expected_shape``; ``None`` matches any size (all chapters).

    Prints the verdict unless ``quiet`` and returns a :class:`Feedback`.
    """
    if not isinstance(expected_shape, (tuple, list)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in expected_shape
    ):
        raise TypeError(f"expected_shape must be a tuple of ints (or None), got {expected_shape!r}")
    sizes = ["any" if d is None else str(d) for d in expected_shape]
    want = "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"  # printed like a tuple
    if not hasattr(got, "shape"):
        feedback = _fail(f"{name} should be an array or tensor of shape {want}, got {_describe(got)}.")
    elif len(got.shape) != len(expected_shape):
        feedback = _fail(f"{name} has shape {tuple(got.shape)} ({len(got.shape)} dimensions), "
                         f"expected {want} ({len(expected_shape)} dimensions).")
    elif any(w is not None and w != s for s, w in zip(got.shape, expected_shape)):
        feedback = _fail(f"{name} has shape {tuple(got.shape)}, expected {want}.")
    else:
        feedback = _pass(f"{name} has the expected shape {tuple(got.shape)}.")
    return _report(feedback, quiet)


def _call(fn: Any, checker: str, case: str, *args: Any) -> tuple[Any, Feedback | None]:
    """Run the learner's ``fn(*args)``; a Feedback instead of raising if that fails."""
    if not callable(fn):
        return None, _fail(
            f"{checker} needs your function itself, e.g. {checker}(my_function) without calling it; "
            f"got {_describe(fn)}."
        )
    try:
        return fn(*args), None
    except Exception as exc:  # the learner's bug, reported rather than raised
        return None, _fail(f"your function raised {type(exc).__name__}: {exc} (on {case}).")


Mistake = tuple[Callable[..., Any], str]  # (a common wrong answer, the hint that explains it)


def _check_number_fn(
    fn: Any,
    checker: str,
    cases: list[tuple[str, Any]],
    reference: Callable[[Any], float],
    mistakes: list[Mistake],
    hint: str,
) -> Feedback | None:
    """Run a function that should return a single number on each case; None if all are right."""
    for case, arg in cases:
        got, error = _call(fn, checker, case, list(arg) if isinstance(arg, list) else np.array(arg))
        if error is not None:
            return error
        if got is None:
            return _fail(f"your function returned None (on {case}). Hint: did you forget to `return` the result?")
        value = _as_number(got)
        if value is None:
            return _fail(f"your function should return a single number, got {_describe(got)} (on {case}). Hint: {hint}")
        expected = reference(arg)
        if math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        for wrong, why in mistakes:
            with np.errstate(all="ignore"):
                w = float(wrong(np.asarray(arg)))
            if math.isfinite(w) and math.isclose(value, w, rel_tol=1e-6, abs_tol=1e-9):
                return _fail(f"on {case} you returned {value:.6g}, expected {expected:.6g}: {why}")
        return _fail(f"on {case} you returned {value:.6g}, expected {expected:.6g}. Hint: {hint}")
    return None


LOGSIGMOID_HINT = ("for a large negative margin d, log(sigmoid(d)) underflows to log 0; use "
                   "torch.nn.functional.logsigmoid(d), which is exact.")


def _scalar_verdict(got: Any, error: Feedback | None, expected: Any, mistakes: Sequence[tuple[Any, str]],
                    success: str, what: str = "the loss", nonfinite: str = LOGSIGMOID_HINT,
                    rtol: float = 1e-4) -> Feedback:
    """The verdict, not printed, on a function that must return one number ``what``: its error,
    not a number, not finite (``nonfinite`` says why it may be), a known mistake (one that differs
    from the expected value), then the value against ``expected``."""
    if error is not None:
        return error
    value = _as_number(got)
    if value is None:
        return _fail(f"return {what} as a number or a 0-d tensor; got {_describe(got)}.")
    if not np.isfinite(value):
        return _fail(f"{what} is {value}: {nonfinite}")
    expected = float(expected)
    for wrong, why in mistakes:
        wrong = float(wrong)
        if abs(value - wrong) <= rtol * max(1.0, abs(wrong)) and abs(wrong - expected) > rtol * max(1.0, abs(expected)):
            return _fail(why)
    feedback = _numbers_close(value, expected, what, rtol=rtol, atol=rtol / 10)
    return _pass(success) if feedback.ok else feedback


def _judge_scalar(*args: Any, **kwargs: Any) -> Feedback:
    """:func:`_scalar_verdict`, printed."""
    return _report(_scalar_verdict(*args, **kwargs))


def _judge_cases(fn: Any, checker: str, cases: Sequence[tuple[str, tuple, Any, Sequence[tuple[Any, str]]]],
                 success: str, what: str, rtol: float = 1e-6) -> Feedback:
    """Run ``fn(*args)`` on each (case, args, expected, mistakes) and judge the number it returns;
    print the first wrong verdict (naming its case), or ``success``."""
    for case, args, expected, mistakes in cases:
        got, error = _call(fn, checker, case, *args)
        feedback = _scalar_verdict(got, error, expected, mistakes, success, what=what,
                                   nonfinite="look for an overflow or a division by zero.", rtol=rtol)
        if not feedback.ok:
            return _report(feedback if error is not None else replace(feedback, message=f"{feedback.message} (on {case})"))
    return _report(_pass(success))


# ---------------------------------------------------------------- chapter 1


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


# ---------------------------------------------------------------- chapter 2


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


# ---------------------------------------------------------------- chapter 3


def check_clip_grad_norm(fn: Callable[[list[torch.Tensor], float], list[torch.Tensor]]) -> Feedback:
    """Chapter 3: check ``fn(grads, max_norm) -> clipped``, clipping by the global norm.

    ``grads`` is a list of gradient tensors of any shapes; the answer returns new tensors
    scaled by min(1, max_norm / ‖g‖), where ‖g‖ is the norm of all of them together.
    """
    g = torch.Generator().manual_seed(0)
    big = [torch.randn(4, 3, generator=g) * 10, torch.randn(5, generator=g) * 10]  # norm ~ 60
    small = [torch.randn(4, 3, generator=g) * 0.01, torch.randn(5, generator=g) * 0.01]

    def reference(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
        total = torch.sqrt(sum(t.square().sum() for t in grads))
        return [t * min(1.0, max_norm / float(total)) for t in grads]

    for case, grads, max_norm in (("large gradients, max_norm=1", big, 1.0),
                                  ("small gradients, max_norm=1", small, 1.0)):
        got, error = _call(fn, "check_clip_grad_norm", case, [t.clone() for t in grads], max_norm)
        if error is not None:
            return _report(error)
        if not isinstance(got, (list, tuple)) or len(got) != len(grads):
            return _report(_fail(f"return a list of {len(grads)} tensors, one per gradient; got {_describe(got)}."))
        expected = reference(grads, max_norm)
        if all(isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-7)
               for a, b in zip(got, expected)):
            continue
        per_tensor = [t * min(1.0, max_norm / float(t.norm())) for t in grads]
        scaled_up = [t * (max_norm / float(torch.sqrt(sum(u.square().sum() for u in grads)))) for t in grads]
        clamped = [t.clamp(-max_norm, max_norm) for t in grads]
        for wrong, why in ((per_tensor, "you clipped each tensor on its own; clip by the norm of all gradients "
                            "together, so their directions relative to each other are kept."),
                           (scaled_up, "you rescaled even when the norm was already below max_norm; clipping "
                            "only ever shrinks: scale by min(1, max_norm / norm)."),
                           (clamped, "you clamped each value; that is clipping by value. Clip by norm: "
                            "multiply every gradient by the same factor.")):
            if all(isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-7)
                   for a, b in zip(got, wrong)):
                return _report(_fail(f"on {case}: {why}"))
        return _report(_fail(f"on {case} the clipped gradients differ from the expected ones. Hint: compute "
                             "norm = sqrt(sum of all squared entries), then multiply each tensor by "
                             "min(1, max_norm / norm)."))
    return _report(_pass("gradients are scaled by min(1, max_norm / global norm), large and small cases."))


def check_one_d_jacobian(fn: Callable[[float, int, int], float]) -> Feedback:
    """Chapter 3: check ``fn(w, T, k) -> float`` (exercise 3.2): ∂h_T / ∂h_k for the
    one-dimensional linear RNN h_t = w h_{t-1} + u x_t, found here by autograd through the steps."""
    g = torch.Generator().manual_seed(3)

    def autograd(w: float, T: int, k: int) -> float:
        h_k = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        h = h_k
        for _ in range(k + 1, T + 1):
            h = w * h + 0.7 * torch.randn((), generator=g, dtype=torch.float64)  # u x_t does not matter
        return float(torch.autograd.grad(h, h_k)[0])

    cases = []
    for w, T, k in ((0.9, 30, 5), (1.2, 20, 0), (-0.5, 7, 2), (1.0, 50, 10)):
        mistakes = [
            (w ** T, "the product runs over the steps from k + 1 to T: T - k factors of w, not T."),
            (w ** (T - k + 1), "one factor too many: T - k steps separate h_k from h_T."),
            (w ** (T - k - 1), "one factor too few: T - k steps separate h_k from h_T."),
            ((T - k) * w ** (T - k - 1), "that is the derivative of w^(T-k) with respect to w; the exercise "
             "differentiates with respect to the state h_k."),
            (abs(w) ** (T - k), "keep the sign of w: a negative w flips the sign at every step."),
        ]
        cases.append((f"w={w}, T={T}, k={k}", (w, T, k), autograd(w, T, k), mistakes))
    return _judge_cases(fn, "check_one_d_jacobian", cases,
                        "∂h_T/∂h_k = w^(T-k): it vanishes for |w| < 1 and explodes for |w| > 1.", "∂h_T/∂h_k")


def check_crossing_radius(fn: Callable[[Sequence[float], Sequence[float]], float]) -> Feedback:
    """Chapter 3: check ``fn(radii, gammas) -> float`` (exercise 3.3): the radius at which the per-step
    factor γ, measured at increasing ``radii``, reaches 1, by linear interpolation between the last
    radius below 1 and the first at or above it (the measurements are assumed to cross 1)."""
    cases = []
    for radii, gammas in (([1, 2, 4, 8, 16], [0.2, 0.3, 0.5, 0.8, 1.4]),
                          ([0.5, 1.0, 1.5, 2.0], [0.6, 0.9, 1.2, 1.5])):
        j = next(i for i, g in enumerate(gammas) if g >= 1)  # the first at or above 1
        (r0, g0), (r1, g1) = (radii[j - 1], gammas[j - 1]), (radii[j], gammas[j])
        expected = r0 + (1 - g0) / (g1 - g0) * (r1 - r0)
        mistakes = [
            (r1, "that is the first radius measured above 1; interpolate between it and the one before."),
            (r0, "that is the last radius below 1; interpolate between it and the next one."),
            ((r0 + r1) / 2, "that is the midpoint; weigh by how far each γ is from 1."),
            (r1 - (1 - g0) / (g1 - g0) * (r1 - r0), "the interpolation runs the wrong way: start from the "
             "radius below, r0 + (1 - γ0) / (γ1 - γ0) (r1 - r0)."),
        ]
        cases.append((f"radii {radii}, γ {gammas}", (list(radii), list(gammas)), expected, mistakes))
    return _judge_cases(fn, "check_crossing_radius", cases,
                        "the radius where γ reaches 1, interpolated between the two measurements around it.",
                        "the radius")


# ---------------------------------------------------------------- chapter 4


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


# ---------------------------------------------------------------- chapter 5


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


# ---------------------------------------------------------------- chapter 6


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


# ---------------------------------------------------------------- chapter 7


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


# ---------------------------------------------------------------- chapter 8


def check_lookup_answer(fn: Callable[[str], str]) -> Feedback:
    """Chapter 8: check ``fn(prompt) -> letter`` for prompts in the compact format ("aCbAa":
    examples, then the query input): the output after the latest earlier occurrence of the
    query, else the first output letter (A-H) the prompt has not used."""
    from tutorial_lib.tasks import RULE_OUTPUTS

    cases = [  # (prompt, answer, what the case tests)
        ("aCbAa", "C", "the query shown once"),
        ("aCbAcDb", "A", "the query shown earlier in the prompt"),
        ("aCbAaCcDb", "A", "the query shown once, other examples repeated"),
        ("aCbAc", "B", "an unseen query: the first output letter not used (A and C are)"),
        ("d", "A", "no examples at all"),
    ]
    for prompt, answer, what in cases:
        got, error = _call(fn, "check_lookup_answer", f"prompt {prompt!r}", prompt)
        if error is not None:
            return _report(error)
        if not isinstance(got, str) or len(got) != 1:
            return _report(_fail(f"return one output letter such as 'C'; for {prompt!r} you returned "
                                 f"{_describe(got)}."))
        if got != answer:
            shown = prompt[-1] in prompt[:-1:2]
            if got not in RULE_OUTPUTS:
                hint = "answers are output letters A-H"
            elif shown and got in prompt[1::2]:
                hint = "copy the letter right after the query's earlier occurrence in the prompt"
            elif shown:
                hint = "the query was shown: return the letter that followed it, not a guess"
            elif got in prompt[1::2]:
                hint = "the query was not shown, so its answer is one of the outputs the prompt has not used yet"
            else:
                hint = "pick the first unused output letter in alphabetical order"
            return _report(_fail(f"for {prompt!r} ({what}) the answer is {answer!r}, you returned {got!r}: {hint}."))
    return _report(_pass("your lookup answers like an ideal reader who copies when it can and guesses "
                         "among the unused outputs when it cannot."))


def _distinct_counts(k: int, K: int) -> list[float]:
    """P(D = d), d = 0..K: the number of distinct values among k uniform draws from K, by
    counting: C(K, d) x (ways to map k draws onto exactly d values, d! S(k, d)) / K^k."""
    S = [[0] * (K + 1) for _ in range(k + 1)]  # Stirling numbers of the second kind S(n, d)
    S[0][0] = 1
    for n in range(1, k + 1):
        for d in range(1, K + 1):
            S[n][d] = d * S[n - 1][d] + S[n - 1][d - 1]
    return [math.comb(K, d) * math.factorial(d) * S[k][d] / K ** k for d in range(K + 1)]


def check_ideal_reader(fn: Callable[[int, int], float]) -> Feedback:
    """Chapter 8: check ``fn(k, K) -> float`` (exercise 8.2): the expected accuracy of the ideal reader
    after k examples whose inputs are drawn uniformly from K symbols (no repeats forced): right
    when the query's input was shown, else a guess among the K - D outputs not yet used."""
    cases = []
    for k, K in ((0, 8), (4, 8), (15, 8), (28, 8), (3, 5)):
        p = _distinct_counts(k, K)
        right = [1.0 if d == K else d / K + (1 - d / K) / (K - d) for d in range(K + 1)]
        expected = sum(pd * r for pd, r in zip(p, right))
        mean_d = sum(d * pd for d, pd in enumerate(p))
        mistakes = [
            (mean_d / K, "add the guesses: when the query was not shown the reader still picks one of the "
             "K - D unused outputs, right once in K - D."),
            (sum(pd * (d / K + (1 - d / K) / K) for d, pd in enumerate(p)), "a reader who knows the rule is a "
             "permutation guesses among the K - D outputs not used yet, not among all K."),
            ((mean_d + 1) / K, "(D + 1) / K holds while D < K; a reader who has seen all K inputs is always "
             "right (weigh each D by its probability)."),
            (min(1.0, (k + 1) / K), "k examples do not show k different inputs: draws repeat, so count the "
             "distinct ones, D, and average over its distribution."),
        ]
        cases.append((f"k={k}, K={K}", (k, K), expected, mistakes))
    return _judge_cases(fn, "check_ideal_reader", cases,
                        "the ideal reader's expected accuracy, averaged over how many inputs the examples showed.",
                        "the accuracy")


# ---------------------------------------------------------------- chapter 9


def check_lora_forward(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 9: check ``fn(x, W, b, A, B, alpha) -> y``, a linear layer with a LoRA update (9.3):
    y = x W^T + b + (alpha / r) (x A^T) B^T, with x (N, in), W (out, in), b (out,), A (r, in),
    B (out, r) and r the rank, A's number of rows."""
    g = torch.Generator().manual_seed(9)
    N, n_in, n_out, r, alpha = 4, 6, 5, 2, 8.0
    x, W, b = torch.randn(N, n_in, generator=g), torch.randn(n_out, n_in, generator=g), torch.randn(n_out, generator=g)
    A, B = torch.randn(r, n_in, generator=g), torch.randn(n_out, r, generator=g)
    base, update = x @ W.T + b, (x @ A.T) @ B.T  # (N, out), (N, out)
    expected = base + alpha / r * update
    mistakes = [
        (base + update, "scale the low-rank update by alpha / r (here 8 / 2 = 4), as in (9.3)."),
        (base + alpha * update, "the scale is alpha / r, not alpha: dividing by r keeps the update's size "
         "the same when you change the rank."),
        (alpha / r * update + x @ W.T, "the frozen layer's bias b is missing: y = x W^T + b + ..."),
        (alpha / r * update, "add the frozen layer's output x W^T + b: LoRA learns a change to W, not a "
         "new layer."),
        (base, "that is the frozen layer alone; add (alpha / r) (x A^T) B^T."),
    ]
    got, error = _call(fn, "check_lora_forward", "x (4, 6), W (5, 6), A (2, 6), B (5, 2), alpha 8",
                       x, W, b, A, B, alpha)
    return _judge_one(got, error, expected, mistakes, "y",
                      "y = x W^T + b + (alpha / r) (x A^T) B^T: the frozen layer plus a rank-r update.", atol=1e-5)


def check_response_targets(fn: Callable[[list[int], list[int]], tuple[torch.Tensor, torch.Tensor]]) -> Feedback:
    """Chapter 9: check ``fn(prompt_ids, response_ids) -> (x, y)`` for one SFT example: the text is
    prompt + response (the response ends with its newline), ``x`` its ids but the last and ``y``
    the next ids, with -100 (no loss) on every target that is still part of the prompt. Both (T,)
    long tensors, T = len(prompt_ids) + len(response_ids) - 1."""
    prompt, response = [5, 9, 2, 7, 3], [4, 8, 1]
    ids = torch.tensor(prompt + response)
    x = ids[:-1]
    P = len(prompt)

    def targets(masked: int, invert: bool = False) -> torch.Tensor:
        y = ids[1:].clone()
        if invert:
            y[masked:] = -100
        else:
            y[:masked] = -100
        return y

    expected = (x, targets(P - 1))
    mistakes = [
        ((x, ids[1:]), "no target is masked: set y to -100 where the next token is still part of the prompt, so "
         "the model is not trained to write prompts."),
        ((x, targets(P)), "one target too many is masked: position len(prompt) - 1, the prompt's last token, "
         "predicts the response's first token, and that target must stay."),
        ((x, targets(P - 2)), "one target too few is masked: y[len(prompt) - 2] is the prompt's last token, "
         "which is not part of the answer."),
        ((x, targets(P - 1, invert=True)), "the mask is the wrong way round: the loss is on the response, "
         "-100 on the prompt."),
        ((ids, torch.cat([targets(P - 1), torch.tensor([-100])])), "x is the text without its last token "
         "(nothing follows it), and y the text shifted left by one."),
    ]
    got, error = _call(fn, "check_response_targets", "prompt [5, 9, 2, 7, 3], response [4, 8, 1]",
                       list(prompt), list(response))
    return _judge_pair(got, error, expected, mistakes, ("x", "y"),
                       "the loss covers the response and its end, and never the prompt.")


def check_early_stopping(fn: Callable[[Sequence[int], Sequence[float]], tuple[int, float]]) -> Feedback:
    """Chapter 9: check ``fn(val_steps, val_loss) -> (step, loss)`` (exercise 9.3): the step with the
    lowest held-out loss and that loss; on a tie, the earliest such step."""
    cases = [
        ("a loss that falls, then rises", [0, 20, 40, 60, 80], [2.0, 1.5, 1.2, 1.3, 1.6]),
        ("a tie between steps 20 and 60", [0, 20, 40, 60], [2.0, 1.2, 1.4, 1.2]),
        ("a loss that only falls", [0, 10, 20], [3.0, 2.0, 1.0]),
    ]
    for case, steps, losses in cases:
        best = min(range(len(losses)), key=lambda i: (losses[i], i))
        expected = (steps[best], losses[best])
        last_best = max(i for i, v in enumerate(losses) if v == losses[best])
        mistakes = [
            ((best, losses[best]), "return the training step, val_steps[i], not the index i."),
            ((steps[last_best], losses[last_best]), "on a tie keep the earliest step: the same loss for fewer steps."),
            ((steps[-1], losses[-1]), "that is the last evaluation; keep the one with the lowest held-out loss."),
            ((steps[int(np.argmax(losses))], max(losses)), "that is the highest loss; keep the lowest."),
        ]
        got, error = _call(fn, "check_early_stopping", case, list(steps), list(losses))
        if error is not None:
            return _report(error)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or any(_as_number(v) is None for v in got):
            return _report(_fail(f"return the pair (step, loss) as two numbers; got {_describe(got)} (on {case})."))
        pair = (_as_number(got[0]), _as_number(got[1]))
        if pair != expected:
            why = next((w for wrong, w in mistakes if wrong == pair and wrong != expected), None)
            return _report(_fail(f"on {case} you returned ({pair[0]:g}, {pair[1]:g}), expected {expected}"
                                 + (f": {why}" if why else ".")))
    return _report(_pass("the step with the lowest held-out loss, the earliest on a tie."))


# ---------------------------------------------------------------- chapter 10


def check_bradley_terry(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Chapter 10: check ``fn(r_chosen, r_rejected) -> loss``, the Bradley-Terry loss (10.1):
    -mean log sigma(r_chosen - r_rejected) over the pairs, both (B,)."""
    r_w = torch.tensor([2.0, -0.5, 0.3, -100.0])
    r_l = torch.tensor([1.0, 0.5, 0.3, 100.0])  # the last pair: the model is sure, and wrong
    d = r_w - r_l
    expected = -F.logsigmoid(d).mean()
    mistakes = [
        (-F.logsigmoid(-d).mean(), "the sign is the wrong way round: the chosen reward minus the rejected one."),
        (F.logsigmoid(d).mean(), "the loss is minus the log-likelihood: -log sigma(r_w - r_l)."),
        (-F.logsigmoid(d).sum(), "average over the pairs (mean), do not sum."),
        (-torch.sigmoid(d).mean(), "take the log of the probability: the loss is -log sigma(r_w - r_l)."),
        ((1 - torch.sigmoid(d)).mean(), "take the log of the probability: the loss is -log sigma(r_w - r_l)."),
    ]
    got, error = _call(fn, "check_bradley_terry", "r_chosen [2, -0.5, 0.3, -100], r_rejected [1, 0.5, 0.3, 100]",
                       r_w.clone(), r_l.clone())
    return _judge_scalar(got, error, expected, mistakes,
                         "-mean log sigma(r_w - r_l): the Bradley-Terry negative log-likelihood, stable at any margin.")


def check_dpo_loss(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 10: check ``fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta) ->
    loss``, the DPO loss (10.5), from the responses' log-probabilities (B,) and beta > 0."""
    pc, pr = torch.tensor([-3.0, -6.0, -2.0]), torch.tensor([-5.0, -4.0, -2.5])
    rc, rr = torch.tensor([-4.0, -5.0, -2.0]), torch.tensor([-4.5, -4.5, -3.0])
    beta = 0.5
    margin = (pc - rc) - (pr - rr)  # (B,)
    expected = -F.logsigmoid(beta * margin).mean()
    mistakes = [
        (-F.logsigmoid(beta * (pc - pr)).mean(), "subtract the reference's log-probabilities: the implicit reward "
         "is beta log(pi / pi_ref), a change from the reference, not the policy's own log-probability."),
        (-F.logsigmoid(margin).mean(), "multiply the margin by beta, as in (10.5)."),
        (-F.logsigmoid(-beta * margin).mean(), "the sign is the wrong way round: chosen minus rejected."),
        (-F.logsigmoid(beta * margin).sum(), "average over the pairs (mean), do not sum."),
        (-F.logsigmoid(beta * ((pc - rc) + (pr - rr))).mean(), "the rejected response's term is subtracted: "
         "(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))."),
    ]
    got, error = _call(fn, "check_dpo_loss", "three pairs of log-probabilities, beta 0.5",
                       pc.clone(), pr.clone(), rc.clone(), rr.clone(), beta)
    return _judge_scalar(got, error, expected, mistakes,
                         "the Bradley-Terry loss on the implicit reward beta log(pi / pi_ref): no reward model needed.")


def check_blind_spot(english_no_e: Sequence[str], gibberish_no_e: Sequence[str], english_with_e: Sequence[str],
                     score: Callable[[list[str]], Any], vocabulary: set[str] | None = None,
                     length: int = 12) -> Feedback:
    """Chapter 10: check exercise 10.3's experiment: three lists of hand-written responses of
    ``length`` characters (real English without an e, gibberish without an e, English with e's)
    and ``score(texts) -> rewards`` (n,), the reward model on them. Checks the responses are what
    their list says (with ``vocabulary``, that the English is made of words and the gibberish is
    not) and the scores' shape, then reports the mean reward of each list."""
    from tutorial_lib.tasks import real_word_share

    groups = {"english_no_e": english_no_e, "gibberish_no_e": gibberish_no_e, "english_with_e": english_with_e}
    means = {}
    for name, texts in groups.items():
        if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts \
                or not all(isinstance(t, str) for t in texts):
            return _report(_fail(f"{name} should be a non-empty list of strings; got {_describe(texts)}."))
        wrong_length = [t for t in texts if len(t) != length]
        if wrong_length:
            return _report(_fail(f"{name}: {wrong_length[0]!r} has {len(wrong_length[0])} characters; the policy "
                                 f"writes {length}, so compare responses of {length}."))
        has_e = [("e" in t.lower()) for t in texts]
        if name != "english_with_e" and any(has_e):
            return _report(_fail(f"{name}: {texts[has_e.index(True)]!r} contains an e."))
        if name == "english_with_e" and not all(has_e):
            return _report(_fail(f"english_with_e: {texts[has_e.index(False)]!r} has no e."))
        if vocabulary is not None:
            odd = [t for t in texts if (real_word_share([t], vocabulary) < 0.5) == name.startswith("english")]
            if odd:
                kind = "mostly words the book's text uses" if name.startswith("english") else "not words"
                return _report(_fail(f"{name}: {odd[0]!r} should be {kind}."))
        got, error = _call(score, "check_blind_spot", name, list(texts))
        if error is not None:
            return _report(error)
        values = _numpy(got) if isinstance(got, torch.Tensor) else np.asarray(got) if got is not None else None
        if values is None or values.dtype.kind not in "iuf" or values.shape != (len(texts),):
            return _report(_fail(f"score({name}) should return one reward per response, shape ({len(texts)},); "
                                 f"got {_describe(got)}."))
        if not np.isfinite(values).all():
            return _report(_fail(f"score({name}) returned a reward that is not finite."))
        means[name] = float(values.mean())
    blind = abs(means["english_no_e"] - means["gibberish_no_e"]) < \
        min(means["english_no_e"], means["gibberish_no_e"]) - means["english_with_e"]
    return _report(_pass(
        f"mean reward: English without e {means['english_no_e']:+.2f}, gibberish without e "
        f"{means['gibberish_no_e']:+.2f}, English with e's {means['english_with_e']:+.2f}: "
        + ("the e's move it more than the English does." if blind else
           "here English and gibberish differ more than the e's; try other responses.")))


# ---------------------------------------------------------------- chapter 11


def check_ece(fn: Callable[[np.ndarray, np.ndarray, int], float]) -> Feedback:
    """Chapter 11: check ``fn(confidence, correct, bins) -> ece``, the expected calibration error
    (11.1): bins of equal width on [0, 1] (a confidence of 1 in the last), and the sum over
    non-empty bins of (count / N) |accuracy - mean confidence|."""
    from tutorial_lib.calibration import expected_calibration_error, reliability

    conf = np.array([0.05, 0.15, 0.35, 0.62, 0.68, 0.95, 1.0, 0.92])
    ok = np.array([0, 1, 0, 1, 0, 1, 0, 1])  # overconfident overall; the answer at confidence 1 is wrong
    bins = 5
    expected = expected_calibration_error(conf, ok, bins)
    mean_conf, accuracy, count = reliability(conf, ok, bins)
    full = count > 0
    gaps = np.abs(accuracy[full] - mean_conf[full])
    mistakes = [
        (float(np.mean(gaps)), "weight each bin by its share of the answers, n_b / N: a bin of one answer "
         "counts less than a bin of three."),
        (float(np.sum(count[full] / count.sum() * (accuracy[full] - mean_conf[full]))), "take the absolute value "
         "of accuracy - confidence in each bin: over- and under-confidence must not cancel."),
        (abs(float(ok.mean() - conf.mean())), "compare within bins, not once over all answers: a model can be "
         "right on average and wrong in every bin."),
        (expected_calibration_error(conf[conf < 1], ok[conf < 1], bins) * (len(conf) - 1) / len(conf),
         "a confidence of exactly 1 belongs to the last bin: clip the bin index to bins - 1."),
    ]
    got, error = _call(fn, "check_ece", "8 answers, 5 bins", conf.copy(), ok.copy(), bins)
    return _judge_scalar(got, error, expected, mistakes,
                         "the count-weighted gap between confidence and accuracy, bin by bin.", what="the error",
                         nonfinite="look for an empty bin (0/0) in your sum.", rtol=1e-6)


def check_power_law_slope(fn: Callable[[Sequence[float], Sequence[float]], float]) -> Feedback:
    """Chapter 11: check ``fn(x, y) -> slope``, the exponent k of a power law y = a x^k fitted by
    least squares to the points on log-log axes (the slope of log y against log x)."""
    x = np.array([32.0, 64.0, 128.0, 256.0])
    y = 3.0 * x ** 1.7 * np.array([1.0, 1.1, 0.95, 1.02])  # a noisy power law
    expected = float(np.polyfit(np.log(x), np.log(y), 1)[0])
    mistakes = [
        (float(np.polyfit(x, y, 1)[0]), "fit on log-log axes: the slope of log y against log x, not of y against x."),
        (float(np.polyfit(np.log(y), np.log(x), 1)[0]), "the slope of log y against log x: regress log y on log x, "
         "not the other way round."),
        (float(np.log(y[-1] / y[0]) / np.log(x[-1] / x[0])), "use every point (least squares), not only the first "
         "and the last: with noise the two ends can mislead."),
        (float(np.polyfit(np.log10(x), np.log(y), 1)[0]), "take the same logarithm of x and y; the base cancels "
         "only then."),
    ]
    got, error = _call(fn, "check_power_law_slope", "4 points of y = 3 x^1.7 with noise", x.copy(), y.copy())
    value = _as_number(got) if error is None else None
    return _judge_scalar(got, error, expected, mistakes,
                         f"k = {value:.3f}: y grows like x to that power." if value is not None else "",
                         what="the slope", nonfinite="take logarithms of positive numbers only.", rtol=1e-6)


def check_abstention(fn: Callable[[np.ndarray, np.ndarray, float], tuple[float, float]]) -> Feedback:
    """Chapter 11: check ``fn(confidence, correct, threshold) -> (answered, accuracy)`` (exercise 11.3):
    the model answers when its confidence is at least ``threshold``; ``answered`` is the share of
    the questions it answers, ``accuracy`` the share of right answers among those it gives."""
    conf = np.array([0.95, 0.9, 0.8, 0.6, 0.92, 0.5, 0.99, 0.85])
    ok = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=bool)
    for threshold in (0.9, 0.8):
        answer = conf >= threshold
        expected = (answer.mean(), ok[answer].mean())
        strict = conf > threshold
        mistakes = [
            ((strict.mean(), ok[strict].mean()), "answer when the confidence is at least the threshold (>=): "
             "a confidence of exactly 0.9 answers at 0.9."),
            ((answer.mean(), (ok & answer).mean()), "the accuracy is over the answers given, not over all "
             "questions: an abstention is not a wrong answer."),
            ((1 - answer.mean(), ok[answer].mean()), "the first number is the share it answers, not the share "
             "it abstains on."),
            ((answer.mean(), ok[~answer].mean()), "that is the accuracy on the questions it abstains on; keep "
             "those it answers."),
        ]
        got, error = _call(fn, "check_abstention", f"8 answers, threshold {threshold}", conf.copy(), ok.copy(),
                           threshold)
        if error is not None:
            return _report(error)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or any(_as_number(v) is None for v in got):
            return _report(_fail(f"return the pair (answered, accuracy) as two numbers; got {_describe(got)}."))
        pair = tuple(float(_as_number(v)) for v in got)
        if not all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(pair, expected)):
            why = next((w for wrong, w in mistakes
                        if all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(pair, wrong))), None)
            shown = f"({pair[0]:.3g}, {pair[1]:.3g})"
            return _report(_fail(f"at threshold {threshold} you returned {shown}, expected "
                                 f"({expected[0]:.3g}, {expected[1]:.3g})" + (f": {why}" if why else ".")))
    return _report(_pass("the share answered and the accuracy of the answers given, at each threshold."))
