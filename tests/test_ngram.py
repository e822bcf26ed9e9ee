"""Tests for tutorial_lib.ngram: add-alpha n-gram models checked against hand computations."""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np
import pytest
import torch

from tutorial_lib.data import load_char_data
from tutorial_lib.ngram import KneserNeyModel, NGramModel, evaluate_orders


# ---------------------------------------------------------------- hand-computed cases
def bigram_example() -> NGramModel:
    # ids 0 1 0 1 1, V = 2, alpha = 1. Pairs: (0,1) (1,0) (0,1) (1,1), so
    # count(0) = 2, count(0,1) = 2, count(0,0) = 0; count(1) = 2, count(1,0) = 1, count(1,1) = 1.
    return NGramModel(order=2, vocab_size=2, alpha=1.0).fit([0, 1, 0, 1, 1])


def test_bigram_next_distribution_by_hand():
    model = bigram_example()
    # p(1|0) = (2 + 1) / (2 + 1*2) = 0.75, p(0|0) = (0 + 1) / 4 = 0.25
    np.testing.assert_allclose(model.next_distribution([0]), [0.25, 0.75])
    # p(0|1) = (1 + 1) / (2 + 2) = 0.5 = p(1|1)
    np.testing.assert_allclose(model.next_distribution([1]), [0.5, 0.5])
    # only the last n - 1 = 1 token of the context matters
    np.testing.assert_allclose(model.next_distribution([1, 1, 0]), [0.25, 0.75])


def test_bigram_log_probs_and_cross_entropy_by_hand():
    model = bigram_example()
    # positions t = 1..4 of 0 1 0 1 1: p(1|0), p(0|1), p(1|0), p(1|1) = 3/4, 1/2, 3/4, 1/2
    expected = np.log([0.75, 0.5, 0.75, 0.5])
    np.testing.assert_allclose(model.log_probs([0, 1, 0, 1, 1]), expected)
    ce = -(2 * math.log(0.75) + 2 * math.log(0.5)) / 4  # = 0.4904... nats/token
    assert model.cross_entropy([0, 1, 0, 1, 1]) == pytest.approx(ce)
    assert model.perplexity([0, 1, 0, 1, 1]) == pytest.approx(math.exp(ce))
    # 1 0 0: p(0|1) = 1/2, p(0|0) = 1/4
    ce_100 = -(math.log(0.5) + math.log(0.25)) / 2
    assert model.cross_entropy(torch.tensor([1, 0, 0])) == pytest.approx(ce_100)


def test_unigram_by_hand():
    # counts of 0 1 2 3 in [0, 0, 1, 2]: 2 1 1 0; N = 4, V = 4, alpha = 0.5:
    # p = (count + 0.5) / (4 + 0.5*4) = [2.5, 1.5, 1.5, 0.5] / 6
    model = NGramModel(order=1, vocab_size=4, alpha=0.5).fit(np.array([0, 0, 1, 2]))
    np.testing.assert_allclose(model.next_distribution([]), np.array([2.5, 1.5, 1.5, 0.5]) / 6)
    # order 1 scores every position, including the first
    np.testing.assert_allclose(model.log_probs([3, 0]), np.log([0.5 / 6, 2.5 / 6]))
    assert model.num_contexts_seen == 1
    assert model.coverage([3, 3, 3]) == 1.0


def test_unseen_context_is_uniform_and_coverage_counts_it():
    # trigram on 0 1 2 0 1 (V = 3): contexts seen are (0,1), (1,2), (2,0)
    model = NGramModel(order=3, vocab_size=3, alpha=0.1).fit([0, 1, 2, 0, 1])
    assert model.num_contexts_seen == 3
    np.testing.assert_allclose(model.next_distribution([2, 2]), [1 / 3, 1 / 3, 1 / 3])
    # (0,1) was followed by 2 once: p(2|0,1) = (1 + 0.1) / (1 + 0.3)
    assert model.next_distribution([0, 1])[2] == pytest.approx(1.1 / 1.3)
    # scored contexts of 0 1 2 2 2: (0,1) seen, (1,2) seen, (2,2) unseen
    assert model.coverage([0, 1, 2, 2, 2]) == pytest.approx(2 / 3)
    assert model.log_probs([0, 1, 2, 2, 2]).shape == (3,)  # the first n - 1 = 2 are not scored
    assert model.log_probs([0, 1, 2, 2, 2])[2] == pytest.approx(math.log(1 / 3))


