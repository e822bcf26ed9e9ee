"""tutorial_lib.widgets: explorers answer their controls from Python (as in a kernel), their
states come from the same ``draw`` as the live figure, they build under Colab's ipywidgets
7.7.1, and bad input gets a named error.

The browser side (the static book answering the same controls with no kernel) is tested on
the built site in tests/test_site.py.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tutorial_lib import widgets

ipywidgets = pytest.importorskip("ipywidgets")


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_importing_widgets_does_not_import_ipywidgets():
    code = "import sys, tutorial_lib.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------- explorer
@pytest.fixture
def calls():
    return []


@pytest.fixture
def box(calls):
    def draw(n, kind):
        calls.append((n, kind))
        return f"<p>n is {n}, kind is {kind}</p>"

    return widgets.explorer(draw, {"n": [1, 2, 4], "kind": ["a", "b"]},
                            descriptions={"n": "order n"}, initial={"n": 2}, title="T")


def test_explorer_draws_every_state_once_with_a_caption_naming_its_values(box, calls):
    assert sorted(calls) == sorted((n, k) for n in (1, 2, 4) for k in "ab")
    assert set(box.states) == {f"n={n}; kind={k}" for n in (1, 2, 4) for k in "ab"}
    html = box.states["n=4; kind=b"].value
    assert "order n = 4, kind = b" in html and "<p>n is 4, kind is b</p>" in html
    assert "data-state='n=4; kind=b'" in html
    assert len(box.draw_seconds) == 6


def test_explorer_controls_are_sliders_for_numbers_and_dropdowns_otherwise(box):
    n, kind = box.controls["n"], box.controls["kind"]
    assert isinstance(n, ipywidgets.SelectionSlider) and n.description == "order n"
    assert isinstance(kind, ipywidgets.Dropdown) and kind.description == "kind"
    assert [v for _, v in n.options] == [1, 2, 4] and n.value == 2 and kind.value == "a"
    parts = list(_walk(box))
    assert n in parts and kind in parts
    assert "tl-control-n" in n._dom_classes and "tl-explorer" in box._dom_classes


def test_moving_a_control_from_python_shows_that_state(box):
    """In a kernel: the Python side follows the controls (the browser's jslink does the same)."""
    assert box.shown() == "n=2; kind=a"
    box.controls["kind"].value = "b"
    assert box.shown() == "n=2; kind=b"
    box.controls["n"].value = 4
    assert box.shown() == "n=4; kind=b"
    box.controls["n"].value = 1
    box.controls["kind"].value = "a"
    assert box.shown() == "n=1; kind=a"


def test_every_stack_level_is_jslinked_to_its_control(box):
    """One front-end link per stack: the static page switches with no kernel."""
    n_stacks = [len(level) for level in box.stacks]
    assert n_stacks == [1, 3]
    assert len(box.links) == sum(n_stacks)
    targets = {(id(link.source[0]), id(link.target[0])) for link in box.links}
    assert (id(box.controls["n"]), id(box.stacks[0][0])) in targets
    assert all((id(box.controls["kind"]), id(s)) in targets for s in box.stacks[1])
    assert all(link.source[1] == "index" and link.target[1] == "selected_index" for link in box.links)


@pytest.mark.parametrize("kwargs, message", [
    (dict(draw=None, controls={"a": [1]}), "draw must be a function"),
    (dict(controls={}), "controls must be a non-empty dict"),
    (dict(controls={"a b": [1]}), "keywords of draw"),
    (dict(controls={"a": []}), r"controls\['a'\] must be a non-empty list"),
    (dict(controls={"a": "xyz"}), r"controls\['a'\] must be a non-empty list"),
    (dict(controls={"a": [1, 1]}), "repeated values"),
    (dict(controls={"a": [1]}, descriptions={"b": "B"}), "descriptions names no control"),
    (dict(controls={"a": [1]}, initial={"a": 3}), r"initial\['a'\] = 3 is not one of"),
    (dict(controls={"a": list(range(30)), "b": list(range(30))}), "900 states"),
])
def test_explorer_rejects_bad_arguments_by_name(kwargs, message):
    kwargs.setdefault("draw", lambda **v: "")
    with pytest.raises((ValueError, TypeError), match=message):
        widgets.explorer(**kwargs)


# ---------------------------------------------------------------------- drawing helpers
def test_bars_html_orders_bars_and_marks_the_highlight():
    html = widgets.bars_html([0.1, 0.6, 0.3], ["x", "y", "<"], top=2, highlight="<")
    assert html.count("<tr>") == 2 and html.index(">y<") < html.index("&lt;")
    assert "0.600" in html and "0.100" not in html and "font-weight:bold" in html
    with pytest.raises(ValueError, match="one value per label"):
        widgets.bars_html([0.1, 0.9], ["x"])
    with pytest.raises(ValueError, match="top must be a positive integer"):
        widgets.bars_html([1.0], ["x"], top=0)


def test_heatmap_html_has_a_cell_per_entry_with_its_value():
    m = np.array([[0.0, 1.0], [0.25, 0.5]])
    html = widgets.heatmap_html(m, ["r1", "r2"], ["c1", "c2"], outline=np.eye(2, dtype=bool))
    assert html.count("<td ") == 4 and "r2 / c1: 0.250" in html
    assert "rgb(255,255,255)" in html and "rgb(0,114,178)" in html  # white at 0, blue at the max
    assert html.count("2px solid") == 2
    with pytest.raises(ValueError, match="matrix must be"):
        widgets.heatmap_html(m, ["r1"], ["c1", "c2"])
    with pytest.raises(ValueError, match="outline must have"):
        widgets.heatmap_html(m, ["r1", "r2"], ["c1", "c2"], outline=np.eye(3))


def test_lines_svg_draws_each_series_with_its_own_dash_and_gaps_where_undefined():
    x = np.arange(1, 11)
    svg = widgets.lines_svg(x, {"a": 2.0 ** -x, "b": np.where(x > 5, np.nan, 1.0)}, logy=True,
                            marks={"here": 3})
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and "stroke-dasharray='6,3'" in svg
    b_points = re.findall(r"<polyline points='([^']*)'", svg)[1].split()
    assert len(b_points) == 5  # the NaNs leave a gap
    assert ">here<" in svg and "currentColor" in svg
    with pytest.raises(ValueError, match="x must be 1-D"):
        widgets.lines_svg([1], {"a": [1]})
    with pytest.raises(ValueError, match=r"series\['a'\] must have x's shape"):
        widgets.lines_svg(x, {"a": [1, 2]})


def test_figure_html_needs_alt_text_and_closes_the_figure():
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    html = widgets.figure_html(fig, alt="a blank square")
    assert html.startswith("<img alt='a blank square' src='data:image/png;base64,iVBOR")
    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match="alt must be"):
        widgets.figure_html(plt.figure(), alt="")
    plt.close("all")


