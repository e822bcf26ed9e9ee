"""tutorial_lib.widgets: the gradient explorer builds, reacts to its controls, and is fast enough.

No kernel runs under pytest, so an ``Output`` captures nothing here; the explorer counts its
redraws (``box.redraws``) and keeps what it computed (``box.cache``), and the tests read those.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from tutorial_lib import widgets
from tutorial_lib.gradients import decay_rate, gradient_grid

ipywidgets = pytest.importorskip("ipywidgets")


@pytest.fixture
def box():
    plt.close("all")
    yield widgets.gradient_explorer(hidden_size=32, seed=0)
    plt.close("all")


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_importing_widgets_does_not_import_ipywidgets():
    code = "import sys, tutorial_lib.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_explorer_has_the_three_controls_with_their_ranges(box):
    assert isinstance(box, ipywidgets.VBox)
    parts = list(_walk(box))
    assert box.rho in parts and box.activation in parts and box.length in parts
    rho, act, T = box.rho, box.activation, box.length
    assert isinstance(rho, ipywidgets.FloatSlider) and rho.description == "spectral radius ρ"
    assert (rho.min, rho.max, rho.step, rho.value) == (0.5, 1.5, 0.05, 1.0)
    assert isinstance(act, ipywidgets.Dropdown) and act.description == "activation"
    assert list(act.options) == ["tanh", "sigmoid", "relu", "identity"] and act.value == "tanh"
    assert isinstance(T, ipywidgets.IntSlider) and T.description == "sequence length T"
    assert (T.min, T.max, T.step, T.value) == (10, 300, 10, 100)
    assert sum(isinstance(w, ipywidgets.Output) for w in parts) == 1
    assert sum(isinstance(w, ipywidgets.HTML) for w in parts) == 1


def test_explorer_draws_once_on_creation_and_leaves_no_figure_open(box):
    assert box.redraws == 1
    assert list(box.cache) == [(1.0, "tanh", 100)]
    assert plt.get_fignums() == []
    html = next(w for w in _walk(box) if isinstance(w, ipywidgets.HTML)).value
    assert "per-step factor" in html and "vanishing" in html      # tanh at ρ = 1 vanishes


def test_each_control_change_redraws_with_the_new_setting(box):
    html = next(w for w in _walk(box) if isinstance(w, ipywidgets.HTML))
    before = html.value
    box.rho.value = 1.5
    assert box.redraws == 2 and (1.5, "tanh", 100) in box.cache
    box.activation.value = "identity"
    assert box.redraws == 3 and "exploding" in html.value and html.value != before
    box.length.value = 50
    assert box.redraws == 4
    norms = box.cache[(1.5, "identity", 50)]
    assert norms.shape == (50,) and decay_rate(norms) == pytest.approx(1.5, rel=1e-4)
    box.rho.value = 1.0
    assert box.redraws == 5 and len(box.cache) == 5 and "neither" in html.value
    box.rho.value = 1.5                                            # back to a cached setting
    assert box.redraws == 6 and len(box.cache) == 5 and "exploding" in html.value
    assert plt.get_fignums() == []


def test_explorer_shows_the_same_numbers_as_the_static_grid(box):
    box.rho.value = 0.8
    grid = gradient_grid([0.8], ["tanh"], T=100, hidden_size=32, seed=0)
    np.testing.assert_array_equal(box.cache[(0.8, "tanh", 100)], grid["norms"][0, 0])


def test_a_redraw_is_fast():
    box = widgets.gradient_explorer()                              # the default size, hidden 64
    times = []
    for rho in (0.6, 0.7, 0.9):                                    # new settings: compute + plot
        start = time.perf_counter()
        box.rho.value = rho
        times.append(time.perf_counter() - start)
    box.length.value = 300
    for rho in (0.6, 0.7, 0.9):
        start = time.perf_counter()
        box.rho.value = rho
        times.append(time.perf_counter() - start)
    plt.close("all")
    median = statistics.median(times)
    assert median < 0.5, f"a redraw took {median * 1000:.0f} ms (median; target 200 ms)"


def test_alignment_explorer_picks_an_example_and_redraws_fast():
    rng = np.random.default_rng(0)
    examples = []
    for k in range(5):
        w = rng.uniform(size=(7, 6))
        examples.append({"weights": w / w.sum(1, keepdims=True), "source": list("abcdef"),
                         "target": list("uvwxyz") + ["<eos>"], "alignment": [0, 1, 2, 3, 4, 5],
                         "title": f"sentence {k}"})
    plt.close("all")
    box = widgets.alignment_explorer(examples)
    assert box.redraws == 1 and plt.get_fignums() == []
    assert [label for label, _ in box.choice.options] == [f"sentence {k}" for k in range(5)]
    assert len(box.pngs) == 5 and all(png.startswith(b"\x89PNG") for png in box.pngs)
    assert len(set(box.pngs)) == 5 and box.image.value == box.pngs[0]
    seconds = []
    for k in (1, 2, 3, 4, 0):
        start = time.perf_counter()
        box.choice.value = k
        seconds.append(time.perf_counter() - start)
        assert box.image.value == box.pngs[k]
    assert box.redraws == 6
    # the heatmaps are drawn when the explorer is built: a redraw only swaps a PNG
    assert statistics.median(seconds) < 0.2
    with pytest.raises(ValueError, match="non-empty"):
        widgets.alignment_explorer([])
    plt.close("all")


@pytest.fixture
def sampler():
    import torch

    from tutorial_lib.data import CharTokenizer
    from tutorial_lib.transformer import GPT, TransformerConfig

    torch.manual_seed(0)
    tok = CharTokenizer("abcdefgh \n")
    model = GPT(TransformerConfig(tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    return model, tok


def test_sampling_explorer_applies_each_rule(sampler):
    import torch

    model, tok = sampler
    box = widgets.sampling_explorer(model, tok, prompt="abc", length=20)
    assert box.redraws == 1 and "removed" not in box.bars.value  # τ = 1, no cut: every bar kept
    assert box.bars.value.count("<tr>") == 1 + min(12, tok.vocab_size)  # header + top bars
    first = box.sample.value
    box.seed.value = 1  # another seed, another sample
    assert box.redraws == 2 and box.sample.value != first
    box.temperature.value = 0.0  # greedy: only the argmax is kept, the sample is the greedy rollout
    greedy = tok.decode(model.generate(tok.encode_tensor("abc"), 20, temperature=0))
    assert box.bars.value.count("removed") == tok.vocab_size - 1
    assert greedy.replace(" ", "") in box.sample.value.replace(" ", "")
    box.temperature.value = 1.0
    box.top_k.value = 3
    assert box.bars.value.count("removed") == tok.vocab_size - 3
    box.top_k.value, box.top_p.value = 0, 0.05  # the smallest set reaching 5%: the top token alone
    assert box.bars.value.count("removed") == tok.vocab_size - 1
    box.prompt.value = "abcZ"  # a character the model has never seen: said, not raised
    assert "prompt:" in box.sample.value and "Z" in box.sample.value
    with torch.no_grad():
        z = model(tok.encode_tensor("abc")[None])[0, -1]
    assert f"{float(torch.softmax(z, -1).max()):.3f}" in box.bars.value  # the model's own numbers


def test_sampling_explorer_escapes_characters_that_are_html():
    import torch

    from tutorial_lib.data import CharTokenizer
    from tutorial_lib.transformer import GPT, TransformerConfig

    torch.manual_seed(0)
    tok = CharTokenizer("<&>ab")
    model = GPT(TransformerConfig(tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)).eval()
    box = widgets.sampling_explorer(model, tok, prompt="a<", length=5)
    assert "&lt;</td>" in box.bars.value and "&amp;</td>" in box.bars.value and "<</td>" not in box.bars.value


def test_sampling_explorer_rejects_bad_arguments_and_redraws_fast(sampler):
    model, tok = sampler
    with pytest.raises(ValueError, match="length must be an integer in"):
        widgets.sampling_explorer(model, tok, length=0)
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        widgets.sampling_explorer(model, tok, prompt="")
    box = widgets.sampling_explorer(model, tok, prompt="abc", length=40)
    seconds = []
    for t in (0.5, 0.7, 0.9, 1.1, 1.3):
        start = time.perf_counter()
        box.temperature.value = t
        seconds.append(time.perf_counter() - start)
    assert statistics.median(seconds) < 0.2
