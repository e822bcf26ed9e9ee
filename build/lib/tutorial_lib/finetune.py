"""Four ways to fine-tune a pretrained GPT, from the notes' §9.1 (chapter 9).

Fine-tuning continues training a pretrained model on a target task. What changes is which
weights train, and how fast:

- ``freeze_layers``        9.1.2 layer freezing: the embeddings and the first layers stay fixed
- ``layerwise_lr_groups``  9.1.3 per-layer learning rates: lower layers move less, (9.1)
- ``Adapter``, ``add_adapters``
                           9.1.4 bottleneck adapters after each layer, the rest frozen, (9.2)
- ``LoRALinear``, ``add_lora``, ``merge_lora``
                           low-rank updates of the attention projections, mergeable, (9.3)

Supervised fine-tuning (SFT) on instruction-response pairs (``tasks.instruction_pairs``):

- ``sft_batch``            prompt + response as a batch with the loss on the response only
- ``sft_batches``          ``get_batch`` for ``train.train``: fresh pairs every step, replayed text
- ``answers``, ``greedy_answers``
                           the model's answers to the prompts, sampled or greedy, batched
- ``follow_rate``          the fraction of instructions the model's greedy answer gets exactly right
- ``follow_rates``         the same for each kind of instruction

Full fine-tuning (9.1.1) needs nothing here: train every weight, usually at a small learning rate.
``prepare(model, method, lr)`` sets a model up for any of the five methods and returns its AdamW
parameter groups, so chapter 9 can run them side by side. Each method's count of trainable
weights has a formula (``expected_trainable``, from ``layer_weights``, ``adapter_weights`` and
``lora_weights``) that the chapter and the tests check against
``utils.count_parameters(model, trainable_only=True)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tutorial_lib import data, utils
from tutorial_lib.data import CharTokenizer
from tutorial_lib.tasks import Instruction
from tutorial_lib.transformer import TransformerConfig

__all__ = ["freeze_layers", "layerwise_lr_groups", "Adapter", "add_adapters", "adapter_weights",
           "LoRALinear", "add_lora", "merge_lora", "lora_weights", "METHODS", "MethodOptions", "prepare",
           "layer_weights", "expected_trainable", "sft_batch", "sft_batches", "answers", "greedy_answers", "follow_rate",
           "follow_rates"]


def _layers(model: nn.Module) -> nn.ModuleList:
    layers = getattr(model, "layers", None)
    if not isinstance(layers, nn.ModuleList) or not hasattr(model, "embed"):
        raise ValueError("model must be a transformer.GPT (with .embed and a .layers ModuleList)")
    return layers


def _count(value: object, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return value


def freeze_layers(model: nn.Module, n: int) -> nn.Module:
    """9.1.2: freeze the embeddings and the first ``n`` of the L layers (``requires_grad=False``);
    the last L - n layers and the final LayerNorm train. The output layer is tied to the token
    embedding, so it is frozen with it. ``n = 0`` freezes the embeddings only. Returns the model."""
    layers = _layers(model)
    _count(n, "n", 0, len(layers))
    for p in model.parameters():
        p.requires_grad_(True)
    for p in model.embed.parameters():
        p.requires_grad_(False)
    for layer in layers[:n]:
        for p in layer.parameters():
            p.requires_grad_(False)
    return model


def layerwise_lr_groups(model: nn.Module, lr: float, decay: float) -> list[dict]:
    """9.1.3: AdamW parameter groups in which layer l of L (1 = lowest) learns at

        lr_l = lr * decay ** (L - l),   the embeddings at lr * decay ** L          (9.1)

    and the final LayerNorm at ``lr``: with decay < 1 the general features of the lower layers
    move least. Each group has a "name" ("embed", "layer 1", ..., "top") for reading."""
    layers = _layers(model)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay!r}")
    L = len(layers)
    groups = [{"name": "embed", "params": list(model.embed.parameters()), "lr": lr * decay**L}]
    groups += [{"name": f"layer {l}", "params": list(layer.parameters()), "lr": lr * decay ** (L - l)}
               for l, layer in enumerate(layers, start=1)]
    seen = {id(p) for g in groups for p in g["params"]}
    top = [p for p in model.parameters() if id(p) not in seen]  # the final norm (the head is tied)
    groups.append({"name": "top", "params": top, "lr": lr})
    return [g for g in groups if g["params"]]


class Adapter(nn.Module):
    """A bottleneck adapter (Houlsby et al. 2019), added after a layer:

        h <- h + W_up GELU(W_down h + b_down) + b_up,   W_down (r, C), W_up (C, r)      (9.2)

    W_up starts at zero, so a new adapter is the identity and fine-tuning starts from exactly the
    pretrained model."""

    def __init__(self, C: int, bottleneck: int) -> None:
        super().__init__()
        _count(C, "C", 1)
        _count(bottleneck, "bottleneck", 1)
        self.down, self.up = nn.Linear(C, bottleneck), nn.Linear(bottleneck, C)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: Tensor) -> Tensor:  # (B, T, C) -> (B, T, C)
        return h + self.up(F.gelu(self.down(h)))


class _AdaptedLayer(nn.Module):
    """A frozen transformer layer followed by its adapter; called like the layer."""

    def __init__(self, layer: nn.Module, adapter: Adapter) -> None:
        super().__init__()
        self.layer, self.adapter = layer, adapter

    def forward(self, x: Tensor, *args, **kwargs) -> Tensor:
        return self.adapter(self.layer(x, *args, **kwargs))


def adapter_weights(L: int, C: int, bottleneck: int) -> int:
    """Trainable weights of ``add_adapters``: L adapters of (r C + r) + (C r + C)."""
    return L * (2 * C * bottleneck + bottleneck + C)


def add_adapters(model: nn.Module, bottleneck: int) -> nn.Module:
    """9.1.4: freeze every weight of ``model`` and put an :class:`Adapter` after each layer; only
    the adapters train. The model's outputs are unchanged until they do. Returns the model."""
    layers = _layers(model)
    if any(isinstance(layer, _AdaptedLayer) for layer in layers):
        raise ValueError("model already has adapters")
    C = model.embed.tokens.embedding_dim
    for p in model.parameters():
        p.requires_grad_(False)
    w = model.embed.tokens.weight  # the adapters take the model's device and dtype
    for i, layer in enumerate(layers):
        layers[i] = _AdaptedLayer(layer, Adapter(C, bottleneck).to(device=w.device, dtype=w.dtype))
    return model


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` W (out, in) plus a trainable low-rank update (Hu et al. 2022):

        y = W x + b + (alpha / r) B A x,   A (r, in) random, B (out, r) zero            (9.3)

    B starts at zero, so the layer starts as W. ``merged()`` folds the update into one
    ``nn.Linear`` with weight W + (alpha / r) B A: no extra cost at inference."""

    def __init__(self, base: nn.Linear, r: int, alpha: float = 1.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"base must be an nn.Linear, got {type(base).__name__}")
        _count(r, "r", 1, min(base.in_features, base.out_features))
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        self.base, self.r, self.scale = base, r, alpha / r
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        scale = 1 / math.sqrt(base.in_features)
        self.A = nn.Parameter(torch.randn(r, base.in_features, device=w.device, dtype=w.dtype) * scale)
        self.B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))

    def forward(self, x: Tensor) -> Tensor:  # (..., in) -> (..., out)
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        out.to(self.base.weight.device, self.base.weight.dtype)
        out.weight.copy_(self.base.weight + self.scale * self.B @ self.A)  # (out, in)
        if self.base.bias is not None:
            out.bias.copy_(self.base.bias)
        return out


LORA_TARGETS = ("W_Q", "W_K", "W_V", "W_O")


def lora_weights(L: int, C: int, r: int, targets: Sequence[str] = ("W_Q", "W_V")) -> int:
    """Trainable weights of ``add_lora``: r (C + C) per adapted (C, C) projection, per layer."""
    return L * len(targets) * r * 2 * C


def add_lora(model: nn.Module, r: int, alpha: float = 1.0, targets: Sequence[str] = ("W_Q", "W_V")) -> nn.Module:
    """Freeze every weight of ``model`` and replace the attention projections named in
    ``targets`` (of "W_Q", "W_K", "W_V", "W_O") in every layer by :class:`LoRALinear`; only A and
    B train. The model's outputs are unchanged until they do. Returns the model."""
    layers = _layers(model)
    if not targets or any(t not in LORA_TARGETS for t in targets):
        raise ValueError(f"targets must be a non-empty list of {LORA_TARGETS}, got {targets!r}")
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in layers:
        attention = getattr(layer, "self_attn", None)
        if attention is None:
            raise ValueError("the model's layers have no self_attn (were adapters added first?)")
        for name in targets:
            if isinstance(getattr(attention, name), LoRALinear):
                raise ValueError(f"{name} already has a LoRA update")
            setattr(attention, name, LoRALinear(getattr(attention, name), r, alpha))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` in ``model`` by its merged ``nn.Linear``; the outputs
    stay the same (to float rounding). Returns the model."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, name, child.merged())
    return model


