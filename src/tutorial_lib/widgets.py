"""Interactive explorers: one design that answers its controls in a kernel, in Colab and in the
static web book (chapters 1 to 11).

An explorer is a function ``draw(**values) -> str`` (HTML) and a few controls, each a short list
of values. :func:`explorer` calls ``draw`` once for every combination of values when it is built
and keeps each result in its own ``HTML`` widget inside nested stacks (one stack level per
control). Each control is linked to its stack level twice: in the browser with ``jslink``, so a
page with no kernel (the web book, where html-manager restores the saved widget state) switches
to the state computed for the chosen value in milliseconds; and in Python, so setting a control
from code shows the same state. What the static page shows is therefore exactly what ``draw``
drew in the kernel: the two cannot disagree.

Only ipywidgets APIs that exist in 7.7.1 (Colab, never upgraded there) and 8 are used: 8's
``Stack`` where it exists, else a ``Tab`` whose tab bar a style rule hides. ipywidgets is
imported inside the functions, so ``import tutorial_lib.widgets`` works without a kernel.

The drawing helpers return HTML the browser draws, in the colours of :data:`plots.PALETTE`:
:func:`bars_html` (a distribution), :func:`heatmap_html` (a matrix with row and column labels),
:func:`lines_svg` (curves, a log axis if asked) and :func:`figure_html` (a matplotlib figure as
a PNG). They are small (a few KB per state), so a page holds dozens of states.
"""

from __future__ import annotations

import base64
import html
import io
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from tutorial_lib.gradients import decay_rate
from tutorial_lib.plots import PALETTE

__all__ = ["gradient_explorer", "sampling_explorer", "explorer", "bars_html", "heatmap_html", "lines_svg", "figure_html", "state_key"]

_STYLE = ("<style>.tl-stack > .p-TabBar, .tl-stack > .lm-TabBar, .tl-stack > .widget-tab-bar"
          "{display: none !important} .tl-explorer .widget-html, .tl-explorer .widget-html-content"
          "{max-width: 100%} .tl-state {overflow-x: auto}"  # text wraps, wide tables scroll
          # the widget area keeps its own text colour in a dark page theme: code and captions follow it
          " .tl-explorer code, .tl-explorer pre, .tl-explorer caption {color: inherit}"
          " .tl-explorer code, .tl-explorer pre {background: rgba(128, 128, 128, .14)}</style>")


def state_key(values: dict[str, Any]) -> str:
    """The label of one state, ``"name=value; ..."``: the caption every state carries, which the
    browser test reads to check that the page shows the state of the controls' values."""
    return "; ".join(f"{name}={_fmt(value)}" for name, value in values.items())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _control(widgets: Any, name: str, options: Sequence[Any], value: Any, description: str) -> Any:
    """A SelectionSlider for numbers, a Dropdown otherwise; both have an ``index`` to link."""
    pairs = [(_fmt(v), v) for v in options]
    style = {"description_width": "initial"}
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in options)
    if numeric:
        return widgets.SelectionSlider(options=pairs, value=value, description=description,
                                       continuous_update=True, style=style,
                                       layout=widgets.Layout(width="420px"))
    return widgets.Dropdown(options=pairs, value=value, description=description, style=style,
                            layout=widgets.Layout(width="auto", max_width="100%"))


def _stack(widgets: Any, children: list[Any]) -> Any:
    if hasattr(widgets, "Stack"):  # ipywidgets 8
        return widgets.Stack(children=children, selected_index=0)
    tab = widgets.Tab(children=children, selected_index=0)  # ipywidgets 7.7.1 (Colab)
    tab.add_class("tl-stack")
    return tab


