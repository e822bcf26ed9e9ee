"""One training loop for every model of the book (chapter 2 onwards).

``train(model, get_batch, config)`` runs AdamW with linear warm-up and cosine
decay, clips the global gradient norm, evaluates on validation batches every
``config.eval_every`` steps and returns a :class:`History` to plot with
:func:`tutorial_lib.plots.plot_history`.

Step numbers count the updates already applied: the training loss recorded at
step ``s`` was measured with the weights after ``s`` updates, just before
update ``s`` (which used learning rate ``lr_at(s, config)``); the validation
loss at step ``s`` too. Validation is measured before training (step 0), every
``eval_every`` updates and after the last one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

Batch = tuple[Tensor, Tensor]  # (x, y): inputs and targets, both (B, T) for a language model
LossFn = Callable[[nn.Module, Tensor, Tensor], Tensor]


@dataclass
class TrainConfig:
    """Settings of :func:`train` (chapter 2)."""

    steps: int = 1000  # optimisation steps (parameter updates)
    lr: float = 3e-3  # peak learning rate (AdamW)
    weight_decay: float = 0.0  # AdamW weight decay
    warmup: int = 0  # linear warm-up steps, then cosine decay to lr * min_lr_ratio
    min_lr_ratio: float = 0.1  # final learning rate as a fraction of the peak
    grad_clip: float | None = 1.0  # clip the global gradient norm to this (None: no clipping)
    eval_every: int = 100  # evaluate on validation every this many steps (and at the last step)
    eval_batches: int = 10  # batches averaged per evaluation
    progress: bool | None = None  # tqdm bar; None = on unless env TUTORIAL_LIB_PROGRESS=0

    def __post_init__(self) -> None:
        for name in ("steps", "eval_every", "eval_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or not 0 <= self.warmup < self.steps:
            raise ValueError(f"TrainConfig.warmup must be an integer in [0, steps={self.steps}), got {self.warmup!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"TrainConfig.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be > 0 or None, got {self.grad_clip!r}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValueError(f"TrainConfig.progress must be True, False or None, got {self.progress!r}")


@dataclass
class History:
    """What happened during :func:`train` (chapter 2); see the module docstring for step numbers."""

    steps: list[int] = field(default_factory=list)  # step of each training-loss record
    train_loss: list[float] = field(default_factory=list)  # loss of the batch used for that step
    grad_norm: list[float] = field(default_factory=list)  # global gradient norm before clipping
    lr: list[float] = field(default_factory=list)  # learning rate of the first parameter group
    val_steps: list[int] = field(default_factory=list)  # step of each validation evaluation
    val_loss: list[float] = field(default_factory=list)  # mean validation loss at that step
    seconds: float = 0.0  # wall-clock time of the whole run, evaluations included

    def best_val(self) -> float:
        """The lowest validation loss seen; ValueError if there was no evaluation."""
        if not self.val_loss:
            raise ValueError("History.val_loss is empty: no validation loss was recorded")
        return min(self.val_loss)


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate of update ``step`` (0-based) under ``config`` (chapter 2).

    Linear warm-up ``lr * (step + 1) / warmup`` for the first ``warmup`` steps, then
    cosine decay from ``lr`` at step ``warmup`` to ``lr * min_lr_ratio`` at step
    ``steps - 1``.
    """
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < config.steps:
        raise ValueError(f"step must be an integer in [0, config.steps={config.steps}), got {step!r}")
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    lr_min = config.lr * config.min_lr_ratio
    progress = (step - config.warmup) / max(1, config.steps - 1 - config.warmup)  # 0 -> 1
    return lr_min + 0.5 * (config.lr - lr_min) * (1 + math.cos(math.pi * progress))


