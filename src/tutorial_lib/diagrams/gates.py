"""Chapter 4's diagram: one step of the LSTM, eqs. (4.1)-(4.6), beside one of the GRU, (4.7)-(4.10).

Both panels are drawn the same way: the learned layers (a weight matrix, a bias, then $\\sigma$
or $\\tanh$) are grey boxes in a row, fed by the concatenation $[\\mathbf{h}_{t-1}, \\mathbf{x}_t]$
along the bottom; what is computed element by element ($\\odot$, $+$, $1 -$, $\\tanh$ of the
cell) is a circle; the state carried from step to step runs along the top, left to right. Dots
mark where a line forks. Every label is a symbol of the chapter's equations, with the equation's
number in grey.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke

from tutorial_lib.diagrams.canvas import ARROWS, GREY, Canvas, Shape

# the symbols the diagram shares with chapter 4's equations and prose (checked by a test)
SYMBOLS: dict[str, list[str]] = {
    "lstm_gru_cells": [
        r"\mathbf{f}_t", r"\mathbf{i}_t", r"\tilde{\mathbf{C}}_t", r"\mathbf{o}_t", r"\mathbf{C}_{t-1}",
        r"\mathbf{C}_t", r"\mathbf{h}_{t-1}", r"\mathbf{x}_t", r"\mathbf{h}_t", r"[\mathbf{h}_{t-1}, \mathbf{x}_t]",
        r"\operatorname{diag}(\mathbf{f}_t)", r"\mathbf{z}_t", r"\mathbf{r}_t", r"\tilde{\mathbf{h}}_t",
        r"\mathbf{r}_t \odot \mathbf{h}_{t-1}", r"1 - \mathbf{z}_t",
    ],
}

HX = r"$[\mathbf{h}_{t-1}, \mathbf{x}_t]$"
PANEL = 4.5  # the width of one panel, in units
# the rows, bottom to top: x_t, [h_{t-1}, x_t], the layers, the products, the GRU's z_t lane, the state
X_IN, BUS, GATE, MID, ZL, TOP = 0.65, 1.35, 2.2, 3.3, 4.1, 4.95


def _check_bool(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def _dot(c: Canvas, x: float, y: float, color: str = ARROWS["forward"][0]) -> None:
    """A fork: the line through (x, y) splits here."""
    c.ax.plot([x], [y], "o", ms=4.5, color=color, zorder=4)


def _layer(c: Canvas, x: float, y: float, squash: str, tag: str) -> Shape:
    """A learned layer, a weight matrix and a bias then ``squash``, with its equation number in grey."""
    box = c.box(x, y, w=0.56, h=0.64)
    c.text(x, y + 0.11, squash, fontsize=11)
    c.text(x, y - 0.16, tag, fontsize=9, color=GREY)
    return box


def _lstm(c: Canvas, ox: float, highlight: bool) -> None:
    """The LSTM panel, its left edge at ``ox``: (4.1)-(4.6), the cell state's path (4.11)."""
    xs = {"f": ox + 1.3, "i": ox + 2.0, "C": ox + 2.7, "o": ox + 3.45}
    C_prev = c.box(ox + 0.42, TOP, r"$\mathbf{C}_{t-1}$", kind="state", w=0.76)
    C_t = c.box(ox + 4.15, TOP, r"$\mathbf{C}_t$", kind="state", w=0.6)
    h_prev = c.box(ox + 0.42, BUS, r"$\mathbf{h}_{t-1}$", kind="state", w=0.76)
    h_t = c.box(ox + 4.15, MID, r"$\mathbf{h}_t$", kind="state", w=0.6)
    x_t = c.box(ox + 1.0, X_IN, r"$\mathbf{x}_t$", kind="input", w=0.6, h=0.4)

    # [h_{t-1}, x_t] along the bottom, into the four layers of (4.1), (4.2), (4.3), (4.5)
    c.line([h_prev.right, (xs["o"], BUS)], head=False)
    c.arrow(x_t, (x_t.x, BUS), head=False)
    _dot(c, x_t.x, BUS)
    c.text(ox + 2.35, BUS - 0.3, HX, fontsize=10)
    layers = {g: _layer(c, x, GATE, r"$\tanh$" if g == "C" else r"$\sigma$", tag)
              for (g, x), tag in zip(xs.items(), ("(4.1)", "(4.2)", "(4.3)", "(4.5)"))}
    for g, x in xs.items():
        c.arrow((x, BUS), layers[g])
        if g != "o":
            _dot(c, x, BUS)
    for g, label in (("f", r"$\mathbf{f}_t$"), ("i", r"$\mathbf{i}_t$"), ("C", r"$\tilde{\mathbf{C}}_t$"),
                     ("o", r"$\mathbf{o}_t$")):
        c.text(xs[g] + 0.07, GATE + 0.55, label, ha="left", fontsize=10)

    # the cell state (4.4): forget, then add what the input gate lets through
    path = "highlight" if highlight else "forward"
    forget, plus = c.op(xs["f"], TOP, r"$\odot$"), c.op(xs["C"], TOP, r"$+$")
    write = c.op(xs["C"], MID, r"$\odot$")
    c.arrow(C_prev, forget, kind=path)
    c.arrow(forget, plus, kind=path)
    c.arrow(plus, C_t, kind=path)
    c.arrow(layers["f"], forget)
    c.arrow(layers["i"], write, corner="v")
    c.arrow(layers["C"], write)
    c.arrow(write, plus)
    c.text(plus.x + 0.22, TOP - 0.3, "(4.4)", fontsize=9, color=GREY, ha="left")

    # the output (4.6): h_t = o_t ⊙ tanh(C_t), read off the cell state at a fork
    _dot(c, xs["o"], TOP, color=ARROWS[path][0])
    squash = c.op(xs["o"], (TOP + MID) / 2 + 0.03, r"$\tanh$", r=0.25, fontsize=9)
    show = c.op(xs["o"], MID, r"$\odot$")
    c.arrow((xs["o"], TOP), squash)
    c.arrow(squash, show)
    c.arrow(layers["o"], show)
    c.arrow(show, h_t)
    c.text(h_t.x, MID - 0.42, "(4.6)", fontsize=9, color=GREY)
    if highlight:
        c.text(ox + 0.1, TOP + 0.45, r"$\partial \mathbf{C}_t / \partial \mathbf{C}_{t-1} = "
               r"\operatorname{diag}(\mathbf{f}_t)$ (4.11): no weight matrix", ha="left",
               color=ARROWS["highlight"][0], fontsize=10)
    c.text(ox + 0.1, TOP + 0.9, "LSTM", ha="left", fontsize=11, weight="bold")


