"""Synthetic tasks whose answers are known, so a chapter can measure what a model gets right.

Chapter 1 introduces the "bank" task of the lecture slides: the word *bank* means a river bank
or a money bank, and only a cue word far to its left tells which. Later chapters add their
tasks here (the adding problem, toy translation, in-context rules, preference pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    rng = np.random.default_rng(seed)
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