# ---------------------------------------------------------------------- chapter 3
@pytest.fixture(scope="module")
def gradient_box():
    return widgets.gradient_explorer(hidden_size=32, seed=0, T=60)


def test_gradient_explorer_states_are_the_probes_own_numbers(gradient_box):
    from tutorial_lib.gradients import decay_rate, gradient_grid

    box = gradient_box
    assert len(box.states) == 5 * 4 * 2 * 3
    assert box.shown() == "rho=1; activation=tanh; kind=orthogonal; scale=0.3"
    norms = gradient_grid([1.2], ["identity"], T=60, hidden_size=32, seed=0)["norms"][0, 0]
    html = box.states["rho=1.2; activation=identity; kind=orthogonal; scale=1"].value
    assert f"γ = <b>{decay_rate(norms):.3f}</b>" in html and "(exploding)" in html
    assert "‖W‖₂ = 1.20" in html  # orthogonal: the norm is the radius
    gauss = box.states["rho=1.2; activation=identity; kind=gaussian; scale=1"].value
    assert float(re.search(r"‖W‖₂ = ([\d.]+)", gauss).group(1)) > 1.8  # Gaussian: well above ρ


def test_gradient_explorer_follows_its_controls_and_draws_fast(gradient_box):
    box = gradient_box
    before = box.states[box.shown()].value
    box.controls["rho"].value = 1.4
    box.controls["activation"].value = "sigmoid"
    box.controls["scale"].value = 3.0
    assert box.shown() == "rho=1.4; activation=sigmoid; kind=orthogonal; scale=3"
    assert box.states[box.shown()].value != before and "(vanishing)" in box.states[box.shown()].value
    # a state's recomputation, what a kernel would do on a move, fits the 200 ms of DESIGN.md
    assert statistics.median(box.draw_seconds) < 0.2