def _gru(c: Canvas, ox: float, highlight: bool) -> None:
    """The GRU panel, its left edge at ``ox``: (4.7)-(4.10), with the chapter's z_t (z_t = 1 replaces)."""
    fork, xr, xz, x1, xc = ox + 0.9, ox + 1.65, ox + 2.35, ox + 2.95, ox + 3.6  # h_{t-1}, r, z, 1 - z, h~
    path = "highlight" if highlight else "forward"
    h_prev = c.box(ox + 0.42, TOP, r"$\mathbf{h}_{t-1}$", kind="state", w=0.76)
    h_t = c.box(ox + 4.2, TOP, r"$\mathbf{h}_t$", kind="state", w=0.56)
    x_t = c.box(ox + 1.2, X_IN, r"$\mathbf{x}_t$", kind="input", w=0.6, h=0.4)

    # h_{t-1} forks down: into the reset product and into [h_{t-1}, x_t] (4.7), (4.8)
    _dot(c, fork, TOP, color=ARROWS[path][0])
    _dot(c, fork, MID)
    _dot(c, x_t.x, BUS)
    c.line([(fork, TOP), (fork, BUS), (xz, BUS)], head=False)
    c.arrow(x_t, (x_t.x, BUS), head=False)
    c.text(ox + 0.2, BUS - 0.3, HX, fontsize=10, ha="left")
    r, z = _layer(c, xr, GATE, r"$\sigma$", "(4.8)"), _layer(c, xz, GATE, r"$\sigma$", "(4.7)")
    c.arrow((xr, BUS), r)
    _dot(c, xr, BUS)
    c.arrow((xz, BUS), z)

    # the candidate (4.9): tanh(W [r_t ⊙ h_{t-1}, x_t] + b), x_t brought along the bottom
    cand = _layer(c, xc, MID, r"$\tanh$", "(4.9)")
    gated = c.op(xr, MID, r"$\odot$")
    c.arrow((fork, MID), gated)
    c.arrow(r, gated)
    c.text(xr + 0.07, (GATE + MID) / 2 + 0.05, r"$\mathbf{r}_t$", ha="left", fontsize=10)
    c.line([x_t.right, (xc, X_IN), (xc, MID - 0.32)])
    c.text(xc + 0.07, (BUS + GATE) / 2, r"$\mathbf{x}_t$", ha="left", fontsize=10)

    # the update (4.10): 1 - z_t keeps the old state, z_t lets the candidate in
    c.line([z.top, (xz, ZL), (x1, ZL)], head=False)
    _dot(c, x1, ZL)
    c.text(xz + 0.07, (GATE + MID) / 2 + 0.05, r"$\mathbf{z}_t$", ha="left", fontsize=10)
    one_minus = c.op(x1, (ZL + TOP) / 2, r"$1 -$", r=0.21, fontsize=9)
    keep, let_in, plus = c.op(x1, TOP, r"$\odot$"), c.op(xc, ZL, r"$\odot$"), c.op(xc, TOP, r"$+$")
    c.arrow((x1, ZL), one_minus)
    c.arrow(one_minus, keep)
    c.text(x1 - 0.27, one_minus.y, r"$1 - \mathbf{z}_t$", ha="right", fontsize=10)
    c.arrow((x1, ZL), let_in)
    c.arrow(cand, let_in)
    c.text(xc + 0.07, (MID + ZL) / 2 + 0.07, r"$\tilde{\mathbf{h}}_t$", ha="left", fontsize=10)
    c.arrow(h_prev, keep, kind=path)
    c.arrow(keep, plus, kind=path)
    c.arrow(let_in, plus)
    c.arrow(plus, h_t, kind=path)
    c.text(xc + 0.25, ZL, "(4.10)", fontsize=9, color=GREY, ha="left")

    # r_t ⊙ h_{t-1} into the candidate, over the z_t line (a white halo marks the crossing)
    c.arrow(gated, cand).set_path_effects([withStroke(linewidth=6, foreground="white")])
    c.text((xz + cand.left[0]) / 2 + 0.05, MID + 0.2, r"$\mathbf{r}_t \odot \mathbf{h}_{t-1}$", fontsize=9.5)
    if highlight:
        c.text(ox + 0.1, TOP + 0.45, r"$\mathbf{h}_{t-1}$ reaches $\mathbf{h}_t$ through one $\odot$ and one $+$",
               ha="left", color=ARROWS["highlight"][0], fontsize=10)
    c.text(ox + 0.1, TOP + 0.9, "GRU", ha="left", fontsize=11, weight="bold")


