"""The transformer of the source notes, §5-6, piece by piece (chapter 6).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V                       (6.1, the notes' eq. 1)
    MultiHead(X_q, X_kv) = [head_1; ...; head_H] W_O,
        head_h = Attention(X_q W_Q^h, X_kv W_K^h, X_kv W_V^h)                (6.2)
    FFN(x) = W_2 σ(W_1 x + b_1) + b_2, applied to every position alone      (6.3)
    post-norm:  x = LayerNorm(x + Sublayer(x))     (the 2017 paper, the notes' §5.1.3)
    pre-norm:   x = x + Sublayer(LayerNorm(x))     (GPT-2 and most models since)

Shapes use the package's symbols: B batch, T target positions, S source positions, C model
width, H heads, D = C // H head width, V vocabulary. Masks are boolean with True = may attend
(the opposite of PyTorch's ``attn_mask``, where True = blocked).

- ``causal_mask``, ``padding_mask``       which positions a query may attend to
- ``sinusoidal_positions``                the fixed positional encoding of Vaswani et al.
- ``MultiHeadAttention``                  (6.2), with ``copy_from_torch`` for nn.MultiheadAttention
- ``FeedForward``                         (6.3)
- ``EncoderLayer``, ``DecoderLayer``      self-attention (+ cross-attention) + FFN, residual + LayerNorm
- ``copy_layer_from_torch``               weights of nn.TransformerEncoderLayer / DecoderLayer into ours
- ``TransformerConfig``, ``Embedding``    token + position embeddings
- ``EncoderClassifier``, ``GPT``, ``EncoderDecoder``   the three variants of §6.2
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tutorial_lib.attention import _check_mask, dot_product_attention
from tutorial_lib.sampling import check_rule, greedy, sample_next
from tutorial_lib.seq2seq import BOS, EOS
from tutorial_lib.utils import check_ids

__all__ = ["causal_mask", "padding_mask", "sinusoidal_positions", "MultiHeadAttention", "FeedForward",
           "EncoderLayer", "DecoderLayer", "copy_layer_from_torch", "TransformerConfig", "Embedding",
           "EncoderClassifier", "GPT", "EncoderDecoder"]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def causal_mask(T: int, device: torch.device | str | None = None) -> Tensor:
    """(T, T) bool, True on and below the diagonal: position t may attend to 1..t only."""
    return torch.ones(_positive_int(T, "T"), T, dtype=torch.bool, device=device).tril()


def padding_mask(ids: Tensor, pad_id: int = 0) -> Tensor:
    """ids (B, S) -> (B, 1, 1, S) bool, False on padding: broadcasts over heads and queries."""
    return (check_ids(ids, "ids", None, "(B, S)") != pad_id)[:, None, None, :]


def sinusoidal_positions(T: int, C: int) -> Tensor:
    """The fixed positional encoding of Vaswani et al. (2017), (T, C):
    PE[t, 2i] = sin(t / 10000^(2i/C)), PE[t, 2i+1] = cos(t / 10000^(2i/C)), C even."""
    _positive_int(T, "T")
    if _positive_int(C, "C") % 2:
        raise ValueError(f"C must be even (sine and cosine pairs), got {C}")
    t = torch.arange(T, dtype=torch.float32)[:, None]  # (T, 1)
    freq = 10000 ** (-torch.arange(0, C, 2, dtype=torch.float32) / C)  # (C/2,)
    pe = torch.empty(T, C)
    pe[:, 0::2] = torch.sin(t * freq)  # (T, C/2)
    pe[:, 1::2] = torch.cos(t * freq)
    return pe


class MultiHeadAttention(nn.Module):
    """Multi-head attention (6.2): H heads of width D = C / H, each (6.1) on its own projections.

    ``fast=True`` computes (6.1) with ``F.scaled_dot_product_attention`` (a fused kernel, no
    weights returned); the default computes it with our :func:`dot_product_attention` and keeps
    the last weights in ``last_weights`` for plotting.
    """

    def __init__(self, C: int, H: int, bias: bool = True, fast: bool = False) -> None:
        super().__init__()
        if _positive_int(C, "C") % _positive_int(H, "H"):
            raise ValueError(f"C must be divisible by H (heads of width C // H), got C={C}, H={H}")
        self.C, self.H, self.D, self.fast = C, H, C // H, fast
        self.W_Q, self.W_K, self.W_V = (nn.Linear(C, C, bias=bias) for _ in range(3))
        self.W_O = nn.Linear(C, C, bias=bias)
        self.last_weights: Tensor | None = None  # (B, H, T, S) of the last call with fast=False

    def _heads(self, x: Tensor) -> Tensor:
        B, L, _ = x.shape
        return x.view(B, L, self.H, self.D).transpose(1, 2)  # (B, L, C) -> (B, H, L, D)

    def forward(self, x_q: Tensor, x_kv: Tensor | None = None, mask: Tensor | None = None
                ) -> tuple[Tensor, Tensor | None]:
        """x_q (B, T, C) queries, x_kv (B, S, C) keys and values (default x_q: self-attention),
        mask broadcastable to (B, H, T, S), True = attend. Returns (B, T, C) and the weights
        (B, H, T, S) (None with ``fast=True``)."""
        x_kv = x_q if x_kv is None else x_kv
        for name, x in (("x_q", x_q), ("x_kv", x_kv)):
            if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[-1] != self.C:
                raise ValueError(f"{name} must have shape (B, L, C) with C = {self.C}, "
                                 f"got {tuple(getattr(x, 'shape', ()))}")
        if x_kv.shape[0] != x_q.shape[0]:
            raise ValueError(f"x_q and x_kv must have the same batch size, got {x_q.shape[0]} and {x_kv.shape[0]}")
        B, T, S = x_q.shape[0], x_q.shape[1], x_kv.shape[1]
        mask = _check_mask(mask, (B, self.H, T, S), "(B, H, T, S)")  # both paths, same rules
        q, k, v = self._heads(self.W_Q(x_q)), self._heads(self.W_K(x_kv)), self._heads(self.W_V(x_kv))  # (B, H, ·, D)
        if self.fast:
            out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None  # (B, H, T, D)
        else:
            out, weights = dot_product_attention(q, k, v, mask)  # (B, H, T, D), (B, H, T, S)
            self.last_weights = weights.detach()  # kept for attention maps (chapter 6)
        out = out.transpose(1, 2).reshape(B, T, self.C)  # (B, H, T, D) -> (B, T, C): heads side by side
        return self.W_O(out), weights

    @torch.no_grad()
    def copy_from_torch(self, theirs: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy ``nn.MultiheadAttention`` weights: in_proj (3C, C) is [W_Q; W_K; W_V] stacked."""
        if not isinstance(theirs, nn.MultiheadAttention) or theirs.embed_dim != self.C or theirs.num_heads != self.H:
            raise ValueError(f"theirs must be an nn.MultiheadAttention with embed_dim {self.C}, num_heads {self.H}")
        if theirs.in_proj_weight is None:
            raise ValueError("theirs must have kdim == vdim == embed_dim (one in_proj_weight)")
        if theirs.bias_k is not None or theirs.add_zero_attn:
            raise ValueError("theirs must have add_bias_kv=False and add_zero_attn=False: ours has no such extra keys")
        if (theirs.in_proj_bias is not None) != (self.W_Q.bias is not None):
            raise ValueError(f"theirs must have bias={self.W_Q.bias is not None} like ours, "
                             f"got bias={theirs.in_proj_bias is not None}")
        for ours, w in zip((self.W_Q, self.W_K, self.W_V), theirs.in_proj_weight.chunk(3)):
            ours.weight.copy_(w)
        if theirs.in_proj_bias is not None:
            for ours, b in zip((self.W_Q, self.W_K, self.W_V), theirs.in_proj_bias.chunk(3)):
                ours.bias.copy_(b)
        self.W_O.load_state_dict(theirs.out_proj.state_dict())
        return self


