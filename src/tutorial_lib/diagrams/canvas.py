"""The drawing kit every diagram of the book is made with (chapters 2, 4-7, 9, 10).

A :class:`Canvas` is one matplotlib figure whose axes are measured in *units* (one unit is
0.9 inch at book width), with the y axis pointing up. Diagrams place boxes, operation circles
and arrows on it by their centres; arrows are clipped to the shapes they join, so a diagram
reads like its equation: data flows left to right or bottom to top.

The look is the book's: the plots' colour-blind-safe palette (light tints for fills, the full
colour for edges and arrows), the house fonts, and mathtext for every symbol, written exactly
as in the chapter's equations (``$\\mathbf{h}_t$``).

Kinds of box, each with its colour:

==========  ======================================================
input       what comes in: tokens, x_t, a prompt              (blue)
state       what is carried: h_t, C_t, the residual stream    (orange)
output      what comes out: o_t, logits, a loss               (green)
layer       a learned map: a linear layer, attention, a model (grey)
highlight   what the diagram is about: what is trained, a gate (vermillion edge)
frozen      what is not trained                                (hatched grey)
plain       anything else, e.g. a note's frame                 (white)
==========  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch

from tutorial_lib.plots import PALETTE, use_style

UNIT = 0.9  # inches per unit: a 10-unit-wide diagram fills the book's text column

BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY = PALETTE[:6]
INK = "#222222"  # text and edges
GREY = "0.45"  # secondary text, frames

# kind -> (face, edge, hatch)
KINDS: dict[str, tuple[str, str, str | None]] = {
    "input": ("#e3eef8", BLUE, None),
    "state": ("#fcebd9", ORANGE, None),
    "output": ("#dff2e9", GREEN, None),
    "layer": ("#ececec", "0.35", None),
    "highlight": ("#fbe3d6", VERMILLION, None),
    "frozen": ("#f2f2f2", "0.55", "///"),
    "plain": ("white", "0.35", None),
}

# arrow kind -> (colour, line style)
ARROWS: dict[str, tuple[str, str]] = {
    "forward": (INK, "-"),  # data, left to right or bottom to top
    "gradient": (VERMILLION, "--"),  # what flows backwards
    "weak": (GREY, ":"),  # a copy, a reference, a path that is cut
    "highlight": (VERMILLION, "-"),
    "blue": (BLUE, "-"),
    "green": (GREEN, "-"),
}


@dataclass
class Shape:
    """A placed box or circle: its centre, its size and the patch arrows are clipped to."""

    x: float
    y: float
    w: float
    h: float
    patch: Patch

    @property
    def left(self) -> tuple[float, float]:
        return (self.x - self.w / 2, self.y)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y)

    @property
    def top(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x, self.y - self.h / 2)


def _check_kind(kind: str, table: dict, what: str) -> None:
    if kind not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {kind!r}")


class Canvas:
    """A ``width`` x ``height`` unit drawing area with the book's look; ``canvas.fig`` is the figure.

    >>> c = Canvas(4, 2, title="x to h")
    >>> x, h = c.box(1, 1, "$x$", kind="input"), c.box(3, 1, "$h$", kind="state")
    >>> _ = c.arrow(x, h, "$U$")
    """

    def __init__(self, width: float, height: float, title: str | None = None) -> None:
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 20:
                raise ValueError(f"{name} must be a number of units in (0, 20], got {value!r}")
        use_style()
        extra = 0.45 if title else 0.0
        self.fig: Figure = plt.figure(figsize=(width * UNIT, height * UNIT + extra), layout="none")
        top = height * UNIT / (height * UNIT + extra)
        self.ax = self.fig.add_axes((0.0, 0.0, 1.0, top))
        self.ax.set_xlim(0, width)
        self.ax.set_ylim(0, height)
        self.ax.set_aspect("equal")
        self.ax.axis("off")
        if title:
            self.fig.suptitle(title, y=1 - 0.08 / (height * UNIT + extra), va="top", fontsize=12)

    def box(
        self,
        x: float,
        y: float,
        text: str = "",
        w: float = 0.8,
        h: float = 0.5,
        kind: str = "layer",
        fontsize: float = 11,
        round: float = 0.08,
        z: float = 2,
    ) -> Shape:
        """A rounded box of ``w`` x ``h`` units centred on (x, y), with ``text`` in it."""
        _check_kind(kind, KINDS, "kind")
        face, edge, hatch = KINDS[kind]
        patch = FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={round}",
            facecolor=face, edgecolor=edge, hatch=hatch, linewidth=1.3, zorder=z,
        )
        self.ax.add_patch(patch)
        if text:
            # on a hatched box the text sits on a white patch, so the hatching never crosses it
            back = dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none") if hatch else None
            self.ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK, zorder=z + 1,
                         bbox=back)
        return Shape(x, y, w, h, patch)

    def op(self, x: float, y: float, text: str, r: float = 0.2, kind: str = "plain", fontsize: float = 11) -> Shape:
        """A circle of radius ``r`` for an operation applied element-wise: $+$, $\\odot$, $\\sigma$."""
        _check_kind(kind, KINDS, "kind")
        face, edge, _ = KINDS[kind]
        patch = Circle((x, y), r, facecolor=face, edgecolor=edge, linewidth=1.3, zorder=3)
        self.ax.add_patch(patch)
        self.ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK, zorder=4)
        return Shape(x, y, 2 * r, 2 * r, patch)

    def frame(self, x0: float, y0: float, x1: float, y1: float, label: str = "", kind: str = "plain",
              label_at: str = "top left", fontsize: float = 10) -> Shape:
        """A light frame from (x0, y0) to (x1, y1) around a group of shapes, e.g. one layer."""
        _check_kind(kind, KINDS, "kind")
        face, edge, hatch = KINDS[kind]
        patch = FancyBboxPatch(
            (x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=0.15",
            facecolor=face if kind != "plain" else "none", edgecolor=edge, hatch=hatch,
            linewidth=1.0, linestyle="-", alpha=0.5 if kind != "plain" else 1.0, zorder=0.5,
        )
        self.ax.add_patch(patch)
        if label:
            vert, horiz = label_at.split()
            lx = {"left": x0 + 0.12, "right": x1 - 0.12, "center": (x0 + x1) / 2}[horiz]
            ly = y1 - 0.1 if vert == "top" else y0 + 0.1
            self.ax.text(lx, ly, label, ha=horiz, va="top" if vert == "top" else "bottom",
                         fontsize=fontsize, color=GREY, zorder=1)
        return Shape((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, patch)

    def arrow(
        self,
        a: Shape | tuple[float, float],
        b: Shape | tuple[float, float],
        label: str = "",
        kind: str = "forward",
        bend: float = 0.0,
        corner: str | None = None,
        label_at: tuple[float, float] = (0.0, 0.0),
        fontsize: float = 10,
        head: bool = True,
    ) -> FancyArrowPatch:
        """An arrow from ``a`` to ``b`` (shapes or points), clipped to the shapes' outlines.

        ``bend`` curves it (as matplotlib's ``arc3`` radius); ``corner="h"`` goes horizontally
        first then vertically, ``"v"`` the other way. ``label`` is written at the middle of the
        straight line, moved by ``label_at`` units, in the arrow's colour.
        """
        _check_kind(kind, ARROWS, "kind")
        color, style = ARROWS[kind]
        pa, pb = (a.patch, (a.x, a.y)) if isinstance(a, Shape) else (None, a)
        qa, qb = (b.patch, (b.x, b.y)) if isinstance(b, Shape) else (None, b)
        if corner not in (None, "h", "v"):
            raise ValueError(f"corner must be None, 'h' or 'v', got {corner!r}")
        if corner == "h":
            connection = "angle,angleA=0,angleB=90,rad=0"
        elif corner == "v":
            connection = "angle,angleA=90,angleB=0,rad=0"
        else:
            connection = f"arc3,rad={bend}"
        arrow = FancyArrowPatch(
            pb, qb, patchA=pa, patchB=qa, shrinkA=1.5, shrinkB=1.5, connectionstyle=connection,
            arrowstyle="-|>,head_length=0.45,head_width=0.22" if head else "-",
            mutation_scale=12, color=color, linestyle=style, linewidth=1.4, zorder=1.5,
        )
        self.ax.add_patch(arrow)
        if label:
            if corner == "h":
                mx, my = qb[0], pb[1]
            elif corner == "v":
                mx, my = pb[0], qb[1]
            else:
                mx, my = (pb[0] + qb[0]) / 2, (pb[1] + qb[1]) / 2
            self.ax.text(mx + label_at[0], my + label_at[1], label, ha="center", va="center",
                         fontsize=fontsize, color=color, zorder=5)
        return arrow

    def line(self, points: list[tuple[float, float]], kind: str = "forward", head: bool = True) -> None:
        """A path through ``points`` (units), with an arrow head at the last one."""
        _check_kind(kind, ARROWS, "kind")
        if len(points) < 2:
            raise ValueError(f"points must hold at least 2 points, got {len(points)}")
        color, style = ARROWS[kind]
        xs, ys = zip(*points)
        self.ax.plot(xs[:-1] + (xs[-1],), ys[:-1] + (ys[-1],), color=color, linestyle=style, lw=1.4,
                     zorder=1.5, solid_capstyle="butt")
        if head:
            self.ax.add_patch(FancyArrowPatch(
                points[-2], points[-1], arrowstyle="-|>,head_length=0.45,head_width=0.22",
                mutation_scale=12, color=color, linewidth=0, shrinkA=0, shrinkB=1.5, zorder=1.6))

    def text(self, x: float, y: float, text: str, fontsize: float = 10, color: str = INK,
             ha: str = "center", va: str = "center", **kw) -> None:
        """Free text at (x, y): a shape on an arrow, a note, a caption inside the drawing."""
        self.ax.text(x, y, text, ha=ha, va=va, fontsize=fontsize, color=color, zorder=5, **kw)

    def legend(self, entries: list[tuple[str, str]], x: float, y: float,
               step: tuple[float, float] = (0.0, -0.32)) -> None:
        """Keys (kind, meaning) for box or arrow kinds, the first at (x, y), each next one ``step`` on."""
        for i, (kind, meaning) in enumerate(entries):
            x, yy = x + (i > 0) * step[0], y + i * step[1]
            if kind in KINDS:
                self.box(x + 0.18, yy, w=0.36, h=0.22, kind=kind, round=0.04)
            elif kind in ARROWS:
                self.arrow((x, yy), (x + 0.4, yy), kind=kind)
            else:
                raise ValueError(f"legend kind must be a box or arrow kind, got {kind!r}")
            self.text(x + 0.52, yy, meaning, ha="left", fontsize=9, color=GREY)
