"""An encoder-decoder GRU that translates a sentence, with or without attention (chapter 5).

The encoder reads the source x_1..x_S with a bidirectional GRU and keeps every state
h_j = [→h_j; ←h_j] (B, S, 2C). The decoder is a GRU that writes the target one word at a time:

    s_i = GRU(s_{i-1}, [E y_{i-1}; c_i])                    decoder state          (5.4)
    p(y_i | y_<i, x) = softmax(W_o [s_i; c_i; E y_{i-1}])   next-word distribution (5.5)

with s_0 = tanh(W_s [→h_S; ←h_1]). The two models of the chapter differ only in the context c_i:

- without attention (Cho et al., 2014; Sutskever et al., 2014), c_i = [→h_S; ←h_1] for every
  i: one fixed vector must carry the whole sentence, the **bottleneck**;
- with attention (Bahdanau et al., 2015), c_i = Σ_j α_ij h_j, eqs. (5.1)-(5.3) of
  :mod:`tutorial_lib.attention`, recomputed at every step from s_{i-1}.

Training uses **teacher forcing**: y_{i-1} in (5.4) is the true previous word. Translating uses
**greedy decoding**: y_{i-1} is the model's own previous choice (:meth:`Seq2Seq.greedy`).

- ``Vocab``           words <-> ids, with the special tokens <pad>, <bos>, <eos>
- ``make_batch``      pairs of :mod:`tutorial_lib.tasks` -> padded id tensors
- ``batch_sampler``   random batches of pairs for :func:`tutorial_lib.train.train`
- ``Seq2SeqConfig``, ``Seq2Seq``, ``seq2seq_loss``
- ``translate``, ``aligned_hits``, ``accuracy_by_length``   decode a test set and score it per source length
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tutorial_lib import utils
from tutorial_lib.attention import AdditiveAttention
from tutorial_lib.tasks import TranslationPair
from tutorial_lib.utils import check_ids

__all__ = ["PAD", "BOS", "EOS", "Vocab", "make_batch", "batch_sampler", "Seq2SeqConfig", "Seq2Seq", "seq2seq_loss",
           "translate", "aligned_hits", "accuracy_by_length"]

PAD, BOS, EOS = 0, 1, 2  # ids of the special tokens, the same in every Vocab
SPECIALS = ("<pad>", "<bos>", "<eos>")


class Vocab:
    """A word vocabulary: ids 0, 1, 2 are <pad>, <bos>, <eos>, then ``words`` in order."""

    def __init__(self, words: list[str]) -> None:
        if not words or len(set(words)) != len(words) or set(words) & set(SPECIALS):
            raise ValueError("words must be a non-empty list of distinct words, none of them a special token")
        self.itos = [*SPECIALS, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, words: list[str]) -> list[int]:
        """Ids of ``words``; KeyError naming the first unknown word."""
        unknown = [w for w in words if w not in self.stoi]
        if unknown:
            raise KeyError(f"word {unknown[0]!r} is not in the vocabulary")
        return [self.stoi[w] for w in words]

    def decode(self, ids: list[int] | Tensor) -> list[str]:
        """Words of ``ids`` up to the first <eos>, skipping <pad> and <bos>."""
        words = []
        for i in (ids.tolist() if isinstance(ids, Tensor) else ids):
            if i == EOS:
                break
            if i not in (PAD, BOS):
                words.append(self.itos[i])
        return words


def make_batch(pairs: list[TranslationPair], src_vocab: Vocab, tgt_vocab: Vocab) -> tuple[Tensor, Tensor]:
    """Pad a list of pairs into ``(src, tgt)`` (chapter 5).

    src (B, S) holds the source ids, then <pad>; tgt (B, T + 2) holds <bos>, the target ids,
    <eos>, then <pad>. S and T are the longest source and target of the list. A model reads
    ``tgt[:, :-1]`` (teacher forcing) and is scored on ``tgt[:, 1:]``.
    """
    if not pairs:
        raise ValueError("pairs must be a non-empty list of TranslationPair")
    S = max(len(p.source) for p in pairs)
    T = max(len(p.target) for p in pairs)
    src = torch.full((len(pairs), S), PAD, dtype=torch.long)
    tgt = torch.full((len(pairs), T + 2), PAD, dtype=torch.long)
    for b, p in enumerate(pairs):
        src[b, :len(p.source)] = torch.tensor(src_vocab.encode(p.source))
        tgt[b, :len(p.target) + 2] = torch.tensor([BOS, *tgt_vocab.encode(p.target), EOS])
    return src, tgt


def batch_sampler(splits: dict[str, list[TranslationPair]], src_vocab: Vocab, tgt_vocab: Vocab,
                  batch_size: int = 128, seed: int = 0) -> Callable[[str], tuple[Tensor, Tensor]]:
    """``get_batch(split)`` for :func:`tutorial_lib.train.train`: ``batch_size`` random pairs of
    ``splits[split]`` (drawn with a local generator seeded by ``seed``), as ``(src, tgt)`` from
    :func:`make_batch`, so each batch is padded only to its own longest sentence (chapter 5)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not splits or any(not pairs for pairs in splits.values()):
        raise ValueError("splits must map split names (e.g. 'train', 'val') to non-empty lists of pairs")
    gen = utils.generator(seed)

    def get_batch(split: str) -> tuple[Tensor, Tensor]:
        if split not in splits:
            raise KeyError(f"split must be one of {sorted(splits)}, got {split!r}")
        pairs = splits[split]
        idx = torch.randint(len(pairs), (batch_size,), generator=gen).tolist()
        return make_batch([pairs[i] for i in idx], src_vocab, tgt_vocab)

    return get_batch


