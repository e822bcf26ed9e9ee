"""Tests of tutorial_lib.sampling: temperature, top-k, top-p by hand, reproducibility,
empirical frequencies against the softmax, and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from tutorial_lib.sampling import apply_temperature, greedy, sample_next, top_k_filter, top_p_filter

PROBS = torch.tensor([0.5, 0.3, 0.15, 0.05])
LOGITS = PROBS.log()  # softmax(LOGITS) = PROBS


def entropy(logits: torch.Tensor) -> float:
    p = torch.softmax(logits.double(), dim=-1)
    return float(-(p * p.clamp_min(1e-300).log()).sum())


def test_temperature_sharpens_and_flattens():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0))
    temps = [4.0, 2.0, 1.0, 0.5, 0.25, 0.05]
    entropies = [entropy(apply_temperature(logits, t)) for t in temps]
    assert all(a > b for a, b in zip(entropies, entropies[1:]))  # lower temperature, lower entropy
    assert entropies[0] < math.log(50)  # never above uniform
    cold = torch.softmax(apply_temperature(logits, 0.01), dim=-1)
    assert cold[logits.argmax()] > 0.99  # towards greedy
    torch.testing.assert_close(apply_temperature(logits, 1.0), logits, rtol=0, atol=0)
    torch.testing.assert_close(apply_temperature(LOGITS, 0.5), 2 * LOGITS, rtol=0, atol=0)


def test_top_k_keeps_exactly_k():
    logits = torch.randn(6, 30, generator=torch.Generator().manual_seed(1))
    for k in (1, 5, 30, 100):
        out = top_k_filter(logits, k)
        kept = torch.isfinite(out)
        assert (kept.sum(dim=-1) == min(k, 30)).all()
        torch.testing.assert_close(out[kept], logits[kept], rtol=0, atol=0)  # kept ones unchanged
        smallest_kept = out.masked_fill(~kept, math.inf).min(dim=-1).values
        largest_dropped = logits.masked_fill(kept, -math.inf).max(dim=-1).values
        assert (smallest_kept > largest_dropped).all()
    assert torch.isfinite(top_k_filter(torch.zeros(10), 3)).sum() == 3  # exactly k even with ties


def test_top_p_hand_computed():
    assert torch.isfinite(top_p_filter(LOGITS, 0.8)).tolist() == [True, True, False, False]  # 0.5 + 0.3 = 0.8
    assert torch.isfinite(top_p_filter(LOGITS, 0.81)).tolist() == [True, True, True, False]
    assert torch.isfinite(top_p_filter(LOGITS, 0.3)).tolist() == [True, False, False, False]  # at least one
    assert torch.isfinite(top_p_filter(LOGITS, 1.0)).all()
    shuffled = LOGITS[[2, 0, 3, 1]]  # order in the vocabulary does not matter
    assert torch.isfinite(top_p_filter(shuffled, 0.8)).tolist() == [False, True, False, True]
    assert torch.isfinite(top_p_filter(LOGITS.double(), 0.8)).tolist() == [True, True, False, False]
    batch = torch.stack([LOGITS, LOGITS.flip(0)])  # (2, 4): filtered row by row
    assert torch.isfinite(top_p_filter(batch, 0.8)).tolist() == [[True, True, False, False], [False, False, True, True]]


def test_same_generator_seed_same_samples():
    logits = torch.randn(8, 20, generator=torch.Generator().manual_seed(2))
    draw = lambda seed: sample_next(logits, 1.3, top_k=10, top_p=0.9, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))
    before = torch.random.get_rng_state()
    draw(5)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global RNG is left alone


def test_sample_shapes_and_greedy():
    logits = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(6))
    ids = sample_next(logits, generator=torch.Generator().manual_seed(0))
    assert ids.shape == (2, 3) and ids.dtype == torch.long
    assert sample_next(LOGITS, generator=torch.Generator()).shape == ()
    assert torch.equal(greedy(logits), logits.argmax(dim=-1))
    assert int(greedy(LOGITS)) == 0
    one_hot = torch.tensor([-math.inf, 0.0, -math.inf])
    assert int(sample_next(one_hot, temperature=3.0, generator=torch.Generator())) == 1
    # top_k=1 is greedy whatever the temperature
    assert torch.equal(sample_next(logits, 5.0, top_k=1, generator=torch.Generator()), greedy(logits))


@pytest.mark.parametrize(
    "temperature, top_k, top_p", [(1.0, None, None), (0.7, None, None), (1.0, 2, None), (1.0, None, 0.81)]
)
def test_empirical_frequencies_match_softmax(temperature, top_k, top_p):
    n = 20_000
    expected = torch.softmax(LOGITS / temperature, dim=-1)
    if top_k is not None or top_p is not None:  # the hand-computed kept set, renormalised
        keep = 2 if top_k else 3
        expected = torch.cat([PROBS[:keep] / PROBS[:keep].sum(), torch.zeros(4 - keep)])
    ids = sample_next(LOGITS.expand(n, 4), temperature, top_k, top_p, generator=torch.Generator().manual_seed(7))
    freq = torch.bincount(ids, minlength=4).double() / n
    torch.testing.assert_close(freq, expected.double(), rtol=0, atol=0.01)


def test_bad_input_is_rejected():
    g = torch.Generator()
    for t in (0, 0.0, -1.0, math.inf, math.nan, True):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            sample_next(LOGITS, temperature=t, generator=g)
    with pytest.raises(ValueError, match=r"use greedy\(logits\)"):
        apply_temperature(LOGITS, 0)
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        top_k_filter(LOGITS, 0)
    with pytest.raises(ValueError, match="top_k must be an integer >= 1, got 2.0"):
        sample_next(LOGITS, top_k=2.0)
    for p in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"^p must be a number in \(0, 1\]"):
            top_p_filter(LOGITS, p)
        with pytest.raises(ValueError, match=r"top_p must be a number in \(0, 1\]"):
            sample_next(LOGITS, top_p=p)
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        greedy(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match=r"logits must be a torch.Tensor of shape \(\.\.\., V\)"):
        sample_next([0.1, 0.2])
    with pytest.raises(ValueError, match=r"logits must have shape \(\.\.\., V\) with V >= 1, got \(\)"):
        top_k_filter(torch.tensor(1.0), 1)


def test_a_vanishing_temperature_is_greedy():
    logits = torch.randn(50, 30, generator=torch.Generator().manual_seed(8))
    ids = sample_next(logits, temperature=1e-4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ids, greedy(logits))


def test_filtered_distributions_sum_to_one_and_top_p_is_the_smallest_set():
    """Chapter 7's rules, on random rows: what is left is a distribution, and top-p keeps the
    smallest set of most likely tokens whose mass reaches p."""
    logits = 3 * torch.randn(200, 40, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    for filtered in (apply_temperature(logits, 0.3), top_k_filter(logits, 7), top_p_filter(logits, 0.9),
                     top_p_filter(top_k_filter(apply_temperature(logits, 1.7), 10), 0.5)):
        probs = torch.softmax(filtered, dim=-1)
        torch.testing.assert_close(probs.sum(-1), torch.ones(200, dtype=torch.float64), rtol=0, atol=1e-12)
    for p in (0.2, 0.6, 0.95):
        kept = torch.isfinite(top_p_filter(logits, p))  # (200, 40)
        probs = torch.softmax(logits, dim=-1)
        mass = (probs * kept).sum(-1)
        weakest = probs.masked_fill(~kept, math.inf).min(-1).values  # least likely kept token
        assert (mass >= p - 1e-9).all() and (mass - weakest < p).all()  # enough, and no smaller set
        strongest_dropped = probs.masked_fill(kept, -math.inf).max(-1).values
        assert (weakest >= strongest_dropped).all()  # the most likely ones


def test_check_rule_names_the_bad_argument_whatever_the_path():
    from tutorial_lib.sampling import check_rule

    check_rule(0)  # greedy
    check_rule(0.7, top_k=5, top_p=0.9)
    for args, kwargs, match in [
        ((0,), dict(top_k=0), "top_k must be an integer >= 1"),
        ((0,), dict(top_p=0), r"top_p must be a number in \(0, 1\]"),
        ((-1,), {}, r"temperature must be 0 \(greedy\) or a finite number > 0"),
        ((0,), dict(greedy_ok=False), "temperature must be a finite number > 0"),
        ((float("nan"),), {}, "temperature must be 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            check_rule(*args, **kwargs)
