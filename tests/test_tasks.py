"""tutorial_lib.tasks: the bank task's sentences say what they claim to say."""

from __future__ import annotations

import pytest

from tutorial_lib import tasks


def test_bank_examples_structure_and_senses():
    examples = tasks.bank_examples(200, filler_words=3, seed=0)
    assert len(examples) == 200
    for e in examples:
        words = e.prompt.split()
        spec = tasks.BANK_SENSES[e.sense]
        assert words[0] in spec["cues"]                      # the cue fixes the sense
        assert all(w in tasks.FILLER_WORDS for w in words[1:4])
        assert words[4:] == ["bank"] and e.prompt.endswith("bank ")
        assert e.answer == spec["next"]
        assert e.text == f"{e.prompt}{e.answer}.\n"
        assert e.gap == len(e.prompt) - len(words[0])        # characters after the cue
    senses = {e.sense for e in examples}
    assert senses == {"river", "money"}
    # no cue word is shared between senses, and their last letters differ too
    river, money = (set(tasks.BANK_SENSES[s]["cues"]) for s in ("river", "money"))
    assert not river & money
    assert not {c[-1] for c in river} & {c[-1] for c in money}


def test_gap_grows_with_filler():
    gaps = [min(e.gap for e in tasks.bank_examples(100, filler_words=k)) for k in (0, 2, 4)]
    assert gaps == sorted(gaps) and gaps[0] == len(" bank ")


def test_seed_is_local_and_reproducible():
    a = tasks.bank_examples(20, seed=5)
    b = tasks.bank_examples(20, seed=5)
    c = tasks.bank_examples(20, seed=6)
    assert [e.text for e in a] == [e.text for e in b]
    assert [e.text for e in a] != [e.text for e in c]


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "n must be a positive int"),
    ({"n": 2.5}, "n must be a positive int"),
    ({"n": 3, "filler_words": -1}, "filler_words must be a non-negative int"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tasks.bank_examples(**kwargs)