def lm_loss(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Mean next-token cross-entropy (nats per token) of a language model (chapter 2).

    ``x``: inputs (B, T); ``y``: target token ids (B, T); ``model(x)`` must return
    logits (B, T, V). Returns a scalar tensor averaged over all B * T tokens, except targets set
    to -100, which are skipped (chapter 8 trains on some positions only).
    """
    logits = model(x)  # (B, T, V)
    if y.ndim != 2 or logits.ndim != 3 or logits.shape[:2] != y.shape:
        raise ValueError(
            f"lm_loss expects logits (B, T, V) and targets y (B, T) with the same B, T; "
            f"got logits {tuple(logits.shape)} and y {tuple(y.shape)}"
        )
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), y.reshape(B * T))  # (B*T, V) vs (B*T,)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        raise ValueError("model has no parameters; pass device= explicitly") from None


def _batch(get_batch: Callable[[str], Batch], split: str, device: torch.device) -> Batch:
    batch = get_batch(split)
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(f'get_batch("{split}") must return a pair (x, y) of tensors, got {type(batch).__name__}')
    x, y = batch
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        raise TypeError(f'get_batch("{split}") must return tensors, got ({type(x).__name__}, {type(y).__name__})')
    return x.to(device), y.to(device)


def evaluate(
    model: nn.Module,
    get_batch: Callable[[str], Batch],
    loss_fn: LossFn = lm_loss,
    batches: int = 10,
    device: torch.device | str | None = None,
) -> float:
    """Mean of ``loss_fn`` over ``batches`` batches from ``get_batch("val")`` (chapter 2).

    Runs in eval mode without gradients and restores the model's previous mode.
    """
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches must be a positive integer, got {batches!r}")
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            total = sum(float(loss_fn(model, *_batch(get_batch, "val", device))) for _ in range(batches))
    finally:
        model.train(was_training)
    return total / batches


def split_cross_entropy(
    model: nn.Module,
    ids: Tensor,
    block_size: int = 256,
    batch_size: int = 64,
    device: torch.device | str | None = None,
) -> float:
    """Cross-entropy in nats per token of a language model over a whole split (chapter 2).

    ``ids`` (N,) is cut into consecutive blocks of ``block_size + 1`` tokens that overlap by
    one, so every token after the first is predicted exactly once; each block starts from a
    fresh context. Deterministic, unlike :func:`evaluate` on random batches, so it is the
    number a chapter reports and compares with the n-gram models of chapter 1.
    ``model(x)`` must return logits (B, T, V) for inputs x (B, T).
    """
    if not isinstance(ids, Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
        raise ValueError(f"ids must be a 1-D LongTensor (N,), got {getattr(ids, 'shape', type(ids))}")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    if len(ids) < 2:
        raise ValueError(f"ids must hold at least 2 tokens, got {len(ids)}")
    device = torch.device(device) if device is not None else _model_device(model)
    starts = range(0, len(ids) - 1, block_size)
    full = [s for s in starts if s + block_size + 1 <= len(ids)]  # blocks of block_size + 1
    tail = [s for s in starts if s + block_size + 1 > len(ids)]  # at most one shorter block
    total, count = 0.0, 0

    def add(batch: Tensor) -> None:  # batch (B, T + 1): inputs and targets in one
        nonlocal total, count
        logits = model(batch[:, :-1])  # (B, T, V)
        targets = batch[:, 1:]  # (B, T)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum").item()
        count += targets.numel()

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(full), batch_size):
                add(torch.stack([ids[s : s + block_size + 1] for s in full[i : i + batch_size]]).to(device))
            for s in tail:
                add(ids[None, s:].to(device))  # (1, T' + 1)
    finally:
        model.train(was_training)
    return total / count


def _show_progress(config: TrainConfig) -> bool:
    if config.progress is not None:
        return config.progress
    return os.environ.get("TUTORIAL_LIB_PROGRESS") != "0"


def train(
    model: nn.Module,
    get_batch: Callable[[str], Batch],
    config: TrainConfig,
    loss_fn: LossFn = lm_loss,
    optimizer: torch.optim.Optimizer | None = None,
    device: torch.device | str | None = None,
    stop_after: int | None = None,
) -> History:
    """Train ``model`` for ``config.steps`` updates and return its :class:`History` (chapter 2).

    ``get_batch("train")`` / ``get_batch("val")`` return ``(x, y)``, moved to ``device``
    (default: where the model's parameters are). ``loss_fn(model, x, y)`` returns a
    scalar loss. The default optimizer is AdamW over the parameters that require
    gradients. Each parameter group follows the schedule :func:`lr_at` scaled to its
    own base learning rate, so groups keep their lr ratios. The model ends in the
    mode (train/eval) it started in. ``stop_after`` ends the run after that many updates, on
    the schedule of the whole run: the first part of a long run, exactly as it began (a test
    checks the start of the shipped models' builds this way).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if stop_after is not None and (isinstance(stop_after, bool) or not isinstance(stop_after, int)
                                   or not 1 <= stop_after <= config.steps):
        raise ValueError(f"stop_after must be None or an integer in [1, steps={config.steps}], got {stop_after!r}")
    device = torch.device(device) if device is not None else _model_device(model)
    if optimizer is None:
        trainable = [p for p in model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("model has no parameters that require gradients")
        optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for group in optimizer.param_groups:
        group.setdefault("base_lr", group["lr"])  # the group's own peak lr

    history = History()
    was_training = model.training
    start = time.perf_counter()
    history.val_steps.append(0)  # the untrained model, for reference
    history.val_loss.append(evaluate(model, get_batch, loss_fn, config.eval_batches, device))
    model.train()
    steps = config.steps if stop_after is None else stop_after
    bar = tqdm(range(steps), desc="training", disable=not _show_progress(config))
    try:
        for step in bar:
            scale = lr_at(step, config) / config.lr
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * scale

            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model, *_batch(get_batch, "train", device))
            loss.backward()
            max_norm = config.grad_clip if config.grad_clip is not None else math.inf
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm)  # norm before clipping
            optimizer.step()

            history.steps.append(step)
            history.train_loss.append(loss.item())
            history.grad_norm.append(float(norm))
            history.lr.append(optimizer.param_groups[0]["lr"])
            done = step + 1  # updates applied so far
            if done % config.eval_every == 0 or done == config.steps:
                history.val_steps.append(done)
                history.val_loss.append(evaluate(model, get_batch, loss_fn, config.eval_batches, device))
            if done % 10 == 0 or done == config.steps:
                bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", val=f"{history.val_loss[-1]:.3f}", refresh=False)
    finally:  # also when interrupted: close the bar, restore the mode
        bar.close()
        model.train(was_training)
    history.seconds = time.perf_counter() - start
    return history
