"""The book's plotting helpers, one house style (all chapters).

Every helper returns a :class:`matplotlib.figure.Figure` (or draws on the
``ax`` you pass and returns its figure). Helpers never save files, never call
``plt.show()`` and print nothing. Figures are made with ``plt.subplots``, so a
notebook shows each one once at the end of the cell: assign the result
(``fig = plot_history(h)``) or end the line with ``;`` so Jupyter does not show
it a second time as the cell's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

if TYPE_CHECKING:  # only for the type hint; plots does not need torch
    from tutorial_lib.train import History

# Okabe & Ito (2008), colour-blind safe. Ordered so that the first lines drawn
# are the most distinct; yellow (weak on white) and black come last.
PALETTE: list[str] = [
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]

# Visible stand-ins for characters that would otherwise be invisible on a plot.
_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "↵"}


def _retina_in_notebooks() -> None:
    """Ask IPython's inline backend for 2x PNGs; nothing happens outside a notebook kernel."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        set_matplotlib_formats("retina")


def use_style() -> None:
    """Set matplotlib's rcParams to the book's house style (all chapters).

    Readable at book width, colour-blind-safe colours, light grid, no top and
    right spines. In a notebook kernel, figures are also shown as 2x ("retina")
    PNGs, so they stay crisp on high-density screens and in the web book. Safe to
    call any number of times.
    """
    _retina_in_notebooks()
    plt.rcParams.update(
        {
            "figure.dpi": 110,  # sharp in the book, small notebooks
            "savefig.dpi": 150,
            "figure.figsize": (7.0, 3.6),
            "figure.constrained_layout.use": True,
            "font.size": 11,
            "axes.labelsize": 11,
            "axes.titlesize": 12,
            "legend.fontsize": 10,
            "xtick.labelsize": 10,
            "ytick.labelsize": 10,
            "axes.prop_cycle": cycler(color=PALETTE),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def new_figure(
    ncols: int = 1, nrows: int = 1, figsize: tuple[float, float] | None = None, **kw: Any
) -> tuple[Figure, Any]:
    """A figure in the house style: ``plt.subplots(nrows, ncols, ...)`` after :func:`use_style`.

    Returns ``(fig, ax)`` with one ``Axes``, or ``(fig, axes)`` with an array of them
    when ``ncols * nrows > 1``. Extra keywords go to ``plt.subplots`` (all chapters).
    """
    use_style()
    return plt.subplots(nrows=nrows, ncols=ncols, figsize=figsize, **kw)


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    """The given ``ax`` and its figure, or a fresh single-panel figure."""
    if ax is None:
        return new_figure()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    use_style()
    return ax.figure, ax


def _same_length(**named: Sequence[Any]) -> int:
    """Length shared by all the named sequences; ValueError naming the odd one out."""
    (first, first_seq), *rest = named.items()
    n = len(first_seq)
    for name, seq in rest:
        if len(seq) != n:
            raise ValueError(f"{name} must have the same length as {first} ({n}), got {len(seq)}")
    return n


def _visible(ch: str) -> str:
    """A character as it should appear on an axis: whitespace made visible."""
    if not isinstance(ch, str):
        raise TypeError(f"chars must be strings, got {type(ch).__name__}")
    return _VISIBLE.get(ch, ch)


def _check_top(top: int) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")


def plot_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str,
    ax: Axes | None = None,
    logy: bool = False,
    hline: float | None = None,
    hline_label: str | None = None,
    marker: str | None = None,
    logx: bool = False,
    spread: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    legend_loc: str = "best",
    slopes: Mapping[str, float] | None = None,
) -> Figure:
    """Several labelled lines ``label -> (x, y)`` on one axes, with a legend (all chapters).

    ``hline`` adds a dashed grey horizontal reference line (e.g. a baseline loss),
    labelled ``hline_label``. ``logy`` puts y on a log scale; ``logx`` puts x on a log scale:
    base 2 with a tick at every measured x when there are at most 12 (chapter 6), else base 10
    with matplotlib's own ticks (chapter 7). ``marker`` (e.g. "o") marks every
    measured point. ``spread`` maps a curve's label to ``(low, high)`` at each of its x: a band
    in the curve's colour, such as the range over seeds (chapter 3). ``styles`` maps a curve's
    label to keyword arguments of ``ax.plot`` (``color``, ``linestyle``, ...), for example one
    colour per model and one line style per decoding rule (chapter 5); a style's ``marker``
    overrides ``marker`` for its curve. ``legend_loc`` places the
    legend (matplotlib's names, "outside right" for beside the axes). ``slopes`` (with ``logx``
    and ``logy``) maps a label such as "O(T²)" to a power p and draws a thin grey reference line
    y ∝ x^p through the first point of the first curve. A log y-axis spanning three decades or
    fewer is labelled at 1, 2 and 5 times each power of ten, in plain numbers. Returns the figure.
    """
    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise ValueError("curves must be a non-empty mapping label -> (x, y)")
    for label, xy in curves.items():
        if len(xy) != 2:
            raise ValueError(f"curves[{label!r}] must be a pair (x, y), got {len(xy)} items")
        _same_length(**{f"curves[{label!r}] x": xy[0], f"curves[{label!r}] y": xy[1]})
    for label, band in (spread or {}).items():
        if label not in curves or len(band) != 2:
            raise ValueError(f"spread[{label!r}] must be a pair (low, high) for one of the curves {list(curves)}")
        _same_length(**{f"curves[{label!r}] x": curves[label][0], f"spread[{label!r}] low": band[0],
                        f"spread[{label!r}] high": band[1]})
    for label in styles or {}:
        if label not in curves or not isinstance(styles[label], Mapping):
            raise ValueError(f"styles[{label!r}] must be a mapping of plot options for one of the curves {list(curves)}")
    fig, ax = _axes(ax)
    for label, (x, y) in curves.items():
        options = {"marker": marker, **(styles or {}).get(label, {})}  # a style may set its own marker
        (line,) = ax.plot(x, y, label=label, **options)
        if spread and label in spread:
            ax.fill_between(x, *spread[label], color=line.get_color(), alpha=0.2, linewidth=0)
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle="--", linewidth=1.2, label=hline_label or "reference")
    if slopes:
        if not (logx and logy):
            raise ValueError("slopes need logx=True and logy=True: a power law is a line on log-log axes")
        x0, y0 = (np.asarray(v, dtype=float) for v in next(iter(curves.values())))
        xs = np.array([x0.min(), x0.max()])
        for (label, power), style in zip(slopes.items(), [(0, (1, 2)), (0, (4, 2)), (0, (6, 2, 1, 2))]):
            ax.plot(xs, y0[np.argmin(x0)] * (xs / xs[0]) ** float(power), color="grey",
                    linewidth=1, linestyle=style, label=label)
    if logy:
        ax.set_yscale("log")
        low, high = (v for v in ax.get_ylim())
        if 0 < low and high / low <= 1e3:  # few decades: label 1, 2, 5 x 10^k in plain numbers
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
    if logx:
        ticks = sorted({float(v) for _, (x, _) in curves.items() for v in x})
        if len(ticks) <= 12:
            ax.set_xscale("log", base=2)
            ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
            ax.xaxis.set_minor_locator(plt.NullLocator())
        else:  # a tick per point would overlap
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 10, not 10^1
    elif all(float(v).is_integer() for _, (x, _) in curves.items() for v in x):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no ticks between integer x
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if legend_loc == "outside right":
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    else:
        ax.legend(loc=legend_loc)
    return fig


