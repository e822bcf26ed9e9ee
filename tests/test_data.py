"""Tests for tutorial_lib.data: corpus, character tokenizer, split and batches."""

from __future__ import annotations

import json
import shutil
import sys
import types

import numpy as np
import pytest
import torch

from tutorial_lib import data
from tutorial_lib.data import (
    CharData,
    CharTokenizer,
    CorpusError,
    corpus_fingerprint,
    get_batch,
    load_char_data,
    load_corpus,
    train_val_split,
)


# ---------------------------------------------------------------- corpus
def test_load_corpus_is_long_printable_ascii():
    text = load_corpus()
    assert len(text) > 400_000
    assert all(32 <= ord(c) < 127 or c == "\n" for c in set(text))
    assert "\t" not in text and "\r" not in text
    assert "def " in text and "class " in text


def test_load_corpus_keeps_apostrophes_of_typographic_quotes():
    # The reference uses "’" in words such as "object’s"; it must become "'", not vanish.
    text = load_corpus()
    assert "object's" in text
    assert "objects type" not in text


def _clear_caches():
    data._frozen.cache_clear()
    data._manifest.cache_clear()


@pytest.fixture
def corpus_copy(tmp_path, monkeypatch):
    """The frozen texts copied into a temporary folder, which the package reads meanwhile."""
    shutil.copytree(data.CORPUS_DIR, tmp_path / "corpus")
    monkeypatch.setattr(data, "CORPUS_DIR", tmp_path / "corpus")
    _clear_caches()
    yield tmp_path / "corpus"
    _clear_caches()  # the next read is of the package's own texts again


def test_the_corpus_is_the_frozen_text_the_shipped_models_were_trained_on():
    text = load_corpus()
    assert len(text) == 465_185 and corpus_fingerprint(text) == "bc9edc40de1c547a"
    manifest = json.loads((data.CORPUS_DIR / "manifest.json").read_text())
    assert manifest["python"] == "3.11.7" and manifest["fingerprints"]["python_reference.txt"] == "bc9edc40de1c547a"
    shipped = json.loads((data.CORPUS_DIR.parent / "checkpoints" / "gpt_char.json").read_text())
    assert shipped["corpus_fingerprint"] == corpus_fingerprint(text)
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in (data.CORPUS_DIR / "LICENSE.txt").read_text()


def test_the_corpus_does_not_come_from_the_running_python(corpus_copy, monkeypatch):
    # another Python's reference topics: the book's text must not change with them
    fake = types.ModuleType("pydoc_data.topics")
    fake.topics = {"a": "another Python's text"}
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", fake)
    assert corpus_fingerprint(load_corpus()) == "bc9edc40de1c547a"


def test_a_changed_or_missing_frozen_text_says_what_and_how_to_mend_it(corpus_copy):
    path = corpus_copy / "python_reference.txt"
    path.write_text(path.read_text().replace("statement", "Statement", 1))
    with pytest.raises(CorpusError, match="has fingerprint .* not the bc9edc40de1c547a .* reinstall"):
        load_corpus()
    path.unlink()
    _clear_caches()
    with pytest.raises(CorpusError, match="python_reference.txt is missing"):
        load_corpus()
    (corpus_copy / "code" / "heapq.txt").write_text("changed")
    with pytest.raises(CorpusError, match="heapq.txt has fingerprint"):
        data.load_code(CharTokenizer("abc"), ["heapq"])


