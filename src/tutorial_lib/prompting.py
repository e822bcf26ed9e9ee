"""Prompts as the only input to a fixed model: few-shot accuracy, its ceiling, and scoring (chapter 8).

A few-shot prompt shows ``k`` examples of a task and then a query; the model's next token is its
answer. Nothing is trained: whatever the model gets right it infers from the prompt.

- ``PromptFormat``          how examples are written: "aC bA" or "a>C,b>A" (``tasks.rule_text``)
- ``few_shot_prompts``      prompt texts (k examples + the query) and the answers, from a ``RuleBatch``
- ``answer_probs``          the model's distribution over the output letters after each prompt
- ``few_shot_accuracy``     the fraction of answers a model gets right at each number of shots
- ``ideal_accuracy``        what an ideal reader of the same prompts gets right: the ceiling
- ``choice_log_probs``      log p(continuation | prompt) of each choice: zero-shot by scoring
- ``choice_accuracy``       how often the right word of a ``tasks.WordChoice`` scores higher

Training a model that can learn in context (chapter 8):

- ``TOKENIZER``             the characters of every prompt format used here
- ``lm_batch``              a ``RuleBatch`` as (inputs, targets) with a loss on the answers only
- ``in_context_batches``    ``get_batch`` for ``train.train``: bursty training sequences, held-out
                            validation sequences with no repeats
- ``ideal_loss``            the ideal reader's loss on the same sequences: the floor
- ``attention_weights``     every layer's attention of a ``transformer.GPT``, for induction maps
- ``induction_mass``        the attention a query puts on the answers that followed the same input
- ``ablated``               a context in which some heads attend uniformly: what do they contribute?
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import contextlib
import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tutorial_lib import utils
from tutorial_lib.attention import dot_product_attention
from tutorial_lib.data import CharTokenizer
from tutorial_lib.tasks import RULE_INPUTS, RULE_OUTPUTS, RuleBatch, WordChoice, rule_sequences, rule_text

__all__ = ["PromptFormat", "few_shot_prompts", "answer_probs", "few_shot_accuracy", "ideal_accuracy",
           "choice_log_probs", "choice_accuracy", "TOKENIZER", "lm_batch", "in_context_batches", "ideal_loss", "attention_weights",
           "induction_mass", "ablated"]

TOKENIZER = CharTokenizer(RULE_INPUTS + RULE_OUTPUTS + " ,;:>-=\n")  # letters + the formats' marks


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
def answer_probs(model: nn.Module, tokenizer: CharTokenizer, prompts: Sequence[str], K: int = len(RULE_OUTPUTS)
                 ) -> Tensor:
    """The model's next-character distribution after each prompt, restricted to the K output
    letters and renormalised: (n, K) on the CPU. The prompts must have one length (a batch).
    ``model(ids)`` returns logits (B, T, V)."""
    outputs = torch.tensor(tokenizer.encode(RULE_OUTPUTS[:K]))  # (K,) ids of "A".."
    device = next(model.parameters()).device
    ids = torch.stack([tokenizer.encode_tensor(p) for p in prompts]).to(device)  # (n, T)
    was_training = model.training
    model.eval()
    try:
        logits = model(ids)[:, -1, outputs.to(device)]  # (n, K): the next character, outputs only
    finally:
        model.train(was_training)
    return F.softmax(logits, dim=-1).cpu()


def few_shot_accuracy(model: nn.Module, tokenizer: CharTokenizer, batch: RuleBatch, shots: Sequence[int],
                      fmt: PromptFormat = PromptFormat()) -> dict[int, float]:
    """Accuracy at each number of shots: the model's most likely next character, among the K
    output letters, against the rule's answer."""
    K = batch.rules.shape[1]
    result = {}
    for k in shots:
        prompts, answers = few_shot_prompts(batch, k, fmt)
        result[k] = (answer_probs(model, tokenizer, prompts, K).argmax(-1) == answers).float().mean().item()
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
    texts = [tokenizer.encode(prompt + choice) for choice in choices]
    lengths = [len(tokenizer.encode(choice)) for choice in choices]
    longest = max(len(t) for t in texts)
    if block is not None and longest > block + 1:
        raise ValueError(f"prompt + choice is {longest} tokens, more than the model's block_size + 1 = {block + 1}")
    # one forward pass for all choices: pad on the right, which a causal model never reads back
    ids = torch.tensor([t + [0] * (longest - len(t)) for t in texts], device=device)  # (n, T)
    was_training = model.training
    model.eval()
    try:
        logp = F.log_softmax(model(ids[:, :-1]), dim=-1)  # (n, T-1, V): position t predicts t + 1
    finally:
        model.train(was_training)
    scores = []
    for row, (text, n) in enumerate(zip(texts, lengths)):
        positions = torch.arange(len(text) - n, len(text), device=device)  # the choice's tokens
        scores.append(logp[row, positions - 1, ids[row, positions]].sum())
    return torch.stack(scores).cpu()


