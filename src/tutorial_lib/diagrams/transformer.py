"""Chapter 6's diagrams: attention (6.1), multi-head attention (6.2), the encoder and decoder
layers with their residuals and LayerNorms, the whole encoder-decoder and its three variants.

Shapes are written in the package's letters (:mod:`tutorial_lib.transformer`): B batch, T target
(query) positions, S source (key) positions, C model width, H heads, D = C / H head width,
V vocabulary. The layers are drawn from one helper, :func:`_sublayer`, so every diagram shows a
residual sub-layer the same way: the stream forks, one branch goes through the sub-layer, and
the two meet again at a $+$.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tutorial_lib.diagrams.canvas import BLUE, GREY, INK, Canvas, Shape

# the symbols each diagram shares with chapter 6's equations and prose (checked by a test)
SYMBOLS: dict[str, list[str]] = {
    "scaled_dot_product_attention": [r"\operatorname{Attention}(Q, K, V)", r"Q K^\top", r"\sqrt{d_k}",
                                     r"\operatorname{softmax}"],
    "multi_head_split": [r"X_q", r"X_{kv}", r"W_O", r"W_Q^h", r"\mathrm{head}_h", r"\mathrm{head}_H",
                         r"D = C / H"],
    "pre_post_norm": [r"\operatorname{LN}(\mathbf{x} + \operatorname{Sublayer}(\mathbf{x}))",
                      r"\mathbf{x} + \operatorname{Sublayer}(\operatorname{LN}(\mathbf{x}))"],
    "encoder_decoder_layers": [r"\operatorname{FFN}", r"\operatorname{LN}", r"X_q", r"X_{kv}"],
    "transformer_model": [r"PE", r"\operatorname{FFN}", r"\operatorname{softmax}"],
    "three_variants": [r"T \times T", r"1, \dots, t"],
}

LN = r"$\operatorname{LN}$"
FFN = r"$\operatorname{FFN}$ (6.3)"
STEP = 1.8  # the height of one residual sub-layer, in units


def _check_bool(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def _sublayer(c: Canvas, prev: Shape | tuple[float, float], x: float, y: float, label: str,
              norm_first: bool, w: float = 1.9, side: int = -1, s: float = 1.0) -> tuple[Shape, Shape]:
    """One residual sub-layer on the stream of column ``x``, from ``y`` to ``y + STEP * s``.

    Post-norm: Sublayer, $+$, LN; pre-norm: LN, Sublayer, $+$. The residual leaves the stream at
    a dot and rejoins it at the $+$, on the ``side`` (-1 left, +1 right). Returns the sub-layer's
    box and the shape the stream leaves from (for the next arrow).
    """
    ln_y, box_y, plus_y = (0.5, 1.02, 1.55) if norm_first else (1.55, 0.58, 1.1)
    box = c.box(x, y + box_y * s, label, w=w, h=0.4 * s, fontsize=10)
    norm = c.box(x, y + ln_y * s, LN, w=0.7, h=0.25 * s, fontsize=9.5)
    plus = c.op(x, y + plus_y * s, "$+$", r=0.13 * s, fontsize=10)
    chain = [norm, box, plus] if norm_first else [box, plus, norm]
    for a, b in zip([prev, *chain], chain):
        c.arrow(a, b)
    fork, skip = y + 0.1 * s, x + side * (w / 2 + 0.22)
    c.ax.plot([x], [fork], "o", ms=3.5, color=INK, zorder=3)
    c.line([(x, fork), (skip, fork), (skip, plus.y), (x + side * 0.13 * s, plus.y)])
    return box, chain[-1]


def _layer(c: Canvas, prev, x: float, y: float, labels: list[str], norm_first: bool, w: float = 1.9,
           side: int = -1, s: float = 1.0) -> tuple[list[Shape], Shape]:
    """Residual sub-layers one above the other (an encoder or decoder layer): their boxes and
    the shape the stream leaves the layer from."""
    boxes = []
    for i, label in enumerate(labels):
        box, prev = _sublayer(c, prev, x, y + STEP * s * i, label, norm_first, w, side, s)
        boxes.append(box)
    return boxes, prev


def _memory(c: Canvas, top: Shape, cross: Shape, label: str) -> None:
    """The encoder's output, up from the encoder's ``top`` and across into the ``cross``-attention."""
    c.arrow(top, (cross.x - cross.w / 2, cross.y), corner="v")
    c.text((top.x + cross.x - cross.w / 2) / 2 + 0.1, cross.y + 0.17, label, fontsize=9.5)


def _top(y: float, n: int, s: float) -> float:
    """The top of ``n`` sub-layers drawn from ``y`` on (the last LN or $+$)."""
    return y + ((n - 1) * STEP + 1.68) * s


def _below_cross(top: float, norm_first: bool, s: float) -> float:
    """Where a decoder layer must start for its cross-attention to sit just above ``top``, the
    encoder's output: the encoder's output then flows up and across, never down."""
    return top + 0.4 - (STEP + (1.02 if norm_first else 0.58)) * s


def scaled_dot_product_attention(mask: bool = True) -> Figure:
    """Eq. (6.1) as a data flow, left to right (chapter 6, section 6.1).

    $Q$ and $K$ give the scores $Q K^\\top$, scaled by $1/\\sqrt{d_k}$; the optional mask (drawn
    if ``mask``) sets blocked scores to $-\\infty$; the softmax over each row gives the weights,
    which multiply $V$. Shapes for one batch element and head: T queries, S keys, width D.
    """
    _check_bool("mask", mask)
    c = Canvas(9.1 if mask else 7.7, 2.95, title=r"Eq. (6.1): $\operatorname{Attention}(Q, K, V) = "
               r"\operatorname{softmax}\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V$")
    q, k, v = (c.box(0.4, y, f"${n}$", w=0.5, kind="input") for n, y in (("Q", 2.5), ("K", 1.5), ("V", 0.55)))
    y, gap = 2.0, 0.55
    prev = scores = c.box(1.6, y, r"$Q K^\top$", w=0.85)
    c.arrow(q, scores, "(T, D)", label_at=(-0.05, 0.22))
    c.arrow(k, scores, "(S, D)", label_at=(-0.05, -0.22))
    steps = [(r"$\times\, 1/\sqrt{d_k}$", 1.0, ""), ("mask", 0.75, "optional:\n$-\\infty$ where False"),
             (r"$\operatorname{softmax}$", 1.0, "over each row:\nthe weights")]
    for text, w, note in steps if mask else steps[::2]:
        box = c.box(prev.x + prev.w / 2 + gap + w / 2, y, text, w=w)
        c.arrow(prev, box, "(T, S)", label_at=(0, 0.4))
        if note:
            c.text(box.x, y - 0.6, note, fontsize=9, color=GREY)
        if text == "mask":
            box.patch.set_linestyle("--")
        prev = box
    prod = c.box(prev.x + prev.w / 2 + gap + 0.3, y, r"$\times\, V$", w=0.6)
    c.arrow(prev, prod, "(T, S)", label_at=(0, 0.4))
    c.arrow(v, prod, corner="h")
    c.text(1.6, 0.72, "(S, D)", fontsize=10)
    out = c.box(prod.x + 0.3 + gap + 0.4, y, "output", w=0.8, kind="output", fontsize=10)
    c.arrow(prod, out, "(T, D)", label_at=(0, 0.4))
    c.text(c.ax.get_xlim()[1] / 2, 0.1, "for one batch element and head: T queries, S keys (S = T in "
           "self-attention), $d_k$ = D, the head width", fontsize=9, color=GREY)
    return c.fig


def multi_head_split(heads: int = 4) -> Figure:
    """Eq. (6.2) the way ``MultiHeadAttention.forward`` computes it, bottom to top (chapter 6, 6.2).

    $X_q$ and $X_{kv}$ go through the projections ``W_Q``, ``W_K``, ``W_V`` (one $C \\times C$
    matrix each), whose outputs are cut into ``heads`` slices of width D; (6.1) runs on every
    head at once; the heads are put side by side again and ``W_O`` mixes them.
    """
    _check_int("heads", heads, 2, 8)
    c = Canvas(8.4, 6.7, title="Eq. (6.2) in code: project, cut into H heads, attend per head, "
               "put the heads side by side")
    xq = c.box(1.3, 0.4, "$X_q$", w=0.8, kind="input")
    xkv = c.box(3.7, 0.4, "$X_{kv}$", w=2.4, kind="input")
    for name, x in (("Q", 1.3), ("K", 2.9), ("V", 4.5)):
        length = "T" if name == "Q" else "S"
        proj = c.box(x, 1.4, f"$W_{name}$", w=0.8)
        c.arrow(xq if name == "Q" else (x, xkv.y + 0.25), proj, f"(B, {length}, C)", label_at=(0.45, 0))
        for h in range(heads):  # the output of W_Q cut into H slices of width D
            c.box(x - 0.4 + 0.8 * (h + 0.5) / heads, 2.45, w=0.8 / heads, h=0.22, kind="state", round=0.02)
        c.arrow(proj, (x, 2.34), f"(B, {length}, C)", label_at=(0.45, 0))
        c.arrow((x, 2.56), (x, 3.45), f"(B, H, {length}, D)", label_at=(0.55, 0.02), fontsize=9.5)
    for i in reversed(range(heads)):  # the heads, one behind the other
        d = 0.21 * i / (heads - 1)
        c.box(2.9 + d, 3.75 + d, "" if i else r"$\mathrm{head}_h = \operatorname{Attention}"
              r"(X_q W_Q^h, X_{kv} W_K^h, X_{kv} W_V^h)$", w=4.4, h=0.6, fontsize=10, z=2 + 0.01 * (heads - i))
    cat = c.box(2.9, 5.0, r"$[\mathrm{head}_1; \dots; \mathrm{head}_H]$", w=2.3, kind="plain")
    c.arrow((2.9, 4.26), cat, "(B, H, T, D)", label_at=(0.65, 0))
    w_o = c.box(2.9, 5.8, "$W_O$", w=0.8)
    c.arrow(cat, w_o, "(B, T, C)", label_at=(0.55, 0))
    out = c.box(2.9, 6.5, "output", w=0.9, h=0.35, kind="output", fontsize=10)
    c.arrow(w_o, out, "(B, T, C)", label_at=(0.55, 0))
    notes = [(1.4, "one $C \\times C$ matrix each"),
             (2.45, f"view, transpose: H = {heads} slices\nof width $D = C / H$"),
             (3.75, f"(6.1) on all {heads} heads at once"),
             (4.75, "transpose, reshape:\nthe heads side by side"),
             (5.8, "mixes the heads")]
    for y, note in notes:
        c.text(5.6, y, note, ha="left", fontsize=9, color=GREY)
    return c.fig


def pre_post_norm(show: tuple[str, ...] = ("post", "pre")) -> Figure:
    """The two places of the LayerNorm around a sub-layer (chapter 6, section 6.4), bottom to top.

    ``"post"``: $\\mathbf{x} \\leftarrow \\operatorname{LN}(\\mathbf{x} + \\operatorname{Sublayer}(\\mathbf{x}))$,
    the 2017 paper and ``EncoderLayer(norm_first=False)``; ``"pre"``: $\\mathbf{x} \\leftarrow
    \\mathbf{x} + \\operatorname{Sublayer}(\\operatorname{LN}(\\mathbf{x}))$, GPT-2 and
    ``TransformerConfig(norm_first=True)``, whose residual path from input to output has no LN on it.
    """
    if (not isinstance(show, tuple) or not 1 <= len(show) <= 2 or len(set(show)) != len(show)
            or not set(show) <= {"post", "pre"}):
        raise ValueError(f"show must be a tuple of 'post' and/or 'pre', each once, got {show!r}")
    panels = {
        "post": (r"post-norm: $\mathbf{x} \leftarrow \operatorname{LN}(\mathbf{x} + "
                 r"\operatorname{Sublayer}(\mathbf{x}))$", "norm_first=False: the 2017 paper"),
        "pre": (r"pre-norm: $\mathbf{x} \leftarrow \mathbf{x} + "
                r"\operatorname{Sublayer}(\operatorname{LN}(\mathbf{x}))$",
                "norm_first=True: GPT-2, most models since"),
    }
    c = Canvas(3.9 * len(show), 4.1, title="Where the LayerNorm sits: after the sum, or before the sub-layer")
    for i, name in enumerate(show):
        x = 3.9 * i + 1.95
        equation, note = panels[name]
        inp = c.box(x, 0.35, r"$\mathbf{x}$", w=0.6, h=0.4, kind="state")
        _, top = _sublayer(c, inp, x, 0.6, r"$\operatorname{Sublayer}$", name == "pre", w=1.6)
        c.arrow(top, c.box(x, 2.8, r"$\mathbf{x}$", w=0.6, h=0.4, kind="state"))
        c.text(x, 3.75, equation, fontsize=10)
        c.text(x, 3.4, note, fontsize=9, color=GREY)
    return c.fig


def encoder_decoder_layers(norm_first: bool = False) -> Figure:
    """An ``EncoderLayer`` and a ``DecoderLayer`` side by side, bottom to top (chapter 6, 6.4-6.5).

    Encoder: self-attention, then the FFN (6.3). Decoder: masked (causal) self-attention,
    cross-attention with queries $X_q$ from the target and keys and values $X_{kv}$ from the
    encoder's output, then the FFN. Each sub-layer is residual, with its LN after the sum
    (``norm_first=False``, the layers' default and the 2017 paper's) or before the sub-layer.
    """
    _check_bool("norm_first", norm_first)
    s, w, ex, dx, ey = 0.8, 1.9, 2.1, 6.0, 0.45
    dy = _below_cross(_top(ey, 2, s), norm_first, s)
    where = "pre-norm (norm_first=True)" if norm_first else "post-norm (norm_first=False, their default)"
    c = Canvas(8.4, _top(dy, 3, s) + 0.95, title=f"An encoder layer and a decoder layer, {where}")
    _, etop = _layer(c, (ex, 0.02), ex, ey, ["self-attention (6.2)", FFN], norm_first, w, -1, s)
    c.text(ex + 0.15, 0.15, "(B, S, C)", ha="left", fontsize=10)
    c.frame(ex - w / 2 - 0.42, ey - 0.05, ex + w / 2 + 0.2, _top(ey, 2, s) + 0.4, "EncoderLayer",
            label_at="top right", fontsize=9.5)
    (masked, cross, _), dtop = _layer(c, (dx, 0.02), dx, dy, ["masked self-attention", "cross-attention (6.2)",
                                                            FFN], norm_first, w, +1, s)
    c.text(dx - 0.15, 0.15, "(B, T, C)", ha="right", fontsize=10)
    c.frame(dx - w / 2 - 0.2, dy - 0.05, dx + w / 2 + 0.42, _top(dy, 3, s) + 0.4, "DecoderLayer",
            label_at="top right", fontsize=9.5)
    c.text(dx + w / 2 + 0.5, masked.y, "causal\nmask", ha="left", fontsize=9, color=GREY)
    _memory(c, etop, cross, "$X_{kv}$ = memory (B, S, C)")
    c.text(dx - (0.42 if norm_first else 0.22), cross.y - cross.h / 2 - 0.12, "$X_q$", ha="right", fontsize=10)
    c.arrow(dtop, (dx, dtop.y + 0.8), "(B, T, C)", label_at=(0.5, 0.22))
    return c.fig


def transformer_model(norm_first: bool = True) -> Figure:
    """The whole encoder-decoder of section 6.6, the picture of Vaswani et al. bottom to top (chapter 6).

    Token embeddings plus positions $PE$, $N$ encoder layers reading ``src``, $N$ decoder layers
    reading ``tgt_in`` and the encoder's output, then the output Linear and the softmax over the
    vocabulary. ``norm_first=True`` (``TransformerConfig``'s default, used by
    ``EncoderDecoder``) adds a final LN on each stack; ``False`` is the 2017 paper's post-norm.
    """
    _check_bool("norm_first", norm_first)
    s, w, ex, dx, ey = 0.7, 1.8, 2.4, 6.1, 1.5
    extra = 0.5 if norm_first else 0.0  # the final LN of each stack
    dy = _below_cross(_top(ey, 2, s) + extra, norm_first, s)
    c = Canvas(8.6, _top(dy, 3, s) + extra + 1.85,
               title="The encoder-decoder transformer, " + ("pre-norm like EncoderDecoder" if norm_first
                                                            else "post-norm like the 2017 paper"))

    def embed(x: float, ids: str, shape: str, side: int) -> Shape:
        """Token embedding plus positions, ``ids`` coming in from below; $PE$ on the ``side``."""
        emb = c.box(x, 0.7, "token embedding", w=1.6, h=0.36, fontsize=9.5)
        c.arrow((x, 0.0), emb)
        c.text(x + side * 0.12, 0.2, ids, ha="right" if side < 0 else "left", fontsize=10)
        plus = c.op(x, 1.2, "$+$", r=0.14)
        c.arrow(emb, plus)
        c.arrow(c.box(x + side * 1.0, plus.y, "$PE$", w=0.55, h=0.32, kind="input", fontsize=10), plus)
        c.text(x - side * 0.25, plus.y, shape, ha="left" if side < 0 else "right", fontsize=9.5)
        return plus

    def final_norm(top: Shape, x: float) -> Shape:
        if not norm_first:
            return top
        norm = c.box(x, top.y + top.h / 2 + 0.35, LN, w=0.7, h=0.22, fontsize=9.5)
        c.arrow(top, norm)
        return norm

    eplus = embed(ex, "src (B, S)", "(B, S, C)", -1)
    _, etop = _layer(c, eplus, ex, ey, ["self-attention", FFN], norm_first, w, -1, s)
    c.frame(ex - w / 2 - 0.4, ey - 0.02, ex + w / 2 + 0.15, _top(ey, 2, s) + 0.08)
    c.text(ex - w / 2 - 0.5, ey + STEP * s, r"$N\times$", ha="right", fontsize=12)
    etop = final_norm(etop, ex)
    dplus = embed(dx, "tgt_in (B, T)", "(B, T, C)", +1)
    (_, cross, _), dtop = _layer(c, dplus, dx, dy, ["masked self-attention", "cross-attention", FFN],
                                 norm_first, w, +1, s)
    c.frame(dx - w / 2 - 0.15, dy - 0.02, dx + w / 2 + 0.4, _top(dy, 3, s) + 0.08)
    c.text(dx + w / 2 + 0.5, dy + 1.5 * STEP * s, r"$N\times$", ha="left", fontsize=12)
    _memory(c, etop, cross, "memory (B, S, C)")
    dtop = final_norm(dtop, dx)
    head = c.box(dx, dtop.y + dtop.h / 2 + 0.4, "Linear", w=1.2, h=0.34, fontsize=10)
    c.arrow(dtop, head)
    soft = c.box(dx, head.y + 0.7, r"$\operatorname{softmax}$", w=1.2, h=0.34, fontsize=10, kind="output")
    c.arrow(head, soft, "logits (B, T, V)", label_at=(-0.95, 0), fontsize=9.5)
    c.arrow(soft, (dx, soft.y + 0.55), "next-token probabilities", label_at=(1.4, 0), fontsize=9.5)
    c.text(0.15, c.ax.get_ylim()[1] - 0.15, "$N$ = n_layer layers in each stack\n$PE$: learned positions "
           "or sinusoidal", ha="left", va="top", fontsize=9, color=GREY)
    return c.fig


def _mask_grid(c: Canvas, x: float, y: float, rows: int, cols: int, causal: bool, cell: float) -> None:
    """A rows x cols attention mask centred on ``x``, its top at ``y``: row t is a query, column s
    a key; a cell is filled where the query may attend to the key."""
    x0 = x - cols * cell / 2
    for t in range(rows):
        for k in range(cols):
            on = not causal or k <= t
            c.ax.add_patch(Rectangle((x0 + k * cell, y - (t + 1) * cell), cell, cell, zorder=2,
                                     facecolor=BLUE if on else "white", alpha=0.8 if on else 1.0,
                                     edgecolor="0.6", linewidth=0.6))


def three_variants(T: int = 5) -> Figure:
    """The three ways of section 6.6 to use the layers, each with its attention masks (chapter 6).

    Encoder-only (like BERT, ``EncoderClassifier``): every position attends to every other, a
    full $T \\times T$ mask. Decoder-only (like GPT, ``GPT``): a causal mask, position $t$ sees
    $1, \\dots, t$. Encoder-decoder (the 2017 transformer, ``EncoderDecoder``): a full mask in
    the encoder, a causal one in the decoder, and cross-attention from every target position
    to every source position. The grids have ``T`` target positions and S = T + 1 source ones.
    """
    _check_int("T", T, 3, 8)
    cell = 0.85 / (T + 1)
    c = Canvas(9.0, 5.6, title="Three variants from the same layers, and what each lets attention see")

    def stack(x: float, ids: str, layer: str, head: str | None, out: str | None) -> Shape:
        i = c.box(x, 2.15, ids, w=1.25, h=0.4, kind="input", fontsize=10)
        body = c.box(x, 2.95, layer, w=1.25, h=0.45, fontsize=10)
        c.arrow(i, body)
        if head:
            h = c.box(x, 3.7, head, w=1.25, h=0.4, fontsize=10)
            c.arrow(body, h)
            c.arrow(h, c.box(x, 4.4, out, w=1.25, h=0.4, kind="output", fontsize=10))
        return body

    for x, name, cls in ((1.2, "encoder-only, like BERT", "EncoderClassifier"),
                         (3.7, "decoder-only, like GPT", "GPT"),
                         (6.9, "encoder-decoder, the 2017 transformer", "EncoderDecoder")):
        c.text(x, 5.25, name, fontsize=10.5)
        c.text(x, 4.95, cls, fontsize=9, color=GREY)
    stack(1.2, "ids (B, T)", r"$N\times$ encoder", "mean, Linear", "(B, classes)")
    stack(3.7, "ids (B, T)", r"$N\times$ causal", "Linear", "(B, T, V)")
    enc = stack(5.85, "src (B, S)", r"$N\times$ encoder", None, None)
    dec = stack(7.95, "tgt_in (B, T)", r"$N\times$ decoder", "Linear", "(B, T, V)")
    c.arrow(enc, dec, "memory", label_at=(0, 0.17), fontsize=9)
    S, y = T + 1, 1.65
    for x, rows, cols, causal, label in ((1.2, T, T, False, "full $T \\times T$:\nevery $t$ sees every key"),
                                         (3.7, T, T, True, "causal $T \\times T$:\n$t$ sees $1, \\dots, t$"),
                                         (5.6, S, S, False, "encoder:\nfull $S \\times S$"),
                                         (6.9, T, T, True, "decoder:\ncausal $T \\times T$"),
                                         (8.2, T, S, False, "cross $T \\times S$:\nall of the source")):
        _mask_grid(c, x, y, rows, cols, causal, cell)
        c.text(x, y - S * cell - 0.12, label, fontsize=9, va="top")
    c.text(4.5, 0.1, "masks: row = query $t$, column = key; filled = may attend", fontsize=9, color=GREY)
    return c.fig
