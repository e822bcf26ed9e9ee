"""tutorial_lib.tasks: the bank task's sentences say what they claim to say."""

from __future__ import annotations

import pytest
import torch

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


# ---- delayed recall (chapter 3) ---------------------------------------------------------

def test_delayed_recall_shapes_and_layout():
    K, delay = 8, 6
    x, y = tasks.delayed_recall(500, delay, num_symbols=K, seed=0)
    assert x.shape == (500, delay + 1) and y.shape == (500,)
    assert x.dtype == torch.long and y.dtype == torch.long
    assert torch.equal(y, x[:, 0])                                   # the target is the first token
    assert ((x[:, 0] >= 0) & (x[:, 0] < K)).all()                    # a symbol
    assert ((x[:, 1:delay] >= K) & (x[:, 1:delay] < 2 * K)).all()    # distractors: never a symbol
    assert (x[:, delay] == 2 * K).all()                              # the query token, last
    assert int(x.max()) == tasks.delayed_recall_vocab(K) - 1 == 2 * K
    # every symbol and every distractor occurs: the generator covers the whole ranges
    assert set(x[:, 0].tolist()) == set(range(K))
    assert set(x[:, 1:delay].flatten().tolist()) == set(range(K, 2 * K))


def test_delayed_recall_delay_one_has_no_distractors():
    x, y = tasks.delayed_recall(10, 1, num_symbols=3)
    assert x.shape == (10, 2) and (x[:, 1] == 6).all() and torch.equal(y, x[:, 0])


def test_delayed_recall_vocab_and_chance_level():
    assert tasks.delayed_recall_vocab(8) == 17 and tasks.delayed_recall_vocab(2) == 5
    # always guessing the most frequent symbol scores about chance, 1/K
    _, y = tasks.delayed_recall(20_000, 3, num_symbols=4, seed=1)
    assert torch.bincount(y, minlength=4).max().item() / len(y) == pytest.approx(0.25, abs=0.02)


def test_delayed_recall_seed_is_local_and_reproducible():
    state = torch.get_rng_state()
    a = tasks.delayed_recall(50, 5, seed=7)
    b = tasks.delayed_recall(50, 5, seed=7)
    c = tasks.delayed_recall(50, 5, seed=8)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0, "delay": 3}, "n must be a positive int"),
    ({"n": 2.0, "delay": 3}, "n must be a positive int"),
    ({"n": 4, "delay": 0}, "delay must be a positive int"),
    ({"n": 4, "delay": True}, "delay must be a positive int"),
    ({"n": 4, "delay": 3, "num_symbols": 1}, "num_symbols must be an int >= 2"),
])
def test_delayed_recall_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tasks.delayed_recall(**kwargs)
    with pytest.raises(ValueError, match="num_symbols must be an int >= 2"):
        tasks.delayed_recall_vocab(0)


def test_bank_senses_pairs_each_sentence_with_its_cueless_copy():
    from tutorial_lib.tasks import BANK_SENSE_LABELS, BANK_SENSES, bank_senses

    pairs = bank_senses(3, max_filler=4, seed=2)
    assert len(pairs) == 2 * 3 * 4
    for (words, sense), (rest, unknown) in zip(pairs[::2], pairs[1::2]):
        assert sense in BANK_SENSES and words[0] in BANK_SENSES[sense]["cues"] and words[-1] == "bank"
        assert rest == words[1:] and unknown == "unknown" and unknown in BANK_SENSE_LABELS
    assert [len(w) for w, _ in pairs[::6]] == [3, 4, 5, 6]  # cue + fillers + "bank"
    with pytest.raises(ValueError, match="max_filler"):
        bank_senses(2, max_filler=0)


# ---------------------------------------------------------------- chapter 8: rules in context


@pytest.mark.parametrize("kind", ["random", "shift", "copy", "reverse"])
def test_rule_sequences_follow_one_rule_each(kind):
    from tutorial_lib.tasks import rule_sequences

    b = rule_sequences(300, pairs=12, num_symbols=6, kind=kind, seed=1)
    assert b.xs.shape == b.ys.shape == (300, 12) and b.rules.shape == (300, 6)
    assert torch.equal(b.ys, b.rules.gather(1, b.xs))  # every example obeys its sequence's rule
    assert (b.rules.sort(dim=1).values == torch.arange(6)).all()  # each rule is a permutation
    expected = {"copy": torch.arange(6), "reverse": torch.arange(6).flip(0)}
    if kind in expected:
        assert (b.rules == expected[kind]).all()
    if kind == "shift":
        shift = (b.rules[:, :1] - 0) % 6
        assert ((torch.arange(6) + shift) % 6 == b.rules).all() and (shift > 0).all()
    if kind == "random":
        assert len({tuple(r) for r in b.rules.tolist()}) > 200  # 300 draws of 720 rules: about 246 distinct


