"""Character n-gram language models with add-alpha smoothing.

Introduced in chapter 1 (seed §2: finite-order Markov models). A model of order n predicts
the next token from the previous n - 1 tokens only:

    p(x_t | x_{t-n+1..t-1}) = (count(context, x_t) + alpha) / (count(context) + alpha * V)

where the counts come from the training ids. An unseen context has count 0 everywhere,
so it gets the uniform distribution 1/V. Order 1 is the unigram model (empty context).

Counting is done with NumPy: each context of n - 1 ids is written as one 64-bit unsigned
integer in base V (like the digits of a number), so "count the n-grams" becomes ``np.unique``
on an array of integers and "look one up" becomes ``np.searchsorted`` in the sorted unique
keys. While V ** n < 2 ** 64 the code is exact. For longer windows the arithmetic wraps around
modulo 2 ** 64, which turns the code into a hash: two different contexts then share a code
with a probability of about N ** 2 / 2 ** 64 for N distinct contexts (below 1e-7 here).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch

from tutorial_lib import utils

__all__ = ["NGramModel", "KneserNeyModel", "evaluate_orders", "DEFAULT_ALPHA"]

# The default pseudo-count. On the book's corpus (V = 94) alpha = 0.03 gave the lowest
# validation cross-entropy of the values tried (0.003 .. 1), at order 4.
DEFAULT_ALPHA = 0.03


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_positive_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < math.inf


def _count_in(keys: np.ndarray, counts: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each query, its count if it is one of the sorted ``keys``, else 0."""
    idx = np.searchsorted(keys, queries)  # position where each query would be inserted
    idx = np.minimum(idx, len(keys) - 1)
    found = keys[idx] == queries
    return np.where(found, counts[idx], 0)


