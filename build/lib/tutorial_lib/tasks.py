"""Synthetic tasks whose answers are known, so a chapter can measure what a model gets right.

Chapter 1 introduces the "bank" task of the lecture slides: the word *bank* means a river bank
or a money bank, and only a cue word far to its left tells which. Chapter 3 adds the
delayed-recall task, which measures how far back a recurrent network can remember. Later
chapters add their tasks here (the adding problem, toy translation, in-context rules,
instruction pairs and their corrupted versions for chapter 9, preference pairs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tutorial_lib import utils

# The two senses of "bank": a cue word that fixes the sense, and the word that follows "bank".
BANK_SENSES = {
    "river": {"cues": ("river", "stream", "canoe", "fishing"), "next": "water"},
    "money": {"cues": ("money", "loan", "cash", "savings"), "next": "loans"},
}
# Neutral words placed between the cue and "bank": they say nothing about the sense.
FILLER_WORDS = ("then", "we", "went", "to", "the", "old", "new", "big", "quiet", "busy", "near", "by")


@dataclass
class BankExample:
    """One sentence of the bank task (chapter 1).

    ``prompt`` ends right after "bank " (the point where the sense must be known);
    ``answer`` is the word that follows in this sense; ``gap`` is the number of characters
    from the end of the cue word to the end of the prompt.
    """

    prompt: str   # e.g. "canoe then we went to the bank "
    answer: str   # "water" (river sense) or "loans" (money sense)
    sense: str    # "river" or "money"
    gap: int      # characters between the end of the cue and the end of the prompt

    @property
    def text(self) -> str:
        """The whole sentence, one line: prompt, answer and a full stop."""
        return f"{self.prompt}{self.answer}.\n"


def bank_examples(n: int, filler_words: int = 3, seed: int = 0) -> list[BankExample]:
    """``n`` sentences "<cue> <filler ...> bank <answer>." with a random sense each.

    Args:
        n: number of sentences (>= 1).
        filler_words: neutral words between the cue and "bank" (>= 0). More filler puts the
            cue farther away, out of reach of a short context window.
        seed: seed of a local random generator (global state is untouched).

    Returns:
        A list of :class:`BankExample`. Introduced in chapter 1, reused in chapter 5.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(filler_words, int) or filler_words < 0:
        raise ValueError(f"filler_words must be a non-negative int, got {filler_words!r}")
    rng = utils.rng(seed)
    senses = sorted(BANK_SENSES)
    examples = []
    for _ in range(n):
        sense = senses[rng.integers(len(senses))]
        spec = BANK_SENSES[sense]
        cue = spec["cues"][rng.integers(len(spec["cues"]))]
        filler = [FILLER_WORDS[i] for i in rng.integers(len(FILLER_WORDS), size=filler_words)]
        tail = " ".join(filler + ["bank", ""])  # "... bank " (ends with a space)
        prompt = f"{cue} {tail}"
        examples.append(BankExample(prompt=prompt, answer=spec["next"], sense=sense, gap=len(tail) + 1))
    return examples


BANK_SENSE_LABELS = ("river", "money", "unknown")  # the classes of bank_senses


def bank_senses(n: int, max_filler: int = 15, seed: int = 0) -> list[tuple[list[str], str]]:
    """The bank task as classification: ``(words, sense)`` pairs (chapters 5, 6).

    For every filler count 1..``max_filler``, ``n`` sentences of :func:`bank_examples` (seeded
    ``seed + filler count``), each twice: as it is, labelled with its sense, and with its cue word
    removed, labelled "unknown" (so a model cannot learn one sense and default to the other).
    Every sentence ends with "bank". Returns 2 * n * max_filler pairs.
    """
    if isinstance(max_filler, bool) or not isinstance(max_filler, int) or max_filler < 1:
        raise ValueError(f"max_filler must be a positive int, got {max_filler!r}")
    out = []
    for gap in range(1, max_filler + 1):
        for e in bank_examples(n, gap, seed=seed + gap):
            out.append((e.prompt.split(), e.sense))
            out.append((e.prompt.split()[1:], "unknown"))  # the cue removed
    return out


