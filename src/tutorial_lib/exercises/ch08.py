"""Chapter 8 (Prompting): the exercises' checkers."""

from __future__ import annotations

import math
from collections.abc import Callable

from ._core import Feedback, _call, _describe, _fail, _judge_cases, _pass, _report


def check_lookup_answer(fn: Callable[[str], str]) -> Feedback:
    """Chapter 8: check ``fn(prompt) -> letter`` for prompts in the compact format ("aCbAa":
    examples, then the query input): the output after the latest earlier occurrence of the
    query, else the first output letter (A-H) the prompt has not used."""
    from tutorial_lib.tasks import RULE_OUTPUTS

    cases = [  # (prompt, answer, what the case tests)
        ("aCbAa", "C", "the query shown once"),
        ("aCbAcDb", "A", "the query shown earlier in the prompt"),
        ("aCbAaCcDb", "A", "the query shown once, other examples repeated"),
        ("aCbAc", "B", "an unseen query: the first output letter not used (A and C are)"),
        ("d", "A", "no examples at all"),
    ]
    for prompt, answer, what in cases:
        got, error = _call(fn, "check_lookup_answer", f"prompt {prompt!r}", prompt)
        if error is not None:
            return _report(error)
        if not isinstance(got, str) or len(got) != 1:
            return _report(_fail(f"return one output letter such as 'C'; for {prompt!r} you returned "
                                 f"{_describe(got)}."))
        if got != answer:
            shown = prompt[-1] in prompt[:-1:2]
            if got not in RULE_OUTPUTS:
                hint = "answers are output letters A-H"
            elif shown and got in prompt[1::2]:
                hint = "copy the letter right after the query's earlier occurrence in the prompt"
            elif shown:
                hint = "the query was shown: return the letter that followed it, not a guess"
            elif got in prompt[1::2]:
                hint = "the query was not shown, so its answer is one of the outputs the prompt has not used yet"
            else:
                hint = "pick the first unused output letter in alphabetical order"
            return _report(_fail(f"for {prompt!r} ({what}) the answer is {answer!r}, you returned {got!r}: {hint}."))
    return _report(_pass("your lookup answers like an ideal reader who copies when it can and guesses "
                         "among the unused outputs when it cannot."))


def _distinct_counts(k: int, K: int) -> list[float]:
    """P(D = d), d = 0..K: the number of distinct values among k uniform draws from K, by
    counting: C(K, d) x (ways to map k draws onto exactly d values, d! S(k, d)) / K^k."""
    S = [[0] * (K + 1) for _ in range(k + 1)]  # Stirling numbers of the second kind S(n, d)
    S[0][0] = 1
    for n in range(1, k + 1):
        for d in range(1, K + 1):
            S[n][d] = d * S[n - 1][d] + S[n - 1][d - 1]
    return [math.comb(K, d) * math.factorial(d) * S[k][d] / K ** k for d in range(K + 1)]


def check_ideal_reader(fn: Callable[[int, int], float]) -> Feedback:
    """Chapter 8: check ``fn(k, K) -> float`` (exercise 8.2): the expected accuracy of the ideal reader
    after k examples whose inputs are drawn uniformly from K symbols (no repeats forced): right
    when the query's input was shown, else a guess among the K - D outputs not yet used."""
    cases = []
    for k, K in ((0, 8), (4, 8), (15, 8), (28, 8), (3, 5)):
        p = _distinct_counts(k, K)
        right = [1.0 if d == K else d / K + (1 - d / K) / (K - d) for d in range(K + 1)]
        expected = sum(pd * r for pd, r in zip(p, right))
        mean_d = sum(d * pd for d, pd in enumerate(p))
        mistakes = [
            (mean_d / K, "add the guesses: when the query was not shown the reader still picks one of the "
             "K - D unused outputs, right once in K - D."),
            (sum(pd * (d / K + (1 - d / K) / K) for d, pd in enumerate(p)), "a reader who knows the rule is a "
             "permutation guesses among the K - D outputs not used yet, not among all K."),
            ((mean_d + 1) / K, "(D + 1) / K holds while D < K; a reader who has seen all K inputs is always "
             "right (weigh each D by its probability)."),
            (min(1.0, (k + 1) / K), "k examples do not show k different inputs: draws repeat, so count the "
             "distinct ones, D, and average over its distribution."),
        ]
        cases.append((f"k={k}, K={K}", (k, K), expected, mistakes))
    return _judge_cases(fn, "check_ideal_reader", cases,
                        "the ideal reader's expected accuracy, averaged over how many inputs the examples showed.",
                        "the accuracy")
