"""Interactive explorers built on the plot helpers (chapter 3 onwards).

Each explorer returns an ipywidgets container: controls on top, a live figure below. They use
only ipywidgets APIs that exist in both 7.7 (Colab) and 8, and import ipywidgets inside the
function, so ``import tutorial_lib.widgets`` works without a kernel. Every explorer draws its
initial state once when it is built; the static figure of the same experiment (for a book
read without a kernel) comes from the matching helper in :mod:`tutorial_lib.plots`.
"""

from __future__ import annotations

import html
import textwrap
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from tutorial_lib.gradients import decay_rate, gradient_grid
from tutorial_lib.plots import PALETTE, new_figure, plot_attention, plot_grad_norms

__all__ = ["gradient_explorer", "alignment_explorer", "sampling_explorer"]


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


def gradient_explorer(hidden_size: int = 64, seed: int = 0) -> Any:
    """A live view of ``‖∂L/∂h_k‖`` as the spectral radius ρ of ``W``, σ and T change (chapter 3).

    Controls: a slider "spectral radius ρ" (0.5 to 1.5), a dropdown "activation" (tanh, sigmoid,
    relu, identity) and a slider "sequence length T" (10 to 300). Each change recomputes
    :func:`tutorial_lib.gradients.hidden_grad_norms` on the inputs of
    :func:`tutorial_lib.gradients.gradient_grid` (same ``hidden_size`` and ``seed``; results
    cached per setting), redraws :func:`tutorial_lib.plots.plot_grad_norms` and shows the
    fitted per-step factor of :func:`tutorial_lib.gradients.decay_rate`.

    Returns a ``VBox``. Its attributes ``rho``, ``activation``, ``length`` are the controls;
    ``redraws`` counts the redraws so far (1 after building), ``cache`` holds the norms (T,)
    computed so far, keyed by ``(ρ, activation, T)``.
    """
    import ipywidgets as widgets  # imported here: the module must import without a kernel
    from IPython.display import clear_output, display

    style = {"description_width": "initial"}  # show the whole description, do not cut it
    rho = widgets.FloatSlider(value=1.0, min=0.5, max=1.5, step=0.05, description="spectral radius ρ",
                              readout_format=".2f", continuous_update=False, style=style)
    activation = widgets.Dropdown(options=["tanh", "sigmoid", "relu", "identity"], value="tanh",
                                  description="activation", style=style)
    length = widgets.IntSlider(value=100, min=10, max=300, step=10, description="sequence length T",
                               continuous_update=False, style=style)
    info = widgets.HTML()
    out = widgets.Output()
    box = widgets.VBox([widgets.HBox([rho, activation]), length, info, out])
    box.rho, box.activation, box.length = rho, activation, length
    box.redraws, box.cache = 0, {}
    # One figure for every redraw; plot_grad_norms draws it the first time. A fixed layout
    # instead of constrained layout: PNG rendering is most of a redraw's time, and this saves
    # about a fifth of it (the inline backend's tight bounding box keeps every label in).
    fig, ax = new_figure(layout="none")
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.17, top=0.9)
    plt.close(fig)  # pyplot forgets it: it is shown only in the Output, never at the end of the cell

    def redraw(change: Any = None) -> None:
        key = (round(float(rho.value), 4), activation.value, int(length.value))
        if key not in box.cache:
            grid = gradient_grid([key[0]], [key[1]], T=key[2], hidden_size=hidden_size, seed=seed)
            box.cache[key] = grid["norms"][0, 0]  # (T,)
        norms = box.cache[key]
        info.value = _describe_factor(decay_rate(norms), float(norms[0]))
        label = f"{key[1]}, ρ = {key[0]:.2f}"
        title = f"Gradient reaching step k from the loss at step T = {key[2]}"
        if not ax.lines:
            plot_grad_norms({label: norms}, ax=ax, title=title)
        else:  # move the line instead of drawing a new plot: a quarter faster
            visible = np.where(np.isfinite(norms) & (norms > 0), norms, np.nan)  # as plot_grad_norms
            ax.lines[0].set_data(np.arange(1, len(norms) + 1), visible)
            ax.lines[0].set_label(label)
            ax.legend()
            ax.set_title(title)
            ax.set_xlim(0, len(norms) + 1)
            ax.relim()
            ax.autoscale_view()
        with out:
            clear_output(wait=True)
            display(fig)
        box.redraws += 1

    for control in (rho, activation, length):
        control.observe(redraw, names="value")
    redraw()
    return box