def explorer(draw: Callable[..., str], controls: dict[str, Sequence[Any]], *,
             descriptions: dict[str, str] | None = None, initial: dict[str, Any] | None = None,
             title: str = "") -> Any:
    """Controls over ``draw``'s arguments, every state drawn ahead of time (see the module doc).

    ``controls`` maps each keyword of ``draw`` to the values its control offers (numbers: a
    slider; anything else: a dropdown), in the order the controls are shown; ``descriptions``
    gives a control's label (default: its name); ``initial`` the values shown first (default:
    each list's first). ``draw(**values)`` returns HTML for one state; it is called once per
    combination, and its result is shown under a caption naming the values. ``title`` is a line
    of HTML above the controls.

    Returns a ``VBox`` with attributes ``controls`` (name -> widget), ``states`` (state key ->
    HTML widget), ``shown()`` (the key of the state on show, as Python sees it),
    ``draw_seconds`` (each state's drawing time) and ``stacks`` (the stack levels).
    """
    import ipywidgets as widgets

    if not callable(draw):
        raise TypeError(f"draw must be a function of the controls' values, got {type(draw).__name__}")
    if not isinstance(controls, dict) or not controls:
        raise ValueError("controls must be a non-empty dict: keyword of draw -> list of values")
    for name, options in controls.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"controls' names must be keywords of draw, got {name!r}")
        if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or len(options) == 0:
            raise ValueError(f"controls[{name!r}] must be a non-empty list of values, got {options!r}")
        if len(set(map(_fmt, options))) != len(options):
            raise ValueError(f"controls[{name!r}] has repeated values: {list(options)!r}")
    descriptions = descriptions or {}
    unknown = set(descriptions) - set(controls)
    if unknown:
        raise ValueError(f"descriptions names no control: {sorted(unknown)} (controls: {list(controls)})")
    initial = dict(initial or {})
    for name, value in initial.items():
        if name not in controls or value not in list(controls[name]):
            raise ValueError(f"initial[{name!r}] = {value!r} is not one of controls[{name!r}]")
    names = list(controls)
    n_states = math.prod(len(v) for v in controls.values())
    if n_states > 400:
        raise ValueError(f"controls make {n_states} states; at most 400 fit a page (fewer values)")

    states, seconds = {}, []

    def leaf(values: dict[str, Any]) -> Any:
        key = state_key(values)
        start = time.perf_counter()
        body = draw(**values)
        seconds.append(time.perf_counter() - start)
        caption = ", ".join(f"{descriptions.get(n, n)} = {_fmt(v)}" for n, v in values.items())
        w = widgets.HTML(f"<div class='tl-state' data-state='{html.escape(key, quote=True)}'>"
                         f"<div class='tl-caption' style='font-size:12px;opacity:.8'>{html.escape(caption)}</div>"
                         f"{body}</div>")
        states[key] = w
        return w

    levels: list[list[Any]] = [[] for _ in names]  # the stacks at each depth

    def build(depth: int, prefix: dict[str, Any]) -> Any:
        name = names[depth]
        children = []
        for value in controls[name]:
            values = {**prefix, name: value}
            children.append(leaf(values) if depth == len(names) - 1 else build(depth + 1, values))
        stack = _stack(widgets, children)
        levels[depth].append(stack)
        return stack

    top = build(0, {})
    made = {n: _control(widgets, n, controls[n], initial.get(n, controls[n][0]), descriptions.get(n, n))
            for n in names}
    links = []
    for name, control in made.items():
        control.add_class(f"tl-control-{name}")  # the browser test finds each control by its name
    for depth, name in enumerate(names):
        for stack in levels[depth]:
            stack.selected_index = made[name].index
            links.append(widgets.jslink((made[name], "index"), (stack, "selected_index")))

    def follow(change: Any, depth: int) -> None:  # in a kernel: the same switch from Python
        for stack in levels[depth]:
            stack.selected_index = change["new"]

    for depth, name in enumerate(names):
        made[name].observe(lambda change, d=depth: follow(change, d), names="index")

    head = [widgets.HTML(_STYLE + (f"<b>{title}</b>" if title else ""))]
    box = widgets.VBox(head + [widgets.HBox(list(made.values()),
                                            layout=widgets.Layout(flex_flow="row wrap"))] + [top])
    box.add_class("tl-explorer")
    box.controls, box.states, box.stacks, box.links = made, states, levels, links
    box.draw_seconds = seconds

    def shown() -> str:
        node = top
        while not isinstance(node, widgets.HTML):
            node = node.children[node.selected_index]
        return next(k for k, w in states.items() if w is node)

    box.shown = shown
    return box