# ---------------------------------------------------------------------- chapter 7
@pytest.fixture
def sampler():
    import torch

    from tutorial_lib.data import CharTokenizer
    from tutorial_lib.transformer import GPT, TransformerConfig

    torch.manual_seed(0)
    tok = CharTokenizer("abcdefgh \n<&")
    model = GPT(TransformerConfig(tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    return model, tok


def test_sampling_explorer_applies_each_rule(sampler):
    import torch

    model, tok = sampler
    box = widgets.sampling_explorer(model, tok, ["abc", "h<"], length=12)
    assert len(box.states) == 2 * 5 * 3 and box.shown() == "prompt=abc; temperature=1; top_p=1"
    greedy = box.states["prompt=abc; temperature=0; top_p=1"].value
    assert "1 of 12 characters can be drawn" in greedy
    expected = tok.decode(model.generate(tok.encode_tensor("abc"), 12, temperature=0))
    assert widgets.html.escape(expected) in greedy
    z = model(tok.encode_tensor("abc")[None])[0, -1].detach()
    assert f"{float(torch.softmax(z, -1).max()):.3f}" in box.states[box.shown()].value
    cut = box.states["prompt=abc; temperature=1; top_p=0.5"].value
    assert int(re.search(r"(\d+) of 12 characters", cut).group(1)) < 12
    assert "&lt;" in box.states["prompt=h<; temperature=1; top_p=1"].value  # HTML is escaped
    box.controls["temperature"].value = 1.5
    assert box.shown() == "prompt=abc; temperature=1.5; top_p=1"


def test_sampling_explorer_rejects_bad_arguments(sampler):
    model, tok = sampler
    with pytest.raises(ValueError, match="length must be an integer in"):
        widgets.sampling_explorer(model, tok, ["a"], length=0)
    with pytest.raises(ValueError, match="prompts must be a non-empty list"):
        widgets.sampling_explorer(model, tok, "abc")


# ---------------------------------------------------------------------- Colab's ipywidgets
COLAB_IPYWIDGETS = ["ipywidgets==7.7.1", "ipython_genutils==0.2.0"]


def test_every_explorer_builds_and_answers_under_ipywidgets_7_7_1(tmp_path_factory):
    """Colab runs ipywidgets 7.7.1 and must never be upgraded: install it beside (not into) this
    environment, shadowing 8, and build every explorer of the package with it."""
    target = tmp_path_factory.mktemp("ipywidgets7")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                          "--no-deps", "--target", str(target), *COLAB_IPYWIDGETS],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        pytest.skip(f"could not install {COLAB_IPYWIDGETS} from the package index: {pip.stderr[-300:]}")
    code = textwrap.dedent("""
        import ipywidgets, torch
        assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__
        from tutorial_lib import widgets
        from tutorial_lib.data import CharTokenizer
        from tutorial_lib.transformer import GPT, TransformerConfig
        box = widgets.explorer(lambda n, k: f"{n}{k}", {"n": [1, 2], "k": ["a", "b"]})
        assert type(box.stacks[0][0]).__name__ == "Tab"  # 7.7.1 has no Stack
        box.controls["n"].value = 2; box.controls["k"].value = "b"
        assert box.shown() == "n=2; k=b"
        g = widgets.gradient_explorer(hidden_size=16, T=20)
        g.controls["kind"].value = "gaussian"
        assert g.shown().endswith("kind=gaussian; scale=0.3")
        tok = CharTokenizer("abc ")
        model = GPT(TransformerConfig(tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)).eval()
        s = widgets.sampling_explorer(model, tok, ["ab"], length=4)
        s.controls["top_p"].value = 0.5
        print("ok", len(g.states), len(s.states))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "120", "15"]
