"""Chapter 11 (Limitations): the exercises' checkers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ._core import Feedback, _as_number, _call, _describe, _fail, _judge_scalar, _pass, _report


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
