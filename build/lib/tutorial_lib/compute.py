"""Training compute in FLOPs, to give different models the same budget (chapter 7).

A product of a weight matrix (m, n) with one input vector costs ``2 m n`` floating-point
operations: a multiply and an add per weight. Training on one token runs that product once
forward and twice backward (the gradient with respect to the input, and with respect to the
weight), so a model with ``N`` weights in matrix products costs about

    FLOPs per training token ≈ 6 N + 12 L T C                                  (7.4)

The second term is a transformer's attention (``L`` layers, width ``C``, context ``T``):
``Q Kᵀ`` and ``A V`` cost ``2 T C`` each per token and layer forward, and we count them as
computed, the masked half included. Embedding tables are read, not multiplied, so they are
not in ``N``; a tied output layer (the GPT's) is. Kaplan et al. (2020) use the same count.

- ``matmul_weights``            ``N`` of (7.4)
- ``training_flops_per_token``  (7.4) for a GPT, a ``RecurrentLM`` or a ``CharRNN``
- ``counted_flops_per_token``   PyTorch's FLOP counter on one training step, to check (7.4)
- ``steps_for_budget``          how many steps of a batch a FLOP budget pays for
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from tutorial_lib.gates import RecurrentLM
from tutorial_lib.rnn import CharRNN
from tutorial_lib.train import lm_loss
from tutorial_lib.transformer import GPT, Embedding

__all__ = ["matmul_weights", "training_flops_per_token", "counted_flops_per_token", "steps_for_budget"]

_MODELS = (GPT, RecurrentLM, CharRNN)


def _check_model(model: object) -> None:
    if not isinstance(model, _MODELS):
        names = ", ".join(m.__name__ for m in _MODELS)
        raise TypeError(f"model must be one of {names}; got {type(model).__name__}")


def matmul_weights(model: nn.Module) -> int:
    """``N`` of (7.4): the weights that multiply an input, biases and embedding tables excluded.

    Every 2-D parameter outside the embedding (token and position tables), plus the GPT's token
    table once more, because its output layer multiplies by it (tied weights).
    """
    _check_model(model)
    tables = {id(p) for m in model.modules() if isinstance(m, (nn.Embedding, Embedding)) for p in m.parameters()}
    n = sum(p.numel() for p in model.parameters() if p.ndim == 2 and id(p) not in tables)
    if isinstance(model, GPT):
        n += model.head.weight.numel()  # logits = x @ wteᵀ, the tied table
    return n


def training_flops_per_token(model: nn.Module, context: int) -> float:
    """Training FLOPs per token, forward and backward, by (7.4), for windows of ``context`` tokens."""
    _check_model(model)
    if isinstance(context, bool) or not isinstance(context, int) or context < 1:
        raise ValueError(f"context must be a positive integer (tokens per window), got {context!r}")
    flops = 6.0 * matmul_weights(model)
    if isinstance(model, GPT):
        if context > model.config.block_size:
            raise ValueError(f"context must be <= the GPT's block_size {model.config.block_size}, got {context}")
        flops += 12.0 * model.config.n_layer * context * model.config.n_embd
    return flops


def counted_flops_per_token(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """FLOPs per token of one forward and backward pass of ``lm_loss(model, x, y)``, counted by
    ``torch.utils.flop_counter``. It counts only the operations it sees: fused kernels (PyTorch's
    ``nn.LSTM`` on the CPU, fused attention) are invisible to it, so check (7.4) with our own
    loops (``fast=False``). Gradients are accumulated into the model and then cleared."""
    _check_model(model)
    with FlopCounterMode(display=False) as counter:
        lm_loss(model, x, y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / y.numel()


def steps_for_budget(flops: float, flops_per_token: float, batch_size: int, context: int) -> int:
    """The number of training steps of ``batch_size`` windows of ``context`` tokens that a
    budget of ``flops`` pays for at ``flops_per_token``, rounded to the nearest (at least 1)."""
    if not flops > 0 or not flops_per_token > 0:
        raise ValueError(f"flops and flops_per_token must be > 0, got {flops!r} and {flops_per_token!r}")
    for value, name in ((batch_size, "batch_size"), (context, "context")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return max(1, round(flops / (flops_per_token * batch_size * context)))
