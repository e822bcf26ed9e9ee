"""tutorial_lib.calibration: bins and the expected calibration error by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tutorial_lib import calibration


def test_reliability_bins_by_hand():
    conf = [0.05, 0.15, 0.95, 1.0, 0.92]
    ok = [0, 1, 1, 1, 0]
    mean_conf, acc, count = calibration.reliability(conf, ok, bins=10)
    assert count.tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 3]  # 1.0 falls in the last bin
    assert mean_conf[9] == pytest.approx((0.95 + 1.0 + 0.92) / 3) and acc[9] == pytest.approx(2 / 3)
    assert np.isnan(acc[2])
    ece = calibration.expected_calibration_error(conf, ok, bins=10)
    by_hand = (1 * 0.05 + 1 * 0.85 + 3 * abs(2 / 3 - (0.95 + 1.0 + 0.92) / 3)) / 5
    assert ece == pytest.approx(by_hand)


def test_a_calibrated_model_has_a_small_error_and_an_overconfident_one_a_large_one():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 20000)
    calibrated = rng.uniform(0, 1, 20000) < conf
    assert calibration.expected_calibration_error(conf, calibrated) < 0.02
    sure = np.full(20000, 0.9)
    assert calibration.expected_calibration_error(sure, rng.uniform(0, 1, 20000) < 0.125) == pytest.approx(0.775, abs=0.01)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"1-D arrays of one length \(N,\)"):
        calibration.reliability([0.5], [1, 0])
    with pytest.raises(ValueError, match=r"confidence must be probabilities, in \[0, 1\]"):
        calibration.reliability([1.5], [1])
    with pytest.raises(ValueError, match="correct must hold only 0/1"):
        calibration.reliability([0.5], [2])
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        calibration.reliability([0.5], [1], bins=0)