def lstm_gru_cells(highlight: bool = True) -> Figure:
    """One step of the LSTM (left, eqs. 4.1-4.6) and of the GRU (right, 4.7-4.10), chapter 4.

    LSTM: $[\\mathbf{h}_{t-1}, \\mathbf{x}_t]$ feeds four layers, the forget, input and output
    gates ($\\sigma$) and the candidate ($\\tanh$); the cell state $\\mathbf{C}_{t-1}$ to
    $\\mathbf{C}_t$ along the top is touched only by a $\\odot$ and a $+$ (4.4), and
    $\\mathbf{h}_t = \\mathbf{o}_t \\odot \\tanh(\\mathbf{C}_t)$ (4.6). GRU: the reset gate
    $\\mathbf{r}_t$ and the update gate $\\mathbf{z}_t$; the candidate $\\tilde{\\mathbf{h}}_t$ reads
    $[\\mathbf{r}_t \\odot \\mathbf{h}_{t-1}, \\mathbf{x}_t]$ (4.9); the state is mixed as
    $(1 - \\mathbf{z}_t) \\odot \\mathbf{h}_{t-1} + \\mathbf{z}_t \\odot \\tilde{\\mathbf{h}}_t$
    (4.10), the chapter's convention ($\\mathbf{z}_t = 1$ replaces the state; PyTorch's z is our
    $1 - \\mathbf{z}_t$). With ``highlight`` the additive paths, the LSTM's cell with its Jacobian
    $\\operatorname{diag}(\\mathbf{f}_t)$ (4.11) and the GRU's old state, are drawn in vermillion.
    The GRU's graph cannot be drawn without one crossing: $\\mathbf{r}_t \\odot \\mathbf{h}_{t-1}$
    passes over $\\mathbf{z}_t$.
    """
    _check_bool("highlight", highlight)
    gap = 0.35
    c = Canvas(2 * PANEL + gap, TOP + 1.2, title="Gates decide what is kept; the state is updated by addition")
    _lstm(c, 0.0, highlight)
    _gru(c, PANEL + gap, highlight)
    c.line([(PANEL + gap / 2, 0.45), (PANEL + gap / 2, TOP + 1.1)], kind="weak", head=False)
    c.text(PANEL + gap / 2, 0.2, r"grey boxes: a weight matrix and a bias, then $\sigma$ or $\tanh$;  circles:"
           r" element by element, on vectors of $d_h$ numbers", fontsize=9, color=GREY)
    return c.fig


def lstm_cell(highlight: bool = True) -> Figure:
    """The LSTM panel of :func:`lstm_gru_cells` alone."""
    _check_bool("highlight", highlight)
    c = Canvas(PANEL, TOP + 1.2)
    _lstm(c, 0.0, highlight)
    return c.fig


def gru_cell(highlight: bool = True) -> Figure:
    """The GRU panel of :func:`lstm_gru_cells` alone."""
    _check_bool("highlight", highlight)
    c = Canvas(PANEL, TOP + 1.2)
    _gru(c, 0.0, highlight)
    return c.fig