@dataclass
class Seq2SeqConfig:
    """Sizes of :class:`Seq2Seq` (chapter 5)."""

    src_vocab_size: int  # source words + 3 special tokens
    tgt_vocab_size: int  # target words + 3 special tokens
    attention: bool = True  # False: the fixed context [→h_S; ←h_1] at every step
    embed_size: int = 32  # E: width of the word embeddings
    hidden_size: int = 64  # C: each encoder direction and the decoder state
    attention_size: int = 64  # A: width inside the additive score (5.1)

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_size", "hidden_size", "attention_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Seq2SeqConfig.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.attention, bool):
            raise ValueError(f"Seq2SeqConfig.attention must be True or False, got {self.attention!r}")


class Seq2Seq(nn.Module):
    """Bidirectional GRU encoder, GRU decoder, optional additive attention (chapter 5)."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"config must be a Seq2SeqConfig, got {type(config).__name__}")
        self.config = c = config
        E, C = c.embed_size, c.hidden_size
        self.src_embed = nn.Embedding(c.src_vocab_size, E, padding_idx=PAD)
        self.encoder = nn.GRU(E, C, batch_first=True, bidirectional=True)  # h_j = [→h_j; ←h_j]
        self.W_s = nn.Linear(2 * C, C)  # s_0 = tanh(W_s [→h_S; ←h_1])
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, E, padding_idx=PAD)
        self.decoder = nn.GRU(E + 2 * C, C, batch_first=True)  # (5.4): input [E y_{i-1}; c_i]
        self.attention = AdditiveAttention(C, 2 * C, c.attention_size) if c.attention else None
        self.W_o = nn.Linear(C + 2 * C + E, c.tgt_vocab_size)  # (5.5)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """src (B, S) ids, <pad> after each sentence -> states h (B, S, 2C) (zeros at pads),
        the summary [→h_S; ←h_1] (B, 2C) of each sentence, and the mask (B, S), True on words."""
        check_ids(src, "src", self.config.src_vocab_size, "(B, L)")
        mask = src != PAD  # (B, S)
        lengths = mask.sum(dim=1)  # (B,)
        if (lengths == 0).any() or (mask.long().diff(dim=1) > 0).any():
            raise ValueError("src must hold at least one word per row, with <pad> only after the words")
        packed = pack_padded_sequence(self.src_embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, h_n = self.encoder(packed)  # h_n (2, B, C): →h_S and ←h_1 of each sentence
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])  # (B, S, 2C)
        summary = torch.cat([h_n[0], h_n[1]], dim=1)  # [→h_S; ←h_1] (B, 2C)
        return h, summary, mask

    def _step(self, y_prev: Tensor, s: Tensor, memory: tuple) -> tuple[Tensor, Tensor, Tensor | None]:
        """One decoder step: y_{i-1} (B,), s_{i-1} (B, C) -> logits (B, V), s_i, α_i (B, S) or None."""
        h, summary, mask, Uh = memory
        if self.attention is None:
            context, alpha = summary, None  # the same c at every step: the bottleneck
        else:
            context, alpha = self.attention(s, h, mask, projected_keys=Uh)  # (5.1)-(5.3)
        e = self.tgt_embed(y_prev)  # E y_{i-1} (B, E)
        s = self.decoder(torch.cat([e, context], dim=1)[:, None], s[None])[1][0]  # (5.4) one step
        logits = self.W_o(torch.cat([s, context, e], dim=1))  # (5.5) (B, V)
        return logits, s, alpha

    def _start(self, src: Tensor) -> tuple[Tensor, tuple]:
        h, summary, mask = self.encode(src)
        Uh = self.attention.project_keys(h) if self.attention is not None else None  # once per sentence
        return torch.tanh(self.W_s(summary)), (h, summary, mask, Uh)  # s_0 (B, C)

    def forward(self, src: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing: src (B, S), tgt_in (B, T) = <bos> y_1 .. y_{T-1} -> logits (B, T, V)
        for y_1 .. y_T, and the attention weights (B, T, S) (None without attention)."""
        check_ids(tgt_in, "tgt_in", self.config.tgt_vocab_size, "(B, L)")
        if tgt_in.shape[0] != src.shape[0]:
            raise ValueError(f"src and tgt_in must have the same batch size, got {src.shape[0]} and {tgt_in.shape[0]}")
        s, memory = self._start(src)
        if self.attention is None:  # c_i = c is known for every i: all steps in one fused call
            h, summary, mask, _ = memory
            e = self.tgt_embed(tgt_in)  # (B, T, E)
            context = summary[:, None, :].expand(-1, e.shape[1], -1)  # (B, T, 2C)
            states, _ = self.decoder(torch.cat([e, context], dim=2), s[None])  # s_1..s_T (B, T, C)
            return self.W_o(torch.cat([states, context, e], dim=2)), None  # (5.5) (B, T, V)
        logits, alphas = [], []
        for y_prev in tgt_in.unbind(dim=1):  # c_i needs s_{i-1}: one step at a time
            step_logits, s, alpha = self._step(y_prev, s, memory)
            logits.append(step_logits)
            alphas.append(alpha)
        weights = torch.stack(alphas, dim=1)  # (B, T, S)
        return torch.stack(logits, dim=1), weights

    @torch.no_grad()
    def greedy(self, src: Tensor, max_len: int) -> tuple[Tensor, Tensor | None]:
        """Greedy decoding: the most likely word at each step, fed back as the next input.

        src (B, S) -> ids (B, max_len) (after <eos>, the rest is <pad>) and the attention
        weights (B, max_len, S) (None without attention)."""
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
        s, memory = self._start(src)
        y = torch.full((src.shape[0],), BOS, dtype=torch.long, device=src.device)
        done = torch.zeros_like(y, dtype=torch.bool)
        out, alphas = [], []
        for _ in range(max_len):
            logits, s, alpha = self._step(y, s, memory)
            y = logits.argmax(dim=1).masked_fill(done, PAD)  # its own choice is the next input
            done |= y == EOS
            out.append(y)
            alphas.append(alpha)
        weights = None if self.attention is None else torch.stack(alphas, dim=1)
        return torch.stack(out, dim=1), weights