def test_rule_sequences_repeat_earlier_inputs_as_often_as_asked():
    from tutorial_lib.tasks import rule_sequences

    for repeat in (0.0, 0.7, 1.0):
        b = rule_sequences(2000, pairs=10, num_symbols=8, repeat=repeat, seed=2)
        seen = torch.stack([(b.xs[:, :k] == b.xs[:, k:k + 1]).any(1) for k in range(1, 10)], 1).float()
        # a repeat is always seen; a uniform draw hits one of the distinct earlier symbols
        distinct = torch.stack([torch.tensor([len(set(r)) for r in b.xs[:, :k].tolist()]) for k in range(1, 10)], 1)
        expected = repeat + (1 - repeat) * distinct.float().mean(0) / 8  # (9,)
        assert torch.allclose(seen.mean(0), expected, atol=0.03)
    a, b = rule_sequences(5, seed=3), rule_sequences(5, seed=3)
    assert torch.equal(a.xs, b.xs) and torch.equal(a.rules, b.rules)


def test_rule_text_and_bad_input():
    from tutorial_lib.tasks import RuleBatch, rule_sequences, rule_text

    b = RuleBatch(xs=torch.tensor([[0, 2, 0]]), ys=torch.tensor([[2, 1, 2]]), rules=torch.tensor([[2, 0, 1]]))
    assert rule_text(b) == ["aC cB aC"] and rule_text(b, arrow=">", sep=",") == ["a>C,c>B,a>C"]
    for kwargs, match in (({"n": 0}, "n must be"), ({"n": 2, "pairs": 0}, "pairs must be"),
                          ({"n": 2, "num_symbols": 9}, "num_symbols must be"), ({"n": 2, "repeat": 1.5}, "repeat must"),
                          ({"n": 2, "kind": "sort"}, "kind must be one of")):
        with pytest.raises(ValueError, match=match):
            rule_sequences(**kwargs)


TEXT = ("The for statement iterates over the items of any sequence, in the order that they appear. "
        "A while statement repeats a block of statements as long as its condition holds; a break "
        "statement leaves the innermost loop, and continue skips to the next iteration of it.")


def test_word_choices_typo_swaps_two_adjacent_letters_after_the_real_context():
    items = tasks.word_choices(TEXT, 6, distractor="typo", context=20, seed=1)
    assert len(items) == 6 and len({(i.context, i.right) for i in items}) == 6
    for item in items:
        assert item.context + item.right in TEXT and len(item.context) == 20 and item.context.endswith(" ")
        assert len(item.right) >= 5 and item.right.islower() and item.wrong != item.right
        diff = [k for k, (a, b) in enumerate(zip(item.right, item.wrong)) if a != b]
        assert len(diff) == 2 and diff[1] == diff[0] + 1 and 0 < diff[0] and diff[1] < len(item.right) - 1
        assert sorted(item.right) == sorted(item.wrong)
    assert tasks.word_choices(TEXT, 6, context=20, seed=1) == items  # seeded


def test_word_choices_word_draws_a_same_length_word_from_the_vocabulary():
    vocabulary = ["alpha", "bravo", "charlie", "sequences", "statement", "condition", "iterates", "innermost"]
    items = tasks.word_choices(TEXT, 4, distractor="word", vocabulary=vocabulary, context=10, seed=0)
    for item in items:
        assert item.wrong in vocabulary and item.wrong != item.right and len(item.wrong) == len(item.right)
    with pytest.raises(ValueError, match="needs a vocabulary"):
        tasks.word_choices(TEXT, 4, distractor="word")
    with pytest.raises(ValueError, match="distractor must be 'typo' or 'word'"):
        tasks.word_choices(TEXT, 4, distractor="noun")
    with pytest.raises(ValueError, match="context must be an integer >= 1"):
        tasks.word_choices(TEXT, 4, context=0)
    with pytest.raises(ValueError, match="only .* usable words for n=100"):
        tasks.word_choices(TEXT, 100)


def test_instruction_pairs_compute_their_answers_and_are_seeded():
    words = ["while", "lambda", "yield"]
    pairs = tasks.instruction_pairs(words, 40, seed=3)
    assert pairs == tasks.instruction_pairs(words, 40, seed=3)
    assert {p.kind for p in pairs} == set(tasks.INSTRUCTIONS) and {p.word for p in pairs} == set(words)
    expected = {"upper": str.upper, "reverse": lambda w: w[::-1], "first": lambda w: w[0],
                "length": lambda w: str(len(w))}
    for p in pairs:
        assert p.prompt.startswith("Q: ") and p.prompt.endswith(f"{p.word}\nA: ")
        assert p.response == expected[p.kind](p.word)
    only = tasks.instruction_pairs(words, 10, kinds=("reverse",), seed=0)
    assert {p.kind for p in only} == {"reverse"}
    with pytest.raises(ValueError, match="words must be a non-empty list of alphabetic strings"):
        tasks.instruction_pairs(["two words"], 3)
    with pytest.raises(ValueError, match="kinds must be a non-empty tuple"):
        tasks.instruction_pairs(words, 3, kinds=("translate",))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        tasks.instruction_pairs(words, 0)