def choice_accuracy(model: nn.Module, tokenizer: CharTokenizer, items: Sequence[WordChoice]) -> float:
    """Zero-shot accuracy on two-way choices: the fraction of ``items`` whose right word is more
    probable after the context than the wrong one (equal lengths, so the sums compare fairly)."""
    if not items:
        raise ValueError("items must be a non-empty list of tasks.WordChoice")
    right = 0
    for item in items:
        scores = choice_log_probs(model, tokenizer, item.context, [item.right, item.wrong])  # (2,)
        right += int(scores[0] > scores[1])
    return right / len(items)


def lm_batch(batch: RuleBatch, tokenizer: CharTokenizer = TOKENIZER,
             fmt: PromptFormat = PromptFormat(sep="")) -> tuple[Tensor, Tensor]:
    """The sequences as a language-modelling batch: inputs (n, T) and next-character targets
    (n, T), with every target that is not an answer (an output letter) set to -100, so that the
    loss (7.2) is paid on the answers only. All sequences must have the same length."""
    texts = rule_text(batch, arrow=fmt.arrow, sep=fmt.sep)
    ids = torch.stack([tokenizer.encode_tensor(t) for t in texts])  # (n, T + 1)
    answer = torch.zeros(tokenizer.vocab_size, dtype=torch.bool)
    answer[tokenizer.encode(RULE_OUTPUTS)] = True
    targets = ids[:, 1:].clone()
    targets[~answer[targets]] = -100  # inputs, arrows and separators are not predicted
    return ids[:, :-1], targets


def in_context_batches(batch_size: int = 32, pairs: int = 16, repeat: float = 0.5, seed: int = 0,
                       val_size: int = 256, tokenizer: CharTokenizer = TOKENIZER,
                       fmt: PromptFormat = PromptFormat(sep="")) -> tuple[Callable[[str], tuple[Tensor, Tensor]],
                                                                          RuleBatch]:
    """``get_batch(split)`` for ``train.train`` and the validation sequences.

    "train": ``batch_size`` fresh sequences, each under a new random rule, whose inputs repeat
    an earlier one with probability ``repeat`` (bursty: this is what makes the lookup worth
    learning). "val": ``val_size`` held-out sequences, drawn apart from the training ones, with no
    forced repeats (``repeat=0``), the same every call. Returns (get_batch, val_batch).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    val = rule_sequences(val_size, pairs=pairs, repeat=0.0, seed=seed + 1_000_003)
    val_ids = lm_batch(val, tokenizer, fmt)
    draws = utils.generator(seed)

    def get_batch(split: str) -> tuple[Tensor, Tensor]:
        if split == "val":
            return val_ids
        if split != "train":
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        fresh = int(torch.randint(0, 2**31 - 1, (1,), generator=draws))
        return lm_batch(rule_sequences(batch_size, pairs=pairs, repeat=repeat, seed=fresh), tokenizer, fmt)

    return get_batch, val


def ideal_loss(batch: RuleBatch) -> float:
    """The ideal reader's expected loss in nats per answer over every example of ``batch``: 0
    when the input was shown earlier in the sequence, else ln(K - distinct inputs shown), a
    uniform guess among the outputs not used yet. The floor under any model's answer loss."""
    K = batch.rules.shape[1]
    total, count = 0.0, 0
    for xr in batch.xs.tolist():
        for k, x in enumerate(xr):
            shown = set(xr[:k])
            total += 0.0 if x in shown else math.log(K - len(shown))
            count += 1
    return total / count


