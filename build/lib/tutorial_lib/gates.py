"""The LSTM and the GRU of the seed, §4.1 and §4.2, written with its symbols (chapter 4).

Every gate reads the concatenation ``[h_{t-1}, x_t]`` (B, d_h + d_x), hidden state first:

    LSTM (§4.1)                                    GRU (§4.2)
    f_t = σ(W_f [h_{t-1}, x_t] + b_f)   (4.1)      z_t = σ(W_z [h_{t-1}, x_t] + b_z)          (4.7)
    i_t = σ(W_i [h_{t-1}, x_t] + b_i)   (4.2)      r_t = σ(W_r [h_{t-1}, x_t] + b_r)          (4.8)
    C̃_t = tanh(W_C [h_{t-1}, x_t] + b_C) (4.3)     h̃_t = tanh(W [r_t ⊙ h_{t-1}, x_t] + b)     (4.9)
    C_t = f_t ⊙ C_{t-1} + i_t ⊙ C̃_t    (4.4)      h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t       (4.10)
    o_t = σ(W_o [h_{t-1}, x_t] + b_o)   (4.5)
    h_t = o_t ⊙ tanh(C_t)               (4.6)

Each W_* is (d_h, d_h + d_x) and each b_* is (d_h,). A batch holds B sequences, so
``W_f [h, x]`` is computed as ``torch.cat([h, x], 1) @ W_f.T``.

PyTorch's ``nn.LSTM`` computes the same LSTM with the weights split into an input half and a
recurrent half and two biases. Its ``nn.GRU`` differs from the seed in two ways:

- its update gate is the seed's ``1 - z_t``: h_t = (1 - z) ⊙ h̃_t + z ⊙ h_{t-1}, so copying
  negates W_z and b_z (σ(-a) = 1 - σ(a));
- it applies the reset gate *after* the recurrent matrix (the cuDNN form):
  h̃_t = tanh(W_x x_t + b + r_t ⊙ (W_h h_{t-1} + b_hn)), where the seed (Cho et al., 2014)
  applies it before: W_h (r_t ⊙ h_{t-1}). ``GRUCell(reset="after")`` computes PyTorch's form,
  with W = [W_h, W_x] split the same way and one more bias b_hn; ``reset="before"`` the seed's.

- ``LSTMCell``, ``GRUCell``   one step, the teaching version
- ``LSTM``, ``GRU``           stacked layers unrolled with a Python loop
- ``copy_from_torch``          weights of ``nn.LSTM`` / ``nn.GRU`` into ours (the mapping above)
- ``rnn_param_count``, ``lstm_param_count``, ``gru_param_count``   §4.5 as formulas
- ``SequenceClassifier``       embedding -> RNN, GRU or LSTM -> a class from the last state,
  for the long-range tasks; ``fast=True`` runs PyTorch's fused layers
- ``RecurrentLM``              embedding -> RNN, GRU or LSTM -> next-token logits (chapter 7)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from tutorial_lib.gradients import state_grad_norms
from tutorial_lib.rnn import RNN, _check_size, _check_state, _check_tensor
from tutorial_lib.rnn import copy_from_torch as _copy_rnn
from tutorial_lib.utils import check_ids

__all__ = ["LSTMCell", "GRUCell", "LSTM", "GRU", "copy_from_torch", "rnn_param_count",
           "lstm_param_count", "gru_param_count", "CELLS", "SequenceClassifier", "RecurrentLM"]

CELLS = ("rnn", "gru", "lstm")


def _check_input(x_t: object, d_x: int) -> None:
    ok = isinstance(x_t, Tensor) and x_t.ndim == 2 and x_t.shape[1] == d_x
    _check_tensor(x_t, "x_t", ok, f"(B, d_x) = (B, {d_x})")


def _name(kind: str, gate: str) -> str:
    """Parameter names: W_f, b_f, ...; the GRU candidate's are plain W and b."""
    return f"{kind}_{gate}" if gate else kind