def test_corrupt_responses_replace_a_fraction_with_answers_of_the_right_form():
    words = ["while", "lambda", "yield", "class", "return", "import"]
    pairs = tasks.instruction_pairs(words, 400, seed=0)
    assert tasks.corrupt_responses(pairs, 0.0, words) == pairs
    noisy = tasks.corrupt_responses(pairs, 0.4, words, seed=1)
    assert noisy == tasks.corrupt_responses(pairs, 0.4, words, seed=1)  # seeded
    changed = [(p, q) for p, q in zip(pairs, noisy) if p.response != q.response]
    assert 0.3 < len(changed) / len(pairs) < 0.5
    for p, q in zip(pairs, noisy):
        assert (q.kind, q.word, q.prompt) == (p.kind, p.word, p.prompt)  # only the answer changes
        answers = {tasks.INSTRUCTIONS[p.kind][1](w) for w in words}
        assert q.response in answers  # a right answer, for some word of the list
    everything = tasks.corrupt_responses(pairs, 1.0, words, seed=2)
    assert all(p.response != q.response for p, q in zip(pairs, everything))
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\]"):
        tasks.corrupt_responses(pairs, 1.5, words)
    with pytest.raises(ValueError, match="words must be a non-empty list"):
        tasks.corrupt_responses(pairs, 0.5, [])


def test_instruction_words_hold_out_a_seeded_set():
    text = " ".join(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota", "kappa", "lambda",
                     "ab", "Capital", "toolongword"])
    train, test = tasks.instruction_words(text, test_words=3, seed=0)
    assert (train, test) == tasks.instruction_words(text, test_words=3, seed=0)
    assert len(test) == 3 and not set(train) & set(test) and test == sorted(test)
    assert set(train) | set(test) == {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota",
                                      "kappa", "lambda"}  # 4 to 8 lowercase letters only
    with pytest.raises(ValueError, match=r"test_words must be an integer in \[1, 10\)"):
        tasks.instruction_words(text, test_words=10)


def test_continuation_prompts_end_between_two_words():
    text = "the value of a name is bound to the object when it runs " * 3
    prompts = tasks.continuation_prompts(text, 5, length=10, seed=0)
    assert len(set(prompts)) == 5 and all(len(p) == 10 and p.endswith(" ") and p[-2].isalpha() for p in prompts)
    for p in prompts:
        i = text.index(p)
        assert text[i + 10].isalpha()  # what follows is a word
    with pytest.raises(ValueError, match="fewer than n = 99"):
        tasks.continuation_prompts("a b c d", 99)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        tasks.continuation_prompts(text, 2, length=0)


def test_the_lipogram_labeller_prefers_fewer_e_skips_ties_and_slips_at_the_noise_rate():
    assert tasks.lipogram_score("Eel tree") == -4 and tasks.lipogram_score("a cat") == 0
    assert tasks.lipogram_score("banana", letter="a") == -3
    prefs = tasks.label_preferences(["p1", "p2", "p3"], ["cat", "see", "dog"], ["tee", "bee", "red"], noise=0.0)
    assert [(p.prompt, p.chosen, p.rejected) for p in prefs] == [("p1", "cat", "tee"), ("p3", "dog", "red")]
    n = 4000
    noisy = tasks.label_preferences(["p"] * n, ["cat"] * n, ["eel"] * n, noise=0.2, seed=1)
    slips = [p.flipped for p in noisy]
    assert abs(sum(slips) / n - 0.2) < 0.02
    assert all((p.chosen == "eel") == p.flipped for p in noisy)
    with pytest.raises(ValueError, match=r"noise must be in \[0, 0.5\)"):
        tasks.label_preferences(["p"], ["a"], ["b"], noise=0.5)
    with pytest.raises(ValueError, match="one length"):
        tasks.label_preferences(["p"], ["a", "b"], ["b"])
    with pytest.raises(ValueError, match="letter must be a single letter"):
        tasks.lipogram_score("abc", letter="ab")


def test_real_word_share():
    vocab = {"the", "cat"}
    assert tasks.real_word_share(["the cat", "the dog", "!!"], vocab) == pytest.approx((1 + 0.5 + 0) / 3)
    with pytest.raises(ValueError, match="non-empty list"):
        tasks.real_word_share([], vocab)


def test_fictional_facts_are_distinct_people_with_a_city_each():
    facts = tasks.fictional_facts(300, seed=0)
    assert len({f.word for f in facts}) == 300
    assert all(f.prompt == f"Q: Where does {f.word} live?\nA: " and f.response in tasks.FACT_CITIES for f in facts)
    assert len({c[0] for c in tasks.FACT_CITIES}) == len(tasks.FACT_CITIES)  # a first letter names a city
    counts = [sum(f.response == c for f in facts) for c in tasks.FACT_CITIES]
    assert min(counts) > 15  # roughly uniform: no city is a safe guess
    assert tasks.fictional_facts(300, seed=0) == facts and tasks.fictional_facts(300, seed=1) != facts
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 2000\]"):
        tasks.fictional_facts(0)