def test_log_probs_match_a_plain_python_count():
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 5, 300), rng.integers(0, 5, 60)
    n, V, alpha = 3, 5, 0.2
    pairs = Counter(tuple(train[i : i + n]) for i in range(len(train) - n + 1))
    contexts = Counter(tuple(train[i : i + n - 1]) for i in range(len(train) - n + 1))
    expected = []
    for t in range(n - 1, len(test)):
        context, gram = tuple(test[t - n + 1 : t]), tuple(test[t - n + 1 : t + 1])
        expected.append(math.log((pairs[gram] + alpha) / (contexts[context] + alpha * V)))
    model = NGramModel(n, V, alpha).fit(train)
    np.testing.assert_allclose(model.log_probs(test), expected)
    assert model.num_contexts_seen == len(contexts)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_next_distribution_sums_to_one(order):
    ids = np.random.default_rng(1).integers(0, 7, 500)
    model = NGramModel(order, 7, alpha=0.05).fit(ids)
    for context in ([1, 2, 3], [6, 6, 6], [0, 5, 0, 5]):
        p = model.next_distribution(context)
        assert p.shape == (7,)
        assert p.sum() == pytest.approx(1.0)
        assert (p > 0).all()


def test_fit_accepts_list_tensor_and_numpy_alike():
    ids = [0, 2, 1, 2, 2, 0, 1]
    a = NGramModel(2, 3).fit(ids).log_probs(ids)
    b = NGramModel(2, 3).fit(torch.tensor(ids)).log_probs(torch.tensor(ids))
    c = NGramModel(2, 3).fit(np.array(ids, dtype=np.int32)).log_probs(np.array(ids))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_refitting_replaces_the_counts():
    model = NGramModel(1, 2, alpha=1.0).fit([0, 0, 0])
    model.fit([1, 1, 1])
    np.testing.assert_allclose(model.next_distribution([]), [1 / 5, 4 / 5])


def test_fit_order_6_is_fast():
    ids = np.random.default_rng(2).integers(0, 94, 420_000)
    start = time.perf_counter()
    NGramModel(6, 94).fit(ids)
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- sampling
def cycle_model() -> NGramModel:
    # 0 1 2 0 1 2 ...: after 0 comes 1, after 1 comes 2, after 2 comes 0
    return NGramModel(order=2, vocab_size=3, alpha=0.1).fit([0, 1, 2] * 5)


def test_sample_same_seed_same_tokens_and_different_seed_differs():
    model = NGramModel(2, 10, alpha=1.0).fit(np.random.default_rng(3).integers(0, 10, 200))
    a = model.sample([4], 50, seed=7)
    assert a == model.sample([4], 50, seed=7)
    assert a != model.sample([4], 50, seed=8)
    assert len(a) == 50 and all(0 <= t < 10 for t in a)
    g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    assert model.sample([4], 20, generator=g1) == model.sample([4], 20, generator=g2)


def test_sample_leaves_global_rng_alone():
    model = cycle_model()
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    model.sample([0], 20, seed=0)
    model.sample([0], 20)
    assert torch.equal(torch_state, torch.get_rng_state())
    np.testing.assert_array_equal(np_state, np.random.get_state()[1])


def test_tiny_temperature_gives_argmax():
    model = cycle_model()
    for seed in range(5):
        assert model.sample([0], 6, seed=seed, temperature=1e-4) == [1, 2, 0, 1, 2, 0]


def test_temperature_reshapes_the_distribution():
    # after 0: p = [0.1, 5.1, 0.1] / 5.3, so token 1 comes 96% of the time at T = 1;
    # at T = 1000, p ** (1/1000) is nearly uniform and token 1 comes about 1/3 of the time.
    model = cycle_model()
    assert model.sample([0], 0, seed=0) == []
    g = torch.Generator().manual_seed(0)
    cold = [model.sample([0], 1, generator=g)[0] for _ in range(300)]
    hot = [model.sample([0], 1, generator=g, temperature=1000.0)[0] for _ in range(300)]
    assert cold.count(1) > 0.9 * 300
    assert 0.2 * 300 < hot.count(1) < 0.5 * 300
    assert hot.count(0) > 0.2 * 300 and hot.count(2) > 0.2 * 300