class FeedForward(nn.Module):
    """The position-wise feed-forward network (6.3): the same two layers at every position."""

    def __init__(self, C: int, hidden: int, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        self.W_1 = nn.Linear(_positive_int(C, "C"), _positive_int(hidden, "hidden"))
        self.W_2 = nn.Linear(hidden, C)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        act = F.relu if self.activation == "relu" else F.gelu
        return self.W_2(act(self.W_1(x)))  # (B, T, C) -> (B, T, hidden) -> (B, T, C)


class EncoderLayer(nn.Module):
    """Self-attention and a feed-forward network, each wrapped in residual + LayerNorm (§5.1)."""

    def __init__(self, C: int, H: int, hidden: int, norm_first: bool = False, activation: str = "relu",
                 dropout: float = 0.0, fast: bool = False) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(C, H, fast=fast)
        self.ffn = FeedForward(C, hidden, activation)
        self.norm1, self.norm2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.drop = nn.Dropout(dropout)
        self.norm_first = norm_first

    def _sublayer(self, x: Tensor, norm: nn.LayerNorm, f) -> Tensor:
        if self.norm_first:
            return x + self.drop(f(norm(x)))  # pre-norm: x + Sublayer(LayerNorm(x))
        return norm(x + self.drop(f(x)))  # post-norm: LayerNorm(x + Sublayer(x))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (B, T, C), mask broadcastable to (B, H, T, T) -> (B, T, C)."""
        x = self._sublayer(x, self.norm1, lambda y: self.self_attn(y, mask=mask)[0])
        return self._sublayer(x, self.norm2, self.ffn)


class DecoderLayer(EncoderLayer):
    """Masked self-attention, attention over the encoder's output, FFN (§5.2.1-5.2.3)."""

    def __init__(self, C: int, H: int, hidden: int, norm_first: bool = False, activation: str = "relu",
                 dropout: float = 0.0, fast: bool = False) -> None:
        super().__init__(C, H, hidden, norm_first, activation, dropout, fast)
        self.cross_attn = MultiHeadAttention(C, H, fast=fast)
        self.norm3 = nn.LayerNorm(C)

    def forward(self, x: Tensor, memory: Tensor, mask: Tensor | None = None,
                memory_mask: Tensor | None = None) -> Tensor:
        """x (B, T, C) the target so far, memory (B, S, C) the encoder's output; ``mask`` (usually
        causal) for self-attention, ``memory_mask`` (usually padding) for cross-attention."""
        x = self._sublayer(x, self.norm1, lambda y: self.self_attn(y, mask=mask)[0])  # §5.2.1
        x = self._sublayer(x, self.norm2, lambda y: self.cross_attn(y, memory, memory_mask)[0])  # §5.2.2
        return self._sublayer(x, self.norm3, self.ffn)  # §5.2.3


@torch.no_grad()
def copy_layer_from_torch(ours: EncoderLayer, theirs: nn.TransformerEncoderLayer | nn.TransformerDecoderLayer
                          ) -> EncoderLayer:
    """Copy an ``nn.TransformerEncoderLayer`` (or ``DecoderLayer``) into ours; both must have the
    same width, heads, FFN size, norm placement and activation. Returns ``ours``."""
    decoder = isinstance(ours, DecoderLayer)
    kind = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
    if not isinstance(theirs, kind):
        raise TypeError(f"theirs must be an {kind.__name__} to match {type(ours).__name__}")
    if theirs.norm_first != ours.norm_first or theirs.linear1.out_features != ours.ffn.W_1.out_features:
        raise ValueError("theirs must have the same norm_first and dim_feedforward as ours")
    act = theirs.activation
    name = ("relu" if act is F.relu or isinstance(act, nn.ReLU) else
            "gelu" if act is F.gelu or (isinstance(act, nn.GELU) and act.approximate == "none") else repr(act))
    if name != ours.ffn.activation:
        raise ValueError(f"theirs must have the activation of ours, {ours.ffn.activation!r}, got {name}")
    norms = [theirs.norm1, theirs.norm2] + ([theirs.norm3] if decoder else [])
    if any(n.eps != ours.norm1.eps or n.bias is None for n in norms) or theirs.linear1.bias is None:
        raise ValueError(f"theirs must have biases and LayerNorm eps {ours.norm1.eps} like ours")
    ours.self_attn.copy_from_torch(theirs.self_attn)
    ours.ffn.W_1.load_state_dict(theirs.linear1.state_dict())
    ours.ffn.W_2.load_state_dict(theirs.linear2.state_dict())
    ours.norm1.load_state_dict(theirs.norm1.state_dict())
    ours.norm2.load_state_dict(theirs.norm2.state_dict())
    if decoder:
        ours.cross_attn.copy_from_torch(theirs.multihead_attn)
        ours.norm3.load_state_dict(theirs.norm3.state_dict())
    return ours


@dataclass
class TransformerConfig:
    """Sizes of the transformers of chapters 6 and 7."""

    vocab_size: int  # V: tokens, padding included
    block_size: int = 64  # the longest sequence (learned positions exist for 0..block_size-1)
    n_layer: int = 2  # layers (of each stack, for the encoder-decoder)
    n_head: int = 4  # H: heads per attention layer
    n_embd: int = 64  # C: model width; the head width is C // H
    ffn_mult: int = 4  # the feed-forward hidden width is ffn_mult * C
    positions: str = "learned"  # "learned" (GPT), "sinusoidal" (Vaswani et al.) or "none" (chapter 6)
    norm_first: bool = True  # pre-norm (True) or the 2017 paper's post-norm (False)
    dropout: float = 0.0  # dropout on the residual branches
    fast: bool = True  # F.scaled_dot_product_attention instead of our (6.1)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "ffn_mult"):
            _positive_int(getattr(self, name), f"TransformerConfig.{name}")
        if self.n_embd % self.n_head:
            raise ValueError(f"TransformerConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.positions not in ("learned", "sinusoidal", "none"):
            raise ValueError("TransformerConfig.positions must be 'learned', 'sinusoidal' or 'none', "
                             f"got {self.positions!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"TransformerConfig.dropout must be in [0, 1), got {self.dropout!r}")


class Embedding(nn.Module):
    """Token embedding plus position encoding: ids (B, T) -> (B, T, C). Without the positions,
    attention cannot tell word order: permuting the input permutes the output (chapter 6)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        c = config
        self.block_size, self.vocab_size = c.block_size, c.vocab_size
        self.tokens = nn.Embedding(c.vocab_size, c.n_embd)
        if c.positions == "learned":
            self.positions = nn.Parameter(torch.randn(c.block_size, c.n_embd) * 0.02)
        elif c.positions == "sinusoidal":
            self.register_buffer("positions", sinusoidal_positions(c.block_size, c.n_embd), persistent=False)
        else:  # "none": zeros, so that only the causal mask, if any, tells the order
            self.register_buffer("positions", torch.zeros(c.block_size, c.n_embd), persistent=False)

    def forward(self, ids: Tensor) -> Tensor:
        check_ids(ids, "ids", self.vocab_size)
        if ids.shape[1] > self.block_size:
            raise ValueError(f"ids has T = {ids.shape[1]} positions, more than block_size = {self.block_size}")
        return self.tokens(ids) + self.positions[: ids.shape[1]]  # (B, T, C) + (T, C)


def _layers(config: TransformerConfig, cls: type) -> nn.ModuleList:
    c = config
    return nn.ModuleList(cls(c.n_embd, c.n_head, c.ffn_mult * c.n_embd, norm_first=c.norm_first,
                             activation="gelu", dropout=c.dropout, fast=c.fast) for _ in range(c.n_layer))


class EncoderClassifier(nn.Module):
    """Encoder-only (§6.2, like BERT): every position sees every other; a class is read from the
    mean of the final states over the real tokens. ids (B, T) -> logits (B, num_classes)."""

    def __init__(self, config: TransformerConfig, num_classes: int, pad_id: int = 0) -> None:
        super().__init__()
        self.config, self.pad_id = config, pad_id
        self.embed = Embedding(config)
        self.layers = _layers(config, EncoderLayer)
        self.norm = nn.LayerNorm(config.n_embd) if config.norm_first else nn.Identity()
        self.head = nn.Linear(config.n_embd, _positive_int(num_classes, "num_classes"))

    def forward(self, ids: Tensor) -> Tensor:
        x = self.embed(ids)  # (B, T, C)
        mask = padding_mask(ids, self.pad_id)  # (B, 1, 1, T)
        for layer in self.layers:
            x = layer(x, mask)
        keep = mask[:, 0, 0, :, None].to(x.dtype)  # (B, T, 1)
        pooled = (self.norm(x) * keep).sum(1) / keep.sum(1).clamp(min=1)  # mean over real tokens (B, C)
        return self.head(pooled)


class GPT(nn.Module):
    """Decoder-only (§6.2-6.3, like GPT): causal self-attention only, next-token logits.
    ids (B, T) -> logits (B, T, V). The output layer shares its weights with the token embedding."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = Embedding(config)
        self.layers = _layers(config, EncoderLayer)  # an encoder layer with a causal mask
        self.norm = nn.LayerNorm(config.n_embd) if config.norm_first else nn.Identity()
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.embed.tokens.weight  # weight tying
        for name, p in self.named_parameters():  # GPT-2's initialisation: small weights, so the
            if name.endswith("bias"):  # tied output layer starts with logits near zero
                nn.init.zeros_(p)
            elif p.ndim == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.embed(ids)  # (B, T, C)
        mask = causal_mask(ids.shape[1], ids.device)  # (T, T)
        for layer in self.layers:
            x = layer(x, mask)
        return self.head(self.norm(x))  # (B, T, V)

    @torch.no_grad()
    def generate(self, prompt: Tensor, length: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Sample ``length`` new ids after ``prompt`` (chapter 7): prompt (T0,) -> (length,), or a
        batch of prompts (B, T0) -> (B, length), each row sampled independently.

        Each step draws the next id with :func:`tutorial_lib.sampling.sample_next` from the logits
        of the last position; ``temperature=0`` takes the argmax instead (greedy decoding, the limit
        of ever smaller temperatures). The keys and values of the positions already read are kept
        in every layer (a KV cache, chapter 6's exercise 6.1), so a step computes one position,
        not the whole text; once the text is longer than ``block_size``, each step runs the model
        on the last ``block_size`` ids (the window slides, and the positions with it).
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an integer >= 0, got {length!r}")
        check_rule(temperature, top_k, top_p)  # on the greedy path too, and before any step
        if (not isinstance(prompt, Tensor) or prompt.dtype != torch.long or prompt.ndim not in (1, 2)
                or prompt.shape[-1] == 0 or prompt.numel() == 0):
            raise ValueError("prompt must be a non-empty torch.long tensor of ids (T0,) or (B, T0)")
        ids = (prompt[None] if prompt.ndim == 1 else prompt).to(self.head.weight.device)  # (B, T0)
        check_ids(ids, "prompt", self.config.vocab_size, "(T0,) or (B, T0)")
        block, caches = self.config.block_size, None
        for _ in range(length):
            if ids.shape[1] > block:  # the window slides: every step from scratch
                logits = self(ids[:, -block:])[:, -1]  # (B, V)
            elif caches is None:  # the prompt, once, into the caches
                caches = [{} for _ in self.layers]
                logits = self._extend(ids, caches, 0)[:, -1]
            else:  # the newest id only, its keys and values joining the caches
                logits = self._extend(ids[:, -1:], caches, ids.shape[1] - 1)[:, -1]
            nxt = greedy(logits) if temperature == 0 else sample_next(logits, temperature, top_k, top_p, generator)
            ids = torch.cat([ids, nxt[:, None]], dim=1)  # (B, t + 1)
        new = ids[:, prompt.shape[-1]:]  # (B, length)
        return new[0] if prompt.ndim == 1 else new

    def _extend(self, new: Tensor, caches: list[dict], start: int) -> Tensor:
        """Logits (B, t, V) of t new positions start..start + t - 1, ids ``new`` (B, t), each layer
        attending to the keys and values of the earlier positions in its cache (which the new ones
        join): what ``self(ids)`` gives at those positions, computed for the new ones only."""
        x = self.embed.tokens(new) + self.embed.positions[start:start + new.shape[1]]  # (B, t, C)
        for layer, cache in zip(self.layers, caches):
            x = layer._sublayer(x, layer.norm1, lambda y: _attend_cached(layer.self_attn, y, cache))
            x = layer._sublayer(x, layer.norm2, layer.ffn)
        return self.head(self.norm(x))  # (B, t, V)


def _attend_cached(attention: MultiHeadAttention, x: Tensor, cache: dict) -> Tensor:
    """Causal self-attention (6.2) of t new positions x (B, t, C) over the keys and values of the
    earlier positions in ``cache`` and their own, which join the cache: chapter 6's exercise 6.1."""
    q = attention._heads(attention.W_Q(x))  # (B, H, t, D)
    k, v = attention._heads(attention.W_K(x)), attention._heads(attention.W_V(x))  # (B, H, t, D)
    if cache:
        k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)  # (B, H, S, D)
    cache["k"], cache["v"] = k, v
    t, S = q.shape[2], k.shape[2]
    mask = torch.ones(t, S, dtype=torch.bool, device=x.device).tril(S - t)  # new position i: keys 0..S - t + i
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, t, D)
    B = x.shape[0]
    return attention.W_O(out.transpose(1, 2).reshape(B, t, attention.C))  # (B, t, C)


class EncoderDecoder(nn.Module):
    """Encoder-decoder (§5, the 2017 transformer): src (B, S), tgt_in (B, T) -> logits (B, T, V_tgt).
    Fits :func:`tutorial_lib.seq2seq.seq2seq_loss` like chapter 5's RNN."""

    def __init__(self, src: TransformerConfig, tgt: TransformerConfig, pad_id: int = 0) -> None:
        super().__init__()
        if src.n_embd != tgt.n_embd or src.n_head != tgt.n_head:
            raise ValueError("src and tgt configs must have the same n_embd and n_head")
        self.pad_id = pad_id
        self.src_embed, self.tgt_embed = Embedding(src), Embedding(tgt)
        self.encoder, self.decoder = _layers(src, EncoderLayer), _layers(tgt, DecoderLayer)
        self.enc_norm = nn.LayerNorm(src.n_embd) if src.norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(tgt.n_embd) if tgt.norm_first else nn.Identity()
        self.head = nn.Linear(tgt.n_embd, tgt.vocab_size)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        mask = padding_mask(src, self.pad_id)  # (B, 1, 1, S)
        x = self.src_embed(src)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.enc_norm(x), mask  # memory (B, S, C)

    def decode(self, tgt_in: Tensor, memory: Tensor, memory_mask: Tensor) -> Tensor:
        y = self.tgt_embed(tgt_in)  # (B, T, C)
        causal = causal_mask(tgt_in.shape[1], tgt_in.device)  # (T, T)
        for layer in self.decoder:
            y = layer(y, memory, causal, memory_mask)
        return self.head(self.dec_norm(y))  # (B, T, V)

    def forward(self, src: Tensor, tgt_in: Tensor) -> tuple[Tensor, None]:
        memory, mask = self.encode(src)
        return self.decode(tgt_in, memory, mask), None  # (logits, no single attention map)

    @torch.no_grad()
    def greedy(self, src: Tensor, max_len: int) -> tuple[Tensor, None]:
        """Greedy decoding like :meth:`tutorial_lib.seq2seq.Seq2Seq.greedy`: ids (B, max_len),
        <pad> after <eos>. Each step re-runs the decoder on the whole prefix (a KV cache, the
        exercise of chapter 6, avoids that), so :func:`tutorial_lib.seq2seq.translate` works."""
        _positive_int(max_len, "max_len")
        memory, mask = self.encode(src)
        y = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            next_id = self.decode(y, memory, mask)[:, -1].argmax(dim=-1).masked_fill(done, self.pad_id)
            done |= next_id == EOS
            y = torch.cat([y, next_id[:, None]], dim=1)
            if done.all():  # every sentence has ended: the rest would be <pad>
                break
        out = torch.full((src.shape[0], max_len), self.pad_id, dtype=torch.long, device=src.device)
        out[:, : y.shape[1] - 1] = y[:, 1:]
        return out, None

