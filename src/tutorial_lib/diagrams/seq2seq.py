"""Chapter 5's diagrams: the encoder-decoder and its one fixed vector (5.4)-(5.5), and the same
model with Bahdanau's additive attention (5.1)-(5.3).

Both are drawn as :class:`tutorial_lib.seq2seq.Seq2Seq` computes them: a bidirectional GRU
encoder reads the source $x_1, \\dots, x_S$ into states
$\\mathbf{h}_j = [\\overrightarrow{\\mathbf{h}}_j; \\overleftarrow{\\mathbf{h}}_j]$ (the forward
GRU's arrows point right, the backward GRU's left), and a GRU decoder writes one word per step
from its state $\\mathbf{s}_i$, reading $[\\mathbf{E} y_{i-1}; \\mathbf{c}_i]$. The two differ
only in the context $\\mathbf{c}_i$. Shapes are written as in :mod:`tutorial_lib.attention`:
B sentences, S source positions, C_q the query's width, C_k a key's.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from tutorial_lib.diagrams.canvas import ARROWS, GREY, Canvas, Shape

# the symbols each diagram shares with chapter 5's equations and prose (checked by a test)
SYMBOLS: dict[str, list[str]] = {
    "encoder_decoder": [r"\mathbf{c} = [\overrightarrow{\mathbf{h}}_S; \overleftarrow{\mathbf{h}}_1]",
                        r"\overrightarrow{\mathbf{h}}_S", r"\overleftarrow{\mathbf{h}}_1", r"\mathbf{s}_0",
                        r"\mathbf{W}_s", r"[\mathbf{E} y_{i-1}; \mathbf{c}_i]", r"\mathbf{W}_o", r"2 \times 64 = 128",
                        "x_1", "x_S"],
    "additive_attention": [r"\mathbf{v}_a^\top \tanh(\mathbf{W}_a \mathbf{s}_{i-1} + \mathbf{U}_a \mathbf{h}_j)",
                           r"\alpha_{ij}", r"\sum_{j=1}^{S} \alpha_{ij} \mathbf{h}_j", r"\mathbf{c}_i", "e_{ij}",
                           r"\mathbf{s}_{i-1}", r"\mathbf{s}_i", r"\mathbf{h}_1, \dots, \mathbf{h}_S",
                           r"\mathbf{h}_j = [\overrightarrow{\mathbf{h}}_j; \overleftarrow{\mathbf{h}}_j]",
                           r"\mathbf{E} y_{i-1}", "x_1", "x_S"],
}


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def _dot(c: Canvas, x: float, y: float, color: str) -> None:
    """A fork: the line through (x, y) splits here."""
    c.ax.plot([x], [y], "o", ms=4.5, color=color, zorder=4)


def _encoder(c: Canvas, xs: tuple[float, float, float], y: float) -> list[Shape]:
    """The source $x_1, x_2, \\dots, x_S$ along the bottom and the states $\\mathbf{h}_j$ above,
    linked by the forward GRU (the upper arrows, to the right) and the backward GRU (the lower
    arrows, to the left); dots stand for the positions between 2 and S."""
    states = []
    for x, j in zip(xs, ("1", "2", "S")):
        x_j = c.box(x, 0.35, f"$x_{j}$", kind="input", w=0.6, h=0.42)
        states.append(c.box(x, y, rf"$\mathbf{{h}}_{j}$", kind="state", w=0.62))
        c.arrow(x_j, states[-1])
    dots = (xs[1] + xs[2]) / 2
    for yy in (0.35, y):
        c.text(dots, yy, r"$\cdots$", fontsize=12)
    links = [(states[0].right[0], states[1].left[0]), (states[1].right[0], dots - 0.22),
             (dots + 0.22, states[2].left[0])]
    for left, right in links:
        c.arrow((left, y + 0.1), (right, y + 0.1))  # forward GRU
        c.arrow((right, y - 0.1), (left, y - 0.1))  # backward GRU
    return states


def encoder_decoder(steps: int = 3) -> Figure:
    """The encoder-decoder without attention, eqs. (5.4)-(5.5), over ``steps`` target words (chapter 5).

    Left: the bidirectional GRU encoder reads $x_1, \\dots, x_S$. Its two ends, the forward GRU's
    last state $\\overrightarrow{\\mathbf{h}}_S$ and the backward GRU's $\\overleftarrow{\\mathbf{h}}_1$,
    are joined into the one vector $\\mathbf{c}$, $2 \\times 64 = 128$ numbers in the chapter's
    model. Right: the decoder starts from $\\mathbf{s}_0 = \\tanh(\\mathbf{W}_s \\mathbf{c})$ and
    reads the same $\\mathbf{c}$ at every step, beside the previous word $y_{i-1}$; everything it
    writes about the source passes through $\\mathbf{c}$, the bottleneck.
    """
    _check_int("steps", steps, 2, 4)
    xs = (0.75, 1.8, 3.2)  # x_1, x_2, ..., x_S
    y_h, y_bus, y_out = 1.65, 1.0, 2.95
    xc, x0 = 4.35, 5.3  # c, s_0
    dx = 1.05
    width = x0 + dx * steps + 0.6
    c = Canvas(width, 3.7, title=r"Without attention: the whole source passes through one vector $\mathbf{c}$")
    states = _encoder(c, xs, y_h)

    # c = [→h_S; ←h_1]: the forward GRU ends at the right, the backward one at the left
    ctx = c.box(xc, y_h, r"$\mathbf{c}$", kind="highlight", w=0.55)
    c.arrow(states[-1], ctx, r"$\overrightarrow{\mathbf{h}}_S$", label_at=(0, 0.27))
    first = states[0]
    c.line([(first.x, first.y + 0.25), (first.x, 2.45), (xc, 2.45), (xc, y_h + 0.27)])
    c.text(2.0, 2.62, r"$\overleftarrow{\mathbf{h}}_1$")
    c.text(xc + 0.4, 0.62, r"$\mathbf{c} = [\overrightarrow{\mathbf{h}}_S; \overleftarrow{\mathbf{h}}_1]$:",
           color=ARROWS["highlight"][0], fontsize=10.5)
    c.text(xc + 0.4, 0.25, r"$2 \times 64 = 128$ numbers", color=ARROWS["highlight"][0], fontsize=10)

    # the decoder: s_0 = tanh(W_s c), then s_i = GRU(s_{i-1}, [E y_{i-1}; c]) (5.4), y_i (5.5)
    s_prev = c.box(x0, y_h, r"$\mathbf{s}_0$", kind="state", w=0.55)
    c.arrow(ctx, s_prev)
    c.text((xc + x0) / 2, y_h - 0.3, r"$\mathbf{W}_s$", fontsize=10)
    c.line([(xc, y_h - 0.27), (xc, y_bus), (x0 + dx * steps, y_bus)], kind="highlight", head=False)
    for i in range(1, steps + 1):
        x = x0 + dx * i
        y_in = c.box(x, 0.35, "<bos>" if i == 1 else f"$y_{i - 1}$", kind="input", w=0.7, h=0.42,
                     fontsize=10 if i > 1 else 9.5)
        s_i = c.box(x, y_h, rf"$\mathbf{{s}}_{i}$", kind="state", w=0.55)
        y_i = c.box(x, y_out, f"$y_{i}$", kind="output", w=0.55, h=0.42)
        c.arrow(y_in, (x, y_bus), head=False)
        _dot(c, x, y_bus, ARROWS["highlight"][0])
        c.arrow((x, y_bus), s_i)
        c.arrow(s_prev, s_i)
        c.arrow(s_i, y_i)
        s_prev = s_i
    c.text(x0 + dx + 0.08, (y_bus + y_h) / 2 - 0.05, r"$[\mathbf{E} y_{i-1}; \mathbf{c}_i]$", ha="left", fontsize=9.5)
    c.text(x0 + dx + 0.08, (y_h + y_out) / 2, r"$\mathbf{W}_o$", ha="left", fontsize=10)
    c.frame(0.3, 0.05, 3.65, 2.15, "encoder: bidirectional GRU", label_at="top right", fontsize=9)
    c.text(width - 0.1, 3.45, r"decoder: GRU (5.4), words $y_i$ (5.5)", ha="right", fontsize=9, color=GREY)
    return c.fig


def additive_attention(shapes: bool = True) -> Figure:
    """One decoder step with Bahdanau's additive attention, eqs. (5.1)-(5.3) and (5.4) (chapter 5).

    Bottom: the encoder's states $\\mathbf{h}_1, \\dots, \\mathbf{h}_S$, all kept. Middle, bottom to
    top: each $\\mathbf{h}_j$ is scored against the previous decoder state $\\mathbf{s}_{i-1}$ (5.1),
    a softmax over $j$ turns the scores $e_{ij}$ into weights $\\alpha_{ij}$ (5.2), and the
    weighted sum of the states is the context $\\mathbf{c}_i$ (5.3), new at every step. Right: the
    decoder reads $[\\mathbf{E} y_{i-1}; \\mathbf{c}_i]$ into $\\mathbf{s}_i$ (5.4). With ``shapes``
    the arrows carry the shapes of ``attention.AdditiveAttention.forward``.
    """
    if not isinstance(shapes, bool):
        raise ValueError(f"shapes must be True or False, got {shapes!r}")
    xs = (2.1, 3.15, 4.55)  # x_1, x_2, ..., x_S
    y_h, y_e, y_a, y_c = 1.55, 2.6, 3.65, 4.7  # states, score, softmax, context
    left, right = 1.55, 5.2  # the attention boxes' span
    c = Canvas(8.5, 5.75, title=r"Additive attention: a new context $\mathbf{c}_i$ for every word the decoder writes")
    states = _encoder(c, xs, y_h)
    c.frame(left, 0.05, right - 0.15, 1.95)
    c.text(left - 0.1, 1.0, "encoder,\nbidirectional GRU:", ha="right", fontsize=9, color=GREY)
    c.text(left - 0.1, 0.55, r"$\mathbf{h}_j = [\overrightarrow{\mathbf{h}}_j; \overleftarrow{\mathbf{h}}_j]$",
           ha="right", fontsize=9.5, color=GREY)
    w = right - left
    score = c.box(left + w / 2, y_e, r"$e_{ij} = \mathbf{v}_a^\top \tanh(\mathbf{W}_a \mathbf{s}_{i-1} + "
                  r"\mathbf{U}_a \mathbf{h}_j)$", w=w, h=0.5, fontsize=10.5)
    soft = c.box(left + w / 2, y_a, r"$\alpha_{ij} = \exp(e_{ij}) \,/\, \sum_k \exp(e_{ik})$", w=w, h=0.5,
                 fontsize=10.5)
    total = c.box(left + w / 2 + 0.35, y_c, r"$\mathbf{c}_i = \sum_{j=1}^{S} \alpha_{ij} \mathbf{h}_j$",
                  w=w + 0.7, h=0.62, kind="highlight", fontsize=10.5)
    for tag, box in (("(5.1)", score), ("(5.2)", soft), ("(5.3)", total)):
        c.text(box.x - box.w / 2 + 0.08, box.y + box.h / 2 + 0.1, tag, ha="left", fontsize=9, color=GREY)
    for h, j in zip(states, ("1", "2", "S")):
        c.arrow(h, (h.x, y_e - 0.25))
        c.arrow((h.x, y_e + 0.25), (h.x, y_a - 0.25))
        c.arrow((h.x, y_a + 0.25), (h.x, y_c - 0.31))
        c.text(h.x + 0.08, (y_e + y_a) / 2, f"$e_{{i{j}}}$", ha="left", fontsize=10)
        c.text(h.x + 0.08, (y_a + y_c) / 2, rf"$\alpha_{{i{j}}}$", ha="left", fontsize=10)

    # the values: the same states, summed with the weights
    xv = right + 0.2
    c.line([states[-1].right, (xv, y_h), (xv, y_c - 0.31)])
    c.text(xv + 0.1, (y_h + y_e) / 2 + 0.15, r"$\mathbf{h}_1, \dots, \mathbf{h}_S$", ha="left", fontsize=10)

    # the decoder step: s_{i-1} is the query, then s_i = GRU(s_{i-1}, [E y_{i-1}; c_i]) (5.4)
    y_s = 5.4
    s_prev = c.box(0.6, y_e, r"$\mathbf{s}_{i-1}$", kind="state", w=0.75)
    c.arrow(s_prev, score)
    x_s = 6.95
    s_i = c.box(x_s, y_s, r"$\mathbf{s}_i$", kind="state", w=0.6)
    c.line([s_prev.top, (0.6, y_s), s_i.left])
    y_prev = c.box(x_s + 0.15, 3.65, r"$y_{i-1}$", kind="input", w=0.65, h=0.42)
    c.arrow(y_prev, (x_s + 0.15, y_s - 0.25))
    c.text(x_s + 0.25, (3.65 + y_s) / 2, r"$\mathbf{E} y_{i-1}$", ha="left", fontsize=10)
    c.line([total.right, (x_s - 0.15, y_c), (x_s - 0.15, y_s - 0.25)], kind="highlight")
    c.text((total.right[0] + x_s) / 2 - 0.1, y_c + 0.2, "context", fontsize=9.5, color=ARROWS["highlight"][0])
    y_i = c.box(x_s + 1.05, y_s, r"$y_i$", kind="output", w=0.5, h=0.42)
    c.arrow(s_i, y_i)
    c.text(x_s, y_s + 0.38, "(5.4)", fontsize=9, color=GREY)
    c.text((x_s + y_i.x) / 2, y_s + 0.25, "(5.5)", fontsize=9, color=GREY)
    c.text(0.6 + 0.47, y_e + 0.2, "query", ha="left", fontsize=9.5)
    c.text(xs[0] - 0.1, (y_h + y_e) / 2 + 0.05, "keys", ha="right", fontsize=9.5)
    c.text(xv + 0.1, (y_h + y_e) / 2 + 0.42, "values", ha="left", fontsize=9.5)
    if shapes:
        c.text(0.6, y_e - 0.45, r"$(B, C_q)$", fontsize=9, color=GREY)
        c.text(xv + 0.1, (y_h + y_e) / 2 - 0.15, r"$(B, S, C_k)$", ha="left", fontsize=9, color=GREY)
        c.text((total.right[0] + x_s) / 2 - 0.1, y_c - 0.2, r"$(B, C_k)$", fontsize=9, color=GREY)
    return c.fig
