"""Chapter 9 (Fine-tuning): the exercises' checkers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ._core import Feedback, _as_number, _call, _describe, _fail, _pass, _report
from .ch04 import _judge_one, _judge_pair


def check_lora_forward(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 9: check ``fn(x, W, b, A, B, alpha) -> y``, a linear layer with a LoRA update (9.3):
    y = x W^T + b + (alpha / r) (x A^T) B^T, with x (N, in), W (out, in), b (out,), A (r, in),
    B (out, r) and r the rank, A's number of rows."""
    g = torch.Generator().manual_seed(9)
    N, n_in, n_out, r, alpha = 4, 6, 5, 2, 8.0
    x, W, b = torch.randn(N, n_in, generator=g), torch.randn(n_out, n_in, generator=g), torch.randn(n_out, generator=g)
    A, B = torch.randn(r, n_in, generator=g), torch.randn(n_out, r, generator=g)
    base, update = x @ W.T + b, (x @ A.T) @ B.T  # (N, out), (N, out)
    expected = base + alpha / r * update
    mistakes = [
        (base + update, "scale the low-rank update by alpha / r (here 8 / 2 = 4), as in (9.3)."),
        (base + alpha * update, "the scale is alpha / r, not alpha: dividing by r keeps the update's size "
         "the same when you change the rank."),
        (alpha / r * update + x @ W.T, "the frozen layer's bias b is missing: y = x W^T + b + ..."),
        (alpha / r * update, "add the frozen layer's output x W^T + b: LoRA learns a change to W, not a "
         "new layer."),
        (base, "that is the frozen layer alone; add (alpha / r) (x A^T) B^T."),
    ]
    got, error = _call(fn, "check_lora_forward", "x (4, 6), W (5, 6), A (2, 6), B (5, 2), alpha 8",
                       x, W, b, A, B, alpha)
    return _judge_one(got, error, expected, mistakes, "y",
                      "y = x W^T + b + (alpha / r) (x A^T) B^T: the frozen layer plus a rank-r update.", atol=1e-5)


def check_response_targets(fn: Callable[[list[int], list[int]], tuple[torch.Tensor, torch.Tensor]]) -> Feedback:
    """Chapter 9: check ``fn(prompt_ids, response_ids) -> (x, y)`` for one SFT example: the text is
    prompt + response (the response ends with its newline), ``x`` its ids but the last and ``y``
    the next ids, with -100 (no loss) on every target that is still part of the prompt. Both (T,)
    long tensors, T = len(prompt_ids) + len(response_ids) - 1."""
    prompt, response = [5, 9, 2, 7, 3], [4, 8, 1]
    ids = torch.tensor(prompt + response)
    x = ids[:-1]
    P = len(prompt)

    def targets(masked: int, invert: bool = False) -> torch.Tensor:
        y = ids[1:].clone()
        if invert:
            y[masked:] = -100
        else:
            y[:masked] = -100
        return y

    expected = (x, targets(P - 1))
    mistakes = [
        ((x, ids[1:]), "no target is masked: set y to -100 where the next token is still part of the prompt, so "
         "the model is not trained to write prompts."),
        ((x, targets(P)), "one target too many is masked: position len(prompt) - 1, the prompt's last token, "
         "predicts the response's first token, and that target must stay."),
        ((x, targets(P - 2)), "one target too few is masked: y[len(prompt) - 2] is the prompt's last token, "
         "which is not part of the answer."),
        ((x, targets(P - 1, invert=True)), "the mask is the wrong way round: the loss is on the response, "
         "-100 on the prompt."),
        ((ids, torch.cat([targets(P - 1), torch.tensor([-100])])), "x is the text without its last token "
         "(nothing follows it), and y the text shifted left by one."),
    ]
    got, error = _call(fn, "check_response_targets", "prompt [5, 9, 2, 7, 3], response [4, 8, 1]",
                       list(prompt), list(response))
    return _judge_pair(got, error, expected, mistakes, ("x", "y"),
                       "the loss covers the response and its end, and never the prompt.")


def check_early_stopping(fn: Callable[[Sequence[int], Sequence[float]], tuple[int, float]]) -> Feedback:
    """Chapter 9: check ``fn(val_steps, val_loss) -> (step, loss)`` (exercise 9.3): the step with the
    lowest held-out loss and that loss; on a tie, the earliest such step."""
    cases = [
        ("a loss that falls, then rises", [0, 20, 40, 60, 80], [2.0, 1.5, 1.2, 1.3, 1.6]),
        ("a tie between steps 20 and 60", [0, 20, 40, 60], [2.0, 1.2, 1.4, 1.2]),
        ("a loss that only falls", [0, 10, 20], [3.0, 2.0, 1.0]),
    ]
    for case, steps, losses in cases:
        best = min(range(len(losses)), key=lambda i: (losses[i], i))
        expected = (steps[best], losses[best])
        last_best = max(i for i, v in enumerate(losses) if v == losses[best])
        mistakes = [
            ((best, losses[best]), "return the training step, val_steps[i], not the index i."),
            ((steps[last_best], losses[last_best]), "on a tie keep the earliest step: the same loss for fewer steps."),
            ((steps[-1], losses[-1]), "that is the last evaluation; keep the one with the lowest held-out loss."),
            ((steps[int(np.argmax(losses))], max(losses)), "that is the highest loss; keep the lowest."),
        ]
        got, error = _call(fn, "check_early_stopping", case, list(steps), list(losses))
        if error is not None:
            return _report(error)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or any(_as_number(v) is None for v in got):
            return _report(_fail(f"return the pair (step, loss) as two numbers; got {_describe(got)} (on {case})."))
        pair = (_as_number(got[0]), _as_number(got[1]))
        if pair != expected:
            why = next((w for wrong, w in mistakes if wrong == pair and wrong != expected), None)
            return _report(_fail(f"on {case} you returned ({pair[0]:g}, {pair[1]:g}), expected {expected}"
                                 + (f": {why}" if why else ".")))
    return _report(_pass("the step with the lowest held-out loss, the earliest on a tie."))
