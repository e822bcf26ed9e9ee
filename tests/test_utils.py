"""Tests for tutorial_lib.utils: seeding, device choice, parameter counts, timing."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
import torch
from torch import nn

from tutorial_lib.utils import (
    Timer,
    count_parameters,
    format_count,
    get_device,
    set_seed,
    time_call,
)


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_set_seed_makes_all_three_generators_repeat():
    set_seed(123)
    first = _draws()
    set_seed(123)
    assert _draws() == first
    set_seed(124)
    assert _draws() != first


def test_set_seed_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)
    with pytest.raises(TypeError, match="seed"):
        set_seed("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        set_seed(1.5)  # type: ignore[arg-type]


def test_get_device_default_follows_cuda_then_mps_then_cpu():
    device = get_device()
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device == torch.device("cpu")


def test_get_device_prefer():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device("CPU") == torch.device("cpu")
    with pytest.raises(ValueError, match="prefer.*'tpu'"):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="prefer='cuda'.*not available"):
            get_device("cuda")


def test_count_parameters_by_hand():
    assert count_parameters(nn.Linear(3, 2)) == 3 * 2 + 2
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert count_parameters(mlp) == (3 * 4 + 4) + (4 * 2 + 2)
    mlp[0].weight.requires_grad_(False)
    assert count_parameters(mlp) == 26
    assert count_parameters(mlp, trainable_only=True) == 26 - 12
    with pytest.raises(TypeError, match="module"):
        count_parameters([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0"),
        (12, "12"),
        (999, "999"),
        (1_000, "1.0K"),
        (840_000, "840.0K"),
        (999_999, "1.00M"),
        (1_234_567, "1.23M"),
        (124_439_808, "124.44M"),
        (2_500_000_000, "2.50B"),
    ],
)
def test_format_count(n, text):
    assert format_count(n) == text


def test_format_count_rejects_bad_input():
    with pytest.raises(ValueError, match="n must be a non-negative"):
        format_count(-5)
    with pytest.raises(TypeError, match="n must be an int"):
        format_count(3.0)  # type: ignore[arg-type]


def test_timer_as_context_manager_and_by_hand():
    with Timer() as t:
        time.sleep(0.02)
    assert 0.015 < t.elapsed < 1.0

    timer = Timer()
    timer.start()
    time.sleep(0.01)
    seconds = timer.stop()
    assert seconds == timer.elapsed
    assert 0.005 < seconds < 1.0

    with pytest.raises(ValueError, match="before Timer.start"):
        Timer().stop()


def test_time_call_counts_calls_and_returns_median():
    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.005)

    seconds = time_call(fn, repeats=3, warmup=2)
    assert len(calls) == 3 + 2
    assert 0.003 < seconds < 0.5


def test_time_call_rejects_bad_arguments():
    with pytest.raises(ValueError, match="repeats must be an int >= 1"):
        time_call(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        time_call(lambda: None, warmup=-1)
    with pytest.raises(TypeError, match="fn must be callable"):
        time_call(3)  # type: ignore[arg-type]


def test_the_seed_shift_moves_every_seed_of_the_book(monkeypatch):
    from tutorial_lib import tasks, utils

    monkeypatch.delenv(utils.SEED_SHIFT, raising=False)
    assert utils.seed_shift() == 0 and utils.shifted(5) == 5
    set_seed(3)
    base = _draws()
    base_gen = torch.rand(3, generator=utils.generator(3))
    base_rng = utils.rng(3).random(3)
    base_task = tasks.delayed_recall(4, delay=3, seed=3)[0]
    monkeypatch.setenv(utils.SEED_SHIFT, "2")
    assert utils.shifted(5) == 7
    set_seed(1)  # 1 + 2: the draws of seed 3 without a shift
    assert _draws() == base
    assert torch.equal(torch.rand(3, generator=utils.generator(1)), base_gen)
    assert np.array_equal(utils.rng(1).random(3), base_rng)
    assert torch.equal(tasks.delayed_recall(4, delay=3, seed=1)[0], base_task)  # the tasks too
    for bad in ("-1", "one", "1.5"):
        monkeypatch.setenv(utils.SEED_SHIFT, bad)
        with pytest.raises(ValueError, match="TUTORIAL_LIB_SEED_SHIFT must be a non-negative integer"):
            utils.shifted(0)


def test_check_ids_names_the_id_out_of_range_and_where_it_is():
    from tutorial_lib.utils import check_ids

    ids = torch.tensor([[0, 3, 1], [2, 5, 0]])
    with pytest.raises(ValueError, match=r"x must hold ids in \[0, 4\) .*got 5 at position \(1, 1\)"):
        check_ids(ids, "x", 4)
    with pytest.raises(ValueError, match=r"got -1 at position \(0, 0\)"):
        check_ids(torch.tensor([[-1]]), "x", 4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, T\), non-empty, got shape \(3,\)"):
        check_ids(torch.tensor([0, 1, 2]), "x", 4)
    assert check_ids(ids, "x", 6) is ids


def test_time_call_best_is_the_fastest_call():
    delays = iter([0.03, 0.0, 0.03])
    fastest = time_call(lambda: time.sleep(next(delays)), repeats=3, warmup=0, best=True)
    assert fastest < 0.02  # the median would be 0.03