def test_sample_rejects_bad_arguments():
    model = NGramModel(3, 3).fit([0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match="either generator or seed"):
        model.sample([0, 1], 5, generator=torch.Generator(), seed=1)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        model.sample([0, 1], 5, seed=0, temperature=0.0)
    with pytest.raises(ValueError, match="context must have at least 2 tokens"):
        model.sample([0], 5, seed=0)
    with pytest.raises(ValueError, match="length must be an int >= 0"):
        model.sample([0, 1], -1, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        model.sample([0, 1], 3, seed=-2)
    with pytest.raises(ValueError, match=r"context must lie in \[0, 3\)"):
        model.sample([0, 7], 3, seed=0)


# ---------------------------------------------------------------- validation
def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="order must be an int >= 1"):
        NGramModel(0, 5)
    with pytest.raises(ValueError, match="vocab_size must be an int >= 1"):
        NGramModel(2, 0)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        NGramModel(2, 5, alpha=0.0)


def test_long_windows_match_a_dictionary_count():
    # V ** n far beyond 2 ** 64: the codes wrap around (a hash), the counts must still be exact.
    from collections import Counter

    rng = np.random.default_rng(3)
    V, n, alpha = 30, 20, 0.5
    base = rng.integers(V, size=60)
    ids = np.concatenate([base, base, rng.integers(V, size=300)])  # repeats give seen contexts
    model = NGramModel(n, V, alpha=alpha).fit(ids)
    ctx = Counter(tuple(ids[i : i + n - 1]) for i in range(len(ids) - n + 1))
    pair = Counter(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    assert model.num_contexts_seen == len(ctx)
    for t in (n - 1, n + 10, 70, 100):
        c = tuple(ids[t - n + 1 : t])
        expected = np.array([(pair[c + (x,)] + alpha) / (ctx[c] + alpha * V) for x in range(V)])
        np.testing.assert_allclose(model.next_distribution(ids[:t]), expected, rtol=1e-12)
    assert max(ctx.values()) >= 2  # the check above covered contexts seen more than once


def test_fit_and_evaluation_reject_bad_ids():
    model = NGramModel(3, 4)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.log_probs([0, 1, 2])
    with pytest.raises(ValueError, match="ids must have at least 3 tokens"):
        model.fit([0, 1])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\)"):
        model.fit([0, 1, 4])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\)"):
        model.fit([0, -1, 2])
    with pytest.raises(ValueError, match="ids must be 1-D"):
        model.fit(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="ids must contain integers"):
        model.fit(torch.tensor([0.0, 1.0, 2.0]))
    model.fit([0, 1, 2, 3])
    with pytest.raises(ValueError, match="ids must have at least 3 tokens"):
        model.cross_entropy([0, 1])
    with pytest.raises(ValueError, match="context must have at least 2 tokens"):
        model.next_distribution([1])


# ---------------------------------------------------------------- evaluate_orders
def test_evaluate_orders_rows():
    ids = np.random.default_rng(4).integers(0, 6, 400)
    rows = evaluate_orders(ids[:300], ids[300:], vocab_size=6, orders=[1, 2, 3], alpha=0.5)
    assert [r["order"] for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"order", "train_ce", "val_ce", "val_ppl", "coverage", "contexts"}
    assert rows[0]["contexts"] == 1 and rows[0]["coverage"] == 1.0
    assert rows[1]["contexts"] == 6
    for r in rows:
        assert r["val_ppl"] == pytest.approx(math.exp(r["val_ce"]))
    # random ids: a unigram model is close to uniform, log 6 = 1.79 nats
    assert abs(rows[0]["val_ce"] - math.log(6)) < 0.1
    # fitting more context memorises more: training cross-entropy goes down with order
    assert rows[0]["train_ce"] > rows[1]["train_ce"] > rows[2]["train_ce"]


def test_orders_on_the_corpus_show_the_sparsity_trade_off():
    data = load_char_data()
    rows = evaluate_orders(data.train, data.val, data.tokenizer.vocab_size, orders=range(1, 7))
    val = [r["val_ce"] for r in rows]
    best = int(np.argmin(val))
    assert val[0] > 2.8  # the unigram model knows only letter frequencies
    assert 2 <= best <= 4  # order 3 to 5 is best: more context helps, then sparsity hurts
    assert 1.3 < val[best] < 1.7
    coverage = [r["coverage"] for r in rows]
    assert all(a >= b for a, b in zip(coverage, coverage[1:]))  # longer contexts: fewer seen
    assert coverage[-1] < 0.95