class NGramModel:
    """A finite-order Markov model over token ids with add-alpha (Lidstone) smoothing.

    Usage: ``NGramModel(order=3, vocab_size=V).fit(train_ids).cross_entropy(val_ids)``.

    Introduced in chapter 1.
    """

    def __init__(self, order: int, vocab_size: int, alpha: float = DEFAULT_ALPHA) -> None:
        """Create an empty (unfitted) model.

        Args:
            order: n, the number of tokens in an n-gram (context of n - 1 plus the next one); >= 1.
            vocab_size: V, ids lie in [0, V); >= 1.
            alpha: the pseudo-count added to every (context, next) pair; > 0.
        """
        if not _is_int(order) or order < 1:
            raise ValueError(f"order must be an int >= 1, got {order!r}")
        if not _is_int(vocab_size) or vocab_size < 1:
            raise ValueError(f"vocab_size must be an int >= 1, got {vocab_size!r}")
        if not _is_positive_number(alpha):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
        self.order = int(order)
        self.vocab_size = int(vocab_size)
        self.alpha = float(alpha)
        self._ctx_keys: np.ndarray | None = None  # sorted distinct context codes
        self._ctx_counts: np.ndarray | None = None  # count(context) for each of them
        self._pair_keys: np.ndarray | None = None  # sorted distinct codes of context * V + next
        self._pair_counts: np.ndarray | None = None  # count(context, next) for each of them

    def __repr__(self) -> str:
        seen = f"contexts={self.num_contexts_seen}" if self._ctx_keys is not None else "unfitted"
        return (
            f"NGramModel(order={self.order}, vocab_size={self.vocab_size}, "
            f"alpha={self.alpha}, {seen})"
        )

    # ------------------------------------------------------------------ helpers
    def _as_ids(self, ids: object, name: str, min_len: int) -> np.ndarray:
        """Check ``ids`` and return them as a 1-D int64 NumPy array."""
        if isinstance(ids, torch.Tensor):
            ids = ids.detach().cpu().numpy()
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D with shape (T,), got shape {tuple(arr.shape)}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must contain integers, got dtype {arr.dtype}")
        if arr.size < min_len:
            raise ValueError(
                f"{name} must have at least {min_len} tokens for order {self.order}, got {arr.size}"
            )
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(
                f"{name} must lie in [0, {self.vocab_size}), "
                f"got values in [{arr.min()}, {arr.max()}]"
            )
        return arr

    def _contexts(self, arr: np.ndarray) -> np.ndarray:
        """Code of the context before each position t = n-1 .. T-1, shape (T - n + 1,)."""
        n, V = self.order, self.vocab_size
        codes = np.zeros(arr.size - n + 1, dtype=np.uint64)
        for j in range(n - 1):  # base-V digits, oldest token first (wraps modulo 2**64)
            codes = codes * np.uint64(V) + arr[j : arr.size - n + 1 + j].astype(np.uint64)
        return codes

    def _pairs(self, ctx: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Code of (context, next token): one more base-V digit, shape like ``ctx``."""
        return ctx * np.uint64(self.vocab_size) + nxt.astype(np.uint64)

    def _check_fitted(self) -> None:
        if self._ctx_keys is None:
            raise RuntimeError("this NGramModel is not fitted yet: call fit(train_ids) first")

    # ------------------------------------------------------------------ training
    def fit(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> NGramModel:
        """Count every context and every (context, next token) pair in ``ids``.

        Args:
            ids: training ids, shape (T,), ints in [0, V), with T >= order.

        Returns:
            The model itself (fitting again replaces the counts).

        Introduced in chapter 1.
        """
        arr = self._as_ids(ids, "ids", min_len=self.order)
        ctx = self._contexts(arr)  # (T - n + 1,)
        pairs = self._pairs(ctx, arr[self.order - 1 :])  # (T - n + 1,)
        self._ctx_keys, self._ctx_counts = np.unique(ctx, return_counts=True)
        self._pair_keys, self._pair_counts = np.unique(pairs, return_counts=True)
        return self

    @property
    def num_contexts_seen(self) -> int:
        """Number of distinct contexts (of n - 1 tokens) in the training ids."""
        self._check_fitted()
        return int(self._ctx_keys.size)

    # ------------------------------------------------------------------ evaluation
    def log_probs(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Natural-log probability of each token given the n - 1 tokens before it.

        The first n - 1 tokens have no full context, so they are not scored.

        Args:
            ids: ids, shape (T,), with T >= order.

        Returns:
            ``log p(ids[t] | ids[t-n+1 .. t-1])`` for t = n-1 .. T-1, shape (T - n + 1,).

        Introduced in chapter 1.
        """
        self._check_fitted()
        arr = self._as_ids(ids, "ids", min_len=self.order)
        ctx = self._contexts(arr)
        pairs = self._pairs(ctx, arr[self.order - 1 :])
        c_pair = _count_in(self._pair_keys, self._pair_counts, pairs)  # count(context, x_t)
        c_ctx = _count_in(self._ctx_keys, self._ctx_counts, ctx)  # count(context)
        return np.log(c_pair + self.alpha) - np.log(c_ctx + self.alpha * self.vocab_size)

    def cross_entropy(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> float:
        """Mean negative log-likelihood, in nats per token, over the scored positions of ``ids``."""
        return float(-self.log_probs(ids).mean())

    def perplexity(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> float:
        """``exp(cross_entropy(ids))``: the effective number of equally likely next tokens."""
        return math.exp(self.cross_entropy(ids))

    def coverage(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> float:
        """Fraction of scored positions of ``ids`` whose context appeared in training.

        High orders see few of their possible contexts, so on new text coverage drops and
        the model falls back to the uniform 1/V ever more often: the sparsity trade-off.
        """
        self._check_fitted()
        ctx = self._contexts(self._as_ids(ids, "ids", min_len=self.order))
        return float((_count_in(self._ctx_keys, self._ctx_counts, ctx) > 0).mean())

    def context_count(self, context: Sequence[int] | np.ndarray | torch.Tensor) -> int:
        """How often the last n - 1 tokens of ``context`` occurred as a context in training.

        Zero means the model has never seen this context and predicts the uniform 1/V.
        Introduced in chapter 1.
        """
        self._check_fitted()
        k = self.order - 1
        tokens = self._as_context(context)
        window = np.append(tokens[tokens.size - k :], 0)  # the context plus a slot for the next token
        ctx = self._contexts(window)  # (1,)
        return int(_count_in(self._ctx_keys, self._ctx_counts, ctx)[0])

    # ------------------------------------------------------------------ generation
    def next_distribution(self, context: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Probabilities of the next token given the last n - 1 tokens of ``context``.

        Args:
            context: ids, at least n - 1 of them (only the last n - 1 are used).

        Returns:
            Shape (V,), non-negative, summing to 1.

        Introduced in chapter 1.
        """
        self._check_fitted()
        return self._distribution(self._as_context(context).tolist())

    def _as_context(self, context: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Check a prompt: 1-D ids in [0, V), at least n - 1 of them."""
        return self._as_ids(context, "context", min_len=self.order - 1)

    def _distribution(self, tokens: list[int]) -> np.ndarray:
        """The add-alpha formula for the context made of the last n - 1 ``tokens``, shape (V,)."""
        V, k = self.vocab_size, self.order - 1
        window = np.array(list(tokens[len(tokens) - k :]) + [0], dtype=np.int64)  # context + a slot
        ctx = self._contexts(window)  # (1,): the code of the context, exactly as in fit()
        pairs = self._pairs(np.repeat(ctx, V), np.arange(V))  # (V,): the context followed by each token
        c_ctx = _count_in(self._ctx_keys, self._ctx_counts, ctx)[0]  # count(context)
        c_pair = _count_in(self._pair_keys, self._pair_counts, pairs)  # (V,) count(context, x)
        return (c_pair + self.alpha) / (c_ctx + self.alpha * V)

    def sample(
        self,
        context: Sequence[int] | np.ndarray | torch.Tensor,
        length: int,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
    ) -> list[int]:
        """Generate ``length`` new tokens, each drawn given the tokens before it.

        Args:
            context: the prompt ids, at least n - 1 of them.
            length: how many new tokens to generate, >= 0.
            generator: a ``torch.Generator`` to draw from; or
            seed: an int seed for a fresh generator. Give at most one of the two; with
                neither, a fresh generator with a random seed is used. Global random
                state is never read or changed.
            temperature: T > 0; probabilities become p ** (1/T), renormalised. T < 1
                sharpens (T -> 0 is argmax), T > 1 flattens.

        Returns:
            The ``length`` new ids (the prompt is not included). Once a sample wanders into
            a context never seen in training, the next token is uniform (1/V), which can
            start a run of noise; a temperature below 1 makes that rarer.

        Introduced in chapter 1.
        """
        self._check_fitted()
        if generator is not None and seed is not None:
            raise ValueError("give either generator or seed, not both")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if not _is_int(length) or length < 0:
            raise ValueError(f"length must be an int >= 0, got {length!r}")
        if not _is_positive_number(temperature):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if generator is None:
            generator = torch.Generator()
            if seed is None:
                generator.seed()  # a non-deterministic seed for this generator only
            elif not _is_int(seed) or seed < 0:
                raise ValueError(f"seed must be a non-negative int, got {seed!r}")
            else:
                generator.manual_seed(utils.shifted(seed))
        tokens = self._as_context(context).tolist()
        new: list[int] = []
        for _ in range(int(length)):
            p = self._distribution(tokens)  # (V,)
            # p ** (1/T) computed in log space so that tiny T does not underflow to all zeros.
            logits = np.log(p) / temperature
            w = np.exp(logits - logits.max())
            nxt = int(torch.multinomial(torch.from_numpy(w / w.sum()), 1, generator=generator))
            tokens.append(nxt)
            new.append(nxt)
        return new


def evaluate_orders(
    train_ids: Sequence[int] | np.ndarray | torch.Tensor,
    val_ids: Sequence[int] | np.ndarray | torch.Tensor,
    vocab_size: int,
    orders: Iterable[int] = range(1, 7),
    alpha: float = DEFAULT_ALPHA,
) -> list[dict]:
    """Fit one n-gram model per order and measure it on training and validation ids.

    Args:
        train_ids: training ids, shape (N_train,).
        val_ids: validation ids, shape (N_val,).
        vocab_size: V.
        orders: the orders n to try.
        alpha: the add-alpha pseudo-count.

    Returns:
        One dict per order with keys ``order``, ``train_ce`` and ``val_ce`` (nats/token),
        ``val_ppl``, ``coverage`` (of the validation contexts) and ``contexts`` (distinct
        training contexts).

    Introduced in chapter 1.
    """
    rows = []
    for n in orders:
        model = NGramModel(n, vocab_size, alpha).fit(train_ids)
        val_ce = model.cross_entropy(val_ids)
        rows.append(
            {
                "order": int(n),
                "train_ce": model.cross_entropy(train_ids),
                "val_ce": val_ce,
                "val_ppl": math.exp(val_ce),
                "coverage": model.coverage(val_ids),
                "contexts": model.num_contexts_seen,
            }
        )
    return rows


class KneserNeyModel:
    """An interpolated Kneser-Ney n-gram model: the strong counting baseline.

    Add-alpha smoothing gives every unseen continuation the same small share. Kneser-Ney
    (Kneser and Ney 1995; Chen and Goodman 1999, whose interpolated form this is) does two
    things better. It subtracts a fixed discount D from every count seen, and gives what it
    took to the next shorter context (backing off to a window of n - 2 tokens, and so on down
    to no context, then to 1/V):

        p(x | h) = max(c(h, x) - D, 0) / c(h)  +  D * N1+(h, .) / c(h) * p(x | h')

    where h' is h without its oldest token, c(h) is the sum of c(h, x) over x, and N1+(h, .)
    the number of different tokens seen after h. A context never seen passes everything to
    h'. And below the top order the count c(h', x) is not how often h' x occurred but in how
    many different contexts (the number of distinct tokens seen just before h' x): a token
    that follows many contexts is a good guess after a new one. D = n1 / (n1 + 2 n2) per order,
    from the numbers of n-grams counted once (n1) and twice (n2).

    Usage: ``KneserNeyModel(order=6, vocab_size=V).fit(train_ids).cross_entropy(val_ids)``.
    Codes of long windows wrap around modulo 2 ** 64 as in :class:`NGramModel`.

    Introduced in chapter 1.
    """

    def __init__(self, order: int, vocab_size: int) -> None:
        """Create an empty (unfitted) model of order n >= 1 over ids in [0, vocab_size)."""
        self._n = NGramModel(order, vocab_size)  # for its checks and its base-V codes
        self.order, self.vocab_size = self._n.order, self._n.vocab_size
        # per order k = 1..n: sorted gram codes, their counts, sorted context codes,
        # each context's total count c(h) and number of distinct continuations N1+(h, .), and D
        self._tables: dict[int, tuple] | None = None

    def __repr__(self) -> str:
        return f"KneserNeyModel(order={self.order}, vocab_size={self.vocab_size})"

    def _codes(self, arr: np.ndarray, k: int) -> np.ndarray:
        """Code of the k tokens ending at each position t = k-1 .. T-1, shape (T - k + 1,)."""
        codes = np.zeros(arr.size - k + 1, dtype=np.uint64)
        for j in range(k):
            codes = codes * np.uint64(self.vocab_size) + arr[j : arr.size - k + 1 + j].astype(
                np.uint64
            )
        return codes

    def fit(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> KneserNeyModel:
        """Count, for every order k = 1 .. n, the k-grams of ``ids`` (shape (T,), T > order).

        Returns the model itself.
        """
        arr = self._n._as_ids(ids, "ids", min_len=self.order + 1)
        self._tables = {}
        for k in range(1, self.order + 1):
            grams = self._codes(arr, k)  # index i: the k-gram starting at position i
            contexts = self._codes(arr, k - 1)  # index i: its first k - 1 tokens
            if k == self.order:  # the top order counts occurrences
                keys, first, counts = np.unique(grams, return_index=True, return_counts=True)
                ctx = contexts[first]
            else:  # lower orders count distinct tokens seen just before the k-gram
                _, longer = np.unique(self._codes(arr, k + 1), return_index=True)
                keys, first, counts = np.unique(
                    grams[longer + 1], return_index=True, return_counts=True
                )
                ctx = contexts[longer + 1][first]
            n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
            # with no n-gram seen once the formula gives D = 0, which would leave nothing
            # for unseen tokens (tiny texts); take 0.5 then
            discount = n1 / (n1 + 2 * n2) if n1 else 0.5
            ctx_keys, which = np.unique(ctx, return_inverse=True)
            totals = np.bincount(which, weights=counts)  # c(h)
            kinds = np.bincount(which)  # N1+(h, .)
            self._tables[k] = (keys, counts, ctx_keys, totals, kinds, float(discount))
        return self

    @property
    def discounts(self) -> list[float]:
        """The discount D of each order k = 1 .. n."""
        if self._tables is None:
            raise RuntimeError("this KneserNeyModel is not fitted yet: call fit(train_ids) first")
        return [self._tables[k][5] for k in range(1, self.order + 1)]

    def log_probs(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
        """``log p(ids[t] | ids[t-n+1 .. t-1])`` for t = n-1 .. T-1, shape (T - n + 1,).

        The same positions as :meth:`NGramModel.log_probs` scores, so the two compare.
        """
        self.discounts  # raises if not fitted
        arr = self._n._as_ids(ids, "ids", min_len=self.order)
        n = self.order
        p = np.full(arr.size - n + 1, 1.0 / self.vocab_size)  # below order 1: uniform
        for k in range(1, n + 1):  # from no context up to the full window
            keys, counts, ctx_keys, totals, kinds, discount = self._tables[k]
            grams = self._codes(arr, k)[n - k :]  # the k-gram ending at each scored position
            contexts = self._codes(arr, k - 1)[n - k : n - k + grams.size]
            c = _count_in(keys, counts, grams)
            total = _count_in(ctx_keys, totals, contexts)
            kind = _count_in(ctx_keys, kinds, contexts)
            seen = total > 0
            total = np.where(seen, total, 1)
            p = np.where(seen, (np.maximum(c - discount, 0) + discount * kind * p) / total, p)
        return np.log(p)

    def cross_entropy(self, ids: Sequence[int] | np.ndarray | torch.Tensor) -> float:
        """Mean negative log-likelihood, in nats per token, over the scored positions of ``ids``."""
        return float(-self.log_probs(ids).mean())

    def next_distribution(self, context: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
        """Probabilities of the next token given the last n - 1 tokens of ``context``, shape (V,)."""
        tokens = self._n._as_ids(context, "context", min_len=self.order - 1)
        window = tokens[tokens.size - (self.order - 1) :] if self.order > 1 else tokens[:0]
        rows = np.concatenate([np.tile(window, (self.vocab_size, 1)),
                               np.arange(self.vocab_size)[:, None]], axis=1)
        return np.exp(np.array([self.log_probs(row)[0] for row in rows]))