def test_freezing_reproduces_the_frozen_texts_on_their_python(tmp_path):
    from tutorial_lib.tools import freeze

    recorded = json.loads((data.CORPUS_DIR / "manifest.json").read_text())
    new = {name: corpus_fingerprint(text) for name, text in freeze.texts().items()}
    if sys.version.split()[0] != recorded["python"]:
        pytest.skip(f"the texts were frozen on Python {recorded['python']}")
    assert new == recorded["fingerprints"]
    shutil.copytree(data.CORPUS_DIR, tmp_path / "corpus")
    (tmp_path / "corpus" / "manifest.json").write_text(json.dumps({"fingerprints": {"x": "0"}}))
    with pytest.raises(SystemExit, match="other texts than the frozen ones"):
        freeze.freeze(tmp_path / "corpus")  # refuses to replace other texts without --force
    assert freeze.freeze(tmp_path / "corpus", force=True)["fingerprints"] == recorded["fingerprints"]


def test_corpus_fingerprint_by_hand():
    # SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    assert corpus_fingerprint("abc") == "ba7816bf8f01cfea"
    assert len(corpus_fingerprint("")) == 16
    with pytest.raises(TypeError, match="text must be a str"):
        corpus_fingerprint(b"abc")  # type: ignore[arg-type]


# ---------------------------------------------------------------- tokenizer
def test_tokenizer_ids_follow_sorted_characters():
    tok = CharTokenizer.from_text("hello")
    assert tok.chars == ["e", "h", "l", "o"]
    assert tok.vocab_size == len(tok) == 4
    assert tok.encode("hello") == [1, 0, 2, 2, 3]
    assert tok.decode([1, 0, 2, 2, 3]) == "hello"
    assert "vocab_size=4" in repr(tok)


def test_tokenizer_constructor_dedups_and_sorts():
    assert CharTokenizer(["b", "a", "b", "\n"]).chars == ["\n", "a", "b"]


def test_tokenizer_round_trip_on_corpus_sample():
    text = load_corpus()[:5000]
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text


def test_decode_accepts_tensor_and_numpy():
    tok = CharTokenizer("abc")
    assert tok.decode(torch.tensor([2, 0, 1])) == "cab"
    assert tok.decode(np.array([2, 0, 1], dtype=np.int32)) == "cab"
    assert tok.decode([]) == ""


def test_encode_tensor_is_long_of_shape_T():
    ids = CharTokenizer("abc").encode_tensor("abca")
    assert ids.dtype == torch.long
    assert ids.tolist() == [0, 1, 2, 0]


def test_encode_names_the_unknown_character_and_position():
    tok = CharTokenizer.from_text("hello")
    with pytest.raises(ValueError, match=r"'x' at position 2"):
        tok.encode("hex")


def test_decode_rejects_bad_ids():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\), got 3 at position 1"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="ids must lie"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="ids must be 1-D"):
        tok.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="ids must be integers"):
        tok.decode(torch.tensor([0.0, 1.0]))


def test_tokenizer_rejects_bad_alphabets():
    with pytest.raises(ValueError, match="chars must contain at least one"):
        CharTokenizer([])
    with pytest.raises(ValueError, match="chars must contain single characters.*'ab'"):
        CharTokenizer(["a", "ab"])
    with pytest.raises(ValueError, match="text must be a non-empty"):
        CharTokenizer.from_text("")


# ---------------------------------------------------------------- split
def test_train_val_split_is_contiguous_with_the_right_sizes():
    train, val = train_val_split(torch.arange(100), val_fraction=0.1)
    assert train.tolist() == list(range(90))
    assert val.tolist() == list(range(90, 100))
    train, val = train_val_split(torch.arange(10), val_fraction=0.3)
    assert (len(train), len(val)) == (7, 3)


def test_train_val_split_rejects_bad_input():
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="val_fraction must be strictly between 0 and 1"):
            train_val_split(torch.arange(100), val_fraction=bad)
    with pytest.raises(ValueError, match="ids must be 1-D"):
        train_val_split(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="too few"):
        train_val_split(torch.arange(5), val_fraction=0.1)  # val would get 0 elements
    with pytest.raises(TypeError, match="ids must be a torch.Tensor"):
        train_val_split([1, 2, 3, 4, 5])  # type: ignore[arg-type]


