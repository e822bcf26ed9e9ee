"""Prompts as the only input to a fixed model: few-shot accuracy, its ceiling, and scoring (chapter 8).

A few-shot prompt shows ``k`` examples of a task and then a query; the model's next token is its
answer. Nothing is trained: whatever the model gets right it infers from the prompt.

- ``PromptFormat``          how examples are written: "aC bA" or "a>C,b>A" (``tasks.rule_text``)
- ``few_shot_prompts``      prompt texts (k examples + the query) and the answers, from a ``RuleBatch``
- ``few_shot_accuracy``     the fraction of answers a model gets right at each number of shots
- ``ideal_accuracy``        what an ideal reader of the same prompts gets right: the ceiling
- ``choice_log_probs``      log p(continuation | prompt) of each choice: zero-shot by scoring
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tutorial_lib.data import CharTokenizer
from tutorial_lib.tasks import RULE_INPUTS, RULE_OUTPUTS, RuleBatch

__all__ = ["PromptFormat", "few_shot_prompts", "few_shot_accuracy", "ideal_accuracy", "choice_log_probs"]


@dataclass(frozen=True)
class PromptFormat:
    """How an example x -> f(x) is written: ``x + arrow + f(x)``, examples joined by ``sep``."""

    arrow: str = ""
    sep: str = " "

    def example(self, x: int, y: int) -> str:
        return f"{RULE_INPUTS[x]}{self.arrow}{RULE_OUTPUTS[y]}"


def _check_shots(shots: object, pairs: int) -> int:
    if isinstance(shots, bool) or not isinstance(shots, int) or not 0 <= shots < pairs:
        raise ValueError(f"shots must be an integer in [0, {pairs - 1}] (the batch has {pairs} examples "
                         f"per sequence, one is the query), got {shots!r}")
    return shots


def few_shot_prompts(batch: RuleBatch, shots: int, fmt: PromptFormat = PromptFormat()) -> tuple[list[str], Tensor]:
    """For each sequence: its first ``shots`` examples, then the query, the input of example
    ``shots`` followed by the arrow. Returns (prompts, answers (n,) in 0..K-1)."""
    shots = _check_shots(shots, batch.xs.shape[1])
    prompts = []
    for xr, yr in zip(batch.xs.tolist(), batch.ys.tolist()):
        shown = [fmt.example(x, y) for x, y in zip(xr[:shots], yr[:shots])]
        prompts.append(fmt.sep.join(shown + [RULE_INPUTS[xr[shots]] + fmt.arrow]))
    return prompts, batch.ys[:, shots].clone()


@torch.no_grad()
def few_shot_accuracy(model: nn.Module, tokenizer: CharTokenizer, batch: RuleBatch, shots: Sequence[int],
                      fmt: PromptFormat = PromptFormat()) -> dict[int, float]:
    """Accuracy at each number of shots: the model's most likely next character, among the K
    output letters, against the rule's answer. ``model(ids)`` returns logits (B, T, V)."""
    K = batch.rules.shape[1]
    outputs = torch.tensor(tokenizer.encode(RULE_OUTPUTS[:K]))  # (K,) ids of "A".."
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    result = {}
    try:
        for k in shots:
            prompts, answers = few_shot_prompts(batch, k, fmt)
            ids = torch.stack([tokenizer.encode_tensor(p) for p in prompts]).to(device)  # (n, T): one length
            logits = model(ids)[:, -1, outputs.to(device)]  # (n, K): the next character, outputs only
            result[k] = (logits.argmax(-1).cpu() == answers).float().mean().item()
    finally:
        model.train(was_training)
    return result


def ideal_accuracy(batch: RuleBatch, shots: Sequence[int]) -> dict[int, float]:
    """The expected accuracy of an ideal reader who knows the rule is a permutation and sees the
    same prompts: right when the query's input was shown; otherwise a guess among the outputs not
    yet used, right with probability 1 / (K - distinct inputs shown). At 0 shots, 1 / K: chance."""
    K = batch.rules.shape[1]
    result = {}
    for k in shots:
        _check_shots(k, batch.xs.shape[1])
        total = 0.0
        for xr in batch.xs.tolist():
            shown = set(xr[:k])
            total += 1.0 if xr[k] in shown else 1.0 / (K - len(shown))
        result[k] = total / len(batch.xs)
    return result


@torch.no_grad()
def choice_log_probs(model: nn.Module, tokenizer: CharTokenizer, prompt: str, choices: Sequence[str]) -> Tensor:
    """log p(choice | prompt) (len(choices),) in nats, summed over the choice's characters (7.1):
    the model's preference among given answers, with no training and no sampling."""
    if not prompt or not choices or any(not c for c in choices):
        raise ValueError("prompt and every choice must be non-empty strings")
    device = next(model.parameters()).device
    block = getattr(getattr(model, "config", None), "block_size", None)
    was_training = model.training
    model.eval()
    scores = []
    try:
        for choice in choices:
            ids = tokenizer.encode_tensor(prompt + choice).to(device)  # (T,)
            if block is not None and len(ids) > block + 1:
                raise ValueError(f"prompt + choice is {len(ids)} tokens, more than the model's block_size + 1 = "
                                 f"{block + 1}")
            logp = F.log_softmax(model(ids[None, :-1])[0], dim=-1)  # (T-1, V)
            n = len(tokenizer.encode(choice))
            targets = ids[-n:]  # the choice's tokens, each predicted from everything before it
            scores.append(logp[-n:].gather(1, targets[:, None]).sum())
    finally:
        model.train(was_training)
    return torch.stack(scores).cpu()
