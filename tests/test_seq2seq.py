"""tutorial_lib.seq2seq and the toy translation task: batching, padding, the two decoding paths,
scores, bad input, and a short training run whose attention learns the task's true alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tutorial_lib import seq2seq, tasks, train, utils
from tutorial_lib.seq2seq import BOS, EOS, PAD


@pytest.fixture(scope="module")
def vocabs():
    return tuple(seq2seq.Vocab(w) for w in tasks.translation_vocab())


def _model(vocabs, attention=True, seed=0):
    torch.manual_seed(seed)
    src, tgt = vocabs
    return seq2seq.Seq2Seq(seq2seq.Seq2SeqConfig(len(src), len(tgt), attention=attention, hidden_size=16,
                                                 embed_size=8, attention_size=12)).double()


# ---------------------------------------------------------------- the task


def test_toy_translation_follows_its_rules():
    pairs = tasks.toy_translation(500, 2, 12, bank_fraction=0.3, seed=0)
    assert {len(p.source) for p in pairs} == set(range(2, 13))
    dictionary = {**tasks.ADJECTIVES, **tasks.NOUNS, **tasks.BANK_CUES}
    for p in pairs:
        assert len(p.target) == len(p.source) == len(p.alignment)
        assert sorted(p.alignment) == list(range(len(p.source)))  # a permutation
        for j, i in enumerate(p.alignment):
            if p.source[i] == "bank":
                assert p.target[j] == tasks.BANK_TRANSLATION[p.source[p.cue[1]]]
            else:
                assert p.target[j] == dictionary[p.source[i]]
        for i, word in enumerate(p.source[:-1]):  # adjective + noun -> noun + adjective
            if word in tasks.ADJECTIVES:
                j = p.alignment.index(i)
                assert p.alignment[j - 1] == i + 1
    banks = [p for p in pairs if p.cue]
    assert 0.2 < len(banks) / len(pairs) < 0.4
    assert all(p.source[0] in tasks.BANK_CUES and p.source[-1] == "bank" for p in banks)
    assert tasks.toy_translation(5, seed=3) == tasks.toy_translation(5, seed=3)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n": 0}, "n must be"), ({"n": 2, "min_len": 0}, "min_len must be"), ({"n": 2, "min_len": 5, "max_len": 4},
     "min_len must be <= max_len"), ({"n": 2, "bank_fraction": 1.5}, "bank_fraction must be in")],
)
def test_toy_translation_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tasks.toy_translation(**kwargs)


# ---------------------------------------------------------------- batching


def test_vocab_and_make_batch(vocabs):
    src_v, tgt_v = vocabs
    assert src_v.itos[:3] == ["<pad>", "<bos>", "<eos>"] and (PAD, BOS, EOS) == (0, 1, 2)
    pairs = tasks.toy_translation(4, 2, 6, seed=1)
    src, tgt = seq2seq.make_batch(pairs, src_v, tgt_v)
    assert src.shape == (4, max(len(p.source) for p in pairs))
    assert tgt.shape == (4, max(len(p.target) for p in pairs) + 2)
    for b, p in enumerate(pairs):
        assert src_v.decode(src[b]) == p.source and tgt_v.decode(tgt[b]) == p.target
        assert tgt[b, 0] == BOS and tgt[b, len(p.target) + 1] == EOS
        assert (src[b, len(p.source):] == PAD).all()
    with pytest.raises(KeyError, match="'chien' is not in the vocabulary"):
        src_v.encode(["dog", "chien"])
    with pytest.raises(ValueError, match="distinct words"):
        seq2seq.Vocab(["a", "a"])


def test_batch_sampler_is_seeded_and_checks_splits(vocabs):
    splits = {"train": tasks.toy_translation(50, seed=0)}
    a = seq2seq.batch_sampler(splits, *vocabs, batch_size=8, seed=3)("train")
    b = seq2seq.batch_sampler(splits, *vocabs, batch_size=8, seed=3)("train")
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and a[0].shape[0] == 8
    with pytest.raises(KeyError, match="split must be one of"):
        seq2seq.batch_sampler(splits, *vocabs)("val")
    with pytest.raises(ValueError, match="batch_size"):
        seq2seq.batch_sampler(splits, *vocabs, batch_size=0)


# ---------------------------------------------------------------- the model


@pytest.mark.parametrize("attention", [False, True])
def test_padding_does_not_change_a_sentence(vocabs, attention):
    model = _model(vocabs, attention)
    short, long = tasks.toy_translation(1, 3, 3, seed=0)[0], tasks.toy_translation(1, 9, 9, seed=1)[0]
    src_alone, tgt_alone = seq2seq.make_batch([short], *vocabs)
    src_both, tgt_both = seq2seq.make_batch([short, long], *vocabs)
    T = tgt_alone.shape[1] - 1
    logits_alone, w_alone = model(src_alone, tgt_alone[:, :-1])
    logits_both, w_both = model(src_both, tgt_both[:, :-1])
    torch.testing.assert_close(logits_both[:1, :T], logits_alone, rtol=1e-10, atol=1e-12)
    if attention:
        torch.testing.assert_close(w_both[:1, :T, :3], w_alone, rtol=1e-10, atol=1e-12)
        assert (w_both[0, :, 3:] == 0).all()  # no weight on the source's padding
        torch.testing.assert_close(w_both.sum(-1), torch.ones_like(w_both.sum(-1)))


def test_fused_decoder_equals_the_step_by_step_one(vocabs):
    # without attention, forward runs the decoder as one nn.GRU call; _step runs it one step
    # at a time (as greedy does): outputs and gradients must agree
    model = _model(vocabs, attention=False)
    src, tgt = seq2seq.make_batch(tasks.toy_translation(5, 2, 10, seed=2), *vocabs)
    fused, _ = model(src, tgt[:, :-1])
    s, memory = model._start(src)
    steps = []
    for y_prev in tgt[:, :-1].unbind(1):
        step_logits, s, _ = model._step(y_prev, s, memory)
        steps.append(step_logits)
    stepped = torch.stack(steps, 1)
    torch.testing.assert_close(fused, stepped, rtol=1e-10, atol=1e-12)
    g = torch.randn_like(fused)
    params = [p for p in model.parameters()]
    grads_fused = torch.autograd.grad(fused, params, g, allow_unused=True)
    grads_stepped = torch.autograd.grad(stepped, params, g, allow_unused=True)
    for a, b in zip(grads_fused, grads_stepped):
        if a is None:
            assert b is None
        else:
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_agrees_with_teacher_forcing_on_its_own_output(vocabs, attention):
    model = _model(vocabs, attention, seed=3)
    src, _ = seq2seq.make_batch(tasks.toy_translation(6, 2, 8, seed=4), *vocabs)
    ids, weights = model.greedy(src, max_len=5)
    # feed the greedy words back with teacher forcing: the argmax must reproduce them
    tgt_in = torch.cat([torch.full((6, 1), BOS), ids[:, :-1]], dim=1)
    logits, w = model(src, tgt_in.masked_fill(tgt_in == PAD, EOS))
    first = ids[:, 0]
    assert torch.equal(logits[:, 0].argmax(-1), first)
    alive = (ids[:, :-1] != EOS).cumprod(dim=1).bool() & (ids[:, :-1] != PAD)  # steps before <eos>
    next_ids = logits[:, 1:].argmax(-1)
    assert torch.equal(next_ids[alive], ids[:, 1:][alive])
    if attention:
        assert weights.shape == (6, 5, src.shape[1])
    else:
        assert weights is None and w is None


def test_loss_ignores_padding(vocabs):
    model = _model(vocabs)
    pairs = tasks.toy_translation(2, 3, 9, seed=5)
    batch = seq2seq.make_batch(pairs, *vocabs)
    alone = [seq2seq.seq2seq_loss(model, *seq2seq.make_batch([p], *vocabs)) for p in pairs]
    counts = [len(p.target) + 1 for p in pairs]  # words and <eos>
    expected = sum(l * n for l, n in zip(alone, counts)) / sum(counts)
    torch.testing.assert_close(seq2seq.seq2seq_loss(model, *batch), expected, rtol=1e-10, atol=1e-12)


def test_accuracy_by_length_by_hand():
    a = tasks.TranslationPair(["dog", "cat"], ["chien", "chat"], [0, 1])
    b = tasks.TranslationPair(["cat", "dog"], ["chat", "chien"], [0, 1])
    c = tasks.TranslationPair(["big", "dog", "cat"], ["chien", "grand", "chat"], [1, 0, 2])
    scores = seq2seq.accuracy_by_length([a, b, c], [["chien", "chat"], ["chat"], ["chien", "grand", "chat", "x"]])
    assert scores[2] == pytest.approx((0.75, 0.5))  # (1 + 1/2) / 2 words, 1 of 2 sentences
    assert scores[3] == pytest.approx((1.0, 0.0))  # every word right, but one too many
    with pytest.raises(ValueError, match="same length"):
        seq2seq.accuracy_by_length([a], [])
    # a dropped word costs one word, not every word after it
    d = tasks.TranslationPair(list("abcde"), list("ABCDE"), [0, 1, 2, 3, 4])
    assert seq2seq.accuracy_by_length([d], [list("ACDE")])[5] == pytest.approx((0.8, 0.0))


@pytest.mark.parametrize(
    "reference, predicted, hits",
    [
        ("abcde", "abcde", [1, 1, 1, 1, 1]),
        ("abcde", "acde", [1, 0, 1, 1, 1]),  # a deletion
        ("abcde", "abXcde", [1, 1, 1, 1, 1]),  # an insertion
        ("abcde", "abXde", [1, 1, 0, 1, 1]),  # a substitution
        ("abc", "", [0, 0, 0]),
        ("", "abc", []),
    ],
)
def test_aligned_hits_against_edit_distance(reference, predicted, hits):
    got = seq2seq.aligned_hits(list(reference), list(predicted))
    assert got == [bool(h) for h in hits]


def test_aligned_hits_count_matches_an_independent_edit_distance():
    # the number of hits of a minimum-edit alignment, checked against a brute force
    # over all alignments of short random strings (max matches among minimum-edit ones)
    import itertools
    import random

    def best(r, p):
        if not r or not p:
            return (len(r) + len(p), 0)
        same = r[0] == p[0]
        options = [(e + (not same), m - same) for e, m in [best(r[1:], p[1:])]]
        options.append(tuple(a + b for a, b in zip(best(r[1:], p), (1, 0))))
        options.append(tuple(a + b for a, b in zip(best(r, p[1:]), (1, 0))))
        return min(options)

    rng = random.Random(0)
    for _ in range(200):
        r = [rng.choice("ab") for _ in range(rng.randint(0, 6))]
        p = [rng.choice("ab") for _ in range(rng.randint(0, 6))]
        assert sum(seq2seq.aligned_hits(r, p)) == -best(r, p)[1]


def test_model_rejects_bad_input(vocabs):
    model = _model(vocabs)
    src, tgt = seq2seq.make_batch(tasks.toy_translation(2, seed=0), *vocabs)
    with pytest.raises(TypeError, match="src must be a torch.long tensor"):
        model(src.float(), tgt)
    with pytest.raises(ValueError, match=r"tgt_in must have shape \(B, L\)"):
        model(src, tgt[0])
    with pytest.raises(ValueError, match=r"ids in \[0, 22\)"):
        model(src + 100, tgt)
    with pytest.raises(ValueError, match="<pad> only after the words"):
        model(torch.tensor([[PAD, 5, 6]]), tgt[:1])
    with pytest.raises(ValueError, match="same batch size"):
        model(src, tgt[:1])
    with pytest.raises(ValueError, match="max_len must be"):
        model.greedy(src, 0)
    with pytest.raises(TypeError, match="config must be a Seq2SeqConfig"):
        seq2seq.Seq2Seq({"attention": True})
    with pytest.raises(ValueError, match="Seq2SeqConfig.hidden_size"):
        seq2seq.Seq2SeqConfig(10, 10, hidden_size=0)


def test_trained_attention_finds_the_true_alignment(vocabs):
    # a short run on short sentences: the largest weight of most target words must fall on the
    # source word they translate, although the model is only ever told the next word
    utils.set_seed(0)
    src_v, tgt_v = vocabs
    model = seq2seq.Seq2Seq(seq2seq.Seq2SeqConfig(len(src_v), len(tgt_v), attention=True))
    splits = {"train": tasks.toy_translation(5000, 2, 8, bank_fraction=0.0, seed=1),
              "val": tasks.toy_translation(100, 2, 8, bank_fraction=0.0, seed=2)}
    config = train.TrainConfig(steps=150, lr=5e-3, warmup=10, eval_every=150, eval_batches=1, progress=False)
    train.train(model, seq2seq.batch_sampler(splits, src_v, tgt_v), config, loss_fn=seq2seq.seq2seq_loss)
    test = tasks.toy_translation(300, 4, 8, bank_fraction=0.0, seed=3)
    words, weights = seq2seq.translate(model, test, src_v, tgt_v)
    hits = [w[: len(p.target)].argmax(1) == np.array(p.alignment)
            for p, got, w in zip(test, words, weights) if got == p.target]
    assert len(hits) > 200  # most sentences translated exactly
    assert np.concatenate(hits).mean() > 0.8