def delayed_recall_vocab(num_symbols: int = 8) -> int:
    """Vocabulary size V of :func:`delayed_recall`: symbols, distractors and the query, 2K + 1 (chapter 3)."""
    if isinstance(num_symbols, bool) or not isinstance(num_symbols, int) or num_symbols < 2:
        raise ValueError(f"num_symbols must be an int >= 2, got {num_symbols!r}")
    return 2 * num_symbols + 1


def delayed_recall(n: int, delay: int, num_symbols: int = 8, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` sequences whose first token must be recalled ``delay`` steps later (chapter 3).

    With K = ``num_symbols``, each sequence has ``delay + 1`` tokens::

        position 0              a symbol to remember, uniform in [0, K)
        positions 1 .. delay-1  distractors, uniform in [K, 2K) (never confused with a symbol)
        position delay          the query token 2K: "which symbol came first?"

    The target is the first token, so a model that forgets it scores chance, 1/K.
    The vocabulary has V = 2K + 1 tokens (:func:`delayed_recall_vocab`).

    Args:
        n: number of sequences (>= 1).
        delay: steps between the symbol and the query (>= 1; 1 means no distractors).
        num_symbols: K, the number of symbols to remember (>= 2).
        seed: seed of a local random generator (global state is untouched).

    Returns:
        ``(x, y)``: ``x`` (n, delay + 1) int64 tokens and ``y`` (n,) int64 targets, ``y == x[:, 0]``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 1:
        raise ValueError(f"delay must be a positive int (steps between symbol and query), got {delay!r}")
    K = num_symbols
    V = delayed_recall_vocab(K)  # also checks num_symbols
    gen = utils.generator(seed)
    x = torch.empty(n, delay + 1, dtype=torch.long)                              # (n, delay + 1)
    x[:, 0] = torch.randint(0, K, (n,), generator=gen)                           # symbols
    x[:, 1:delay] = torch.randint(K, 2 * K, (n, delay - 1), generator=gen)       # distractors
    x[:, delay] = V - 1                                                          # the query token 2K
    return x, x[:, 0].clone()


# A toy translation task (chapter 5): English words into a small French-like language. Each
# word has one translation, except "bank", whose translation depends on a cue word far back.
ADJECTIVES = {"big": "grand", "small": "petit", "red": "rouge", "blue": "bleu",
              "old": "vieux", "new": "neuf", "happy": "heureux", "quiet": "calme"}
NOUNS = {"cat": "chat", "dog": "chien", "bird": "oiseau", "fish": "poisson",
         "house": "maison", "tree": "arbre", "car": "voiture", "boat": "bateau"}
BANK_CUES = {"river": "riviere", "money": "argent"}  # the cue and its own translation
BANK_TRANSLATION = {"river": "rive", "money": "banque"}  # "bank" in the sense the cue fixes


def translation_vocab() -> tuple[list[str], list[str]]:
    """The words of :func:`toy_translation`: (source words, target words), sorted (chapter 5)."""
    source = sorted([*ADJECTIVES, *NOUNS, *BANK_CUES, "bank"])
    target = sorted({*ADJECTIVES.values(), *NOUNS.values(), *BANK_CUES.values(), *BANK_TRANSLATION.values()})
    return source, target


@dataclass
class TranslationPair:
    """One sentence of :func:`toy_translation` and its translation (chapter 5).

    ``alignment[j]`` is the position in ``source`` of the word that ``target[j]`` translates.
    ``cue`` is ``None``, or ``(j, i)`` when ``target[j]`` translates "bank": its sense is fixed
    by the cue word ``source[i]`` (river or money) farther to the left.
    """

    source: list[str]  # e.g. ["river", "big", "dog", "bank"]
    target: list[str]  # e.g. ["riviere", "chien", "grand", "rive"]
    alignment: list[int]  # e.g. [0, 2, 1, 3]
    cue: tuple[int, int] | None = None  # e.g. (3, 0)


def toy_translation(n: int, min_len: int = 2, max_len: int = 20, bank_fraction: float = 0.25,
                    seed: int = 0) -> list[TranslationPair]:
    """``n`` sentences of a toy translation task with a known, non-trivial alignment (chapter 5).

    A source sentence is a run of noun phrases, each a noun or an adjective and a noun
    ("big dog cat old tree"). Its translation replaces every word through a fixed dictionary
    and puts each adjective *after* its noun, as French does ("chien grand chat arbre vieux"),
    so the alignment crosses over inside every two-word phrase. In a fraction
    ``bank_fraction`` of the sentences (those with at least 3 words), the first word is a cue,
    "river" or "money", and the last word is "bank": it must become "rive" after river and
    "banque" after money, so the right translation depends on a word far to its left (the
    "bank" example of chapter 1).

    Args:
        n: number of sentences (>= 1).
        min_len, max_len: source lengths in words, drawn uniformly in [min_len, max_len]
            (1 <= min_len <= max_len). The target has the same length.
        bank_fraction: fraction of sentences of >= 3 words that carry a cue and "bank", in [0, 1].
        seed: seed of a local random generator (global state is untouched).

    Returns:
        A list of :class:`TranslationPair`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    for name, value in (("min_len", min_len), ("max_len", max_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int (words), got {value!r}")
    if min_len > max_len:
        raise ValueError(f"min_len must be <= max_len, got min_len={min_len}, max_len={max_len}")
    if not 0 <= bank_fraction <= 1:
        raise ValueError(f"bank_fraction must be in [0, 1], got {bank_fraction!r}")
    rng = utils.rng(seed)
    adjectives, nouns = sorted(ADJECTIVES), sorted(NOUNS)
    pairs = []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        bank = length >= 3 and rng.random() < bank_fraction
        sense = sorted(BANK_CUES)[rng.integers(2)] if bank else None
        source, target, alignment = ([sense], [BANK_CUES[sense]], [0]) if bank else ([], [], [])
        body = length - 1 if bank else length  # words before the final "bank", or all of them
        while len(source) < body:
            i, noun = len(source), nouns[rng.integers(len(nouns))]
            if body - i >= 2 and rng.random() < 0.5:  # adjective + noun -> noun + adjective
                adj = adjectives[rng.integers(len(adjectives))]
                source += [adj, noun]
                target += [NOUNS[noun], ADJECTIVES[adj]]
                alignment += [i + 1, i]
            else:
                source.append(noun)
                target.append(NOUNS[noun])
                alignment.append(i)
        cue = None
        if bank:  # "bank" ends the sentence, length - 1 words after its cue
            cue = (len(target), 0)
            source.append("bank")
            target.append(BANK_TRANSLATION[sense])
            alignment.append(len(source) - 1)
        pairs.append(TranslationPair(source, target, alignment, cue))
    return pairs


# ---------------------------------------------------------------- chapter 8: rules in context

RULE_INPUTS, RULE_OUTPUTS = "abcdefgh", "ABCDEFGH"  # x is a lower-case letter, f(x) upper case
RULE_KINDS = ("random", "shift", "copy", "reverse")


@dataclass
class RuleBatch:
    """Sequences of examples x -> f(x), each sequence under its own hidden rule f (chapter 8)."""

    xs: Tensor     # (n, pairs) long: the input symbol of each example, 0..K-1
    ys: Tensor     # (n, pairs) long: its output f(x), 0..K-1
    rules: Tensor  # (n, K) long: the rule of each sequence, x -> rules[x] (a permutation)


def rule_sequences(n: int, pairs: int = 16, num_symbols: int = 8, repeat: float = 0.7, kind: str = "random",
                   seed: int = 0) -> RuleBatch:
    """``n`` sequences of ``pairs`` examples, each under a rule that only its examples reveal.

    ``kind``: "random" (a random permutation of the K symbols), "shift" (x -> x + s mod K with a
    random s in 1..K-1), "copy" (x -> x) or "reverse" (x -> K-1-x). Each example's x repeats the
    x of a uniformly chosen earlier example with probability ``repeat``, else is drawn uniformly:
    repeats are what make the answer inferable from the context (bursty sequences, in which
    in-context learning appears when training, Chan et al. 2022).
    """
    for value, name in ((n, "n"), (pairs, "pairs")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(num_symbols, bool) or not isinstance(num_symbols, int) or not 2 <= num_symbols <= len(RULE_INPUTS):
        raise ValueError(f"num_symbols must be an integer in [2, {len(RULE_INPUTS)}], got {num_symbols!r}")
    if not 0 <= repeat <= 1:
        raise ValueError(f"repeat must be a probability in [0, 1], got {repeat!r}")
    if kind not in RULE_KINDS:
        raise ValueError(f"kind must be one of {RULE_KINDS}, got {kind!r}")
    K = num_symbols
    g = utils.generator(seed)
    symbols = torch.arange(K).expand(n, K)  # (n, K)
    if kind == "random":
        rules = torch.argsort(torch.rand(n, K, generator=g), dim=1)
    elif kind == "shift":
        rules = (symbols + torch.randint(1, K, (n, 1), generator=g)) % K
    elif kind == "copy":
        rules = symbols.clone()
    else:
        rules = (K - 1 - symbols).clone()
    xs = torch.randint(0, K, (n, pairs), generator=g)
    for k in range(1, pairs):  # with probability `repeat`, x_k = x_j for a random j < k
        j = (torch.rand(n, generator=g) * k).long()  # (n,) in 0..k-1
        again = torch.rand(n, generator=g) < repeat
        xs[:, k] = torch.where(again, xs.gather(1, j[:, None])[:, 0], xs[:, k])
    return RuleBatch(xs=xs, ys=rules.gather(1, xs), rules=rules)


def rule_text(batch: RuleBatch, arrow: str = "", sep: str = " ") -> list[str]:
    """The sequences as text, e.g. "aC bA aC" (``arrow`` between x and f(x), ``sep`` between
    examples), for a character-level model and for reading."""
    return [sep.join(f"{RULE_INPUTS[x]}{arrow}{RULE_OUTPUTS[y]}" for x, y in zip(xr.tolist(), yr.tolist()))
            for xr, yr in zip(batch.xs, batch.ys)]


@dataclass
class WordChoice:
    """A two-way choice read from real text (chapter 8): after ``context``, is the next word
    ``right`` (what the text says) or ``wrong`` (a distractor of the same length)?"""

    context: str
    right: str
    wrong: str


def word_choices(text: str, n: int, distractor: str = "typo", context: int = 40, min_len: int = 5,
                 vocabulary: list[str] | None = None, seed: int = 0) -> list[WordChoice]:
    """``n`` zero-shot test items from ``text``: lower-case words of at least ``min_len`` letters
    that follow a space, each with the ``context`` characters before it.

    ``distractor``: "typo" swaps two adjacent, different letters inside the word ("sequence" ->
    "seqeunce"): a spelling test; "word" puts another word of the same length from ``vocabulary``
    in its place: a test of which word fits (a cloze test).
    """
    if distractor not in ("typo", "word"):
        raise ValueError(f"distractor must be 'typo' or 'word', got {distractor!r}")
    if distractor == "word" and not vocabulary:
        raise ValueError("distractor='word' needs a vocabulary (a list of words to draw from)")
    for value, name, low in ((n, "n", 1), (context, "context", 1), (min_len, "min_len", 3)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    rng = utils.rng(seed)
    spots = [(m.start(), m.group()) for m in re.finditer(rf"(?<= )[a-z]{{{min_len},}}(?=[ ,.;:])", text)
             if m.start() >= context]
    by_length: dict[int, list[str]] = {}
    for word in vocabulary or []:
        by_length.setdefault(len(word), []).append(word)
    items: list[WordChoice] = []
    for k in rng.permutation(len(spots)):
        start, word = spots[k]
        if distractor == "typo":
            swaps = [i for i in range(1, len(word) - 2) if word[i] != word[i + 1]]  # keep the first, last letter
            if not swaps:
                continue
            i = swaps[rng.integers(len(swaps))]
            wrong = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        else:
            others = [w for w in by_length.get(len(word), []) if w != word]
            if not others:
                continue
            wrong = others[rng.integers(len(others))]
        items.append(WordChoice(text[start - context:start], word, wrong))
        if len(items) == n:
            return items
    raise ValueError(f"text has only {len(items)} usable words for n={n}")


# Chapter 9: instructions a pretrained model has never been asked, with answers a program knows.
INSTRUCTIONS = {
    "upper": ("Write in capitals: {w}", lambda w: w.upper()),
    "reverse": ("Spell backwards: {w}", lambda w: w[::-1]),
    "first": ("First letter of: {w}", lambda w: w[0]),
    "length": ("Count the letters: {w}", lambda w: str(len(w))),
}


@dataclass
class Instruction:
    """One supervised fine-tuning example (chapter 9): ``prompt`` ends with "\\nA: ", the model
    writes ``response`` and then a newline."""

    kind: str
    word: str
    prompt: str
    response: str


def instruction_pairs(words: list[str], n: int, kinds: tuple[str, ...] = tuple(INSTRUCTIONS),
                      seed: int = 0) -> list[Instruction]:
    """``n`` instruction-response pairs "Q: Write in capitals: while\\nA: " -> "WHILE", each with a
    word drawn from ``words`` and a kind drawn from ``kinds`` (see ``INSTRUCTIONS``); the right
    response is computed, so instruction following can be measured exactly."""
    if not words or any(not isinstance(w, str) or not w.isalpha() for w in words):
        raise ValueError("words must be a non-empty list of alphabetic strings")
    if not kinds or any(k not in INSTRUCTIONS for k in kinds):
        raise ValueError(f"kinds must be a non-empty tuple of {tuple(INSTRUCTIONS)}, got {kinds!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = utils.rng(seed)
    pairs = []
    for _ in range(n):
        kind, word = kinds[rng.integers(len(kinds))], words[rng.integers(len(words))]
        template, answer = INSTRUCTIONS[kind]
        pairs.append(Instruction(kind, word, f"Q: {template.format(w=word)}\nA: ", answer(word)))
    return pairs


def corrupt_responses(pairs: list[Instruction], fraction: float, words: list[str],
                      seed: int = 0) -> list[Instruction]:
    """Low-quality SFT data (chapter 9, the notes' §10): a copy of ``pairs`` in which each
    response is, with probability ``fraction``, replaced by the right response for another word
    drawn from ``words``: "Write in capitals: while" answered "RANGE". Each wrong answer looks
    like a right one; only its content is wrong, as in carelessly labelled data."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    if not words or any(not isinstance(w, str) or not w.isalpha() for w in words):
        raise ValueError("words must be a non-empty list of alphabetic strings")
    rng = utils.rng(seed)
    out = []
    for p in pairs:
        if rng.random() < fraction:
            answer = INSTRUCTIONS[p.kind][1]
            for _ in range(100):  # another word, until its answer differs (a word list of one may not)
                wrong = answer(words[rng.integers(len(words))])
                if wrong != p.response:
                    p = Instruction(p.kind, p.word, p.prompt, wrong)
                    break
        out.append(p)
    return out


def instruction_words(text: str, test_words: int = 200, seed: int = 0) -> tuple[list[str], list[str]]:
    """The words of 4 to 8 lowercase letters in ``text``, split into words to train on and
    ``test_words`` held-out words (both sorted), so that an instruction-following test asks about
    words no training pair contained (chapters 9 and 10)."""
    words = sorted(set(re.findall(r"\b[a-z]{4,8}\b", text)))
    if isinstance(test_words, bool) or not isinstance(test_words, int) or not 1 <= test_words < len(words):
        raise ValueError(f"test_words must be an integer in [1, {len(words)}) for this text, got {test_words!r}")
    held_out = set(utils.rng(seed).choice(words, test_words, replace=False).tolist())
    return [w for w in words if w not in held_out], sorted(held_out)


# Chapter 10: a labeller whose taste the reader can see. It is writing a lipogram (a text without
# one letter, as in Perec's novel *La Disparition*) and prefers the continuation with fewer e's.
def continuation_prompts(text: str, n: int, length: int = 16, seed: int = 0) -> list[str]:
    """``n`` distinct windows of ``length`` characters of ``text``, each ending with the space
    between two lowercase words ("... the value of "), so the model's continuation starts a word."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    ends = [m.end() for m in re.finditer(r"(?<=[a-z]) (?=[a-z])", text) if m.end() >= length]
    if n > len(ends):
        raise ValueError(f"text has only {len(ends)} word boundaries, fewer than n = {n}")
    picked = utils.rng(seed).choice(len(ends), n, replace=False)
    return [text[ends[i] - length:ends[i]] for i in picked]


def lipogram_score(text: str, letter: str = "e") -> int:
    """The labeller's score of a continuation: minus the number of times ``letter`` appears
    (either case). Higher is better; 0 is a perfect lipogram."""
    if not isinstance(letter, str) or len(letter) != 1 or not letter.isalpha():
        raise ValueError(f"letter must be a single letter, got {letter!r}")
    return -text.lower().count(letter.lower())


@dataclass
class Preference:
    """One comparison (chapter 10): for ``prompt``, the labeller preferred ``chosen`` to
    ``rejected``; ``flipped`` marks a label the noise turned round (the labeller's slip)."""

    prompt: str
    chosen: str
    rejected: str
    flipped: bool = False


def label_preferences(prompts: list[str], first: list[str], second: list[str], score=lipogram_score,
                      noise: float = 0.1, seed: int = 0) -> list[Preference]:
    """A simulated labeller: for each prompt and its two continuations it prefers the one with
    the higher ``score``, skips ties (a person would shrug) and, with probability ``noise``,
    picks the other one, as tired people do. Returns the untied comparisons in prompt order."""
    if not len(prompts) == len(first) == len(second) or not prompts:
        raise ValueError(f"prompts, first and second must be non-empty lists of one length, got "
                         f"{len(prompts)}, {len(first)} and {len(second)}")
    if not 0 <= noise < 0.5:
        raise ValueError(f"noise must be in [0, 0.5): a labeller who errs half the time says nothing, got {noise!r}")
    rng = utils.rng(seed)
    out = []
    for prompt, a, b in zip(prompts, first, second):
        sa, sb = score(a), score(b)
        slip = bool(rng.random() < noise)  # drawn for every prompt, so the slips do not depend on ties
        if sa == sb:
            continue
        good, bad = (a, b) if sa > sb else (b, a)
        out.append(Preference(prompt, bad, good, True) if slip else Preference(prompt, good, bad))
    return out


def real_word_share(texts: list[str], vocabulary: set[str]) -> float:
    """What the labeller never had to check: the share of the lowercase words in ``texts`` (runs
    of letters, lowercased) that are in ``vocabulary``, averaged over the texts (a text with no
    word counts 0). Text keeps this near its corpus's value; gibberish drives it towards 0."""
    if not texts:
        raise ValueError("texts must be a non-empty list of strings")
    shares = []
    for t in texts:
        words = re.findall(r"[a-z]+", t.lower())
        shares.append(sum(w in vocabulary for w in words) / len(words) if words else 0.0)
    return float(np.mean(shares))


# Chapter 11: facts a model can only know by having read them, so what it says about a person
# it never read about is made up. The cities start with different letters: the first letter
# of an answer says which city it is.
FACT_CITIES = ("Accra", "Baku", "Doha", "Kyiv", "Lima", "Oslo", "Rome", "Suva")


def fictional_facts(n: int, seed: int = 0) -> list[Instruction]:
    """``n`` made-up people, each with a distinct three-syllable name, and the city each lives
    in, drawn uniformly from ``FACT_CITIES``: "Q: Where does Bikamo live?\\nA: " -> "Lima". No
    name can be guessed from the others, so a model knows a fact only if it was trained on it."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 2000:
        raise ValueError(f"n must be an integer in [1, 2000], got {n!r}")
    rng = utils.rng(seed)
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    names: list[str] = []
    while len(names) < n:
        name = "".join(rng.choice(list(consonants)) + rng.choice(list(vowels)) for _ in range(3)).capitalize()
        if name not in names:
            names.append(name)
    return [Instruction("fact", name, f"Q: Where does {name} live?\nA: ", FACT_CITIES[rng.integers(len(FACT_CITIES))])
            for name in names]
