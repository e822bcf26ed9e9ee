"""The recurrent neural network of the seed, eq. 2.1 (chapter 2).

    h_t = σ(W h_{t-1} + U x_t + b_h)                                     (2.1)
    o_t = V h_t + b_o,          h_0 = initialization (often zeros)

with x_t ∈ R^{d_x}, h_t ∈ R^{d_h}, o_t ∈ R^{d_o}, U (d_h, d_x), W (d_h, d_h), V (d_o, d_h),
b_h (d_h,), b_o (d_o,). Here V is the output matrix of eq. 2.1, not the vocabulary size.
d_x, d_h, d_o are widths (C in the package's shape symbols); the code keeps the seed's letters.

A batch holds B sequences, so x_t is a (B, d_x) matrix whose rows are the seed's column
vectors, and W h_{t-1} is computed as ``h_prev @ W.T``: (B, d_h) @ (d_h, d_h) -> (B, d_h).

- ``RNNCell``   one step of eq. 2.1
- ``RNN``       the step unrolled over t with a Python loop: the teaching version
- ``copy_from_torch`` / ``to_torch``  move weights to and from PyTorch's fused ``nn.RNN``
- ``CharRNN``   a character-level language model: embedding -> recurrence -> V, b_o
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from tutorial_lib.sampling import check_rule, sample_next
from tutorial_lib.utils import check_ids

__all__ = ["ACTIVATIONS", "RNNCell", "RNN", "copy_from_torch", "to_torch", "CharRNN"]


# σ of eq. 2.1, by name. PyTorch's nn.RNN offers only "tanh" and "relu".
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda z: z,
}


def _check_size(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_activation(name: object) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return name


def _check_tensor(x: object, name: str, ok: bool, expected: str) -> None:
    """TypeError unless ``x`` is a floating tensor; ValueError naming the shape unless ``ok``."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got {got}")
    if not ok:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")


def _check_state(h: object, name: str, B: int, d_h: int) -> None:
    ok = isinstance(h, Tensor) and h.shape == (B, d_h)
    _check_tensor(h, name, ok, f"(B, d_h) = ({B}, {d_h})")


class RNNCell(nn.Module):
    """One step of eq. 2.1, h_t = σ(W h_{t-1} + U x_t + b_h) (chapter 2).

    Parameters U (d_h, d_x), W (d_h, d_h), b_h (d_h,), initialised like ``nn.RNN``:
    uniform in [-1/sqrt(d_h), 1/sqrt(d_h)]. ``activation`` names σ in :data:`ACTIVATIONS`.
    """

    def __init__(self, input_size: int, hidden_size: int, activation: str = "tanh") -> None:
        super().__init__()
        self.input_size = _check_size(input_size, "input_size")  # d_x
        self.hidden_size = _check_size(hidden_size, "hidden_size")  # d_h
        self.activation = _check_activation(activation)  # the name of σ
        self.U = nn.Parameter(torch.empty(hidden_size, input_size))  # (d_h, d_x)
        self.W = nn.Parameter(torch.empty(hidden_size, hidden_size))  # (d_h, d_h)
        self.b_h = nn.Parameter(torch.empty(hidden_size))  # (d_h,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for p in (self.U, self.W, self.b_h):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x_t: Tensor, h_prev: Tensor) -> Tensor:
        """x_t (B, d_x) and h_prev = h_{t-1} (B, d_h) -> h_t (B, d_h)."""
        d_x = self.input_size
        ok = isinstance(x_t, Tensor) and x_t.ndim == 2 and x_t.shape[1] == d_x
        _check_tensor(x_t, "x_t", ok, f"(B, d_x) = (B, {d_x})")
        _check_state(h_prev, "h_prev", x_t.shape[0], self.hidden_size)
        z = (
            h_prev @ self.W.T  # (B, d_h) @ (d_h, d_h) -> (B, d_h): W h_{t-1}
            + x_t @ self.U.T  # (B, d_x) @ (d_x, d_h) -> (B, d_h): U x_t
            + self.b_h  # (d_h,), broadcast over B
        )
        return ACTIVATIONS[self.activation](z)  # h_t (B, d_h)