def bars_html(probs: Any, labels: Sequence[str], *, top: int = 10, highlight: Any = None,
              note: str = "") -> str:
    """The ``top`` largest of ``probs`` (one per label) as horizontal bars with their values;
    the label equal to ``highlight`` (if any) is drawn in the second palette colour and bold."""
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 1 or len(probs) != len(labels):
        raise ValueError(f"probs must be 1-D with one value per label: {probs.shape} vs {len(labels)} labels")
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    order = np.argsort(-probs, kind="stable")[:top]
    longest = max(float(probs[order].max()), 1e-12)
    rows = []
    for i in order:
        mark = highlight is not None and labels[i] == highlight
        colour = PALETTE[1] if mark else PALETTE[0]
        weight = "bold" if mark else "normal"
        rows.append(f"<tr><td style='font-family:monospace;padding-right:6px;font-weight:{weight}'>"
                    f"{html.escape(str(labels[i]))}</td><td style='width:240px'><div style='background:{colour};"
                    f"height:11px;width:{max(0.5, 100 * probs[i] / longest):.1f}%'></div></td>"
                    f"<td style='font-family:monospace;padding-left:6px'>{probs[i]:.3f}</td></tr>")
    return (f"<table style='border-collapse:collapse;font-size:12px;margin:2px 0'>{''.join(rows)}</table>"
            + (f"<div style='font-size:12px'>{note}</div>" if note else ""))


def _blue(x: float) -> str:
    """A sequential colour from white (0) to the palette's blue (1), readable in both themes."""
    x = min(max(float(x), 0.0), 1.0)
    r, g, b = (int(255 + (c - 255) * x) for c in (0x00, 0x72, 0xB2))
    return f"rgb({r},{g},{b})"


def heatmap_html(matrix: Any, rows: Sequence[str], cols: Sequence[str], *, vmax: float | None = None,
                 outline: Any = None, row_title: str = "", col_title: str = "", cell: int = 18) -> str:
    """``matrix`` (len(rows), len(cols)) as a table of coloured cells, white at 0 and blue at
    ``vmax`` (default: the largest entry), each cell's value in its tooltip. ``outline``, a
    boolean matrix of the same shape, draws a vermillion border on the cells it marks."""
    m = np.asarray(matrix, dtype=float)
    if m.shape != (len(rows), len(cols)):
        raise ValueError(f"matrix must be (len(rows), len(cols)) = {(len(rows), len(cols))}, got {m.shape}")
    if outline is not None and np.shape(outline) != m.shape:
        raise ValueError(f"outline must have the matrix's shape {m.shape}, got {np.shape(outline)}")
    top = float(vmax if vmax is not None else max(np.nanmax(m), 1e-12))
    esc = lambda s: html.escape(str(s))  # noqa: E731
    head = "".join(f"<th style='writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;"
                   f"font-family:monospace;padding:1px'>{esc(c)}</th>" for c in cols)
    body = []
    for i, r in enumerate(rows):
        cells = []
        for j in range(len(cols)):
            border = f"2px solid {PALETTE[1]}" if outline is not None and outline[i][j] else "1px solid #ddd"
            cells.append(f"<td title='{esc(r)} / {esc(cols[j])}: {m[i, j]:.3f}' style='width:{cell}px;"
                         f"height:{cell}px;padding:0;border:{border};background:{_blue(m[i, j] / top)}'></td>")
        body.append(f"<tr><th style='text-align:right;font-weight:normal;font-family:monospace;"
                    f"white-space:nowrap;padding:0 4px 0 0'>{esc(r)}</th>{''.join(cells)}</tr>")
    caption = f"<caption style='caption-side:bottom;font-size:11px'>{esc(col_title)}" \
              f"{' ↓ rows: ' + esc(row_title) if row_title else ''}</caption>" if col_title or row_title else ""
    return (f"<table style='border-collapse:collapse;font-size:11px;line-height:1.2;margin:2px 0'>{caption}"
            f"<tr><th></th>{head}</tr>{''.join(body)}</table>")


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:  # whole decades, at most about seven of them
        span = math.ceil(hi) - math.floor(lo)
        every = next(e for e in (1, 2, 5, 10, 20, 50, 100) if span / e <= 7)
        return [10.0 ** e for e in range(math.floor(lo), math.ceil(hi) + 1) if e % every == 0]
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-12))) / 10
    for mult in (1, 2, 5, 10, 20, 50):
        if (hi - lo) / (step * mult) <= 6:
            step *= mult
            break
    return [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]


