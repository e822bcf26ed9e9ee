"""Tests of tutorial_lib.bpe: training by hand, round trips on any text, and the same ids as
Hugging Face ``tokenizers`` (our merges loaded into its BPE model) on the whole corpus and on
hostile text."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tutorial_lib import bpe, data
from tutorial_lib.hf import to_hf_tokenizer

HOSTILE = [
    "",
    "héllo wörld, naïve café: Ünïcödé",
    "emoji 😀🚀👩‍👩‍👧 and flags 🇫🇷🇯🇵 and skin tones 👍🏽",
    "日本語のテキスト 中文 한국어 العربية עברית हिन्दी ไทย",
    "\x00\x01\x07\x1b[31m\x1c\x1d\x1e\x1f\x7f\x85\xa0\u2028\u2029\u3000\ufeff",
    "tabs\t\tand\r\nwindows\x0b\x0c lines\n\n\n",
    "ﬁ ẞ ½ ² ٣ ⅷ ① 𝟘",  # numbers that are not digits, ligatures
    "    leading and trailing spaces    ",
    "'s'll'LL 'd 're've 123456 1.5e-10 0x1F",
    "\ud7ff\ue000\U0010ffff\U0001f9ff",
    "a" * 300 + " aaa aaaa",  # one long word, repeated pairs that overlap
    "z̴̢̛a̷l̸g̷o̵ combining marks",
]


@pytest.fixture(scope="module")
def corpus() -> str:
    return data.load_corpus()


@pytest.fixture(scope="module")
def trained(corpus) -> bpe.BPETokenizer:
    return bpe.BPETokenizer.train(corpus[: len(corpus) * 9 // 10], 512)


def random_text(seed: int, n: int = 400) -> str:
    """Code points from every plane that encodes (surrogates excluded), with spaces between."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        c = rng.choice([rng.randrange(0, 128), rng.randrange(128, 0x800), rng.randrange(0x800, 0xD800),
                        rng.randrange(0xE000, 0x110000), 32, 32])
        out.append(chr(c))
    return "".join(out)


def test_training_by_hand():
    # "aaab" twice and "ab": the pair (a, b) occurs 3 times, (a, a) 4 times: (a, a) is learnt first
    tok = bpe.BPETokenizer.train("aaab aaab ab", 258)
    a, b = ord("a"), ord("b")
    assert tok.merges[0] == (a, a)
    assert tok.vocab[256] == b"aa" and tok.vocab_size == 258
    assert tok.encode("aaab") == [256, a, b] or tok.encode("aaab") == [256, 257]
    assert tok.decode(tok.encode("aaab aaab ab")) == "aaab aaab ab"
    # once every pair occurs once, training stops short of the requested size
    assert bpe.BPETokenizer.train("abc", 1000).vocab_size == 256


def test_the_most_frequent_pair_is_merged_first(corpus):
    trace: list = []
    tok = bpe.BPETokenizer.train(corpus[:50_000], 300, trace)
    counts = [n for _, n in trace]
    assert counts[0] == max(counts)
    assert len(trace) == len(tok.merges) == tok.vocab_size - 256
    pairs = Counter(w[i:i + 2] for w in bpe.words(corpus[:50_000]) for i in range(len(w) - 1))
    (top, n), = pairs.most_common(1)  # counted directly: adjacent byte pairs within words
    assert tok.vocab[256] == top and counts[0] == n


def test_round_trip_on_any_text(trained):
    for text in HOSTILE + [random_text(seed) for seed in range(20)]:
        ids = trained.encode(text)
        assert all(0 <= i < trained.vocab_size for i in ids)
        assert trained.decode(ids) == text


def test_merges_compress_and_truncation_is_a_smaller_vocabulary(trained, corpus):
    val = corpus[len(corpus) * 9 // 10:]
    sizes = [256, 300, 400, 512]
    lengths = [len(trained.truncated(v).encode(val)) for v in sizes]
    assert lengths[0] == len(val.encode("utf-8"))  # no merges: one token per byte
    assert all(a > b for a, b in zip(lengths, lengths[1:]))  # every budget of merges compresses more
    assert trained.truncated(512).merges == trained.merges
    assert bpe.BPETokenizer(trained.merges[:44]).vocab == trained.truncated(300).vocab


def test_same_ids_as_hugging_face_tokenizers(trained, corpus):
    hf = to_hf_tokenizer(trained)
    assert hf.get_vocab_size() == trained.vocab_size
    assert hf.encode(corpus).ids == trained.encode(corpus)  # the whole corpus, train and validation
    for text in HOSTILE + [random_text(seed) for seed in range(50)]:
        ours = trained.encode(text)
        assert hf.encode(text).ids == ours, repr(text[:40])
        assert hf.decode(ours) == text


def test_a_different_merge_order_gives_different_ids(trained, corpus):
    """The equality above is not vacuous: the same merges in another order are another tokenizer."""
    swapped = list(trained.merges)
    i = next(i for i in range(len(swapped) - 1)
             if all(t < 256 for t in swapped[i] + swapped[i + 1]) and set(swapped[i]) & set(swapped[i + 1]))
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    other = bpe.BPETokenizer(swapped)
    assert to_hf_tokenizer(other).encode(corpus).ids != trained.encode(corpus)


def test_one_merge_at_a_time_leftmost_first():
    """Merges (b, c), (a, b), (ab, c) -> "abc", (abc, a) -> "abca", then (a, bc) -> "abc" again: a
    token reached two ways, as tokenizers' BPE allows. In "abcabc", merging every (a, bc) at once
    (GPT-2's original loop) gives abc|abc; merging one pair at a time, the earliest-learnt and
    then the leftmost, as tokenizers does, gives abca|bc once (abc, a) is there to merge."""
    a, b, c = ord("a"), ord("b"), ord("c")
    tok = bpe.BPETokenizer([(b, c), (a, b), (257, c), (258, a), (a, 256)])
    assert [tok.vocab[i] for i in range(256, tok.vocab_size)] == [b"bc", b"ab", b"abc", b"abca"]
    assert tok.encode("abc") == [258]
    assert tok.encode("abcabc") == [259, 256]
    assert to_hf_tokenizer(tok).encode("abcabc abc").ids == tok.encode("abcabc abc")


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 256"):
        bpe.BPETokenizer.train("text", 100)
    with pytest.raises(ValueError, match="text must be a str"):
        bpe.BPETokenizer().encode(b"bytes")
    with pytest.raises(ValueError, match=r"ids\[1\] = 999 is not a token id in \[0, 256\)"):
        bpe.BPETokenizer().decode([65, 999])
    with pytest.raises(ValueError, match="merge 0 .* must be two ids of tokens already in the vocabulary"):
        bpe.BPETokenizer([(65, 300)])
    with pytest.raises(ValueError, match="is learnt twice"):
        bpe.BPETokenizer([(65, 66), (65, 66)])