METHODS = ("full", "freeze", "layer-lr", "adapters", "lora")  # 9.1.1, 9.1.2, 9.1.3, 9.1.4, LoRA


@dataclass
class MethodOptions:
    """The settings of the fine-tuning methods that have any (chapter 9)."""

    frozen: int = 3  # "freeze": how many of the L layers stay fixed (and the embeddings)
    decay: float = 0.5  # "layer-lr": each layer learns at this times the rate of the one above, (9.1)
    bottleneck: int = 16  # "adapters": the width r of each adapter, (9.2)
    rank: int = 8  # "lora": the rank r of each update, (9.3)
    alpha: float = 16.0  # "lora": the update is scaled by alpha / r
    targets: tuple[str, ...] = LORA_TARGETS  # "lora": the attention projections that get an update


def prepare(model: nn.Module, method: str, lr: float, options: MethodOptions | None = None) -> list[dict]:
    """Set ``model`` (a GPT) up, in place, for fine-tuning by ``method`` (one of ``METHODS``) and
    return the AdamW parameter groups to train it with, each with its own "lr":

    - "full"      9.1.1: every weight, at ``lr``
    - "freeze"    9.1.2: ``freeze_layers(model, options.frozen)``, the rest at ``lr``
    - "layer-lr"  9.1.3: every weight, layer l at ``lr * decay ** (L - l)`` (9.1)
    - "adapters"  9.1.4: ``add_adapters(model, options.bottleneck)``, the adapters at ``lr``
    - "lora"      ``add_lora(model, options.rank, options.alpha, options.targets)``, A and B at ``lr``
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    o = options or MethodOptions()
    _layers(model)
    for p in model.parameters():
        p.requires_grad_(True)
    if method == "layer-lr":
        return layerwise_lr_groups(model, lr, o.decay)
    if method == "freeze":
        freeze_layers(model, o.frozen)
    elif method == "adapters":
        add_adapters(model, o.bottleneck)
    elif method == "lora":
        add_lora(model, o.rank, o.alpha, o.targets)
    return [{"name": method, "params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]


def layer_weights(C: int, ffn_mult: int = 4) -> int:
    """Weights of one transformer layer of width C: attention 4 (C C + C), feed-forward
    (C F + F) + (F C + C) with F = ffn_mult C, two LayerNorms 2 (2 C); 12 C^2 + 13 C for F = 4 C."""
    F_ = ffn_mult * C
    return 4 * (C * C + C) + (C * F_ + F_) + (F_ * C + C) + 2 * 2 * C


def expected_trainable(config: TransformerConfig, method: str, options: MethodOptions | None = None) -> int:
    """The number of weights ``prepare(GPT(config), method)`` trains, from the formulas alone:
    full and layer-lr V C + T C + L layer_weights(C) + 2 C (token and position embeddings, the
    layers, the final LayerNorm; the output layer is tied), freeze the same without the
    embeddings and the first ``frozen`` layers, adapters ``adapter_weights``, LoRA ``lora_weights``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    o = options or MethodOptions()
    V, T, L, C = config.vocab_size, config.block_size, config.n_layer, config.n_embd
    layer, top = layer_weights(C, config.ffn_mult), 2 * C
    if method in ("full", "layer-lr"):
        return V * C + T * C + L * layer + top
    if method == "freeze":
        return (L - o.frozen) * layer + top
    if method == "adapters":
        return adapter_weights(L, C, o.bottleneck)
    return lora_weights(L, C, o.rank, o.targets)


