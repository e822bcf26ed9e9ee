"""Is a model as sure as it is right? Confidence against correctness (chapter 11).

A model that says its answer has probability 0.9 should be right 9 times in 10 on such
answers. Put the answers into bins by confidence and compare, in each bin, the mean confidence
with the accuracy (a **reliability diagram**); the **expected calibration error** is the gap,
weighted by how many answers fall in each bin:

    ECE = sum_b (n_b / n) |acc_b - conf_b|                                          (11.1)

- ``reliability``                 per-bin confidence, accuracy and count
- ``expected_calibration_error``  (11.1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["reliability", "expected_calibration_error"]


def _checked(confidence: Any, correct: Any, bins: object) -> tuple[np.ndarray, np.ndarray, int]:
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    if conf.ndim != 1 or conf.shape != ok.shape or len(conf) == 0:
        raise ValueError(f"confidence and correct must be 1-D arrays of one length (N,), got shapes "
                         f"{conf.shape} and {ok.shape}")
    if not ((conf >= 0) & (conf <= 1)).all():
        raise ValueError("confidence must be probabilities, in [0, 1]")
    if not np.isin(ok, (0.0, 1.0)).all():
        raise ValueError("correct must hold only 0/1 or False/True")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    return conf, ok, bins


def reliability(confidence: Any, correct: Any, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin the answers by confidence into ``bins`` equal intervals of [0, 1] (the last one
    closed) and return, per bin, the mean confidence, the accuracy and the count (each (bins,);
    NaN where a bin is empty). ``confidence`` (N,) in [0, 1], ``correct`` (N,) of 0/1."""
    conf, ok, bins = _checked(confidence, correct, bins)
    which = np.minimum((conf * bins).astype(int), bins - 1)  # (N,) bin of each answer
    count = np.bincount(which, minlength=bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, minlength=bins) / count
        accuracy = np.bincount(which, ok, minlength=bins) / count
    return mean_conf, accuracy, count


def expected_calibration_error(confidence: Any, correct: Any, bins: int = 10) -> float:
    """(11.1): the count-weighted mean of |accuracy - confidence| over the non-empty bins."""
    mean_conf, accuracy, count = reliability(confidence, correct, bins)
    full = count > 0
    return float(np.sum(count[full] / count.sum() * np.abs(accuracy[full] - mean_conf[full])))
