"""The book's corpus, a character tokenizer, train/validation splits and random batches.

Introduced in chapter 1. The corpus is the Python language reference (the topics that
``help()`` shows, ``pydoc_data.topics``), frozen into the package from Python 3.11.7 with its
licence (``tutorial_lib/corpus/``): the text that ships inside each CPython changes with every
release, and a book whose models are trained on one text must read that same text everywhere,
on a laptop, on Colab and on CI. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "load_corpus",
    "normalise",
    "corpus_fingerprint",
    "CorpusError",
    "CORPUS_DIR",
    "CharTokenizer",
    "train_val_split",
    "get_batch",
    "CharData",
    "load_char_data",
    "CODE_MODULES",
    "load_code",
]

CORPUS_DIR = Path(__file__).parent / "corpus"  # the frozen texts, their manifest and licence
REFERENCE_FILE = "python_reference.txt"
FREEZE = "python -m tutorial_lib.tools.freeze"


class CorpusError(RuntimeError):
    """A frozen text of the package is missing or is not the text its manifest records."""


# Typographic characters NFKD cannot turn into ASCII, mapped to their plain equivalents
# so that "don’t" becomes "don't" rather than "dont".
_TYPOGRAPHIC = {
    "\u2018": "'",  # left single quote
    "\u2019": "'",  # right single quote, also the apostrophe
    "\u201c": '"',  # left double quote
    "\u201d": '"',  # right double quote
    "\u2013": "-",  # en dash
    "\u2014": "--",  # em dash
}


def _to_ascii(ch: str) -> str:
    """Return ``ch`` as printable ASCII (possibly several characters, possibly none)."""
    if ch in _TYPOGRAPHIC:
        return _TYPOGRAPHIC[ch]
    decomposed = unicodedata.normalize("NFKD", ch)  # "é" -> "e" + accent, "…" -> "..."
    return "".join(c for c in decomposed if 32 <= ord(c) < 127)


def normalise(text: str) -> str:
    """How the frozen texts were made printable ASCII plus ``"\\n"``: ``"\\r\\n"`` becomes
    ``"\\n"``, tabs become four spaces, other characters are turned into ASCII where Unicode
    (NFKD) or a small table of quotes and dashes allow, and dropped otherwise (chapter 1)."""
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    return "".join(c if (32 <= ord(c) < 127 or c == "\n") else _to_ascii(c) for c in text)


@functools.lru_cache(maxsize=1)
def _manifest() -> dict:
    path = CORPUS_DIR / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{path} is missing or unreadable ({exc}); reinstall tutorial_lib") from None


@functools.lru_cache(maxsize=None)
def _frozen(name: str) -> str:
    """The frozen text ``corpus/<name>``, after checking it against its fingerprint."""
    path = CORPUS_DIR / name
    expected = _manifest()["fingerprints"].get(name)
    if expected is None:
        raise CorpusError(f"{path.name} is not one of the package's frozen texts ({CORPUS_DIR / 'manifest.json'})")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"{path} is missing ({exc.strerror}); reinstall tutorial_lib") from None
    if corpus_fingerprint(text) != expected:
        raise CorpusError(f"{path} has fingerprint {corpus_fingerprint(text)}, not the {expected} that "
                          f"manifest.json records: the file was changed; reinstall tutorial_lib, or, to "
                          f"freeze another text on purpose, run `{FREEZE} --force` and rebuild every shipped model")
    return text


def load_corpus() -> str:
    """Load the book's text corpus: the Python language reference, as frozen in the package.

    The text is ``pydoc_data.topics.topics`` of Python 3.11.7 (the reference topics that
    ``help()`` shows), joined in sorted-key order with blank lines between topics and
    normalised to printable ASCII plus ``"\\n"`` (:func:`normalise`): 465,185 characters. It is
    read from ``tutorial_lib/corpus/`` and checked against the fingerprint in its manifest, so
    it is the same text on every Python; the result is cached.

    Returns:
        The corpus as one string.

    Raises:
        CorpusError: if the file is missing or differs from the recorded text.

    Introduced in chapter 1.
    """
    return _frozen(REFERENCE_FILE)


def corpus_fingerprint(text: str) -> str:
    """A short fingerprint of a text: the first 16 hex digits of its UTF-8 SHA-256.

    Args:
        text: any string, typically ``load_corpus()``.

    Returns:
        16 hexadecimal characters; equal texts give equal fingerprints.

    Introduced in chapter 1.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class CharTokenizer:
    """Map each character of a fixed alphabet to an integer id in [0, V) and back.

    The ids follow the sorted order of the characters, so the tokenizer is determined by
    its set of characters alone.

    Introduced in chapter 1.
    """

    def __init__(self, chars: Iterable[str]) -> None:
        """Build a tokenizer from characters (duplicates are removed, order is sorted).

        Args:
            chars: an iterable of single characters, e.g. a string or a list of 1-char strings.
        """
        chars = list(chars)
        for i, c in enumerate(chars):
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"chars must contain single characters, element {i} is {c!r}")
        if not chars:
            raise ValueError("chars must contain at least one character, got an empty iterable")
        self._chars: list[str] = sorted(set(chars))
        self._stoi: dict[str, int] = {c: i for i, c in enumerate(self._chars)}
        self._itos = np.array(self._chars)  # id -> character, for fast decoding

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """Build a tokenizer whose alphabet is the set of characters in ``text``.

        Args:
            text: a non-empty string.

        Returns:
            A ``CharTokenizer`` with V = number of distinct characters in ``text``.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must be a non-empty string")
        return cls(text)

    @property
    def vocab_size(self) -> int:
        """V, the number of distinct characters."""
        return len(self._chars)

    @property
    def chars(self) -> list[str]:
        """The alphabet in id order: ``chars[i]`` is the character with id ``i``."""
        return list(self._chars)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        preview = "".join(self._chars[:20])
        more = "..." if self.vocab_size > 20 else ""
        return f"CharTokenizer(vocab_size={self.vocab_size}, chars={preview!r}{more})"

    def encode(self, text: str) -> list[int]:
        """Turn a string into a list of ids, one per character.

        Args:
            text: a string made of characters from the alphabet.

        Returns:
            A list of ``len(text)`` ints in [0, V).

        Raises:
            ValueError: naming the first unknown character and its position.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        stoi = self._stoi
        try:
            return [stoi[c] for c in text]
        except KeyError:
            pos = next(i for i, c in enumerate(text) if c not in stoi)
            raise ValueError(
                f"text contains the character {text[pos]!r} at position {pos}, "
                "which is not in the tokenizer's alphabet"
            ) from None

    def encode_tensor(self, text: str) -> Tensor:
        """Like ``encode`` but returns a ``torch.long`` tensor of shape (T,), T = len(text)."""
        return torch.tensor(self.encode(text), dtype=torch.long)

    def decode(self, ids: Sequence[int] | Tensor | np.ndarray) -> str:
        """Turn ids back into a string.

        Args:
            ids: a list of ints, a 1-D integer tensor or a 1-D integer NumPy array, shape (T,).

        Returns:
            The string of T characters.

        Raises:
            ValueError: if ``ids`` is not 1-D or an id is outside [0, V).
        """
        if isinstance(ids, Tensor):
            ids = ids.detach().cpu().numpy()
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError(f"ids must be 1-D with shape (T,), got shape {tuple(arr.shape)}")
        if arr.size == 0:
            return ""
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= self.vocab_size)
        if bad.any():
            pos = int(np.argmax(bad))
            raise ValueError(
                f"ids must lie in [0, {self.vocab_size}), got {int(arr[pos])} at position {pos}"
            )
        return "".join(self._itos[arr].tolist())


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def train_val_split(ids: Tensor, val_fraction: float = 0.1) -> tuple[Tensor, Tensor]:
    """Split a token sequence into a training part and a validation part, contiguously.

    The first (1 - val_fraction) of the tokens train, the rest validate; no shuffling, so
    the validation text is unseen text rather than interleaved with training windows.

    Args:
        ids: token ids, shape (N,).
        val_fraction: fraction for validation, strictly between 0 and 1.

    Returns:
        ``(train, val)`` with shapes (N - N_val,) and (N_val,), N_val = round(N * val_fraction).

    Introduced in chapter 1.
    """
    if not isinstance(ids, Tensor):
        raise TypeError(f"ids must be a torch.Tensor, got {type(ids).__name__}")
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D with shape (N,), got shape {tuple(ids.shape)}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)):
        raise TypeError(f"val_fraction must be a float, got {type(val_fraction).__name__}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction}")
    n = ids.numel()
    n_val = int(round(n * val_fraction))
    n_train = n - n_val
    if n_train < 2 or n_val < 2:
        raise ValueError(
            f"ids has {n} elements: too few for val_fraction={val_fraction} "
            f"(train would get {n_train}, val {n_val}; each needs at least 2)"
        )
    return ids[:n_train], ids[n_train:]