def test_context_count():
    model = NGramModel(3, 4, alpha=1.0).fit([0, 1, 2, 0, 1, 3, 0, 1])
    assert model.context_count([0, 1]) == 2        # "0 1" is followed by 2 and by 3
    assert model.context_count([3, 3, 0, 1]) == 2  # only the last n - 1 = 2 tokens count
    assert model.context_count([3, 3]) == 0
    with pytest.raises(ValueError, match="context must have at least 2 tokens"):
        model.context_count([1])


# ---------------------------------------------------------------- Kneser-Ney
def reference_kneser_ney(train: list[int], order: int, V: int):
    """Interpolated Kneser-Ney written from Chen and Goodman (1999) with dicts: slow, plain."""
    grams = [Counter() for _ in range(order + 1)]  # grams[k][tuple of k tokens] = its count
    for k in range(1, order + 1):
        for t in range(len(train) - k + 1):
            g = tuple(train[t : t + k])
            if k == order:
                grams[k][g] += 1
        if k < order:  # continuation counts: distinct tokens seen before each k-gram
            left = {tuple(train[t : t + k + 1]) for t in range(len(train) - k)}
            for g in left:
                grams[k][g[1:]] += 1
    discount = {}
    for k in range(1, order + 1):
        n1 = sum(c == 1 for c in grams[k].values())
        n2 = sum(c == 2 for c in grams[k].values())
        discount[k] = n1 / (n1 + 2 * n2) if n1 else 0.5

    def prob(history: tuple, x: int) -> float:
        p = 1.0 / V
        for k in range(1, order + 1):
            h = history[len(history) - (k - 1) :] if k > 1 else ()
            after = {g[-1]: c for g, c in grams[k].items() if g[:-1] == h}
            total = sum(after.values())
            if total:
                D = discount[k]
                p = (max(after.get(x, 0) - D, 0) + D * len(after) * p) / total
        return p

    return prob, [discount[k] for k in range(1, order + 1)]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_matches_a_plain_reference(order):
    rng = np.random.default_rng(order)
    V = 5
    # a text with structure (a repeated phrase) and noise, so every case of the formula occurs
    train = [int(x) for x in np.concatenate([np.tile([0, 1, 2, 3], 30), rng.integers(0, V, 200)])]
    test = [int(x) for x in rng.integers(0, V, 60)] + [4, 4, 4, 4, 4]  # includes unseen contexts
    model = KneserNeyModel(order, V).fit(train)
    prob, discounts = reference_kneser_ney(train, order, V)
    np.testing.assert_allclose(model.discounts, discounts, rtol=1e-12)
    expected = [
        math.log(prob(tuple(test[t - order + 1 : t]), test[t])) for t in range(order - 1, len(test))
    ]
    np.testing.assert_allclose(model.log_probs(test), expected, rtol=1e-10)


@pytest.mark.parametrize("order", [1, 3, 6, 12])
def test_kneser_ney_distributions_sum_to_one(order):
    corpus = load_char_data(val_fraction=0.1)
    V = corpus.tokenizer.vocab_size
    model = KneserNeyModel(order, V).fit(corpus.train[:50_000])
    val = corpus.val.numpy()
    contexts = [val[t - order + 1 : t] for t in (100, 2_000, 30_000)]
    contexts.append(np.array(corpus.tokenizer.encode("~|~|~|~|~|~|~|~|"))[: order - 1])  # unseen
    for context in contexts:
        p = model.next_distribution(context)
        assert p.shape == (V,) and (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_kneser_ney_beats_add_alpha_on_the_book_text():
    corpus = load_char_data(val_fraction=0.1)
    V = corpus.tokenizer.vocab_size
    kn = KneserNeyModel(6, V).fit(corpus.train).cross_entropy(corpus.val)
    add = NGramModel(6, V).fit(corpus.train).cross_entropy(corpus.val)
    assert kn < add - 0.3


def test_kneser_ney_errors_name_the_argument():
    with pytest.raises(ValueError, match="order"):
        KneserNeyModel(0, 5)
    with pytest.raises(ValueError, match="vocab_size"):
        KneserNeyModel(2, 0)
    model = KneserNeyModel(3, 5)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.log_probs([0, 1, 2])
    with pytest.raises(ValueError, match="ids must have at least 4"):
        model.fit([0, 1, 2])
    model.fit([0, 1, 2, 3, 4, 0, 1])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\)"):
        model.log_probs([0, 1, 7])
    with pytest.raises(ValueError, match="context must have at least 2"):
        model.next_distribution([1])
