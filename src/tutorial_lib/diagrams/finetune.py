"""The diagrams of fine-tuning (chapter 9): five methods on one stack of layers, the SFT loss mask."""

from __future__ import annotations

from matplotlib.figure import Figure

from tutorial_lib.diagrams.canvas import GREY, KINDS, Canvas

# the symbols each diagram shares with its chapter's equations and prose (checked by a test)
SYMBOLS: dict[str, list[str]] = {
    "finetuning_methods": [r"\eta", r"\eta \, \gamma^{\,L - l}", r"\eta\gamma^L", r"\mathbf{h}",
                           r"\mathbf{W}_\text{down}", r"\mathbf{W}_\text{up}", r"\mathbf{b}_\text{up}",
                           r"\mathrm{GELU}", r"r \times C", r"\mathbf{x}", r"\mathbf{y}", r"\mathbf{W}",
                           r"\mathbf{A}", r"\mathbf{B}", r"\frac{\alpha}{r}", r"r \times \text{in}",
                           r"\text{out} \times r", r"W_Q, W_K, W_V, W_O"],
    "sft_loss_mask": ["-100"],
}

# the five methods of section 9.2: (name, what changes, key of the panel)
METHODS = [
    ("full (9.1.1)", r"every weight at $\eta$", "full"),
    ("freezing (9.1.2)", "embeddings and first\n{frozen} layers frozen", "freeze"),
    ("per-layer rates (9.1.3)", r"$\eta_l = \eta \, \gamma^{\,L - l}$ (9.1)", "layer-lr"),
    ("adapters (9.1.4)", "only the adapters\ntrain", "adapters"),
    ("LoRA (9.3)", r"only $\mathbf{A}$, $\mathbf{B}$ train", "lora"),
]


def _rate(power: int) -> str:
    """The rate of (9.1) for a layer ``power`` layers below the top: $\\eta$, $\\eta\\gamma$, $\\eta\\gamma^{2}$."""
    return r"$\eta$" if power == 0 else r"$\eta\gamma$" if power == 1 else rf"$\eta\gamma^{{{power}}}$"