def get_batch(
    data: Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample a batch of random windows for next-token prediction.

    Each row of ``x`` is a window ``data[i : i + T]`` at a random start ``i``; the matching
    row of ``y`` is the window shifted by one, ``data[i + 1 : i + T + 1]``, so ``y[b, t]`` is
    the token that follows ``x[b, t]``.

    Args:
        data: token ids, shape (N,), dtype ``torch.long``, with N > block_size.
        batch_size: B, the number of windows.
        block_size: T, the window length.
        generator: optional ``torch.Generator`` (on ``data``'s device) for reproducible
            batches; without it, torch's default generator is used (seed it with ``set_seed``).
        device: optional device to move ``x`` and ``y`` to.

    Returns:
        ``(x, y)``, both of shape (B, T) and dtype ``torch.long``.

    Introduced in chapter 1.
    """
    if not isinstance(data, Tensor):
        raise TypeError(f"data must be a torch.Tensor, got {type(data).__name__}")
    if data.dim() != 1 or data.dtype != torch.long:
        raise ValueError(
            f"data must be a 1-D torch.long tensor of shape (N,), "
            f"got shape {tuple(data.shape)} and dtype {data.dtype}"
        )
    B = _check_positive_int(batch_size, "batch_size")
    T = _check_positive_int(block_size, "block_size")
    if data.numel() <= T:
        raise ValueError(f"data must be longer than block_size={T}, got {data.numel()} tokens")
    gen_device = generator.device if generator is not None else data.device
    starts = torch.randint(data.numel() - T, (B,), generator=generator, device=gen_device)  # (B,)
    idx = starts.to(data.device)[:, None] + torch.arange(T, device=data.device)  # (B, T)
    x, y = data[idx], data[idx + 1]  # (B, T), (B, T)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


@dataclass
class CharData:
    """The corpus ready for character-level modelling. Introduced in chapter 1."""

    text: str  # the whole corpus, as returned by load_corpus()
    tokenizer: CharTokenizer  # built from every character of the whole corpus
    train: Tensor  # training ids, shape (N_train,), dtype torch.long: the first part of the text
    val: Tensor  # validation ids, shape (N_val,), dtype torch.long: the final part of the text


def load_char_data(val_fraction: float = 0.1) -> CharData:
    """Load the corpus, build its character tokenizer and split the ids into train and val.

    Args:
        val_fraction: fraction of the corpus (the end of it) kept for validation.

    Returns:
        A ``CharData`` with the text, the tokenizer, and 1-D long tensors ``train`` and ``val``.

    Introduced in chapter 1.
    """
    text = load_corpus()
    tokenizer = CharTokenizer.from_text(text)
    train, val = train_val_split(tokenizer.encode_tensor(text), val_fraction)
    return CharData(text=text, tokenizer=tokenizer, train=train, val=val)


# Pure-Python modules of the standard library: a second domain of text, source code, for
# chapter 9 to fine-tune on. Their source is frozen with the corpus (Python 3.11.7).
CODE_MODULES = ("argparse", "dataclasses", "fractions", "functools", "heapq", "inspect", "textwrap",
                "string", "shlex", "pathlib", "statistics", "difflib")


def load_code(tokenizer: CharTokenizer, modules: Sequence[str] = CODE_MODULES) -> str:
    """The source code of the standard-library ``modules``, in that order, as one text (chapter 9).

    Each file is Python 3.11.7's, normalised like :func:`load_corpus` and frozen in the package;
    every character outside ``tokenizer``'s alphabet is dropped (for the book's corpus: only ``$``
    and the backquote), so a model trained on the reference can read it. 596,560 characters for
    ``CODE_MODULES``.
    """
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
    if isinstance(modules, str) or not modules:
        raise ValueError(f"modules must be a non-empty sequence of module names, got {modules!r}")
    unknown = [name for name in modules if name not in CODE_MODULES]
    if unknown:
        raise ValueError(f"modules: {unknown[0]!r} is not one of the frozen modules {CODE_MODULES}")
    texts = [_frozen(f"code/{name}.txt") for name in modules]
    return "\n\n".join("".join(c for c in text if c in tokenizer._stoi) for text in texts)