# ---------------------------------------------------------------- batches
def test_get_batch_y_is_x_shifted_by_one():
    data = torch.arange(50)
    x, y = get_batch(data, batch_size=4, block_size=8, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert x.dtype == y.dtype == torch.long
    # data is 0, 1, 2, ...: every window is consecutive and y is x + 1.
    assert torch.equal(x[:, 1:], x[:, :-1] + 1)
    assert torch.equal(y, x + 1)
    assert int(y.max()) <= 49 and int(x.min()) >= 0


def test_get_batch_windows_come_from_data():
    data = torch.randint(0, 10, (200,), generator=torch.Generator().manual_seed(1))
    x, y = get_batch(data, 16, 5, generator=torch.Generator().manual_seed(2))
    for xb, yb in zip(x, y):
        starts = [i for i in range(200 - 5) if torch.equal(data[i : i + 5], xb)]
        assert any(torch.equal(data[i + 1 : i + 6], yb) for i in starts)


def test_get_batch_is_reproducible_and_leaves_global_rng_alone():
    data = torch.arange(1000)
    state = torch.get_rng_state()
    a = get_batch(data, 8, 4, generator=torch.Generator().manual_seed(5))[0]
    b = get_batch(data, 8, 4, generator=torch.Generator().manual_seed(5))[0]
    c = get_batch(data, 8, 4, generator=torch.Generator().manual_seed(6))[0]
    assert torch.equal(state, torch.get_rng_state())
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_get_batch_block_size_can_use_whole_data():
    x, y = get_batch(torch.arange(5), 3, 4)
    assert x.tolist() == [[0, 1, 2, 3]] * 3
    assert y.tolist() == [[1, 2, 3, 4]] * 3


def test_get_batch_rejects_bad_input():
    data = torch.arange(20)
    with pytest.raises(ValueError, match="data must be a 1-D torch.long"):
        get_batch(data.float(), 2, 4)
    with pytest.raises(ValueError, match="data must be a 1-D torch.long"):
        get_batch(data.view(4, 5), 2, 4)
    with pytest.raises(ValueError, match="block_size=20"):
        get_batch(data, 2, 20)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        get_batch(data, 0, 4)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        get_batch(data, 2, 2.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------- load_char_data
def test_load_char_data_fits_together():
    data = load_char_data(val_fraction=0.1)
    assert isinstance(data, CharData)
    assert data.text == load_corpus()
    assert data.tokenizer.vocab_size == len(set(data.text))
    assert data.train.dtype == data.val.dtype == torch.long
    assert data.train.dim() == data.val.dim() == 1
    assert len(data.train) + len(data.val) == len(data.text)
    assert abs(len(data.val) / len(data.text) - 0.1) < 1e-4
    n = len(data.train)
    assert data.tokenizer.decode(data.train[:200]) == data.text[:200]
    assert data.tokenizer.decode(data.val[:200]) == data.text[n : n + 200]


def test_load_code_is_the_standard_library_in_the_tokenizer_alphabet():
    from tutorial_lib.data import CODE_MODULES, CharTokenizer, load_char_data, load_code

    tok = load_char_data().tokenizer
    text = load_code(tok)
    assert len(text) > 300_000 and set(text) <= set(tok.chars)
    assert "def " in text and "class ArgumentParser" in text and "\t" not in text
    one = load_code(tok, ["heapq"])
    assert one in text and one.count("def heappush(") == 1
    assert len(load_code(CharTokenizer("abc\n"), ["heapq"])) < len(one) // 5  # unknown characters dropped
    assert CODE_MODULES[0] == "argparse"
    with pytest.raises(ValueError, match="'sys' is not one of the frozen modules"):
        load_code(tok, ["sys"])
    with pytest.raises(ValueError, match="modules must be a non-empty sequence"):
        load_code(tok, "heapq")
    with pytest.raises(TypeError, match="tokenizer must be a CharTokenizer"):
        load_code("abc")