def sft_batch(pairs: Sequence[Instruction], tokenizer: CharTokenizer, block_size: int) -> tuple[Tensor, Tensor]:
    """SFT examples as a language-modelling batch: each text is prompt + response + "\n", the
    inputs are its ids and the targets the next ids, with -100 (no loss) on every target inside
    the prompt and on the right padding: the model is taught to answer, not to write questions.
    Returns inputs (B, T) and targets (B, T), T the longest text minus 1 (at most ``block_size``)."""
    if not pairs:
        raise ValueError("pairs must be a non-empty list of tasks.Instruction")
    texts, starts = [], []
    for p in pairs:
        ids = tokenizer.encode(p.prompt + p.response + "\n")
        if len(ids) - 1 > block_size:
            raise ValueError(f"an example is {len(ids) - 1} tokens, more than block_size = {block_size}: {p.prompt!r}")
        texts.append(ids)
        starts.append(len(tokenizer.encode(p.prompt)))  # the first response token's position
    T = max(len(t) for t in texts) - 1
    x = torch.zeros(len(texts), T, dtype=torch.long)
    y = torch.full((len(texts), T), -100, dtype=torch.long)
    for row, (ids, start) in enumerate(zip(texts, starts)):
        ids = torch.tensor(ids)
        x[row, :len(ids) - 1] = ids[:-1]
        y[row, start - 1:len(ids) - 1] = ids[start:]  # position t predicts token t + 1: response and "\n"
    return x, y