def seq2seq_loss(model: Seq2Seq, src: Tensor, tgt: Tensor) -> Tensor:
    """Mean cross-entropy per target word (and <eos>), teacher-forced, pads ignored (chapter 5).

    src (B, S), tgt (B, T + 2) as from :func:`make_batch`. Fits :func:`tutorial_lib.train.train`.
    """
    logits, _ = model(src, tgt[:, :-1])  # (B, T + 1, V)
    return F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD)


def translate(model: Seq2Seq, pairs: list[TranslationPair], src_vocab: Vocab, tgt_vocab: Vocab,
              batch_size: int = 256) -> tuple[list[list[str]], list[np.ndarray | None]]:
    """Greedy translations of ``pairs``' sources, and each one's attention weights (chapter 5).

    Returns (words, weights): the predicted target words per pair, and per pair an array
    (len(predicted) + 1, len(source)) of weights (one row per word written and one for <eos>),
    or None without attention. The model is left in eval mode.
    """
    model.eval()
    device = next(model.parameters()).device
    words, weights = [], []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        src, _ = make_batch(chunk, src_vocab, tgt_vocab)
        max_len = max(len(p.source) for p in chunk) + 5  # room to spare for a wrong length
        ids, alpha = model.greedy(src.to(device), max_len)
        for b, p in enumerate(chunk):
            w = tgt_vocab.decode(ids[b])
            words.append(w)
            weights.append(None if alpha is None else alpha[b, :len(w) + 1, :len(p.source)].cpu().numpy())
    return words, weights