def finetuning_methods(layers: int = 4, frozen: int = 3) -> Figure:
    """The five fine-tuning methods of section 9.2 on the same GPT of ``layers`` layers (chapter 9).

    Top, one panel per method, bottom to top: the embeddings, the layers and the final LayerNorm,
    each trained (highlight) or frozen (hatched). Full fine-tuning trains everything at $\\eta$;
    freezing fixes the embeddings and the first ``frozen`` layers; per-layer rates train
    everything, layer l at $\\eta\\gamma^{L-l}$ (9.1); adapters freeze the model and train one
    bottleneck after each layer (9.2); LoRA freezes it and trains a low-rank update
    $\\mathbf{B}\\mathbf{A}$ inside each layer's attention (9.3). Bottom, left to right: an
    adapter and a LoRA layer, with their shapes.
    """
    if isinstance(layers, bool) or not isinstance(layers, int) or not 2 <= layers <= 6:
        raise ValueError(f"layers must be an int in [2, 6], got {layers!r}")
    if isinstance(frozen, bool) or not isinstance(frozen, int) or not 0 <= frozen < layers:
        raise ValueError(f"frozen must be an int in [0, layers - 1] = [0, {layers - 1}], got {frozen!r}")
    step, y0, w = 0.74, 2.85, 1.45  # one layer every `step` units, the embeddings at y0
    top = y0 + (layers + 1) * step
    c = Canvas(9.2, top + 0.95, title="Five ways to fine-tune the same GPT: what trains, and how fast")
    for i, (name, change, key) in enumerate(METHODS):
        x = 0.95 + i * 1.83
        c.text(x, top + 0.55, name, fontsize=10, va="bottom")
        c.text(x, top + 0.5, change.replace("{frozen}", str(frozen)), fontsize=9, color=GREY, va="top")
        trained = key in ("full", "freeze", "layer-lr")

        def kind(l: int) -> str:  # layer l: 0 the embeddings, 1..L the layers, L + 1 the final norm
            return "highlight" if trained and (key != "freeze" or l > frozen) else "frozen"

        rates = key == "layer-lr"
        below = c.box(x, y0, "embeddings" + (r"  $\eta\gamma^L$" if rates else ""), w=w, h=0.34,
                      kind=kind(0), fontsize=9)
        for l in range(1, layers + 2):
            y = y0 + l * step
            if l <= layers:
                text = f"layer {l}" + ("  " + _rate(layers - l) if rates else "")
                box = c.box(x, y, text, w=w, h=0.38, kind=kind(l), fontsize=9.5)
                if key == "lora":  # the update inside attention's projections
                    c.box(x + 0.53, y, r"$\mathbf{B}\mathbf{A}$", w=0.34, h=0.26, kind="highlight", fontsize=9)
            else:
                box = c.box(x, y, "final norm" + (r"  $\eta$" if rates else ""), w=w, h=0.3, kind=kind(l),
                            fontsize=9)
            if key == "adapters" and l > 1:  # one bottleneck after each layer
                adapter = c.box(x, y - step / 2, "adapter", w=0.8, h=0.2, kind="highlight", fontsize=9, round=0.05)
                c.arrow(below, adapter)
                below = adapter
            c.arrow(below, box)
            below = box
    c.legend([("highlight", "trained"), ("frozen", "frozen")], 0.2, 2.38, step=(1.4, 0.0))

    # an adapter (9.2), left to right
    c.frame(0.1, 0.1, 4.5, 2.15, "an adapter (9.2), after each layer")
    y = 1.15
    h_in = c.box(0.38, y, r"$\mathbf{h}$", w=0.36, h=0.4, kind="state")
    down = c.box(1.2, y, "$\\mathbf{W}_\\text{down}$\n$r \\times C$", w=0.85, h=0.62, kind="highlight")
    gelu = c.box(2.12, y, r"$\mathrm{GELU}$", w=0.62, h=0.4, kind="plain", fontsize=10)
    up = c.box(3.0, y, "$\\mathbf{W}_\\text{up}$\n$C \\times r$", w=0.75, h=0.62, kind="highlight")
    plus = c.op(3.78, y, "$+$", r=0.17)
    for a, b, shape in ((h_in, down, "$C$"), (down, gelu, "$r$"), (gelu, up, "$r$"), (up, plus, "$C$")):
        c.arrow(a, b)
        c.text((a.x + a.w / 2 + b.x - b.w / 2) / 2, y + 0.17, shape, fontsize=9)
    c.line([(h_in.x, y + 0.2), (h_in.x, 1.75), (plus.x, 1.75), (plus.x, y + 0.17)])
    c.arrow(plus, (4.42, y), r"$\mathbf{h}$", label_at=(0.05, 0.2))
    c.text(0.25, 0.4, "$\\mathbf{W}_\\text{up}$, $\\mathbf{b}_\\text{up}$ start at zero:\n"
           "the adapter starts as the identity", fontsize=9, color=GREY, ha="left")

    # LoRA (9.3), left to right
    c.frame(4.7, 0.1, 9.1, 2.15, r"LoRA (9.3), on $W_Q, W_K, W_V, W_O$", label_at="top left")
    top_y, low_y = 1.3, 0.55
    x_in = c.box(5.05, top_y, r"$\mathbf{x}$", w=0.38, h=0.4, kind="state")
    weight = c.box(6.45, top_y, "$\\mathbf{W}$, $\\mathbf{b}$\n$\\text{out} \\times \\text{in}$", w=1.2, h=0.62,
                   kind="frozen", fontsize=10)
    a = c.box(5.95, low_y, "$\\mathbf{A}$\n$r \\times \\text{in}$", w=0.75, h=0.62, kind="highlight")
    b = c.box(7.0, low_y, "$\\mathbf{B}$\n$\\text{out} \\times r$", w=0.85, h=0.62, kind="highlight")
    scale = c.op(7.85, low_y, r"$\frac{\alpha}{r}$", r=0.22, fontsize=10)
    plus = c.op(8.4, top_y, "$+$", r=0.17)
    c.arrow(x_in, weight, r"$\text{in}$", label_at=(0, 0.17), fontsize=9)
    c.arrow(x_in, a, corner="v")
    c.arrow(a, b, "$r$", label_at=(0, 0.17), fontsize=9)
    c.arrow(b, scale)
    c.arrow(weight, plus, r"$\text{out}$", label_at=(0, 0.17), fontsize=9)
    c.arrow(scale, plus, corner="h")
    c.arrow(plus, (9.0, top_y), r"$\mathbf{y}$", label_at=(0, 0.2), fontsize=11)
    return c.fig


def sft_targets(prompt: str, response: str) -> list[str | None]:
    """The target character of each position of ``prompt + response + "\\n"`` as ``finetune.sft_batch``
    sets it, ``None`` where the target is -100: the first len(prompt) - 1 positions."""
    text = prompt + response + "\n"
    return [None if t < len(prompt) - 1 else text[t + 1] for t in range(len(text) - 1)]


def _shown(ch: str) -> str:
    return {"\n": "⏎", " ": "␣"}.get(ch, ch)