def _png(fig: Any, dpi: float) -> bytes:
    """The figure as PNG bytes at ``dpi``; the figure is closed."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def alignment_explorer(examples: list[dict[str, Any]], description: str = "sentence") -> Any:
    """Pick a sentence, see where the decoder looked while translating it (chapter 5).

    ``examples`` are mappings with "weights" (len(target), len(source)), "source", "target"
    and optionally "alignment", "title", "xlabel", "ylabel" and "vmax", as for
    :func:`tutorial_lib.plots.plot_attention`.
    Every heatmap is drawn once, when the explorer is built, into a 2x PNG: on this book's
    2-core machine drawing one takes about half a second, over the 200 ms a redraw may take, and
    showing a drawn one takes milliseconds. Controls: a dropdown whose options are the examples'
    titles (or "example k"). Returns a ``VBox``; ``choice`` is the dropdown, ``image`` the
    ``Image`` it updates, ``pngs`` the drawn heatmaps and ``redraws`` counts the redraws.
    The static counterpart is :func:`tutorial_lib.plots.plot_attention_grid`.
    """
    import ipywidgets as widgets

    if not examples:
        raise ValueError("examples must be a non-empty list of mappings")
    names = [ex.get("title") or f"example {k + 1}" for k, ex in enumerate(examples)]
    size, dpi = (5.6, 4.8), 110
    pngs = []
    for ex, name in zip(examples, names):
        fig, ax = new_figure(figsize=size)
        labels = {key: ex[key] for key in ("xlabel", "ylabel", "vmax") if key in ex}
        plot_attention(ex["weights"], ex["source"], ex["target"], ex.get("alignment"), ax=ax,
                       title=textwrap.fill(name, 50), **labels)  # a long title on two lines, not cut off
        pngs.append(_png(fig, 2 * dpi))  # 2x pixels, shown at 1x size: sharp on any screen
    choice = widgets.Dropdown(options=list(zip(names, range(len(examples)))), value=0, description=description,
                              style={"description_width": "initial"}, layout=widgets.Layout(width="95%"))
    image = widgets.Image(value=pngs[0], format="png", width=f"{int(size[0] * dpi)}px")
    box = widgets.VBox([choice, image])
    box.choice, box.image, box.pngs, box.redraws = choice, image, pngs, 1

    def redraw(change: Any = None) -> None:
        image.value = pngs[choice.value]
        box.redraws += 1

    choice.observe(redraw, names="value")
    return box


def _bars_html(probs: Any, kept: Any, labels: list[str], top: int) -> str:
    """An HTML bar chart of the ``top`` largest ``probs`` (V,): kept tokens in colour with their
    renormalised probability, removed ones grey with their original one; the longest bar fills
    the column. Drawn by the browser: no matplotlib redraw."""
    order = np.argsort(-probs, kind="stable")[:top]
    shown = np.where(kept > 0, kept, probs)  # a removed token's bar shows what it had
    longest = float(shown[order].max())  # the longest bar fills the cell
    rows = []
    for i in order:
        colour = PALETTE[0] if kept[i] > 0 else "#bbbbbb"
        share = f"{kept[i]:.3f}" if kept[i] > 0 else "removed"
        width = max(1.0, 100 * float(shown[i]) / longest)
        rows.append(f"<tr><td style='font-family:monospace;padding-right:6px'>{html.escape(labels[i])}</td>"
                    f"<td style='width:260px'><div style='background:{colour};height:12px;width:{width:.1f}%'>"
                    f"</div></td><td style='font-family:monospace;padding-left:6px'>{probs[i]:.3f} &rarr; "
                    f"{share}</td></tr>")
    return ("<table style='border-collapse:collapse;font-size:12px'><tr><th>next</th><th></th>"
            "<th style='text-align:left'>p &rarr; after the rule</th></tr>" + "".join(rows) + "</table>")


def sampling_explorer(model: Any, tokenizer: Any, prompt: str = "The ", length: int = 60, seed: int = 0,
                      top: int = 12) -> Any:
    """Reshape a language model's next-token distribution and sample with it (chapter 7).

    Controls: a prompt, sliders "temperature" (0 = greedy, to 2), "top-k" (0 = off, to V) and
    "top-p" (1 = off), and a "seed". Each change shows the ``top`` most probable next characters
    after the prompt, before and after the rule (:mod:`tutorial_lib.sampling`; grey: removed),
    and a ``length``-character continuation sampled with the rule from ``model.generate``.
    Bars are HTML, so a redraw costs one forward pass plus the sampling (about 4 ms per
    character for the book's shipped model on 2 CPU cores). Returns a ``VBox``: ``prompt``,
    ``temperature``, ``top_k``, ``top_p``, ``seed`` are the controls, ``bars`` and ``sample``
    the HTML outputs, ``redraws`` counts the redraws.
    """
    import ipywidgets as widgets
    import torch

    from tutorial_lib.sampling import apply_temperature, top_k_filter, top_p_filter

    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 500:
        raise ValueError(f"length must be an integer in [1, 500], got {length!r}")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
    V = tokenizer.vocab_size
    style = {"description_width": "initial"}
    text = widgets.Text(value=prompt, description="prompt", continuous_update=False, style=style,
                        layout=widgets.Layout(width="95%"))
    temperature = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="temperature τ",
                                      readout_format=".1f", continuous_update=False, style=style)
    top_k = widgets.IntSlider(value=0, min=0, max=V, description="top-k (0: off)", continuous_update=False,
                              style=style)
    top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p (1: off)",
                                readout_format=".2f", continuous_update=False, style=style)
    seed_box = widgets.BoundedIntText(value=seed, min=0, max=10_000, description="seed", style=style,
                                      layout=widgets.Layout(width="160px"))
    bars, sample = widgets.HTML(), widgets.HTML()
    box = widgets.VBox([text, widgets.HBox([temperature, top_k]), widgets.HBox([top_p, seed_box]), bars, sample])
    box.prompt, box.temperature, box.top_k, box.top_p, box.seed = text, temperature, top_k, top_p, seed_box
    box.bars, box.sample, box.redraws = bars, sample, 0
    device = next(model.parameters()).device
    labels = ["␣" if c == " " else repr(c)[1:-1] for c in tokenizer.chars]  # a newline shows as \n

    def redraw(change: Any = None) -> None:
        try:
            ids = tokenizer.encode_tensor(text.value or " ").to(device)
        except ValueError as exc:  # a character the model has never seen
            sample.value = f"<b>prompt:</b> {exc}"
            return
        with torch.no_grad():
            z = model(ids[None, -model.config.block_size:])[0, -1].float().cpu()  # (V,)
        tau, k, p = float(temperature.value), int(top_k.value), float(top_p.value)
        rule = z if tau == 0 else apply_temperature(z, tau)
        if k > 0:
            rule = top_k_filter(rule, k)
        if p < 1.0:
            rule = top_p_filter(rule, p)
        kept = torch.softmax(rule, dim=-1) if tau > 0 else torch.nn.functional.one_hot(z.argmax(), V).float()
        bars.value = _bars_html(torch.softmax(z, dim=-1).numpy(), kept.numpy(), labels, top)
        generator = torch.Generator(device=device).manual_seed(int(seed_box.value))
        out = model.generate(ids, length, temperature=tau, top_k=k or None, top_p=p if p < 1.0 else None,
                             generator=generator)
        shown = html.escape(tokenizer.decode(out.cpu()))
        sample.value = (f"<pre style='white-space:pre-wrap'>{html.escape(text.value)}"
                        f"<b style='color:{PALETTE[1]}'>{shown}</b></pre>")
        box.redraws += 1

    for control in (text, temperature, top_k, top_p, seed_box):
        control.observe(redraw, names="value")
    redraw()
    return box