class RNN(nn.Module):
    """Eq. 2.1 unrolled over time with a Python loop: the teaching version (chapter 2).

    Holds ``cell`` (an :class:`RNNCell` with U, W, b_h) and, if ``output_size`` = d_o is
    given, the output layer: V (d_o, d_h) (the output matrix of eq. 2.1, not the vocabulary
    size) and b_o (d_o,). ``batch_first`` as in ``nn.RNN``: x is (B, T, d_x), not (T, B, d_x).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int | None = None,
                 activation: str = "tanh", batch_first: bool = False) -> None:
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size, activation)
        self.input_size, self.hidden_size = input_size, hidden_size  # d_x, d_h
        self.output_size = None if output_size is None else _check_size(output_size, "output_size")  # d_o
        self.batch_first = bool(batch_first)
        self.V = self.b_o = None  # no output layer unless output_size is given
        if output_size is not None:
            bound = 1 / math.sqrt(hidden_size)  # like nn.Linear(d_h, d_o)
            self.V = nn.Parameter(torch.empty(output_size, hidden_size).uniform_(-bound, bound))  # (d_o, d_h)
            self.b_o = nn.Parameter(torch.empty(output_size).uniform_(-bound, bound))  # (d_o,)

    U = property(lambda self: self.cell.U, doc="U (d_h, d_x), the cell's input matrix")
    W = property(lambda self: self.cell.W, doc="W (d_h, d_h), the cell's recurrent matrix")
    b_h = property(lambda self: self.cell.b_h, doc="b_h (d_h,), the cell's bias")

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """All hidden states of eq. 2.1 for a batch of sequences (chapter 2).

        x: (T, B, d_x), or (B, T, d_x) if batch_first; always 3-D (add a batch
        axis to a single sequence). h0: h_0 (B, d_h), default zeros (nn.RNN's h0
        is (1, B, d_h)). Returns (hs, h_T): h_1..h_T as (T, B, d_h), or
        (B, T, d_h) if batch_first, and h_T (B, d_h).
        """
        layout = "(B, T, d_x)" if self.batch_first else "(T, B, d_x)"
        d_x = self.input_size
        ok = (isinstance(x, Tensor) and x.ndim == 3 and x.shape[-1] == d_x
              and x.numel() > 0)
        _check_tensor(x, "x", ok, f"{layout} with d_x = {d_x} and B, T >= 1 (3-D, batched)")
        if self.batch_first:
            x = x.transpose(0, 1)  # (B, T, d_x) -> (T, B, d_x)
        T, B, _ = x.shape
        if h0 is None:
            h0 = x.new_zeros(B, self.hidden_size)  # h_0 = 0, (B, d_h)
        _check_state(h0, "h0", B, self.hidden_size)
        h, hs = h0, []
        for t in range(T):  # sequential: h_t needs h_{t-1}
            h = self.cell(x[t], h)  # (B, d_x), (B, d_h) -> (B, d_h)
            hs.append(h)
        hs = torch.stack(hs)  # T x (B, d_h) -> (T, B, d_h)
        if self.batch_first:
            hs = hs.transpose(0, 1)  # (T, B, d_h) -> (B, T, d_h)
        return hs, h

    def output(self, hs: Tensor) -> Tensor:
        """o_t = V h_t + b_o for every t (chapter 2): hs (..., d_h) -> (..., d_o)."""
        if self.V is None:
            raise RuntimeError("this RNN has no output layer V, b_o: create it with output_size=d_o")
        ok = isinstance(hs, Tensor) and hs.ndim >= 1 and hs.shape[-1] == self.hidden_size
        _check_tensor(hs, "hs", ok, f"(..., d_h) with d_h = {self.hidden_size}")
        return hs @ self.V.T + self.b_o  # (..., d_h) @ (d_h, d_o) + (d_o,) -> (..., d_o)


def copy_from_torch(rnn: RNN, torch_rnn: nn.RNN) -> RNN:
    """Copy the weights of a PyTorch ``nn.RNN`` into our ``rnn`` and return it (chapter 2).

    weight_ih_l0 -> U and weight_hh_l0 -> W. PyTorch computes
    σ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) with two biases (a cuDNN convention); they are
    only ever added, so eq. 2.1's single b_h = b_ih + b_hh gives the same h_t (and the
    gradient of b_h equals that of each of them). nn.RNN has no output layer: V, b_o are
    left as they are. ``torch_rnn`` must have one layer, one direction, and the same sizes,
    nonlinearity and batch_first as ``rnn``.
    """
    if not isinstance(rnn, RNN) or not isinstance(torch_rnn, nn.RNN):
        raise TypeError(f"expected (RNN, nn.RNN), got ({type(rnn).__name__}, {type(torch_rnn).__name__})")
    must_match = {"num_layers": 1, "bidirectional": False, "nonlinearity": rnn.cell.activation,
                  "batch_first": rnn.batch_first, "input_size": rnn.input_size, "hidden_size": rnn.hidden_size}
    for name, ours in must_match.items():
        if getattr(torch_rnn, name) != ours:
            raise ValueError(f"torch_rnn.{name} must be {ours!r} to match rnn, got {getattr(torch_rnn, name)!r}")
    for ours, theirs, shape in (("U", "weight_ih_l0", "(d_h, d_x)"), ("W", "weight_hh_l0", "(d_h, d_h)")):
        want, got = tuple(getattr(rnn, ours).shape), tuple(getattr(torch_rnn, theirs).shape)
        if got != want:
            raise ValueError(f"torch_rnn.{theirs} must have the shape of {ours} {shape} = {want}, got {got}")
    with torch.no_grad():
        rnn.U.copy_(torch_rnn.weight_ih_l0)  # (d_h, d_x)
        rnn.W.copy_(torch_rnn.weight_hh_l0)  # (d_h, d_h)
        rnn.b_h.copy_(torch_rnn.bias_ih_l0 + torch_rnn.bias_hh_l0 if torch_rnn.bias else 0)  # (d_h,)
    return rnn


def to_torch(rnn: RNN) -> nn.RNN:
    """A PyTorch ``nn.RNN`` computing the same h_t as ``rnn`` (chapter 2).

    U -> weight_ih_l0, W -> weight_hh_l0, b_h -> bias_ih_l0, and bias_hh_l0 = 0; same
    dtype, device and batch_first. Only for tanh and relu (all nn.RNN offers); the output
    layer V, b_o is not carried over (nn.RNN has none).
    """
    if not isinstance(rnn, RNN):
        raise TypeError(f"rnn must be a tutorial_lib.rnn.RNN, got {type(rnn).__name__}")
    if rnn.cell.activation not in ("tanh", "relu"):
        raise ValueError(f"rnn.activation must be 'tanh' or 'relu' for nn.RNN, got {rnn.cell.activation!r}")
    out = nn.RNN(rnn.input_size, rnn.hidden_size, nonlinearity=rnn.cell.activation,
                 batch_first=rnn.batch_first, device=rnn.U.device, dtype=rnn.U.dtype)
    with torch.no_grad():
        out.weight_ih_l0.copy_(rnn.U)
        out.weight_hh_l0.copy_(rnn.W)
        out.bias_ih_l0.copy_(rnn.b_h)
        out.bias_hh_l0.zero_()
    return out


class CharRNN(nn.Module):
    """A character-level language model built on eq. 2.1 (chapter 2).

    x_t = embedding of token t (C = embed_size), the recurrence gives h_t (d_h = hidden_size),
    and o_t = V h_t + b_o are the logits over the vocabulary (V here is the output matrix of
    eq. 2.1, (vocab_size, d_h), not the vocabulary size). ``fast=True`` runs the recurrence in
    PyTorch's fused ``nn.RNN`` (tanh or relu only), ``fast=False`` in our :class:`RNN`; both
    expose U, W, b_h, V, b_o (in the fast one b_h = bias_ih_l0 + bias_hh_l0 is computed).
    Shape comments write ``vocab`` for the vocabulary size, since V names the matrix here.
    """

    def __init__(self, vocab_size: int, hidden_size: int = 256, embed_size: int = 64,
                 activation: str = "tanh", fast: bool = True) -> None:
        super().__init__()
        self.vocab_size = _check_size(vocab_size, "vocab_size")
        self.hidden_size = _check_size(hidden_size, "hidden_size")  # d_h
        self.embed_size = _check_size(embed_size, "embed_size")  # d_x
        self.activation, self.fast = _check_activation(activation), bool(fast)
        if self.fast and activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu' with fast=True (nn.RNN), got {activation!r}")
        self.embedding = nn.Embedding(vocab_size, embed_size)  # ids -> x_t
        self.rnn = (nn.RNN(embed_size, hidden_size, nonlinearity=activation, batch_first=True) if self.fast  # fused
                    else RNN(embed_size, hidden_size, activation=activation, batch_first=True))  # our loop over t
        bound = 1 / math.sqrt(hidden_size)  # like nn.Linear(d_h, vocab_size)
        self.V = nn.Parameter(torch.empty(vocab_size, hidden_size).uniform_(-bound, bound))  # (vocab, d_h)
        self.b_o = nn.Parameter(torch.empty(vocab_size).uniform_(-bound, bound))  # (vocab,)

    U = property(lambda self: self.rnn.weight_ih_l0 if self.fast else self.rnn.U, doc="U (d_h, d_x)")
    W = property(lambda self: self.rnn.weight_hh_l0 if self.fast else self.rnn.W, doc="W (d_h, d_h)")
    b_h = property(lambda self: self.rnn.bias_ih_l0 + self.rnn.bias_hh_l0 if self.fast else self.rnn.b_h,
                   doc="b_h (d_h,); computed as bias_ih_l0 + bias_hh_l0 when fast")

    def _recur(self, idx: Tensor, h0: Tensor | None) -> tuple[Tensor, Tensor]:
        """Token ids idx (B, T) -> (hs, h_T): h_1..h_T (B, T, d_h) and h_T (B, d_h)."""
        check_ids(idx, "idx", self.vocab_size)
        x = self.embedding(idx)  # (B, T) -> (B, T, d_x)
        if h0 is not None:
            _check_state(h0, "h0", idx.shape[0], self.hidden_size)
        if not self.fast:
            return self.rnn(x, h0)  # (B, T, d_h), (B, d_h)
        hs, h_T = self.rnn(x, None if h0 is None else h0.unsqueeze(0))  # h0 (B, d_h) -> (1, B, d_h)
        return hs, h_T.squeeze(0)  # (B, T, d_h), (1, B, d_h) -> (B, d_h)

    def hidden_states(self, idx: Tensor, h0: Tensor | None = None) -> Tensor:
        """h_1..h_T (B, T, d_h) for token ids idx (B, T): what the state carries (chapter 2)."""
        return self._recur(idx, h0)[0]

    def forward_with_state(self, idx: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """idx (B, T) -> (logits (B, T, vocab), h_T (B, d_h)); carry h_T into the next call."""
        hs, h_T = self._recur(idx, h0)  # (B, T, d_h), (B, d_h)
        return hs @ self.V.T + self.b_o, h_T  # (B, T, d_h) @ (d_h, vocab) -> (B, T, vocab)

    def forward(self, idx: Tensor, h0: Tensor | None = None) -> Tensor:
        """Next-token logits (B, T, vocab) for ids (B, T), as ``train.lm_loss`` expects (chapter 2)."""
        return self.forward_with_state(idx, h0)[0]

    @torch.no_grad()
    def generate(self, prompt: Tensor, length: int, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, *, top_p: float | None = None) -> Tensor:
        """Sample ``length`` new ids (length,) after ``prompt`` (T0,) long (chapter 2).

        Reads the prompt once, then steps one character at a time carrying h_t, so the cost is
        O(T0 + length). Each id is drawn by :func:`tutorial_lib.sampling.sample_next`.
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an integer >= 0, got {length!r}")
        check_rule(temperature, top_k, top_p, greedy_ok=False)  # before any step, so that length=0 rejects it too
        if not isinstance(prompt, Tensor) or prompt.dtype != torch.long or prompt.ndim != 1 or len(prompt) == 0:
            got = f"{prompt.dtype} {tuple(prompt.shape)}" if isinstance(prompt, Tensor) else type(prompt).__name__
            raise ValueError(f"prompt must be a non-empty torch.long tensor of ids (T0,), got {got}")
        logits, h = self.forward_with_state(prompt.unsqueeze(0))  # (1, T0) -> (1, T0, vocab), (1, d_h)
        new = []
        for _ in range(length):
            nxt = sample_next(logits[:, -1], temperature, top_k, top_p, generator)  # (1, vocab) -> (1,)
            new.append(nxt)
            logits, h = self.forward_with_state(nxt.unsqueeze(0), h)  # (1, 1) -> (1, 1, vocab), (1, d_h)
        return torch.cat(new) if new else prompt.new_empty(0)  # (length,)

    def load_state_from(self, other: CharRNN) -> CharRNN:
        """Copy all weights of ``other`` (fast or not) into this model and return it (chapter 2).

        Into a fast model, b_h goes to bias_ih_l0 and bias_hh_l0 becomes 0.
        """
        if not isinstance(other, CharRNN):
            raise TypeError(f"other must be a CharRNN, got {type(other).__name__}")
        for name in ("vocab_size", "hidden_size", "embed_size", "activation"):
            if getattr(other, name) != getattr(self, name):
                raise ValueError(f"other.{name} must be {getattr(self, name)!r}, got {getattr(other, name)!r}")
        with torch.no_grad():
            for name in ("U", "W", "V", "b_o"):
                getattr(self, name).copy_(getattr(other, name))
            self.embedding.weight.copy_(other.embedding.weight)
            (self.rnn.bias_ih_l0 if self.fast else self.rnn.b_h).copy_(other.b_h)  # (d_h,)
            if self.fast:
                self.rnn.bias_hh_l0.zero_()
        return self