def sft_loss_mask(prompt: str = "Q: Write in capitals: while\nA: ", response: str = "WHILE",
                  padding: int = 2) -> Figure:
    """One SFT example as ``finetune.sft_batch`` makes it: inputs, targets and the loss mask (chapter 9).

    The text is ``prompt + response + "\\n"``. Position t's input is character t and its target
    character t + 1, so the targets are the text shifted left by one. Every target inside the
    prompt is $-100$ (no loss): the first len(prompt) - 1 of them; the last prompt character
    predicts the first response character, and the response and its closing newline carry the
    loss. ``padding`` positions of right padding (as in a batch with a longer example) are
    masked too.
    """
    if not isinstance(prompt, str) or not prompt.startswith("Q: ") or not prompt.endswith("\nA: "):
        raise ValueError(f"prompt must be a str 'Q: ...\\nA: ' as tasks.instruction_pairs writes it, got {prompt!r}")
    if not isinstance(response, str) or not response or "\n" in response:
        raise ValueError(f"response must be a non-empty str without a newline, got {response!r}")
    if isinstance(padding, bool) or not isinstance(padding, int) or not 0 <= padding <= 4:
        raise ValueError(f"padding must be an int in [0, 4], got {padding!r}")
    text = prompt + response + "\n"
    T = len(text) - 1 + padding  # positions
    if T > 40:
        raise ValueError(f"prompt and response must fit 40 positions with the padding, got {T}")
    start = len(prompt)  # the first response character's index: target position start - 1 predicts it
    targets = sft_targets(prompt, response) + [None] * padding
    cw, x0 = min(0.3, 7.8 / T), 1.3  # cell width, left edge of position 0
    c = Canvas(x0 + T * cw + 0.15, 3.5, title="One SFT example: the targets are the inputs shifted by one,\n"
                                             "and only the response's targets carry a loss")
    y_x, y_y = 2.35, 1.45
    c.text(x0 - 0.1, y_x, "inputs x", fontsize=10, ha="right")
    c.text(x0 - 0.1, y_y, "targets y", fontsize=10, ha="right")
    c.text(x0 - 0.1, 3.2, "position t", fontsize=9, color=GREY, ha="right")
    mono = dict(fontfamily="DejaVu Sans Mono")
    for t in range(T):
        x = x0 + (t + 0.5) * cw
        real = t < len(text) - 1
        loss = targets[t] is not None
        if t % 5 == 0 or t in (start - 1, T - 1):
            c.text(x, 3.2, str(t), fontsize=9 if cw > 0.22 else 8.5, color=GREY)
        c.box(x, y_x, "", w=cw - 0.03, h=0.4, kind="input" if real else "plain", round=0.03)
        c.text(x, y_x, _shown(text[t]) if real else "", fontsize=10, **mono)
        c.box(x, y_y, "", w=cw - 0.03, h=0.4, kind="highlight" if loss else "plain", round=0.03)
        c.text(x, y_y, _shown(targets[t]) if loss else "·", fontsize=10, color="black" if loss else GREY, **mono)
        if loss and t < len(text) - 2:  # each target is the next input; the closing newline is no input
            c.arrow((x + cw, y_x - 0.2), (x, y_y + 0.2), kind="highlight")

    def brace(t0: int, t1: int, y: float, label: str, up: bool, color: str = GREY) -> None:
        a, b, d = x0 + t0 * cw + 0.03, x0 + t1 * cw - 0.03, 0.08 if up else -0.08
        c.ax.plot([a, a, b, b], [y, y + d, y + d, y], color=color, lw=1.0)
        c.text((a + b) / 2, y + 2.2 * d, label, fontsize=9, color=color, va="bottom" if up else "top")

    brace(0, start, y_x + 0.25, f"prompt ({start} characters)", up=True)
    brace(start, len(text) - 1, y_x + 0.25, "response", up=True)
    if padding:
        brace(len(text) - 1, T, y_x + 0.25, "pad", up=True)
    brace(0, start - 1, y_y - 0.25, f"$-100$: no loss on the first len(prompt) − 1 = {start - 1} targets", up=False)
    brace(start - 1, len(text) - 1, y_y - 0.25, "the loss", up=False, color=KINDS["highlight"][1])
    if padding:
        brace(len(text) - 1, T, y_y - 0.25, "$-100$", up=False)
    c.text(x0, 0.35, f"Target t is input t + 1: the last prompt character (␣, position {start - 1}) predicts the "
           "first response character,\nand the closing ⏎, a target only, ends the answer (a chat model's "
           "end-of-turn token). ␣ is a space.", fontsize=9, color=GREY, ha="left")
    return c.fig