def sft_batches(pairs_for_step: Callable[[int], Sequence[Instruction]], tokenizer: CharTokenizer,
                val_pairs: Sequence[Instruction], block_size: int = 128, replay_ids: Tensor | None = None,
                replay: int = 0, seed: int = 3) -> Callable[[str], tuple[Tensor, Tensor]]:
    """``get_batch(split)`` for :func:`tutorial_lib.train.train` on SFT data: "train" gives the
    :func:`sft_batch` of ``pairs_for_step(0)``, then ``pairs_for_step(1)``, ..., each followed by
    ``replay`` rows of plain next-token targets from ``replay_ids`` (windows of pretraining text,
    drawn with a generator seeded by ``seed``: a **replay** that keeps what pretraining taught);
    "val" always gives the batch of ``val_pairs``."""
    _count(replay, "replay", 0)
    if replay and (not isinstance(replay_ids, Tensor) or replay_ids.ndim != 1):
        raise ValueError("replay_ids must be a 1-D tensor of token ids (N,) when replay > 0")
    step = itertools.count()
    g = utils.generator(seed)

    def get_batch(split: str) -> tuple[Tensor, Tensor]:
        if split == "val":
            return sft_batch(val_pairs, tokenizer, block_size)
        x, y = sft_batch(pairs_for_step(next(step)), tokenizer, block_size)  # (B, T) twice
        if replay:
            rx, ry = data.get_batch(replay_ids, replay, x.shape[1], generator=g)  # (replay, T) twice
            x, y = torch.cat([x, rx]), torch.cat([y, ry])
        return x, y

    return get_batch


@torch.no_grad()
def answers(model: nn.Module, tokenizer: CharTokenizer, pairs: Sequence[Instruction], extra: int = 1,
            temperature: float = 0.0, generator: torch.Generator | None = None) -> list[str]:
    """The model's answer to each prompt of ``pairs``: ``len(response) + extra`` new characters,
    cut at the first newline (an answer that does not stop keeps them all). Greedy at
    ``temperature=0``; sampled otherwise, from ``generator`` (chapter 10 samples responses to
    compare). Prompts of one length run as one batch."""
    if not pairs:
        raise ValueError("pairs must be a non-empty list of tasks.Instruction")
    _count(extra, "extra", 1)
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    newline = tokenizer.encode("\n")[0]
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(pairs):
        by_length.setdefault(len(p.prompt), []).append(i)
    was_training = model.training
    model.eval()
    out = [""] * len(pairs)
    try:
        for rows in by_length.values():
            prompts = torch.stack([tokenizer.encode_tensor(pairs[i].prompt) for i in rows])  # (B, T0)
            length = max(len(pairs[i].response) for i in rows) + extra
            new = model.generate(prompts, length, temperature=temperature, generator=generator)  # (B, length)
            for i, ids in zip(rows, new.tolist()):
                ids = ids[:len(pairs[i].response) + extra]
                out[i] = tokenizer.decode(ids[:ids.index(newline)] if newline in ids else ids)
    finally:
        model.train(was_training)
    return out


def greedy_answers(model: nn.Module, tokenizer: CharTokenizer, pairs: Sequence[Instruction],
                   extra: int = 1) -> list[str]:
    """The model's greedy answers (:func:`answers` at temperature 0): what it says when asked."""
    return answers(model, tokenizer, pairs, extra)


def follow_rate(model: nn.Module, tokenizer: CharTokenizer, pairs: Sequence[Instruction]) -> float:
    """The fraction of ``pairs`` whose greedy answer, read up to the first newline, is exactly
    the right response: a measure of instruction following that needs no judge."""
    answers = greedy_answers(model, tokenizer, pairs)
    return sum(a == p.response for a, p in zip(answers, pairs)) / len(pairs)


def follow_rates(model: nn.Module, tokenizer: CharTokenizer, pairs: Sequence[Instruction]) -> dict[str, float]:
    """:func:`follow_rate` for each kind of instruction in ``pairs``, in the order of
    ``tasks.INSTRUCTIONS``: {"upper": 0.3, "reverse": 0.0, ...}."""
    from tutorial_lib.tasks import INSTRUCTIONS

    if not pairs:
        raise ValueError("pairs must be a non-empty list of tasks.Instruction")
    kinds = [k for k in INSTRUCTIONS if any(p.kind == k for p in pairs)]
    return {k: follow_rate(model, tokenizer, [p for p in pairs if p.kind == k]) for k in kinds}
