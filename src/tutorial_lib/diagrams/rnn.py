"""Chapter 2's diagrams: the RNN of eq. (2.1) unrolled in time, and truncated BPTT."""

from __future__ import annotations

from matplotlib.figure import Figure

from tutorial_lib.diagrams.canvas import ARROWS, GREY, Canvas

# the symbols each diagram shares with chapter 2's equations and prose (checked by a test)
SYMBOLS: dict[str, list[str]] = {
    "unrolled_rnn": [r"\mathbf{U}", r"\mathbf{W}", r"\mathbf{V}", r"\mathbf{h}_0", r"\mathbf{h}_{t-1}", "L_t"],
    "truncated_bptt": [r"\mathbf{h}_0 = \mathbf{0}"],
}


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def unrolled_rnn(steps: int = 4) -> Figure:
    """Eq. (2.1) unrolled over ``steps`` steps, with one loss per step (chapter 2).

    Bottom to top: inputs $x_t$, states $h_t$, outputs $o_t$ and the losses $L_t$ whose sum is
    the loss $L$; the same $U$, $W$, $V$ label every step. Dashed: the gradient, which reaches
    $h_{t-1}$ from the step after it and from the loss at step $t-1$.
    """
    _check_int("steps", steps, 1, 6)
    width = 1.6 * steps + 2.6
    shared = r"$\mathbf{U}$, $\mathbf{W}$, $\mathbf{V}$"
    c = Canvas(width, 5.0, title=f"An RNN unrolled over {steps} steps: the same {shared} at every step")
    x0 = 1.0
    h_prev = c.box(x0, 2.0, r"$\mathbf{h}_0$", kind="state")
    for t in range(1, steps + 1):
        x = x0 + 1.6 * t
        xt = c.box(x, 0.7, rf"$\mathbf{{x}}_{t}$", kind="input")
        ht = c.box(x, 2.0, rf"$\mathbf{{h}}_{t}$", kind="state")
        ot = c.box(x, 3.3, rf"$\mathbf{{o}}_{t}$", kind="output")
        lt = c.box(x, 4.5, rf"$L_{t}$", kind="output", w=0.7)
        c.arrow(xt, ht, r"$\mathbf{U}$", label_at=(0.2, 0))
        c.arrow(ht, ot, r"$\mathbf{V}$", label_at=(0.2, 0))
        c.arrow(ot, lt, label_at=(0.3, 0))
        c.arrow(h_prev, ht, r"$\mathbf{W}$", label_at=(0, 0.22))
        # the gradient: from L_t down to h_t, and from h_t back to h_{t-1}
        c.arrow((x - 0.32, 4.25), (x - 0.32, 2.25), kind="gradient")
        c.arrow((x - 0.4, 1.8), (x - 1.2, 1.8), kind="gradient")
        h_prev = ht
    c.text(x0 + 1.6 * steps + 0.5, 4.5, r"$L = \sum_t L_t$", ha="left", fontsize=11)
    c.text(width / 2, 0.12,
           r"dashed, the gradient: $\partial L/\partial \mathbf{h}_{t-1} = "
           r"\partial L/\partial \mathbf{h}_t \cdot \partial \mathbf{h}_t/\partial \mathbf{h}_{t-1}"
           r" + \partial L_{t-1}/\partial \mathbf{h}_{t-1}$",
           color=ARROWS["gradient"][0], fontsize=10.5)
    return c.fig


def truncated_bptt(windows: int = 3, steps: int = 3) -> Figure:
    """Truncated BPTT over ``windows`` windows of ``steps`` steps each (chapter 2).

    Top row: the way chapter 2 trains, each window a random slice of the text started from
    $h_0 = 0$. Bottom row: the state carried from one window into the next with ``detach()``,
    so its value passes forward but no gradient crosses the boundary. In both, the dashed
    gradient runs back only inside a window.
    """
    _check_int("windows", windows, 2, 4)
    _check_int("steps", steps, 2, 5)
    dx = 0.62
    span = steps * dx + 0.5
    width = windows * (span + 0.75) + 0.6
    c = Canvas(width, 4.4, title=f"Truncated BPTT: windows of {steps} steps; the gradient stays inside a window")
    rows = [(3.05, "reset: every window starts from $\\mathbf{h}_0 = \\mathbf{0}$ (chapter 2's training)"),
            (1.0, "carried: the last state starts the next window, detached (no gradient through it)")]
    for y, caption in rows:
        c.text(0.3, y + 0.85, caption, ha="left", fontsize=10, color=GREY)
        last = None
        for w in range(windows):
            left = 0.5 + w * (span + 0.75)
            c.frame(left, y - 0.55, left + span, y + 0.55, f"window {w + 1}", label_at="bottom right",
                    fontsize=8.5)
            if y > 2:  # reset: a zero state in front of every window
                start = c.box(left + 0.25, y + 0.05, r"$\mathbf{0}$", w=0.34, h=0.34, kind="plain", fontsize=9)
            else:
                start = last if last is not None else c.box(left + 0.25, y + 0.05, r"$\mathbf{0}$", w=0.34,
                                                          h=0.34, kind="plain", fontsize=9)
            prev = start
            for s in range(steps):
                hx = left + 0.25 + (s + 1) * dx
                h = c.op(hx, y + 0.05, "", r=0.17, kind="state")
                carried = y < 2 and s == 0 and w > 0
                c.arrow(prev, h, kind="weak" if carried else "forward")
                if carried:
                    c.text(left - 0.375, y - 0.22, "detach()", fontsize=8.5, color=GREY)
                prev = h
            c.arrow((left + 0.25 + steps * dx, y - 0.25), (left + 0.25 + dx, y - 0.25), kind="gradient")
            last = prev
    c.legend([("forward", "forward"), ("gradient", "gradient, inside a window"),
              ("weak", "the value only, no gradient")], x=0.5, y=0.2, step=(2.6, 0.0))
    return c.fig