def aligned_hits(reference: list[str], predicted: list[str]) -> list[bool]:
    """For each reference word, is it matched in a minimum edit-distance alignment (chapter 5)?

    Comparing position by position makes one dropped or added word turn every later word
    wrong, although the rest of the translation is right. Instead align the two word lists
    as the word error rate of speech recognition does, with the fewest substitutions,
    deletions and insertions (Levenshtein), and mark a reference word right when the
    alignment pairs it with the same predicted word. Of the alignments with fewest edits,
    the one with most matches is used. Returns one bool per reference word.
    """
    n, m = len(reference), len(predicted)
    # cost[i][j]: (edits, -matches) of aligning reference[:i] with predicted[:j]
    cost = [[(i + j, 0) for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = reference[i - 1] == predicted[j - 1]
            diagonal = cost[i - 1][j - 1]
            cost[i][j] = min(
                (diagonal[0] + (not same), diagonal[1] - same),  # match or substitution
                (cost[i - 1][j][0] + 1, cost[i - 1][j][1]),  # reference word deleted
                (cost[i][j - 1][0] + 1, cost[i][j - 1][1]),  # predicted word inserted
            )
    hits, i, j = [False] * n, n, m
    while i > 0 and j > 0:  # walk back along one best alignment
        same = reference[i - 1] == predicted[j - 1]
        if cost[i][j] == (cost[i - 1][j - 1][0] + (not same), cost[i - 1][j - 1][1] - same):
            hits[i - 1] = same
            i, j = i - 1, j - 1
        elif cost[i][j] == (cost[i - 1][j][0] + 1, cost[i - 1][j][1]):
            i -= 1
        else:
            j -= 1
    return hits


def accuracy_by_length(pairs: list[TranslationPair], predicted: list[list[str]]) -> dict[int, tuple[float, float]]:
    """Per source length L: (word accuracy, sentence accuracy) of ``predicted`` (chapter 5).

    Word accuracy is the fraction of target words matched in a minimum edit-distance
    alignment with the prediction (:func:`aligned_hits`), so a dropped word costs one word,
    not every word after it; sentence accuracy is the fraction translated exactly.
    """
    if len(pairs) != len(predicted):
        raise ValueError(f"pairs and predicted must have the same length, got {len(pairs)} and {len(predicted)}")
    by_length: dict[int, list[tuple[float, float]]] = {}
    for p, w in zip(pairs, predicted):
        right = sum(aligned_hits(p.target, w))
        by_length.setdefault(len(p.source), []).append((right / len(p.target), float(w == p.target)))
    return {L: tuple(np.mean(v, axis=0).tolist()) for L, v in sorted(by_length.items())}