def lines_svg(x: Any, series: dict[str, Any], *, logy: bool = False, xlabel: str = "", ylabel: str = "",
              ylim: tuple[float, float] | None = None, marks: dict[str, float] | None = None,
              width: int = 520, height: int = 240) -> str:
    """Curves ``series`` (label -> values over ``x``) as an inline SVG line chart with axes,
    ticks, a legend and, for each of ``marks`` (label -> x), a dashed vertical line. Each series
    has its palette colour and its own dash pattern, so colour is not the only cue. Axis text
    uses ``currentColor``: it follows the page's light or dark theme. Non-finite or (with
    ``logy``) non-positive values leave a gap."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x must be 1-D with at least 2 points, got shape {x.shape}")
    if not series:
        raise ValueError("series must map at least one label to values")
    ys = {}
    for label, y in series.items():
        y = np.asarray(y, dtype=float)
        if y.shape != x.shape:
            raise ValueError(f"series[{label!r}] must have x's shape {x.shape}, got {y.shape}")
        ok = np.isfinite(y) & ((y > 0) if logy else True)
        ys[label] = np.where(ok, np.log10(np.where(ok, y, 1.0)) if logy else y, np.nan)
    finite = np.concatenate([v[np.isfinite(v)] for v in ys.values()] or [np.zeros(1)])
    if ylim is not None:
        lo, hi = (math.log10(ylim[0]), math.log10(ylim[1])) if logy else ylim
        for label, y in ys.items():  # outside the limits: a gap, not a line along the frame
            ys[label] = np.where((y >= lo) & (y <= hi), y, np.nan)
    else:
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    left, right, top, bottom = 58, 12, 10, 38 + 14 * len(series)  # the legend sits under the axes
    height += 14 * len(series)
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = float(x.min()), float(x.max())
    sx = lambda v: left + pw * (v - x0) / (x1 - x0)  # noqa: E731
    sy = lambda v: top + ph * (1 - (v - lo) / (hi - lo))  # noqa: E731
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"style='font-family:sans-serif;font-size:11px;color:inherit'>",
             f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='currentColor' "
             f"stroke-opacity='0.5'/>"]
    for t in _ticks(lo, hi, logy):
        v = math.log10(t) if logy else t
        if lo - 1e-9 <= v <= hi + 1e-9:
            text = f"1e{int(round(v))}" if logy else f"{t:g}"
            parts.append(f"<line x1='{left - 4}' x2='{left}' y1='{sy(v):.1f}' y2='{sy(v):.1f}' stroke='currentColor'/>"
                         f"<text x='{left - 6}' y='{sy(v) + 4:.1f}' text-anchor='end' fill='currentColor'>{text}</text>")
    for t in _ticks(x0, x1, False):
        parts.append(f"<line x1='{sx(t):.1f}' x2='{sx(t):.1f}' y1='{top + ph}' y2='{top + ph + 4}' stroke='currentColor'/>"
                     f"<text x='{sx(t):.1f}' y='{top + ph + 15}' text-anchor='middle' fill='currentColor'>{t:g}</text>")
    dashes = ["", "6,3", "2,2", "8,3,2,3", "4,4", "1,3"]
    for k, (label, y) in enumerate(ys.items()):
        pts, runs = [], []
        for xi, yi in zip(x, y):
            if np.isfinite(yi):
                pts.append(f"{sx(xi):.0f},{sy(yi):.0f}")
            elif pts:
                runs.append(pts)
                pts = []
        runs.append(pts)
        colour = PALETTE[k % len(PALETTE)]
        for run in runs:
            if len(run) > 1:
                parts.append(f"<polyline points='{' '.join(run)}' fill='none' stroke='{colour}' stroke-width='2' "
                             f"stroke-dasharray='{dashes[k % len(dashes)]}'/>")
        ly = top + ph + 46 + 14 * k
        parts.append(f"<line x1='{left}' x2='{left + 22}' y1='{ly - 4}' y2='{ly - 4}' stroke='{colour}' "
                     f"stroke-width='2' stroke-dasharray='{dashes[k % len(dashes)]}'/>"
                     f"<text x='{left + 26}' y='{ly}' fill='currentColor'>{html.escape(label)}</text>")
    for label, xm in (marks or {}).items():
        parts.append(f"<line x1='{sx(xm):.1f}' x2='{sx(xm):.1f}' y1='{top}' y2='{top + ph}' stroke='currentColor' "
                     f"stroke-dasharray='3,3'/><text x='{sx(xm) + 3:.1f}' y='{top + ph - 4}' "
                     f"fill='currentColor'>{html.escape(label)}</text>")
    parts.append(f"<text x='{left + pw / 2}' y='{top + ph + 30}' text-anchor='middle' fill='currentColor'>"
                 f"{html.escape(xlabel)}</text><text transform='translate(12,{top + ph / 2}) rotate(-90)' "
                 f"text-anchor='middle' fill='currentColor'>{html.escape(ylabel)}</text></svg>")
    return "".join(parts)


def figure_html(fig: Any, alt: str, *, dpi: float = 90) -> str:
    """A matplotlib figure as an ``<img>`` (PNG, base64) with alt text; the figure is closed."""
    if not alt or not isinstance(alt, str):
        raise ValueError("alt must be a sentence saying what the figure shows")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='{html.escape(alt, quote=True)}' src='data:image/png;base64,{data}' style='max-width:100%'>"


def _describe_factor(gamma: float, first: float) -> str:
    """One line of HTML that says what the fitted per-step factor γ means."""
    if not np.isfinite(gamma):
        return "The gradient is zero at almost every step: nothing to fit."
    verdict = "vanishing"
    if gamma > 1.005:
        verdict = "exploding"
    elif gamma >= 0.995:
        verdict = "neither vanishing nor exploding"
    reach = f"{first:.1e}" if 0 < first < np.inf else "0 (below what float64 can hold)" if first == 0 else "inf"
    return (f"Fitted per-step factor γ = <b>{gamma:.3f}</b> ({verdict}): going one step back in time "
            f"multiplies the gradient by about γ. At step 1 it is {reach} times its size at step T.")


def gradient_explorer(hidden_size: int = 64, seed: int = 0, T: int = 100) -> Any:
    """``‖∂L/∂h_k‖`` against k as the four knobs of chapter 3 move: the spectral radius ρ of ``W``,
    the activation σ, the kind of ``W`` (orthogonal: every singular value is ρ; Gaussian: the
    largest singular value exceeds ρ) and the scale of the inputs (large inputs saturate tanh).

    Built on :func:`explorer`: 5 radii × 4 activations × 2 kinds × 3 input scales = 120 states,
    each :func:`tutorial_lib.gradients.hidden_grad_norms` on the inputs of
    :func:`tutorial_lib.gradients.gradient_grid` (same ``hidden_size``, ``seed``, ``T``) drawn
    by :func:`lines_svg` beside the line ρ^(T-k), with the fitted per-step factor of
    :func:`tutorial_lib.gradients.decay_rate` and ‖W‖₂. Returns the explorer's ``VBox``.
    """
    import torch

    from tutorial_lib import gradients, utils

    gen = utils.generator(seed)  # the draws of gradient_grid, in its order
    U = torch.randn(hidden_size, gradients.INPUT_SIZE, generator=gen) / math.sqrt(gradients.INPUT_SIZE)
    x = torch.randn(T, 8, gradients.INPUT_SIZE, generator=gen)                 # (T, B, d_x)
    Q = {kind: gradients.recurrent_matrix(hidden_size, 1.0, kind=kind, seed=seed)
         for kind in ("orthogonal", "gaussian")}
    norm2 = {kind: float(torch.linalg.matrix_norm(W.double(), ord=2)) for kind, W in Q.items()}
    k = np.arange(1, T + 1)

    def draw(rho: float, activation: str, kind: str, scale: float) -> str:
        norms = gradients.hidden_grad_norms(rho * Q[kind], U, scale * x, activation)  # (T,)
        series = {f"{activation}, {kind} W": norms, "ρ^(T−k)": rho ** (T - k).astype(float)}
        svg = lines_svg(k, series, logy=True, ylim=(1e-30, 1e10), xlabel="step k",
                        ylabel="‖∂L/∂h_k‖")
        return (f"<div style='font-size:12px'>{_describe_factor(decay_rate(norms), float(norms[0]))}<br>"
                f"ρ(W) = {rho:.1f}, ‖W‖₂ = {rho * norm2[kind]:.2f}: the largest singular value bounds "
                f"what one step can stretch; over many steps the radius sets the rate.</div>{svg}")

    return explorer(draw, {"rho": [0.6, 0.8, 1.0, 1.2, 1.4],
                           "activation": ["identity", "tanh", "relu", "sigmoid"],
                           "kind": ["orthogonal", "gaussian"], "scale": [0.3, 1.0, 3.0]},
                    descriptions={"rho": "spectral radius ρ", "activation": "activation σ",
                                  "kind": "kind of W", "scale": "input scale"},
                    initial={"rho": 1.0, "activation": "tanh"},
                    title=f"Gradient reaching step k from a loss on the last state (T = {T})")


def sampling_explorer(model: Any, tokenizer: Any, prompts: Sequence[str], length: int = 40, seed: int = 0,
                      top: int = 10) -> Any:
    """Reshape a language model's next-character distribution and sample with it (chapter 7).

    Controls: the prompt (one of ``prompts``), the temperature τ (0 = greedy, 0.5, 0.8, 1, 1.5)
    and top-p (1 = off, 0.9, 0.5): 15 states per prompt, built on :func:`explorer`. Each state
    shows the ``top`` most probable next characters after the prompt under the rule
    (:mod:`tutorial_lib.sampling`; :func:`bars_html`) and a ``length``-character continuation
    from ``model.generate`` with the rule and the same ``seed`` for every state, so two states
    differ only by the rule. Returns the explorer's ``VBox``.
    """
    import torch

    from tutorial_lib.sampling import apply_temperature, top_p_filter

    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 500:
        raise ValueError(f"length must be an integer in [1, 500], got {length!r}")
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise ValueError(f"prompts must be a non-empty list of non-empty strings, got {prompts!r}")
    device = next(model.parameters()).device
    labels = ["␣" if c == " " else repr(c)[1:-1] for c in tokenizer.chars]  # a newline shows as \n

    def draw(prompt: str, temperature: float, top_p: float) -> str:
        ids = tokenizer.encode_tensor(prompt).to(device)
        with torch.no_grad():
            z = model(ids[None, -model.config.block_size:])[0, -1].float().cpu()  # (V,)
        rule = apply_temperature(z, temperature) if temperature > 0 else z
        if top_p < 1.0:
            rule = top_p_filter(rule, top_p)
        probs = torch.softmax(rule, -1) if temperature > 0 else torch.nn.functional.one_hot(z.argmax(), len(z)).float()
        generator = torch.Generator(device=device).manual_seed(seed)
        out = model.generate(ids, length, temperature=temperature, top_p=top_p if top_p < 1.0 else None,
                             generator=generator)
        kept = int((probs > 0).sum())
        return (bars_html(probs.numpy(), labels, top=top,
                          note=f"{kept} of {len(z)} characters can be drawn under this rule")
                + f"<pre style='white-space:pre-wrap;margin:4px 0'>{html.escape(prompt)}"
                  f"<b style='color:{PALETTE[1]}'>{html.escape(tokenizer.decode(out.cpu()))}</b></pre>")

    return explorer(draw, {"prompt": list(prompts), "temperature": [0.0, 0.5, 0.8, 1.0, 1.5],
                           "top_p": [1.0, 0.9, 0.5]},
                    descriptions={"prompt": "prompt", "temperature": "temperature τ", "top_p": "top-p"},
                    initial={"temperature": 1.0},
                    title="The next character after the prompt, and a sample, under each rule")