def plot_history(
    history: History,
    title: str = "Training and validation loss",
    ax: Axes | None = None,
    baseline: float | None = None,
    baseline_label: str | None = None,
    baselines: Mapping[str, float] | None = None,
) -> Figure:
    """Loss curves of a :class:`tutorial_lib.train.History` (chapter 2).

    The per-batch training loss is drawn faintly with a short moving average on
    top; validation evaluations are joined points. ``baseline`` adds a dashed
    reference line (e.g. ``log(V)``, the loss of a uniform guess); ``baselines`` maps
    further labels to values, each drawn in its own line style. Returns the figure.
    """
    if baselines is not None and not isinstance(baselines, Mapping):
        raise TypeError(f"baselines must be a mapping label -> value, got {type(baselines).__name__}")
    n = _same_length(**{"history.steps": history.steps, "history.train_loss": history.train_loss})
    _same_length(**{"history.val_steps": history.val_steps, "history.val_loss": history.val_loss})
    fig, ax = _axes(ax)
    steps = np.asarray(history.steps, dtype=float)
    loss = np.asarray(history.train_loss, dtype=float)
    if n > 0:
        ax.plot(steps, loss, color=PALETTE[0], alpha=0.25, linewidth=0.8, label="train (per batch)")
        w = max(1, min(50, n // 10))  # a short moving-average window
        if w > 1:
            smooth = np.convolve(loss, np.ones(w) / w, mode="valid")  # (n - w + 1,)
            ax.plot(steps[w - 1 :], smooth, color=PALETTE[0], label=f"train (mean of last {w})")
    if len(history.val_steps) > 0:
        ax.plot(history.val_steps, history.val_loss, "o-", color=PALETTE[1], markersize=4, label="validation")
    if baseline is not None:
        ax.axhline(baseline, color="grey", linestyle="--", linewidth=1.2, label=baseline_label or "baseline")
    for (label, value), style in zip((baselines or {}).items(), [":", "-.", (0, (5, 1, 1, 1))]):
        ax.axhline(value, color="black", linestyle=style, linewidth=1.2, label=label)
    ax.set(xlabel="optimisation step", ylabel="loss (nats per token)", title=title)
    ax.legend()
    return fig


def plot_order_sweep(
    orders: Sequence[int],
    train_ce: Sequence[float],
    val_ce: Sequence[float],
    coverage: Sequence[float] | None = None,
    title: str = "Higher orders fit the training text better but generalise worse",
) -> Figure:
    """Train and validation cross-entropy of n-gram models against their order (chapter 1).

    ``orders``: the n of each model; ``train_ce``, ``val_ce``: cross-entropy in nats
    per character. The order with the lowest validation loss is marked. If
    ``coverage`` (fractions in [0, 1] of validation contexts seen in training) is
    given, a second panel shows it in percent. Returns the figure (1 or 2 axes).
    """
    _same_length(orders=orders, train_ce=train_ce, val_ce=val_ce)
    if len(orders) == 0:
        raise ValueError("orders must not be empty")
    if coverage is not None:
        _same_length(orders=orders, coverage=coverage)
        cov = np.asarray(coverage, dtype=float)
        if np.any((cov < 0) | (cov > 1)):
            raise ValueError("coverage must hold fractions in [0, 1]")
    fig, axes = new_figure(ncols=2 if coverage is not None else 1, figsize=(10, 3.6) if coverage is not None else None)
    ax = axes[0] if coverage is not None else axes
    ax.plot(orders, train_ce, "o-", label="train")
    ax.plot(orders, val_ce, "s-", label="validation")
    val = np.asarray(val_ce, dtype=float)
    if np.isfinite(val).any():
        i = int(np.nanargmin(np.where(np.isfinite(val), val, np.nan)))
        ax.plot([orders[i]], [val[i]], "o", markersize=14, markerfacecolor="none", markeredgecolor="black")
        ax.annotate(
            f"best validation: n = {orders[i]}\n({val[i]:.2f} nats/char)",
            xy=(orders[i], val[i]),
            xytext=(0, 28),
            textcoords="offset points",
            ha="center",
            arrowprops={"arrowstyle": "->", "color": "black"},
        )
    ax.set(xlabel="n-gram order n", ylabel="cross-entropy (nats per char)", title=title, xticks=list(orders))
    ax.legend()
    if coverage is not None:
        ax2 = axes[1]
        ax2.plot(orders, 100 * cov, "o-", color=PALETTE[2])
        ax2.set(
            xlabel="n-gram order n",
            ylabel="validation contexts seen (%)",
            title="Share of validation contexts seen in training",
            xticks=list(orders),
            ylim=(0, 105),
        )
    return fig


def plot_char_frequencies(
    chars: Sequence[str],
    counts: Sequence[int],
    top: int = 40,
    ax: Axes | None = None,
    title: str = "Most frequent characters (␣ = space, ⏎ = newline)",
) -> Figure:
    """Bar chart of the ``top`` most frequent characters, most frequent first (chapter 1).

    ``chars[i]`` occurs ``counts[i]`` times; whitespace is drawn as ␣ (space),
    ⏎ (newline) and ⇥ (tab). Returns the figure.
    """
    _same_length(chars=chars, counts=counts)
    _check_top(top)
    order = np.argsort(-np.asarray(counts, dtype=float), kind="stable")[:top]
    fig, ax = _axes(ax)
    labels = [_visible(chars[i]) for i in order]
    ax.bar(range(len(order)), [counts[i] for i in order], color=PALETTE[0])
    ax.set_xticks(range(len(order)), labels, fontfamily="monospace")  # l, I and | differ in a fixed-width font
    ax.grid(axis="x", visible=False)
    ax.set(xlabel="character", ylabel="count (occurrences)", title=title)
    return fig


def plot_next_char_distribution(
    chars: Sequence[str],
    probs: Sequence[float],
    top: int = 15,
    ax: Axes | None = None,
    title: str = "The model's most likely next characters",
) -> Figure:
    """Horizontal bars of the ``top`` most probable next characters, most likely on top (chapter 1).

    ``probs[i]`` is the probability of ``chars[i]`` (a distribution over the
    vocabulary); whitespace is drawn as ␣, ⏎ and ⇥. Returns the figure.
    """
    _same_length(chars=chars, probs=probs)
    _check_top(top)
    p = np.asarray(probs, dtype=float)
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError("probs must lie in [0, 1]")
    order = np.argsort(-p, kind="stable")[:top]
    fig, ax = _axes(ax)
    bars = ax.barh(range(len(order)), p[order], color=PALETTE[0])
    ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=9)
    ax.set_yticks(range(len(order)), [_visible(chars[i]) for i in order], fontfamily="monospace")
    ax.invert_yaxis()  # most likely on top
    ax.grid(axis="y", visible=False)
    ax.set_xlim(0, min(1.0, 1.15 * float(p[order].max()) + 0.02) if len(order) else 1.0)
    ax.set(xlabel="probability of the next character", ylabel="next character", title=title)
    return fig


# Plain Unicode, not mathtext: Agg parses mathtext again on every draw, which makes a live
# widget slow. DejaVu Sans, matplotlib's default font, has the subscript k and superscripts.
GRAD_NORM_LABEL = "‖∂L/∂hₖ‖ (log scale)"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _label_decades(ax: Axes) -> None:
    """Label the major ticks of a log y-axis 10⁻⁶, 10⁰, 10³ ... in plain text (no mathtext)."""
    def decade(v: float, _pos: int) -> str:
        return "10" + str(round(np.log10(v))).translate(_SUPERSCRIPT) if v > 0 else ""
    ax.yaxis.set_major_formatter(FuncFormatter(decade))


def _positive_or_nan(y: Any, name: str) -> np.ndarray:
    """A 1-D float array with non-positive and non-finite entries replaced by NaN (not drawn on a log axis)."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (T,), got shape {y.shape}")
    return np.where(np.isfinite(y) & (y > 0), y, np.nan)


def plot_grad_norms(
    norms_by_label: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    title: str = "How much of the gradient at step T reaches step k",
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """``‖∂L/∂h_k‖`` against the time step k = 1..T on a log axis, one labelled line each (chapter 3).

    ``norms_by_label`` maps a label (e.g. "tanh, ρ = 0.9") to an array (T,) as returned by
    :func:`tutorial_lib.gradients.hidden_grad_norms`. Zeros, negatives and inf/NaN are left out
    (a log axis cannot show them); the x-axis always spans 1..T, so a gradient that underflowed
    to zero shows as a line that stops. ``ylim`` fixes the y range. Returns the figure.
    """
    if not isinstance(norms_by_label, Mapping) or len(norms_by_label) == 0:
        raise ValueError("norms_by_label must be a non-empty mapping label -> norms (T,)")
    curves = {label: _positive_or_nan(y, f"norms_by_label[{label!r}]") for label, y in norms_by_label.items()}
    fig, ax = _axes(ax)
    for label, y in curves.items():
        ax.plot(np.arange(1, len(y) + 1), y, label=label)
    ax.set_xlim(0, max(len(y) for y in curves.values()) + 1)  # all of 1..T, even where nothing is drawn
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # whole time steps
    ax.set_yscale("log")
    _label_decades(ax)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set(xlabel="time step k", ylabel=GRAD_NORM_LABEL, title=title)
    ax.legend()
    return fig


def plot_gradient_grid(
    grid: Mapping[str, Any],
    ylim: tuple[float, float] | None = None,
    title: str = "The gradient reaching step k shrinks or grows geometrically with T - k",
) -> Figure:
    """Small multiples of ``‖∂L/∂h_k‖``: one panel per activation, one line per spectral radius ρ (chapter 3).

    ``grid`` is the dict of :func:`tutorial_lib.gradients.gradient_grid` (keys ``"radii"`` (R,),
    ``"activations"`` (A,), ``"T"``, ``"norms"`` (R, A, T)). The panels share a log y-axis; with
    ``ylim`` None it spans every curve, smallest to largest value, so none leaves the panel; a
    given ``ylim`` clips to it. One legend names the radii. Returns the figure.
    """
    for key in ("radii", "activations", "T", "norms"):
        if key not in grid:
            raise ValueError(f"grid must have the keys 'radii', 'activations', 'T', 'norms'; missing {key!r}")
    radii, activations = list(grid["radii"]), list(grid["activations"])
    norms = np.asarray(grid["norms"], dtype=float)
    expected = (len(radii), len(activations), int(grid["T"]))
    if norms.shape != expected or 0 in expected:
        raise ValueError(f"grid['norms'] must have shape (len(radii), len(activations), T) = {expected}, "
                         f"got {norms.shape}")
    A = len(activations)
    if ylim is None:
        positive = norms[np.isfinite(norms) & (norms > 0)]
        ylim = (positive.min() / 10, positive.max() * 10) if positive.size else (1e-12, 1e6)
    fig, axes = new_figure(ncols=A, figsize=(min(9.0, 2.2 * A + 0.6), 4.0), sharey=True, squeeze=False)
    # the radii are ordered, so a sequential colour-blind-safe map (dark = small ρ), not PALETTE
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(radii)))
    k = np.arange(1, expected[2] + 1)
    for j, (ax, name) in enumerate(zip(axes[0], activations)):
        for i, rho in enumerate(radii):
            y = _positive_or_nan(norms[i, j], f"grid['norms'][{i}, {j}]")
            ax.plot(k, y, color=colors[i], label=f"ρ = {rho:g}")
        ax.set_yscale("log")
        _label_decades(ax)
        ax.set_ylim(*ylim)
        ax.set_xlim(0, expected[2] + 1)
        # ticks at T/2 and T only, so neighbouring panels' labels never touch
        ax.set_xticks([expected[2] // 2, expected[2]])
        ax.set(title=name, xlabel="time step k")
    axes[0, 0].set_ylabel(GRAD_NORM_LABEL)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(radii),
               title="spectral radius of W")
    fig.suptitle(title)
    return fig


def plot_gate_traces(
    trace: Mapping[str, Any],
    y: Sequence[int],
    unit: int,
    title: str = "What a trained LSTM does at each step",
) -> Figure:
    """The LSTM's gates and one unit of its cell state over a delayed-recall sequence (chapter 4).

    ``trace`` maps "f", "i", "o" and "C" to arrays (B, T, d_h), as returned by
    :meth:`tutorial_lib.gates.SequenceClassifier.trace` for B sequences of the same length;
    ``y`` (B,) is the symbol each sequence must remember (its first token). Left: the forget,
    input and output gates of unit ``unit`` averaged over sequences, one line style each, with
    the 10-90% range across all units shaded. Steps are numbered 1..T. Right: C_t of unit ``unit``, averaged over the sequences that share a symbol,
    one line per symbol: lines that stay apart mean the cell still holds the symbol.
    Returns the figure.
    """
    for key in ("f", "i", "o", "C"):
        if key not in trace:
            raise ValueError(f"trace must have the keys 'f', 'i', 'o', 'C'; missing {key!r}")
    arrays = {k: np.asarray(trace[k], dtype=float) for k in ("f", "i", "o", "C")}
    shape = arrays["C"].shape
    if len(shape) != 3 or any(a.shape != shape for a in arrays.values()):
        raise ValueError(f"trace['f'], ['i'], ['o'], ['C'] must all have one shape (B, T, d_h), got "
                         f"{ {k: a.shape for k, a in arrays.items()} }")
    B, T, d_h = shape
    y = np.asarray(y)
    if y.shape != (B,):
        raise ValueError(f"y must have shape (B,) = ({B},), got {y.shape}")
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < d_h:
        raise ValueError(f"unit must be an int in [0, {d_h}), got {unit!r}")
    fig, (left, right) = new_figure(ncols=2, figsize=(9.0, 3.8))
    t = np.arange(1, T + 1)  # steps 1..T: the symbol at step 1, the query at step T
    names = {"f": "forget gate f_t", "i": "input gate i_t", "o": "output gate o_t"}
    for color, style, (key, label) in zip(PALETTE, ["-", "--", ":"], names.items()):
        per_unit = arrays[key].mean(axis=0)  # (T, d_h): mean over sequences
        left.plot(t, per_unit[:, unit], color=color, linestyle=style, linewidth=2, label=label)
        lo, hi = np.percentile(per_unit, [10, 90], axis=1)
        left.fill_between(t, lo, hi, color=color, alpha=0.15, linewidth=0)
    left.set_ylim(0, 1.05)
    left.set(xlabel="time step t", ylabel="gate value (mean over sequences)",
             title=f"gates of unit {unit} (bands: 10-90% of all units)")
    left.legend(loc="lower left", fontsize=9)
    symbols = np.unique(y)
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(symbols)))
    for color, s in zip(colors, symbols):
        right.plot(t, arrays["C"][y == s, :, unit].mean(axis=0), color=color, label=str(s))
    right.set(xlabel="time step t", ylabel=f"cell state C_t, unit {unit}", title="one unit of the cell, by symbol")
    right.legend(title="symbol", ncols=2, fontsize=8, title_fontsize=9, loc="best")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    return fig


def _check_weights(weights: Any, rows: int, cols: int, name: str = "weights") -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (rows, cols):
        raise ValueError(f"{name} must have shape (len(target), len(source)) = ({rows}, {cols}), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or (w > 1 + 1e-6).any():
        raise ValueError(f"{name} must hold attention weights in [0, 1]")
    return w


def plot_attention(
    weights: Any,
    source: Sequence[str],
    target: Sequence[str],
    alignment: Sequence[int | Sequence[int]] | None = None,
    ax: Axes | None = None,
    title: str | None = "Where the decoder looks while it writes each word",
    colorbar: bool = True,
    xlabel: str = "source word (attended to)",
    ylabel: str = "target word (being written)",
    vmax: float = 1.0,
) -> Figure:
    """An attention heatmap: one row per target word, one column per source word (chapter 5).

    ``weights`` (len(target), len(source)) holds α_ij, each row summing to 1 (a row for <eos>
    may be included: pass it in ``target``). ``alignment[j]``, if given, is the source position
    that ``target[j]`` truly translates, or a list of them (chapter 8: every earlier answer worth
    copying; empty for none); each is outlined with a blue square, so a reader can see at a glance
    whether the model looks where it should. ``vmax`` below 1 stretches the colours over small
    weights (chapter 8's diffuse heads); single-character labels stand upright. Returns the figure.
    """
    w = _check_weights(weights, len(target), len(source))
    if not 0 < vmax <= 1:
        raise ValueError(f"vmax must be in (0, 1], got {vmax!r}")
    fig, ax = _axes(ax)
    image = ax.imshow(w, cmap="magma", vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.grid(False)
    if max(len(str(s)) for s in source) <= 1:
        ax.set_xticks(range(len(source)), source)
    else:
        ax.set_xticks(range(len(source)), source, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(target)), target)
    ax.tick_params(length=0)
    if alignment is not None:
        rows = [[i] if isinstance(i, (int, np.integer)) else list(i) for i in alignment]
        if len(rows) > len(target) or any(not 0 <= int(i) < len(source) for row in rows for i in row):
            raise ValueError(f"alignment must hold at most {len(target)} entries, each a source position in "
                             f"[0, {len(source)}) or a list of them")
        for j, row in enumerate(rows):
            for i in row:
                ax.add_patch(plt.Rectangle((int(i) - 0.5, j - 0.5), 1, 1, fill=False, edgecolor="#56B4E9",
                                           linewidth=1.8))
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(image, ax=ax, label="attention weight α", shrink=0.9)
    return fig


def plot_attention_grid(
    examples: Sequence[Mapping[str, Any]],
    ncols: int = 2,
    title: str | None = None,
    vmax: float = 1.0,
) -> Figure:
    """Several :func:`plot_attention` panels side by side, one shared colour bar (chapter 5).

    Each example is a mapping with "weights", "source", "target" and optionally "alignment",
    "title", "xlabel" and "ylabel"; ``vmax`` is the top of the shared colour scale. Grids of more
    than two panels are drawn at 80 dpi (160 on a high-resolution screen). Returns the figure.
    """
    if not examples:
        raise ValueError("examples must be a non-empty sequence of mappings")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(ncols, len(examples))
    nrows = -(-len(examples) // ncols)
    fig, axes = new_figure(ncols=ncols, nrows=nrows, figsize=(4.6 * ncols, 4.2 * nrows), squeeze=False)
    if nrows * ncols > 2:  # a large grid of heatmaps: fewer pixels, so the notebook stays small;
        fig.set_dpi(80)  # the book shows it at its column width, where 80 dpi is still sharp
    for ax, ex in zip(axes.flat, examples):
        labels = {key: ex[key] for key in ("xlabel", "ylabel") if key in ex}
        plot_attention(ex["weights"], ex["source"], ex["target"], ex.get("alignment"), ax=ax,
                       title=ex.get("title", ""), colorbar=False, vmax=vmax, **labels)
    for ax in axes.flat[len(examples):]:
        ax.set_visible(False)
    fig.colorbar(plt.cm.ScalarMappable(norm=plt.Normalize(0, vmax), cmap="magma"), ax=axes, label="attention weight α",
                 shrink=0.6)
    if title:
        fig.suptitle(title)
    return fig


def plot_attention_rows(
    sentences: Sequence[Sequence[str]],
    weights: Sequence[Sequence[float]],
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """One row per sentence, each word in a cell coloured by the attention it gets (chapter 5).

    ``weights[k]`` has one weight per word of ``sentences[k]``; ``labels[k]``, if given, is
    written left of the row (e.g. the predicted sense). Returns the figure.
    """
    n = _same_length(sentences=sentences, weights=weights)
    if n == 0:
        raise ValueError("sentences must not be empty")
    if labels is not None:
        _same_length(sentences=sentences, labels=labels)
    width = max(len(s) for s in sentences)
    grid = np.full((n, width), np.nan)
    for k, (s, w) in enumerate(zip(sentences, weights)):
        grid[k, :len(s)] = _check_weights(np.asarray(w, dtype=float)[None], 1, len(s), f"weights[{k}]")[0]
    fig, ax = new_figure(figsize=(min(0.6 * width + 1.4, 9.0), 0.5 * n + 1.3))  # 0.6 in per word
    cmap = plt.get_cmap("Blues").with_extremes(bad="white")  # blank cells past a short row
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.grid(False)
    for k, s in enumerate(sentences):
        for i, word in enumerate(s):
            ax.text(i, k, word, ha="center", va="center", fontsize=9,
                    color="white" if grid[k, i] > 0.6 else "black")
    ax.set_xticks(range(width), [str(i + 1) for i in range(width)])
    ax.set_yticks(range(n), labels if labels is not None else [""] * n)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("word position (colour: attention weight of the query word on it)")
    if title:
        ax.set_title(title)
    return fig


def plot_matrix(
    matrix: Any,
    xlabel: str,
    ylabel: str,
    title: str,
    colorbar_label: str = "value",
    ax: Axes | None = None,
) -> Figure:
    """A matrix as a heatmap with a diverging colour map centred on 0 (chapter 6: positional
    encodings). Rows run down the y axis, columns along x. Returns the figure."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.size == 0 or not np.isfinite(m).all():
        raise ValueError(f"matrix must be a finite 2-D array, got shape {m.shape}")
    fig, ax = _axes(ax)
    limit = float(np.abs(m).max()) or 1.0
    image = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.grid(False)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.colorbar(image, ax=ax, label=colorbar_label)
    return fig


def plot_tradeoff(
    points: Mapping[str, tuple[float, float]],
    xlabel: str,
    ylabel: str,
    title: str,
    notes: Mapping[str, str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A labelled scatter ``label -> (x, y)``, one colour per point, for comparing methods on two
    costs at once (chapter 9: forgetting against target loss; lower-left is better). ``notes``
    adds a second line under a point's label (e.g. its share of trainable weights)."""
    if not isinstance(points, Mapping) or len(points) == 0:
        raise ValueError("points must be a non-empty mapping label -> (x, y)")
    for label, xy in points.items():
        if len(xy) != 2 or not all(np.isfinite(float(v)) for v in xy):
            raise ValueError(f"points[{label!r}] must be a pair of finite numbers (x, y), got {xy!r}")
    fig, ax = _axes(ax)
    for i, (label, (x, y)) in enumerate(points.items()):
        ax.scatter([x], [y], s=60, color=PALETTE[i % len(PALETTE)], zorder=3)
        text = label + (f"\n{notes[label]}" if notes and label in notes else "")
        ax.annotate(text, (x, y), xytext=(6, 4), textcoords="offset points", fontsize=9)
    ax.margins(x=0.25, y=0.15)  # room for the labels
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return fig


def plot_grouped_bars(
    groups: Mapping[str, Sequence[float]],
    categories: Sequence[str],
    ylabel: str,
    title: str,
    ax: Axes | None = None,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Bars for several ``categories``, one bar per group ``label -> values`` side by side in each
    category, with the value written above each bar (chapter 9: follow rate by instruction kind,
    before and after fine-tuning). Returns the figure."""
    if not isinstance(groups, Mapping) or len(groups) == 0:
        raise ValueError("groups must be a non-empty mapping label -> values")
    for label, values in groups.items():
        _same_length(categories=categories, **{f"groups[{label!r}]": values})
    fig, ax = _axes(ax)
    width = 0.8 / len(groups)
    x = np.arange(len(categories))
    for i, (label, values) in enumerate(groups.items()):
        bars = ax.bar(x + (i - (len(groups) - 1) / 2) * width, values, width, label=label,
                      color=PALETTE[i % len(PALETTE)])
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=8, padding=1)
    ax.set_xticks(x, list(categories))
    ax.grid(axis="x", visible=False)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set(ylabel=ylabel, title=title)
    ax.legend()
    return fig


def plot_reliability(
    groups: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    bins: int = 10,
    ax: Axes | None = None,
    title: str = "Is the model as sure as it is right?",
) -> Figure:
    """A reliability diagram (chapter 11): for each group ``label -> (confidence, correct)``,
    the accuracy of the answers in each confidence bin against their mean confidence, as a
    line with a marker per non-empty bin (its size grows with the bin's count), and the
    diagonal where a calibrated model would lie. Returns the figure."""
    from tutorial_lib.calibration import reliability

    if not isinstance(groups, Mapping) or len(groups) == 0:
        raise ValueError("groups must be a non-empty mapping label -> (confidence, correct)")
    fig, ax = _axes(ax)
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="calibrated")
    for i, (label, (confidence, correct)) in enumerate(groups.items()):
        mean_conf, accuracy, count = reliability(confidence, correct, bins)
        full = count > 0
        color = PALETTE[i % len(PALETTE)]
        ax.plot(mean_conf[full], accuracy[full], color=color, lw=1.5, label=label)
        ax.scatter(mean_conf[full], accuracy[full], s=12 + 120 * count[full] / count.sum(), color=color, zorder=3)
    ax.set(xlim=(0, 1.02), ylim=(-0.02, 1.02), xlabel="confidence (probability of the answer)",
           ylabel="accuracy in that bin", title=title)
    ax.legend(loc="upper left")
    return fig