@torch.no_grad()
def attention_weights(model: nn.Module, ids: Tensor) -> Tensor:
    """Every layer's attention weights (L, B, H, T, T) of a ``transformer.GPT`` on ``ids``
    (B, T): a copy that computes (6.1) step by step (``fast=False``) keeps them."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "fast"):
        raise ValueError("model must be a transformer.GPT (it has no .config with a 'fast' field)")
    if ids.ndim != 2:
        raise ValueError(f"ids must be (B, T), got shape {tuple(ids.shape)}")
    slow = type(model)(dataclasses.replace(config, fast=False))
    slow.load_state_dict(model.state_dict())
    slow.to(ids.device).eval()
    slow(ids)
    return torch.stack([layer.self_attn.last_weights for layer in slow.layers])


def induction_mass(weights: Tensor, xs: Tensor) -> tuple[Tensor, float]:
    """How much each head attends from a query to the answers that followed the same input.

    ``weights`` (B, H, T, T): one layer's attention over texts in the compact format ("aCbA..."),
    input k at position 2k and its answer at 2k + 1; ``xs`` (B, pairs). For every input k whose
    symbol appeared before (at some j < k), sum the weight position 2k puts on the positions
    2j + 1 with x_j = x_k: the right answers to copy. Returns (mean mass per head (H,), the mean
    mass that attending uniformly to positions 0..2k would put there: the level of no preference).
    """
    if weights.ndim != 4 or xs.ndim != 2 or weights.shape[0] != xs.shape[0] or weights.shape[-1] < 2 * xs.shape[1] - 1:
        raise ValueError(f"weights must be (B, H, T, T) with T >= 2 * pairs - 1 and xs (B, pairs) with the same B; "
                         f"got weights {tuple(weights.shape)} and xs {tuple(xs.shape)}")
    masses, uniform = [], []
    for b, xr in enumerate(xs.tolist()):
        for k in range(1, len(xr)):
            answers = [2 * j + 1 for j in range(k) if xr[j] == xr[k]]
            if answers:
                masses.append(weights[b, :, 2 * k, answers].sum(-1))  # (H,)
                uniform.append(len(answers) / (2 * k + 1))
    if not masses:
        raise ValueError("no input in xs repeats an earlier one: nothing to measure")
    return torch.stack(masses).mean(0), sum(uniform) / len(uniform)


def _uniform_heads(attention: nn.Module, heads: list[int]) -> Callable[..., tuple[Tensor, Tensor]]:
    """A forward for ``attention`` (a ``transformer.MultiHeadAttention``) that computes (6.2) as
    usual except that ``heads`` put equal weight on every position the mask allows."""

    def forward(x_q: Tensor, x_kv: Tensor | None = None, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x_kv = x_q if x_kv is None else x_kv
        q = attention._heads(attention.W_Q(x_q))  # (B, H, T, D)
        k, v = attention._heads(attention.W_K(x_kv)), attention._heads(attention.W_V(x_kv))  # (B, H, S, D)
        weights = dot_product_attention(q, k, v, mask)[1].clone()  # (B, H, T, S)
        allowed = torch.ones_like(weights) if mask is None else mask.expand_as(weights).to(weights.dtype)
        weights[:, heads] = (allowed / allowed.sum(-1, keepdim=True))[:, heads]  # uniform over what is allowed
        attention.last_weights = weights.detach()
        B, T = x_q.shape[:2]
        out = (weights @ v).transpose(1, 2).reshape(B, T, attention.C)  # (B, H, T, D) -> (B, T, C)
        return attention.W_O(out), weights

    return forward


@contextlib.contextmanager
def ablated(model: nn.Module, layer: int, heads: Sequence[int]) -> Iterator[nn.Module]:
    """Inside ``with ablated(gpt, layer, heads):`` those heads of that layer of a
    ``transformer.GPT`` put uniform weight on every position they may see, whatever the input;
    the rest of the model is unchanged. What the model loses is what those heads contributed.
    The layer's ``last_weights`` hold the weights it used."""
    layers = getattr(model, "layers", None)
    if layers is None or not 0 <= layer < len(layers):
        raise ValueError(f"layer must index the model's layers (a transformer.GPT has model.layers), got {layer!r}")
    attention = layers[layer].self_attn
    if not heads or any(isinstance(h, bool) or not isinstance(h, int) or not 0 <= h < attention.H for h in heads):
        raise ValueError(f"heads must be a non-empty list of head indices in [0, {attention.H}), got {heads!r}")
    attention.forward = _uniform_heads(attention, sorted(set(heads)))  # the instance's, over the class's
    try:
        yield model
    finally:
        del attention.forward