class _GatedCell(nn.Module):
    """Shared set-up: one (W_g, b_g) pair per gate g, W_g (d_h, d_h + d_x), b_g (d_h,)."""

    GATES: tuple[str, ...] = ()

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = _check_size(input_size, "input_size")  # d_x
        self.hidden_size = _check_size(hidden_size, "hidden_size")  # d_h
        for g in self.GATES:  # the GRU's candidate has plain W and b: g == ""
            self.register_parameter(_name("W", g), nn.Parameter(torch.empty(hidden_size, hidden_size + input_size)))
            self.register_parameter(_name("b", g), nn.Parameter(torch.empty(hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)  # like nn.LSTM / nn.GRU
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _gate(self, g: str, hx: Tensor) -> Tensor:
        """W_g [h_{t-1}, x_t] + b_g: hx (B, d_h + d_x) @ (d_h + d_x, d_h) -> (B, d_h)."""
        return hx @ getattr(self, _name("W", g)).T + getattr(self, _name("b", g))


class LSTMCell(_GatedCell):
    """One step of the LSTM, eqs. (4.1)-(4.6) (chapter 4).

    Parameters W_f, W_i, W_C, W_o (d_h, d_h + d_x) and b_f, b_i, b_C, b_o (d_h,), uniform in
    [-1/sqrt(d_h), 1/sqrt(d_h)] like ``nn.LSTM``.
    """

    GATES = ("f", "i", "C", "o")

    def step(self, x_t: Tensor, h_prev: Tensor, C_prev: Tensor) -> dict:
        """One step; returns f, i, C_tilde, C, o, h, each (B, d_h)."""
        _check_input(x_t, self.input_size)
        B, d_h = x_t.shape[0], self.hidden_size
        _check_state(h_prev, "h_prev", B, d_h)
        _check_state(C_prev, "C_prev", B, d_h)
        hx = torch.cat([h_prev, x_t], dim=1)  # [h_{t-1}, x_t] (B, d_h+d_x)
        f = torch.sigmoid(self._gate("f", hx))  # (4.1) forget gate
        i = torch.sigmoid(self._gate("i", hx))  # (4.2) input gate
        C_tilde = torch.tanh(self._gate("C", hx))  # (4.3) candidate
        C = f * C_prev + i * C_tilde  # (4.4) additive cell update
        o = torch.sigmoid(self._gate("o", hx))  # (4.5) output gate
        h = o * torch.tanh(C)  # (4.6)
        return {"f": f, "i": i, "C_tilde": C_tilde, "C": C, "o": o, "h": h}

    def forward(self, x_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """x_t (B, d_x), state (h_{t-1}, C_{t-1}) each (B, d_h) -> (h_t, C_t)."""
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError("state must be a pair (h_prev, C_prev) of (B, d_h) tensors")
        s = self.step(x_t, *state)
        return s["h"], s["C"]


class GRUCell(_GatedCell):
    """One step of the GRU, eqs. (4.7)-(4.10) (chapter 4).

    Parameters W_z, W_r, W (d_h, d_h + d_x) and b_z, b_r, b (d_h,). ``reset="before"`` is the
    seed's candidate (4.9), tanh(W [r ⊙ h, x] + b); ``reset="after"`` is PyTorch's,
    tanh(W_x x + b + r ⊙ (W_h h + b_hn)) with W = [W_h, W_x] and one more bias b_hn (d_h,).
    """

    GATES = ("z", "r", "")  # "": the candidate's W and b

    def __init__(self, input_size: int, hidden_size: int, reset: str = "before") -> None:
        if reset not in ("before", "after"):
            raise ValueError(f"reset must be 'before' (the seed, eq. 4.9) or 'after' (nn.GRU), got {reset!r}")
        self.reset = reset
        super().__init__(input_size, hidden_size)
        self.b_hn = nn.Parameter(torch.empty(hidden_size)) if reset == "after" else None
        self.reset_parameters()

    def step(self, x_t: Tensor, h_prev: Tensor) -> dict:
        """One step; returns z, r, h_tilde, h, each (B, d_h)."""
        _check_input(x_t, self.input_size)
        _check_state(h_prev, "h_prev", x_t.shape[0], self.hidden_size)
        hx = torch.cat([h_prev, x_t], dim=1)  # [h_{t-1}, x_t] (B, d_h+d_x)
        z = torch.sigmoid(self._gate("z", hx))  # (4.7) update gate
        r = torch.sigmoid(self._gate("r", hx))  # (4.8) reset gate
        if self.reset == "before":  # (4.9): W [r ⊙ h_{t-1}, x_t] + b
            rhx = torch.cat([r * h_prev, x_t], dim=1)  # (B, d_h + d_x)
            h_tilde = torch.tanh(self._gate("", rhx))
        else:  # nn.GRU: tanh(W_x x_t + b + r ⊙ (W_h h_{t-1} + b_hn))
            d_h, d_x = self.hidden_size, self.input_size
            W_h, W_x = self.W.split([d_h, d_x], dim=1)  # W = [W_h, W_x]
            inner = h_prev @ W_h.T + self.b_hn  # (B, d_h)
            h_tilde = torch.tanh(x_t @ W_x.T + self.b + r * inner)
        h = (1 - z) * h_prev + z * h_tilde  # (4.10)
        return {"z": z, "r": r, "h_tilde": h_tilde, "h": h}

    def forward(self, x_t: Tensor, h_prev: Tensor) -> Tensor:
        """x_t (B, d_x), h_prev = h_{t-1} (B, d_h) -> h_t (B, d_h)."""
        return self.step(x_t, h_prev)["h"]


class _Stacked(nn.Module):
    """Layers of cells unrolled over time; layer l > 0 reads the h_t of layer l - 1."""

    def __init__(self, cells: list[nn.Module], batch_first: bool) -> None:
        super().__init__()
        self.cells = nn.ModuleList(cells)
        self.input_size, self.hidden_size = cells[0].input_size, cells[0].hidden_size  # d_x, d_h
        self.num_layers, self.batch_first = len(cells), bool(batch_first)

    def _time_major(self, x: object) -> Tensor:
        layout = "(B, T, d_x)" if self.batch_first else "(T, B, d_x)"
        ok = isinstance(x, Tensor) and x.ndim == 3 and x.shape[-1] == self.input_size and x.numel() > 0
        _check_tensor(x, "x", ok, f"{layout} with d_x = {self.input_size} and B, T >= 1")
        return x.transpose(0, 1) if self.batch_first else x  # (T, B, d_x)

    def _initial(self, s0: Tensor | None, name: str, B: int, like: Tensor) -> Tensor:
        L, d_h = self.num_layers, self.hidden_size
        if s0 is None:
            return like.new_zeros(L, B, d_h)
        ok = isinstance(s0, Tensor) and tuple(s0.shape) == (L, B, d_h)
        _check_tensor(s0, name, ok, f"(num_layers, B, d_h) = ({L}, {B}, {d_h})")
        return s0

    def _out(self, hs: list[Tensor]) -> Tensor:
        out = torch.stack(hs)  # T x (B, d_h) -> (T, B, d_h)
        return out.transpose(0, 1) if self.batch_first else out


class LSTM(_Stacked):
    """Stacked LSTM layers (4.1)-(4.6) unrolled over time, like ``nn.LSTM`` (chapter 4).

    x: (T, B, d_x), or (B, T, d_x) if batch_first. Returns (hs, (h_T, C_T)): the last
    layer's h_1..h_T (T, B, d_h) (or (B, T, d_h)), and the final states (num_layers, B, d_h).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = False) -> None:
        L = _check_size(num_layers, "num_layers")
        super().__init__([LSTMCell(input_size if l == 0 else hidden_size, hidden_size) for l in range(L)],
                         batch_first)

    def forward(self, x: Tensor, state0: tuple[Tensor, Tensor] | None = None,
                record: bool = False) -> tuple[Tensor, tuple[Tensor, Tensor]] | dict[str, Tensor]:
        """``record=True`` instead returns every quantity of :meth:`LSTMCell.step` for the
        last layer, each stacked to (B, T, d_h) (batch-first whatever the layout), plus "x"."""
        x = self._time_major(x)  # (T, B, d_x)
        T, B, _ = x.shape
        h0, C0 = (None, None) if state0 is None else state0
        h = list(self._initial(h0, "h0", B, x).unbind(0))  # L x (B, d_h)
        C = list(self._initial(C0, "C0", B, x).unbind(0))
        hs, trace = [], []
        for t in range(T):  # sequential in time
            inp = x[t]  # (B, d_x)
            for l, cell in enumerate(self.cells):  # layer l reads layer l - 1
                s = cell.step(inp, h[l], C[l])
                h[l], C[l], inp = s["h"], s["C"], s["h"]
            hs.append(inp)
            trace.append(s)
        if record:
            return {k: torch.stack([s[k] for s in trace], dim=1) for k in trace[0]}  # (B, T, d_h)
        return self._out(hs), (torch.stack(h), torch.stack(C))


class GRU(_Stacked):
    """Stacked GRU layers (4.7)-(4.10) unrolled over time, like ``nn.GRU`` (chapter 4).

    ``reset`` as in :class:`GRUCell` ("before": the seed; "after": PyTorch). Returns
    (hs, h_T) like ``nn.GRU``: h_1..h_T of the last layer and h_T (num_layers, B, d_h).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = False,
                 reset: str = "before") -> None:
        L = _check_size(num_layers, "num_layers")
        super().__init__([GRUCell(input_size if l == 0 else hidden_size, hidden_size, reset) for l in range(L)],
                         batch_first)
        self.reset = reset

    def forward(self, x: Tensor, h0: Tensor | None = None,
                record: bool = False) -> tuple[Tensor, Tensor] | dict[str, Tensor]:
        """``record=True`` returns the last layer's z, r, h_tilde, h, each (B, T, d_h)."""
        x = self._time_major(x)  # (T, B, d_x)
        h = list(self._initial(h0, "h0", x.shape[1], x).unbind(0))  # L x (B, d_h)
        hs, trace = [], []
        for x_t in x:  # sequential in time
            inp = x_t
            for l, cell in enumerate(self.cells):
                s = cell.step(inp, h[l])
                h[l] = inp = s["h"]
            hs.append(inp)
            trace.append(s)
        if record:
            return {k: torch.stack([s[k] for s in trace], dim=1) for k in trace[0]}  # (B, T, d_h)
        return self._out(hs), torch.stack(h)


def _chunks(t: Tensor, n: int) -> tuple[Tensor, ...]:
    return t.chunk(n, dim=0)  # PyTorch stacks the gates along dim 0


@torch.no_grad()
def copy_from_torch(ours: LSTM | GRU, theirs: nn.LSTM | nn.GRU) -> LSTM | GRU:
    """Copy ``nn.LSTM`` / ``nn.GRU`` weights into our :class:`LSTM` / :class:`GRU` (chapter 4).

    PyTorch stacks the gates along dim 0 of ``weight_ih_l{k}`` (gates·d_h, d_x) and
    ``weight_hh_l{k}`` (gates·d_h, d_h), LSTM in the order i, f, g (= C̃), o and GRU in the
    order r, z, n (= h̃). The seed's W_g = [W_hg, W_ig] (hidden part first) and b_g = b_ig + b_hg.
    For the GRU, W_z and b_z are negated (PyTorch's z is the seed's 1 - z); the candidate needs
    ``reset="after"`` to match exactly, and its b_hn stays separate (it sits inside r ⊙ (...)).
    Sizes, layers and batch_first must match; one direction only. Returns ``ours``.
    """
    lstm = isinstance(ours, LSTM) and isinstance(theirs, nn.LSTM)
    if not lstm and not (isinstance(ours, GRU) and isinstance(theirs, nn.GRU)):
        raise TypeError(f"expected (LSTM, nn.LSTM) or (GRU, nn.GRU), got ({type(ours).__name__}, "
                        f"{type(theirs).__name__})")
    must = {"input_size": ours.input_size, "hidden_size": ours.hidden_size, "num_layers": ours.num_layers,
            "batch_first": ours.batch_first, "bidirectional": False, "bias": True}
    if lstm:
        must["proj_size"] = 0
    for name, want in must.items():
        if getattr(theirs, name) != want:
            raise ValueError(f"theirs.{name} must be {want!r} to match ours, got {getattr(theirs, name)!r}")
    if not lstm and ours.reset != "after":
        raise ValueError("ours.reset must be 'after' to compute what nn.GRU computes (see GRUCell)")
    for l, cell in enumerate(ours.cells):
        W_i = _chunks(getattr(theirs, f"weight_ih_l{l}"), 4 if lstm else 3)  # each (d_h, d_in)
        W_h = _chunks(getattr(theirs, f"weight_hh_l{l}"), 4 if lstm else 3)  # each (d_h, d_h)
        b_i = _chunks(getattr(theirs, f"bias_ih_l{l}"), 4 if lstm else 3)  # each (d_h,)
        b_h = _chunks(getattr(theirs, f"bias_hh_l{l}"), 4 if lstm else 3)
        if lstm:
            order, sign = ("i", "f", "C", "o"), (1, 1, 1, 1)
        else:
            order, sign = ("r", "z", ""), (1, -1, 1)
        for k, (g, s) in enumerate(zip(order, sign)):
            getattr(cell, _name("W", g)).copy_(s * torch.cat([W_h[k], W_i[k]], dim=1))  # (d_h, d_h + d_in)
            bias = b_i[k] if (not lstm and g == "") else b_i[k] + b_h[k]  # b_hn stays inside r ⊙ (...)
            getattr(cell, _name("b", g)).copy_(s * bias)
        if not lstm:
            cell.b_hn.copy_(b_h[2])
    return ours


def rnn_param_count(n: int, h: int, biases: int = 1) -> int:
    """Parameters of eq. 2.1's recurrence (U, W, b_h) for input size n, hidden size h (§4.5).

    nh + h² + h, the seed's O(nh + h²). ``biases=2`` counts PyTorch's layout, which keeps
    two bias vectors (b_ih and b_hh) where the equations have one: nh + h² + 2h.
    """
    _check_size(n, "n")
    _check_size(h, "h")
    if biases not in (1, 2):
        raise ValueError(f"biases must be 1 (the equations) or 2 (PyTorch's b_ih and b_hh), got {biases!r}")
    return n * h + h * h + biases * h


def lstm_param_count(n: int, h: int, biases: int = 1) -> int:
    """Parameters of eqs. (4.1)-(4.6), four (W_g, b_g) pairs: 4(nh + h² + h), the seed's O(4nh + 4h²) (§4.5)."""
    return 4 * rnn_param_count(n, h, biases)


def gru_param_count(n: int, h: int, biases: int = 1) -> int:
    """Parameters of eqs. (4.7)-(4.10), three (W_g, b_g) pairs: 3(nh + h² + h) (§4.5)."""
    return 3 * rnn_param_count(n, h, biases)


def _recurrent_layer(cell: str, d_x: int, d_h: int, fast: bool, forget_bias: float) -> nn.Module:
    """One batch-first recurrent layer: PyTorch's fused one (fast) or ours with the same
    weights; ``forget_bias`` as in :class:`SequenceClassifier`."""
    torch_cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
    ref = torch_cls(d_x, d_h, batch_first=True)  # the initial weights, in PyTorch's layout
    if cell != "rnn":  # the keep gate is chunk 1 in both layouts: LSTM (i, f, g, o) and
        with torch.no_grad():  # GRU (r, z, n), where PyTorch's z is the seed's 1 - z
            ref.bias_ih_l0[d_h:2 * d_h].fill_(forget_bias)
            ref.bias_hh_l0[d_h:2 * d_h].zero_()
    if fast:
        return ref
    if cell == "rnn":
        return _copy_rnn(RNN(d_x, d_h, batch_first=True), ref)
    ours = LSTM(d_x, d_h, batch_first=True) if cell == "lstm" else GRU(d_x, d_h, batch_first=True, reset="after")
    return copy_from_torch(ours, ref)


class SequenceClassifier(nn.Module):
    """Embedding -> a recurrent layer -> a class from the last hidden state (chapter 4).

    ``cell`` is "rnn" (eq. 2.1, tanh), "gru" or "lstm". ``fast=True`` uses PyTorch's fused
    ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``; ``fast=False`` our loops (the GRU with
    ``reset="after"``, so either can take the other's weights, see :meth:`load_state_from`).
    ``forget_bias`` starts the LSTM's b_f (and the GRU's keep gate, 1 - z_t) at this value so
    that, at the start of training, a state is carried forward rather than overwritten.
    Input: token ids (B, T) long. Output: logits (B, num_classes).
    """

    def __init__(self, cell: str, vocab_size: int, num_classes: int, hidden_size: int = 64,
                 embed_size: int = 16, fast: bool = True, forget_bias: float = 1.0) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        self.cell, self.fast = cell, bool(fast)
        self.vocab_size = _check_size(vocab_size, "vocab_size")
        self.num_classes = _check_size(num_classes, "num_classes")
        d_h, d_x = _check_size(hidden_size, "hidden_size"), _check_size(embed_size, "embed_size")
        self.hidden_size, self.embed_size = d_h, d_x
        self.embedding = nn.Embedding(vocab_size, d_x)  # ids -> x_t
        self.rnn = _recurrent_layer(cell, d_x, d_h, self.fast, forget_bias)
        self.head = nn.Linear(d_h, num_classes)  # last h_T -> logits

    def hidden_states(self, idx: Tensor) -> Tensor:
        """h_1..h_T (B, T, d_h) of the recurrent layer for ids idx (B, T)."""
        check_ids(idx, "idx", self.vocab_size)
        return self.rnn(self.embedding(idx))[0]  # (B, T, d_x) -> (B, T, d_h)

    def forward(self, idx: Tensor) -> Tensor:
        """Logits (B, num_classes) read from h_T."""
        return self.head(self.hidden_states(idx)[:, -1])  # (B, d_h) -> (B, num_classes)

    def trace(self, idx: Tensor) -> dict[str, Tensor]:
        """The gates and states of every step, each (B, T, d_h) (``fast=False``, gru or lstm)."""
        if self.fast or self.cell == "rnn":
            raise ValueError("trace needs fast=False and cell 'gru' or 'lstm'; copy weights with load_state_from")
        check_ids(idx, "idx", self.vocab_size)
        return self.rnn(self.embedding(idx), record=True)

    def hidden_grad_norms(self, idx: Tensor, y: Tensor) -> np.ndarray:
        """‖∂L/∂h_k‖ for k = 1..T (T,), averaged over the batch, L the summed cross-entropy of
        the classes y (B,) read from h_T: how much of the loss's gradient reaches step k
        (chapter 3's probe, for any of the three cells; ``fast=False``)."""
        if self.fast:
            raise ValueError("hidden_grad_norms needs fast=False (our step-by-step loop)")
        check_ids(idx, "idx", self.vocab_size)
        if not isinstance(y, Tensor) or y.shape != (idx.shape[0],):
            raise ValueError(f"y must be a tensor of class ids (B,) = ({idx.shape[0]},)")
        x = self.embedding(idx).detach().transpose(0, 1)  # (T, B, d_x)
        # one layer: step the cell ourselves so that every h_k is a node of the graph
        cell = self.rnn.cell if self.cell == "rnn" else self.rnn.cells[0]
        B, d_h = x.shape[1], self.hidden_size
        hs, h, C = [], x.new_zeros(B, d_h), x.new_zeros(B, d_h)
        for x_t in x:
            if self.cell == "lstm":
                h, C = cell(x_t, (h, C))
            else:
                h = cell(x_t, h)
            hs.append(h)
        loss = nn.functional.cross_entropy(self.head(h), y, reduction="sum")
        return state_grad_norms(hs, loss)

    @torch.no_grad()
    def load_state_from(self, other: SequenceClassifier) -> SequenceClassifier:
        """Copy every weight of ``other`` (same cell and sizes, fast or not) into this model."""
        if not isinstance(other, SequenceClassifier):
            raise TypeError(f"other must be a SequenceClassifier, got {type(other).__name__}")
        for name in ("cell", "vocab_size", "num_classes", "hidden_size", "embed_size"):
            if getattr(other, name) != getattr(self, name):
                raise ValueError(f"other.{name} must be {getattr(self, name)!r}, got {getattr(other, name)!r}")
        self.embedding.load_state_dict(other.embedding.state_dict())
        self.head.load_state_dict(other.head.state_dict())
        if self.fast == other.fast:
            self.rnn.load_state_dict(other.rnn.state_dict())
        elif not other.fast:
            raise ValueError("copying from a fast=False model into a fast one is not supported; go fast -> slow")
        elif self.cell == "rnn":
            _copy_rnn(self.rnn, other.rnn)
        else:
            copy_from_torch(self.rnn, other.rnn)
        return self


class RecurrentLM(nn.Module):
    """A character language model: embedding -> RNN, GRU or LSTM -> next-token logits (chapter 7).

    Chapter 2's :class:`tutorial_lib.rnn.CharRNN` with the recurrence swappable, for comparing
    the three cells with the transformer at an equal compute budget. ``cell``, ``fast`` and
    ``forget_bias`` as in :class:`SequenceClassifier`. Input: ids (B, T) long. Output: logits
    (B, T, vocab_size), as ``train.lm_loss`` expects.
    """

    def __init__(self, cell: str, vocab_size: int, hidden_size: int = 256, embed_size: int = 64,
                 fast: bool = True, forget_bias: float = 1.0) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        self.cell, self.fast = cell, bool(fast)
        self.vocab_size = _check_size(vocab_size, "vocab_size")
        d_h, d_x = _check_size(hidden_size, "hidden_size"), _check_size(embed_size, "embed_size")
        self.hidden_size, self.embed_size = d_h, d_x
        self.embedding = nn.Embedding(vocab_size, d_x)  # ids -> x_t
        self.rnn = _recurrent_layer(cell, d_x, d_h, self.fast, forget_bias)
        self.head = nn.Linear(d_h, vocab_size)  # h_t -> logits of token t + 1

    def forward(self, idx: Tensor) -> Tensor:
        """Next-token logits (B, T, vocab_size) for ids idx (B, T)."""
        check_ids(idx, "idx", self.vocab_size)
        return self.head(self.rnn(self.embedding(idx))[0])  # (B, T, d_x) -> (B, T, d_h) -> (B, T, V)
