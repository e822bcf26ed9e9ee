"""Tests of tutorial_lib.plots: figures, labels, counts, no side effects."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tutorial_lib import plots
from tutorial_lib.train import History


@pytest.fixture(autouse=True)
def quiet_tmp_cwd(tmp_path, monkeypatch, capsys):
    """Run each test in an empty directory; afterwards nothing is written, printed or left open."""
    monkeypatch.chdir(tmp_path)
    yield
    assert list(tmp_path.iterdir()) == [], "a plot helper wrote a file"
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", "a plot helper printed something"
    plt.close("all")


def _bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel()) and bool(ax.get_title())


def test_palette_is_okabe_ito_and_style_is_idempotent():
    assert len(plots.PALETTE) == 8 and plots.PALETTE[-1] == "#000000"
    assert {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"} <= set(plots.PALETTE)
    plots.use_style()
    first = dict(plt.rcParams)
    plots.use_style()
    assert dict(plt.rcParams) == first
    assert plt.rcParams["figure.dpi"] == 110 and plt.rcParams["savefig.dpi"] == 150
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"][0] == plots.PALETTE[0]
    assert not plt.rcParams["axes.spines.top"] and plt.rcParams["figure.constrained_layout.use"]


def test_new_figure_shapes():
    fig, ax = plots.new_figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert tuple(fig.get_size_inches()) == pytest.approx((7.0, 3.6))
    fig, axes = plots.new_figure(ncols=3, figsize=(9, 3))
    assert axes.shape == (3,) and len(fig.axes) == 3


def test_plot_curves_lines_legend_and_reference():
    curves = {"a": ([0, 1, 2], [3.0, 2.0, 1.0]), "b": ([0, 1], [1.0, 0.5])}
    fig = plots.plot_curves(curves, "step", "loss (nats)", "Both fall", hline=math.log(27), hline_label="uniform")
    (ax,) = fig.axes
    assert _labelled(ax)
    assert len(ax.get_lines()) == 3  # two curves and the reference line
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "uniform"]
    assert ax.get_lines()[2].get_linestyle() == "--"


def test_plot_curves_draws_on_given_axes_and_logy():
    fig, axes = plots.new_figure(ncols=2)
    out = plots.plot_curves({"a": ([1, 2], [1.0, 10.0])}, "x", "y", "t", ax=axes[1], logy=True)
    assert out is fig and axes[1].get_yscale() == "log" and len(axes[0].get_lines()) == 0


def test_plot_curves_shades_the_spread_of_a_curve():
    fig = plots.plot_curves({"median": ([1, 2, 3], [0.5, 0.6, 0.9]), "other": ([1, 2], [0.1, 0.2])}, "x", "y", "t",
                            spread={"median": ([0.4, 0.5, 0.8], [0.6, 0.7, 1.0])})
    (ax,) = fig.axes
    (band,) = ax.collections  # one band, for the curve named
    assert band.get_facecolor()[0][:3] == pytest.approx(matplotlib.colors.to_rgb(ax.get_lines()[0].get_color()))
    with pytest.raises(ValueError, match=r"spread\['nope'\] must be a pair"):
        plots.plot_curves({"a": ([1], [1.0])}, "x", "y", "t", spread={"nope": ([0], [1])})
    with pytest.raises(ValueError, match=r"spread\['a'\] low"):
        plots.plot_curves({"a": ([1, 2], [1.0, 2.0])}, "x", "y", "t", spread={"a": ([0], [1, 2])})


def test_plot_curves_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"curves\['a'\]"):
        plots.plot_curves({"a": ([0, 1, 2], [1.0, 2.0])}, "x", "y", "t")
    with pytest.raises(ValueError, match="curves"):
        plots.plot_curves({}, "x", "y", "t")


def test_plot_curves_log_ticks_and_slopes():
    x = [32, 64, 128, 256]
    fig = plots.plot_curves({"a": (x, [1.0, 2.1, 4.3, 9.0])}, "T", "ms", "t", logx=True, logy=True,
                            slopes={"O(T)": 1, "O(T²)": 2})
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["O(T²)"].get_ydata(), [1.0, 64.0])  # (256/32)^2 from the first point
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all("10^" not in t and "×" not in t for t in labels)  # plain 1, 2, 5, 10 ...
    with pytest.raises(ValueError, match="slopes need logx"):
        plots.plot_curves({"a": (x, [1, 2, 3, 4])}, "T", "ms", "t", slopes={"O(T)": 1})


def test_plot_curves_styles_and_legend_place():
    curves = {"a": ([1, 2], [3, 4]), "b": ([1, 2], [4, 5])}
    fig = plots.plot_curves(curves, "x", "y", "t", styles={"b": {"color": "black", "linestyle": ":"}},
                            legend_loc="lower right")
    a, b = fig.axes[0].get_lines()
    assert b.get_linestyle() == ":" and b.get_color() == "black" and a.get_linestyle() == "-"
    assert fig.axes[0].get_legend()._loc == 4  # lower right
    with pytest.raises(ValueError, match=r"styles\['c'\]"):
        plots.plot_curves(curves, "x", "y", "t", styles={"c": {}})
    # a style's marker replaces the shared one for its curve only
    fig = plots.plot_curves(curves, "x", "y", "t", marker="o", styles={"b": {"marker": "s"}})
    a, b = fig.axes[0].get_lines()
    assert (a.get_marker(), b.get_marker()) == ("o", "s")


def test_plot_history():
    h = History(steps=list(range(100)), train_loss=[3.0 - 0.01 * i for i in range(100)],
                grad_norm=[1.0] * 100, lr=[1e-3] * 100, val_steps=[0, 50, 100], val_loss=[3.1, 2.6, 2.1])
    fig = plots.plot_history(h, baseline=3.3, baseline_label="uniform guess")
    (ax,) = fig.axes
    assert _labelled(ax) and "nats per token" in ax.get_ylabel()
    assert len(ax.get_lines()) == 4  # raw, smoothed, validation, baseline
    val = [ln for ln in ax.get_lines() if ln.get_label() == "validation"][0]
    assert list(val.get_xdata()) == [0, 50, 100]
    fig = plots.plot_history(h, baseline=3.3, baselines={"a": 2.0, "b": 1.5})
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert lines["a"].get_ydata()[0] == 2.0 and lines["b"].get_ydata()[0] == 1.5
    assert lines["a"].get_linestyle() != lines["b"].get_linestyle()
    with pytest.raises(TypeError, match="baselines must be a mapping"):
        plots.plot_history(h, baselines=[1.0])
    h.val_loss.pop()
    with pytest.raises(ValueError, match="history.val_loss"):
        plots.plot_history(h)


def test_plot_order_sweep_marks_best_and_adds_coverage_panel():
    orders, train, val = [1, 2, 3, 4], [3.0, 2.4, 1.8, 1.0], [3.1, 2.5, 2.2, 2.6]
    fig = plots.plot_order_sweep(orders, train, val)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert _labelled(ax) and list(ax.get_xticks()) == orders
    assert any("n = 3" in t.get_text() for t in ax.texts)  # best validation order annotated
    fig = plots.plot_order_sweep(orders, train, val, coverage=[1.0, 0.9, 0.6, 0.2])
    assert len(fig.axes) == 2 and all(_labelled(a) for a in fig.axes)
    assert "%" in fig.axes[1].get_ylabel()
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == pytest.approx([100, 90, 60, 20])
    with pytest.raises(ValueError, match="val_ce"):
        plots.plot_order_sweep(orders, train, val[:3])
    with pytest.raises(ValueError, match="coverage"):
        plots.plot_order_sweep(orders, train, val, coverage=[1.0, 0.9])
    with pytest.raises(ValueError, match="coverage"):
        plots.plot_order_sweep(orders, train, val, coverage=[100, 90, 60, 20])


def test_plot_char_frequencies_top_and_visible_whitespace():
    chars = ["a", " ", "\n", "b", "c"]
    fig = plots.plot_char_frequencies(chars, [5, 9, 1, 3, 2], top=3)
    (ax,) = fig.axes
    assert _labelled(ax)
    assert [round(b.get_height()) for b in _bars(ax)] == [9, 5, 3]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["␣", "a", "b"]
    fig = plots.plot_char_frequencies(chars, [5, 9, 1, 3, 2])
    assert "⏎" in [t.get_text() for t in fig.axes[0].get_xticklabels()]
    with pytest.raises(ValueError, match="counts"):
        plots.plot_char_frequencies(chars, [1, 2])
    with pytest.raises(ValueError, match="top"):
        plots.plot_char_frequencies(chars, [5, 9, 1, 3, 2], top=0)


def test_plot_next_char_distribution():
    chars = ["a", " ", "\n", "b"]
    fig = plots.plot_next_char_distribution(chars, [0.1, 0.5, 0.3, 0.1], top=3)
    (ax,) = fig.axes
    assert _labelled(ax)
    assert [b.get_width() for b in _bars(ax)] == pytest.approx([0.5, 0.3, 0.1])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["␣", "⏎", "a"]
    with pytest.raises(ValueError, match="probs"):
        plots.plot_next_char_distribution(chars, [0.5, 0.5])
    with pytest.raises(ValueError, match="probs"):
        plots.plot_next_char_distribution(chars, [0.5, 0.5, -0.1, 0.1])


def test_plot_curves_uses_integer_ticks_for_integer_x():
    fig = plots.plot_curves({"a": ([-3, -1, 0, 2, 5], [1, 2, 3, 4, 5])}, "x", "y", "t")
    ticks = fig.axes[0].get_xticks()
    assert all(float(t).is_integer() for t in ticks)
    plt.close(fig)


def test_plot_gate_traces_draws_gates_and_one_line_per_symbol():
    import numpy as np

    rng = np.random.default_rng(0)
    B, T, d_h = 12, 9, 4
    trace = {k: rng.uniform(0, 1, (B, T, d_h)) for k in ("f", "i", "o")}
    trace["C"] = rng.normal(size=(B, T, d_h))
    y = np.arange(B) % 3
    fig = plots.plot_gate_traces(trace, y, unit=2)
    left, right = fig.axes[:2]
    assert len(left.get_lines()) == 3 and len(right.get_lines()) == 3  # f, i, o; symbols 0, 1, 2
    assert _labelled(left) and _labelled(right) and "unit 2" in right.get_ylabel()
    np.testing.assert_allclose(right.get_lines()[1].get_ydata(), trace["C"][y == 1, :, 2].mean(0))
    # the left panel draws the same unit's gates, steps numbered from 1
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), trace["f"][:, :, 2].mean(0))
    assert list(left.get_lines()[0].get_xdata()) == list(range(1, T + 1))
    assert len({ln.get_linestyle() for ln in left.get_lines()}) == 3 and "unit 2" in left.get_title()
    with pytest.raises(ValueError, match="missing 'o'"):
        plots.plot_gate_traces({k: trace[k] for k in ("f", "i", "C")}, y, 0)
    with pytest.raises(ValueError, match=r"y must have shape \(B,\) = \(12,\)"):
        plots.plot_gate_traces(trace, y[:5], 0)
    with pytest.raises(ValueError, match=r"unit must be an int in \[0, 4\)"):
        plots.plot_gate_traces(trace, y, 4)
    with pytest.raises(ValueError, match="one shape"):
        plots.plot_gate_traces({**trace, "f": trace["f"][:, :3]}, y, 0)


def test_plot_attention_labels_rows_and_columns_and_outlines_the_alignment():
    import numpy as np

    w = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    fig = plots.plot_attention(w, ["big", "dog", "cat"], ["chien", "grand", "chat", "<eos>"], alignment=[1, 0, 2])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["big", "dog", "cat"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["chien", "grand", "chat", "<eos>"]
    np.testing.assert_array_equal(ax.images[0].get_array(), w)
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [(b.get_x() + 0.5, b.get_y() + 0.5) for b in boxes] == [(1, 0), (0, 1), (2, 2)]
    assert _labelled(ax) and len(fig.axes) == 2  # the heatmap and its colour bar
    with pytest.raises(ValueError, match=r"weights must have shape \(len\(target\), len\(source\)\) = \(4, 2\)"):
        plots.plot_attention(w, ["a", "b"], ["1", "2", "3", "4"])
    with pytest.raises(ValueError, match=r"weights in \[0, 1\]"):
        plots.plot_attention(-w, ["a", "b", "c"], ["1", "2", "3", "4"])
    with pytest.raises(ValueError, match="alignment must hold"):
        plots.plot_attention(w, ["a", "b", "c"], ["1", "2", "3", "4"], alignment=[0, 5])
    with pytest.raises(ValueError, match="alignment must hold"):
        plots.plot_attention(w, ["a", "b", "c"], ["1", "2", "3", "4"], alignment=[[0, 3]])
    # several right positions per row, or none (chapter 8's induction maps), and axis labels
    fig = plots.plot_attention(w, list("abc"), list("1234"), alignment=[[0, 2], [], 1], xlabel="key", ylabel="query")
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [(b.get_x() + 0.5, b.get_y() + 0.5) for b in boxes] == [(0, 0), (2, 0), (1, 2)]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("key", "query")
    assert all(t.get_rotation() == 0 for t in ax.get_xticklabels())  # one-character labels upright
    fig = plots.plot_attention(w, list("abc"), list("1234"), vmax=0.25, colorbar=False)
    assert fig.axes[0].images[0].get_clim() == (0.0, 0.25)
    with pytest.raises(ValueError, match=r"vmax must be in \(0, 1\]"):
        plots.plot_attention(w, list("abc"), list("1234"), vmax=0)
    plt.close("all")


def test_plot_attention_grid_and_rows():
    import numpy as np

    ex = {"weights": np.eye(2), "source": ["a", "b"], "target": ["x", "y"], "title": "one"}
    fig = plots.plot_attention_grid([ex, ex, ex], ncols=2)
    assert fig.dpi == 80  # a large grid: fewer pixels
    assert plots.plot_attention_grid([ex, ex], ncols=2).dpi != 80
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.images]
    assert len(visible) == 3 and visible[0].get_title() == "one"
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_attention_grid([])
    fig = plots.plot_attention_rows([["river", "then", "bank"], ["bank"]], [[0.9, 0.05, 0.05], [1.0]],
                                    labels=["river", "unknown"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["river", "then", "bank", "bank"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["river", "unknown"]
    assert np.ma.getmaskarray(ax.images[0].get_array())[1, 1]  # the short row is padded with blanks
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape"):
        plots.plot_attention_rows([["a"], ["b", "c"]], [[1.0], [1.0]])
    with pytest.raises(ValueError, match="labels must have the same length"):
        plots.plot_attention_rows([["a"]], [[1.0]], labels=["x", "y"])
    plt.close("all")


def test_plot_curves_logx_ticks_every_measured_x_and_plot_matrix():
    import numpy as np

    fig = plots.plot_curves({"a": ([32, 64, 1024], [1, 2, 3])}, "T", "ms", "t", logx=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["32", "64", "1024"]
    many = np.arange(1, 65)  # 64 points: matplotlib's decades, not 64 overlapping labels
    ax = plots.plot_curves({"a": (many, 1 / many)}, "position", "loss", "t", logx=True).axes[0]
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and 1 <= t.get_position()[0] <= 64]
    assert ax.get_xscale() == "log" and 1 <= len(labels) <= 4
    fig = plots.plot_matrix(np.array([[1.0, -2.0], [0.5, 0.0]]), "x", "y", "title")
    assert fig.axes[0].images[0].get_clim() == (-2.0, 2.0) and _labelled(fig.axes[0])
    with pytest.raises(ValueError, match="finite 2-D array"):
        plots.plot_matrix(np.ones(3), "x", "y", "t")
    plt.close("all")


def test_plot_tradeoff_labels_every_point_and_rejects_bad_points():
    fig = plots.plot_tradeoff({"full": (0.1, 1.7), "adapters": (0.03, 1.8)}, "forgetting", "loss", "trade-off",
                              notes={"full": "trains 100%"})
    ax = fig.axes[0]
    assert isinstance(fig, Figure) and _labelled(ax)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["full\ntrains 100%", "adapters"]
    assert len(ax.collections) == 2
    with pytest.raises(ValueError, match="points must be a non-empty mapping"):
        plots.plot_tradeoff({}, "x", "y", "t")
    with pytest.raises(ValueError, match=r"points\['a'\] must be a pair of finite numbers"):
        plots.plot_tradeoff({"a": (1.0, float("nan"))}, "x", "y", "t")


def test_plot_grouped_bars_one_bar_per_group_and_category_with_values():
    fig = plots.plot_grouped_bars({"clean": [1.0, 0.3], "noisy": [0.2, 0.0]}, ["first", "upper"], "rate", "t",
                                  ylim=(0, 1.1))
    ax = fig.axes[0]
    assert len(_bars(ax)) == 4 and ax.get_ylabel() == "rate" and ax.get_title() == "t"
    heights = sorted(round(b.get_height(), 2) for b in _bars(ax))
    assert heights == [0.0, 0.2, 0.3, 1.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["first", "upper"]
    assert "1.00" in [t.get_text() for t in ax.texts] and ax.get_ylim() == (0, 1.1)
    with pytest.raises(ValueError, match=r"groups\['noisy'\] must have the same length as categories"):
        plots.plot_grouped_bars({"noisy": [0.1]}, ["a", "b"], "rate", "t")
    with pytest.raises(ValueError, match="groups must be a non-empty mapping"):
        plots.plot_grouped_bars({}, ["a"], "rate", "t")


def test_plot_reliability_one_line_per_group_and_the_diagonal():
    fig = plots.plot_reliability({"seen": ([0.95, 0.9, 0.2], [1, 1, 0]), "unseen": ([0.9, 0.85], [0, 0])})
    ax = fig.axes[0]
    labels = [l.get_label() for l in ax.get_lines()]
    assert labels == ["calibrated", "seen", "unseen"]
    unseen = ax.get_lines()[2]
    assert list(unseen.get_ydata()) == [0.0, 0.0] and list(unseen.get_xdata()) == pytest.approx([0.85, 0.9])
    assert list(ax.get_lines()[1].get_ydata()) == [0.0, 1.0]  # the bin of 0.2, then the bin of 0.9 and 0.95
    with pytest.raises(ValueError, match="groups must be a non-empty mapping"):
        plots.plot_reliability({})
