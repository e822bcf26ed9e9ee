"""The building blocks every chapter's checkers share: :class:`Feedback`, the comparisons
(:func:`check_close`, :func:`check_shape`) and the helpers that call a learner's function and
name its mistake."""


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
