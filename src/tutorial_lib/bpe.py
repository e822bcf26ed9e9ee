"""Byte-level byte-pair encoding (chapter 7): the subword tokens of GPT-2 and of most LLMs since.

A text is read as its UTF-8 bytes, so every text has an encoding (emoji, other scripts, control
characters, bytes no training text held): the vocabulary starts as the 256 single bytes. Training
(Sennrich et al. 2016; Radford et al. 2019) repeatedly merges the most frequent pair of adjacent
tokens into a new token, and records the merge. Encoding replays the merges: within each word it
merges, one at a time, the adjacent pair that was learnt earliest (the leftmost if it occurs twice),
until no learnt pair is left. Words come from GPT-2's pattern (:data:`GPT2_PATTERN`), which keeps a
space with the word after it, so no merge crosses from one word into the next.

This is the algorithm of Hugging Face ``tokenizers``' ``BPE`` model behind its ``ByteLevel``
pre-tokenizer; ``tutorial_lib.hf.to_hf_tokenizer`` loads our merges into it, and the tests require
the same ids on the whole corpus and on hostile text.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import regex  # the `regex` module: Unicode classes (\p{L}) that the standard `re` lacks

# GPT-2's pre-tokenizer (Radford et al. 2019): English contractions, a word of letters or of digits
# with the space before it, a run of other symbols, and whitespace (a run of spaces keeps its last
# space for the next word).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_WORDS = regex.compile(GPT2_PATTERN)


def words(text: str) -> list[bytes]:
    """The pre-tokens of ``text`` under :data:`GPT2_PATTERN`, as UTF-8 bytes; they join back to it."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return [w.encode("utf-8") for w in _WORDS.findall(text)]


class BPETokenizer:
    """A byte-level BPE: ``merges`` is the list of learnt pairs of token ids, in the order learnt.

    Token ids 0..255 are the single bytes; a merge (a, b) yields the token whose bytes are
    a's followed by b's (a new id, or an existing one if those bytes are already a token).
    ``encode(text)`` -> ids, ``decode(ids)`` -> text, and ``decode(encode(text)) == text``
    for every str."""

    def __init__(self, merges: Sequence[tuple[int, int]] = ()) -> None:
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]  # id -> its bytes
        self._ids: dict[bytes, int] = {v: i for i, v in enumerate(self.vocab)}  # bytes -> id
        self.merges: list[tuple[int, int]] = []
        self._merged: dict[tuple[int, int], tuple[int, int]] = {}  # pair -> (rank, new id)
        self._cache: dict[bytes, list[int]] = {}  # word -> its ids
        for pair in merges:
            self._learn(tuple(pair))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int, trace: list | None = None) -> BPETokenizer:
        """Learn merges on ``text`` until the vocabulary has ``vocab_size`` tokens (>= 256), or no
        pair occurs twice. Each step merges the most frequent adjacent pair within words (ties: the
        smaller pair of ids). If ``trace`` is a list, (merged bytes, count) is appended per merge."""
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(f"vocab_size must be an integer >= 256 (the single bytes), got {vocab_size!r}")
        counted = Counter(words(text))
        seqs = [list(w) for w in counted]  # each distinct word as a list of token ids
        freq = list(counted.values())
        pairs: Counter[tuple[int, int]] = Counter()  # pair -> occurrences in the text
        where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> words holding it
        for i, s in enumerate(seqs):
            for p in zip(s, s[1:]):
                pairs[p] += freq[i]
                where[p].add(i)
        heap = [(-n, p) for p, n in pairs.items()]  # most frequent first; stale entries are skipped
        heapq.heapify(heap)
        tok = cls()
        while tok.vocab_size < vocab_size and heap:
            n, best = heapq.heappop(heap)
            if -n != pairs[best]:  # counted before a merge changed it: a newer entry holds its count
                continue
            if -n < 2:  # the most frequent pair occurs once: nothing is left to learn
                break
            tok._learn(best)
            new = tok._merged[best][1]
            if trace is not None:
                trace.append((tok.vocab[new], -n))
            changed: Counter[tuple[int, int]] = Counter()
            for i in where.pop(best):
                s, f = seqs[i], freq[i]
                for p in zip(s, s[1:]):
                    changed[p] -= f
                seqs[i] = s = _merge_all(s, best, new)
                for p in zip(s, s[1:]):
                    changed[p] += f
                    where[p].add(i)
            for p, d in changed.items():
                if d:
                    pairs[p] += d
                    if pairs[p] > 0:
                        heapq.heappush(heap, (-pairs[p], p))
        return tok

    def _learn(self, pair: tuple[int, int]) -> None:
        """Append one merge (the step of training, and of building from a list of merges)."""
        if len(pair) != 2 or not all(isinstance(t, int) and 0 <= t < self.vocab_size for t in pair):
            raise ValueError(f"merge {len(self.merges)} {pair!r} must be two ids of tokens already in the "
                             f"vocabulary of {self.vocab_size}")
        if pair in self._merged:
            raise ValueError(f"merge {len(self.merges)} {pair!r} is learnt twice")
        new = self.vocab[pair[0]] + self.vocab[pair[1]]
        if new not in self._ids:
            self._ids[new] = self.vocab_size
            self.vocab.append(new)
        self._merged[pair] = (len(self.merges), self._ids[new])
        self.merges.append(pair)
        self._cache.clear()

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """The tokenizer of the first merges only, up to ``vocab_size`` tokens: where training
        would have stopped with that budget."""
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(f"vocab_size must be an integer >= 256, got {vocab_size!r}")
        out = BPETokenizer()
        for pair in self.merges:
            if out.vocab_size >= vocab_size:
                break
            out._learn(pair)
        return out

    def _encode_word(self, word: bytes) -> list[int]:
        if word not in self._cache:
            ids = list(word)
            while len(ids) > 1:  # merge the earliest-learnt adjacent pair, leftmost first
                rank, i = min((self._merged.get(p, (len(self.merges), 0))[0], i)
                              for i, p in enumerate(zip(ids, ids[1:])))
                if rank == len(self.merges):
                    break
                ids[i:i + 2] = [self._merged[(ids[i], ids[i + 1])][1]]
            self._cache[word] = ids
        return self._cache[word]

    def encode(self, text: str) -> list[int]:
        """``text`` -> token ids (each < ``vocab_size``)."""
        return [t for w in words(text) for t in self._encode_word(w)]

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> text. Ids that end inside a multi-byte character decode to U+FFFD."""
        out = bytearray()
        for position, i in enumerate(ids):
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.vocab_size:
                raise ValueError(f"ids[{position}] = {i!r} is not a token id in [0, {self.vocab_size})")
            out += self.vocab[i]
        return out.decode("utf-8", errors="replace")

    def token_str(self, i: int) -> str:
        """A token, printable: its bytes as text where they are UTF-8, else as escapes."""
        return self.vocab[i].decode("utf-8", errors="backslashreplace")


def _merge_all(s: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """``s`` with every occurrence of ``pair`` (left to right, not overlapping) replaced by ``new``."""
    out, i = [], 0
    while i < len(s):
        if i + 1 < len(s) and (s[i], s[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(s[i])
            i += 1
    return out


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (what byte-level vocabularies store as text):
    printable Latin-1 bytes stand for themselves, the other 68 map to chr(256 + k)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return dict(sorted(table.items()))
