"""tutorial_lib.gradients and its two plots: the measured gradients match hand-computed ones."""

from __future__ import annotations

import math
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from tutorial_lib import gradients as G
from tutorial_lib import plots


@pytest.fixture(autouse=True)
def no_files_no_figures(tmp_path, monkeypatch):
    """Run each test in an empty directory; afterwards nothing is written and no figure is open."""
    monkeypatch.chdir(tmp_path)
    yield
    assert list(tmp_path.iterdir()) == [], "a function wrote a file"
    plt.close("all")


def _inputs(T=30, B=3, d_h=16, d_x=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    U = torch.randn(d_h, d_x, generator=gen, dtype=torch.float64) / math.sqrt(d_x)
    x = torch.randn(T, B, d_x, generator=gen, dtype=torch.float64)
    b_h = 0.1 * torch.randn(d_h, generator=gen, dtype=torch.float64)
    return U, x, b_h


# ---- recurrent_matrix and spectral_radius ------------------------------------------------

@pytest.mark.parametrize("rho", [0.0, 0.5, 1.0, 1.3])
def test_orthogonal_matrix_has_all_eigenvalues_on_the_circle(rho):
    W = G.recurrent_matrix(32, rho, kind="orthogonal", seed=3)
    assert W.shape == (32, 32) and W.dtype == torch.float32
    W64 = W.double()
    torch.testing.assert_close(W64 @ W64.T, rho**2 * torch.eye(32, dtype=torch.float64), atol=1e-5, rtol=0)
    moduli = torch.linalg.eigvals(W64).abs()
    torch.testing.assert_close(moduli, torch.full((32,), rho, dtype=torch.float64), atol=1e-5, rtol=0)
    assert G.spectral_radius(W) == pytest.approx(rho, abs=1e-5)


def test_gaussian_matrix_is_rescaled_to_the_radius_and_not_orthogonal():
    W = G.recurrent_matrix(40, 0.9, kind="gaussian", seed=1)
    assert G.spectral_radius(W) == pytest.approx(0.9, rel=1e-5)
    moduli = torch.linalg.eigvals(W.double()).abs()
    assert moduli.min() < 0.5  # eigenvalues spread inside the disc, unlike the orthogonal case


def test_recurrent_matrix_seeds_are_local_and_reproducible():
    state = torch.get_rng_state()
    a, b, c = (G.recurrent_matrix(8, 1.0, seed=s) for s in (5, 5, 6))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_spectral_radius_of_hand_made_matrices():
    assert G.spectral_radius(torch.tensor([[0.0, 2.0], [0.5, 0.0]])) == pytest.approx(1.0)   # ±1
    assert G.spectral_radius(torch.diag(torch.tensor([0.3, -0.7, 0.1]))) == pytest.approx(0.7)
    rot = torch.tensor([[0.0, -1.5], [1.5, 0.0]])                                             # ±1.5i
    assert G.spectral_radius(rot) == pytest.approx(1.5)


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden_size": 0, "spectral_radius": 1.0}, "hidden_size must be a positive int"),
    ({"hidden_size": 2.0, "spectral_radius": 1.0}, "hidden_size must be a positive int"),
    ({"hidden_size": 4, "spectral_radius": -0.1}, "spectral_radius must be a finite number >= 0"),
    ({"hidden_size": 4, "spectral_radius": float("inf")}, "spectral_radius must be a finite number"),
    ({"hidden_size": 4, "spectral_radius": 1.0, "kind": "uniform"}, "kind must be 'orthogonal' or 'gaussian'"),
])
def test_recurrent_matrix_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        G.recurrent_matrix(**kwargs)


def test_spectral_radius_bad_input():
    with pytest.raises(ValueError, match=r"W must be a square .* got shape \(2, 3\)"):
        G.spectral_radius(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"W must be a square .* got shape \(4,\)"):
        G.spectral_radius(torch.zeros(4))
    with pytest.raises(TypeError, match="W must be a torch.Tensor"):
        G.spectral_radius(np.eye(2))


# ---- hidden_grad_norms ------------------------------------------------------------------

@pytest.mark.parametrize("rho", [0.8, 1.0, 1.2])
def test_identity_rnn_with_orthogonal_W_gives_rho_to_the_power_T_minus_k(rho):
    # With σ = identity, ∂L/∂h_k = v^T W^(T-k), and ‖v^T (ρQ)^(T-k)‖ = ρ^(T-k) exactly.
    T = 40
    U, x, b_h = _inputs(T=T)
    W = G.recurrent_matrix(16, rho, seed=2)
    norms = G.hidden_grad_norms(W, U, x, activation="identity", b_h=b_h)
    expected = rho ** (T - np.arange(1, T + 1))
    np.testing.assert_allclose(norms, expected, rtol=1e-4)
    assert G.decay_rate(norms) == pytest.approx(rho, rel=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_grad_norms_match_a_product_of_autograd_jacobians(activation):
    # Reference: ∂L/∂h_k = v^T J_T ... J_{k+1}, each J_t from torch.autograd.functional.jacobian
    # of one step h_t = σ(W h_{t-1} + U x_t + b_h) written out here.
    T, d_h = 12, 16
    U, x, b_h = _inputs(T=T, B=1, d_h=d_h)
    W = G.recurrent_matrix(d_h, 1.1, kind="gaussian", seed=4).double()
    sigma = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    h, jacs = torch.zeros(d_h, dtype=torch.float64), []
    for t in range(T):
        step = lambda h_prev, t=t: sigma(W @ h_prev + U @ x[t, 0] + b_h)  # noqa: E731
        jacs.append(torch.autograd.functional.jacobian(step, h))           # (d_h, d_h)
        h = step(h)
    g = torch.ones(d_h, dtype=torch.float64) / math.sqrt(d_h)                  # ∂L/∂h_T = v
    expected = []
    for k in range(T, 0, -1):
        expected.append(torch.linalg.vector_norm(g).item())
        g = g @ jacs[k - 1]                                                     # ∂L/∂h_{k-1}
    expected = np.array(expected[::-1])
    norms = G.hidden_grad_norms(W, U, x, activation=activation, b_h=b_h)
    assert norms.shape == (T,) and norms.dtype == np.float64
    np.testing.assert_allclose(norms, expected, rtol=1e-10, atol=1e-300)
    assert norms[-1] == pytest.approx(1.0)                                      # v is a unit vector


def test_grad_norms_average_over_the_batch():
    U, x, b_h = _inputs(T=20, B=4)
    W = G.recurrent_matrix(16, 1.0, kind="gaussian", seed=0)
    h0 = 0.3 * torch.ones(4, 16)
    together = G.hidden_grad_norms(W, U, x, "tanh", b_h=b_h, h0=h0)
    alone = [G.hidden_grad_norms(W, U, x[:, i:i + 1], "tanh", b_h=b_h, h0=h0[i:i + 1]) for i in range(4)]
    np.testing.assert_allclose(together, np.mean(alone, axis=0), rtol=1e-12)


def test_grad_norms_leave_inputs_and_threads_alone():
    U, x, b_h = _inputs(T=5)
    W = G.recurrent_matrix(16, 1.0).requires_grad_(True)
    threads = torch.get_num_threads()
    G.hidden_grad_norms(W, U, x)
    assert W.grad is None and torch.get_num_threads() == threads


def test_grad_norms_keep_tiny_and_huge_values_in_float64():
    U, x, _ = _inputs(T=120, d_h=16)
    tiny = G.hidden_grad_norms(G.recurrent_matrix(16, 0.5), U, x, "sigmoid")
    huge = G.hidden_grad_norms(G.recurrent_matrix(16, 1.5), U, x, "identity")
    assert 0 < tiny[0] < 1e-50                                 # below float32's range, yet not zero
    assert huge[0] == pytest.approx(1.5**119, rel=1e-4)        # ~1e21, finite


@pytest.mark.parametrize("W, U, x, match", [
    (torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(5, 1, 2), r"W must be a square matrix .* got shape \(4, 3\)"),
    (torch.zeros(4, 4), torch.zeros(3, 2), torch.zeros(5, 1, 2), r"U must have shape \(d_h, d_x\) = \(4, d_x\), got \(3, 2\)"),
    (torch.zeros(4, 4), torch.zeros(4, 2), torch.zeros(5, 2), r"x must have shape \(T, B, d_x\) .* d_x = 2, got \(5, 2\)"),
    (torch.zeros(4, 4), torch.zeros(4, 2), torch.zeros(5, 1, 3), r"x must have shape .* got \(5, 1, 3\)"),
    (torch.zeros(4, 4), torch.zeros(4, 2), torch.zeros(0, 1, 2), r"T, B >= 1 .* got \(0, 1, 2\)"),
])
def test_grad_norms_bad_shapes(W, U, x, match):
    with pytest.raises(ValueError, match=match):
        G.hidden_grad_norms(W, U, x)
    with pytest.raises(ValueError, match=match):
        G.jacobian_norms(W, U, x)


def test_grad_norms_bad_options():
    W, U, x = torch.eye(4), torch.zeros(4, 2), torch.zeros(5, 3, 2)
    with pytest.raises(ValueError, match=r"activation must be one of .*'tanh'.* got 'gelu'"):
        G.hidden_grad_norms(W, U, x, activation="gelu")
    with pytest.raises(ValueError, match=r"b_h must have shape \(d_h,\) = \(4,\), got \(3,\)"):
        G.hidden_grad_norms(W, U, x, b_h=torch.zeros(3))
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, d_h\) = \(3, 4\), got \(4,\)"):
        G.hidden_grad_norms(W, U, x, h0=torch.zeros(4))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        G.hidden_grad_norms(W, U, np.zeros((5, 3, 2)))


# ---- jacobian_norms ---------------------------------------------------------------------

def test_jacobians_of_identity_rnn_with_orthogonal_W():
    T = 25
    U, x, _ = _inputs(T=T)
    out = G.jacobian_norms(G.recurrent_matrix(16, 0.9, seed=1), U, x, activation="identity")
    assert set(out) == {"step", "product", "mean_derivative", "rms_derivative"}
    np.testing.assert_allclose(out["step"], 0.9, rtol=1e-5)
    np.testing.assert_allclose(out["product"], 0.9 ** (T - np.arange(1, T + 1)), rtol=1e-4)
    np.testing.assert_allclose(out["mean_derivative"], 1.0)
    np.testing.assert_allclose(out["rms_derivative"], 1.0)


@pytest.mark.parametrize("activation, bound", [("tanh", 1.0), ("sigmoid", 0.25), ("relu", 1.0)])
def test_jacobians_match_autograd_and_bound_the_gradient(activation, bound):
    T, d_h = 15, 16
    U, x, b_h = _inputs(T=T, B=2, d_h=d_h)
    W = G.recurrent_matrix(d_h, 1.2, kind="gaussian", seed=7).double()
    out = G.jacobian_norms(W, U, x, activation=activation, b_h=b_h)
    sigma = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    h, steps = torch.zeros(d_h, dtype=torch.float64), []
    for t in range(T):                                   # the first sequence only
        step = lambda h_prev, t=t: sigma(W @ h_prev + U @ x[t, 0] + b_h)  # noqa: E731
        steps.append(torch.linalg.matrix_norm(torch.autograd.functional.jacobian(step, h), ord=2).item())
        h = step(h)
    np.testing.assert_allclose(out["step"], steps, rtol=1e-10)
    assert out["product"][-1] == pytest.approx(1.0)
    assert np.all((out["mean_derivative"] >= 0) & (out["mean_derivative"] <= bound))
    # the root mean square is never below the mean (Jensen), and never above the bound
    assert np.all(out["rms_derivative"] >= out["mean_derivative"] - 1e-12)
    assert np.all(out["rms_derivative"] <= bound)
    # ‖v^T P‖ <= ‖P‖ for the unit vector v: the gradient never exceeds the product's norm
    norms = G.hidden_grad_norms(W, U, x[:, :1], activation=activation, b_h=b_h)
    assert np.all(norms <= out["product"] * (1 + 1e-9))


def test_product_norm_decays_at_the_rate_of_the_gradient():
    U, x, _ = _inputs(T=80, B=1, d_h=32)
    W = G.recurrent_matrix(32, 1.0, seed=0)
    out = G.jacobian_norms(W, U, x, "tanh")
    norms = G.hidden_grad_norms(W, U, x, "tanh")
    assert G.decay_rate(out["product"]) == pytest.approx(G.decay_rate(norms), abs=0.05)
    assert G.decay_rate(norms) < 0.95                      # tanh at ρ = 1: it vanishes


@pytest.mark.parametrize("rho, scale", [(0.8, 1.0), (1.2, 1.0), (1.2, 3.0), (2.0, 3.0)])
def test_rms_derivative_times_rho_predicts_the_rate(rho, scale):
    # orthogonal W spreads the gradient over the units: each step scales its squared norm by
    # the mean of σ'², so γ ≈ ρ·rms σ'; the mean of σ' alone underestimates it
    U, x, _ = _inputs(T=100, B=4, d_h=64)
    W = G.recurrent_matrix(64, rho, seed=3)
    out = G.jacobian_norms(W, U, scale * x, "tanh")
    gamma = G.decay_rate(G.hidden_grad_norms(W, U, scale * x[:, :1], "tanh"))
    assert gamma == pytest.approx(rho * out["rms_derivative"].mean(), rel=0.06)
    assert gamma > rho * out["mean_derivative"].mean()


# ---- decay_rate ----------------------------------------------------------------------------

@pytest.mark.parametrize("gamma", [0.5, 0.93, 1.0, 1.2])
def test_decay_rate_of_a_geometric_sequence(gamma):
    T = 50
    norms = gamma ** (T - np.arange(1, T + 1))             # ‖∂L/∂h_k‖ = γ^(T-k)
    assert G.decay_rate(norms) == pytest.approx(gamma, rel=1e-9)


def test_decay_rate_skips_zeros_and_infinities_and_reports_nan():
    norms = 0.8 ** (20 - np.arange(1, 21))
    norms[:3] = [0.0, np.inf, np.nan]
    assert G.decay_rate(norms) == pytest.approx(0.8, rel=1e-9)
    assert math.isnan(G.decay_rate(np.array([0.0, 0.0, 1.0])))
    with pytest.raises(ValueError, match=r"norms must be a 1-D array \(T,\), got shape \(2, 2\)"):
        G.decay_rate(np.ones((2, 2)))


# ---- gradient_grid ---------------------------------------------------------------------------

def test_gradient_grid_shapes_values_and_speed():
    radii, acts = [0.5, 0.8, 1.0, 1.2, 1.5], ["tanh", "sigmoid", "relu", "identity"]
    G.gradient_grid([1.0], ["tanh"], T=5)                  # warm-up: first torch calls load libraries
    start = time.perf_counter()
    grid = G.gradient_grid(radii, acts, T=100, hidden_size=64, batch=8, seed=0)
    elapsed = time.perf_counter() - start
    assert elapsed < 4.0, f"gradient_grid took {elapsed:.2f} s (target: well under 2 s)"
    assert grid["norms"].shape == (5, 4, 100) and grid["T"] == 100
    assert list(grid["radii"]) == radii and grid["activations"] == acts
    ident = grid["norms"][:, 3]                            # identity with ρQ: exactly ρ^(T-k)
    np.testing.assert_allclose(ident, np.array(radii)[:, None] ** (100 - np.arange(1, 101)), rtol=1e-4)
    factors = np.array([[G.decay_rate(grid["norms"][i, j]) for j in range(4)] for i in range(5)])
    assert np.all(np.diff(factors, axis=0) > 0)            # a larger ρ always keeps more gradient
    assert np.all(factors[:, 1] < factors[:, 0])           # sigmoid (σ' <= 1/4) vanishes faster than tanh
    assert factors[4, 2] > 1 and factors[0, 0] < 1         # relu explodes at ρ = 1.5, tanh vanishes at 0.5


def test_gradient_grid_is_reproducible_and_matches_hidden_grad_norms():
    a = G.gradient_grid([0.9], ["tanh"], T=30, hidden_size=16, batch=2, seed=3)
    b = G.gradient_grid([0.9], ["tanh"], T=30, hidden_size=16, batch=2, seed=3)
    c = G.gradient_grid([0.9], ["tanh"], T=30, hidden_size=16, batch=2, seed=4)
    np.testing.assert_array_equal(a["norms"], b["norms"])
    assert not np.array_equal(a["norms"], c["norms"])
    # the inputs are the ones the docstring describes, drawn in this order from one generator
    gen = torch.Generator().manual_seed(3)
    U = torch.randn(16, 8, generator=gen) / math.sqrt(8)
    x = torch.randn(30, 2, 8, generator=gen)
    W = 0.9 * G.recurrent_matrix(16, 1.0, seed=3)
    np.testing.assert_allclose(a["norms"][0, 0], G.hidden_grad_norms(W, U, x, "tanh"), rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"radii": [], "activations": ["tanh"]}, "radii must be a non-empty sequence"),
    ({"radii": [-1.0], "activations": ["tanh"]}, "radii must be a non-empty sequence of finite numbers >= 0"),
    ({"radii": [1.0], "activations": []}, "activations must not be empty"),
    ({"radii": [1.0], "activations": ["softmax"]}, "activation must be one of"),
    ({"radii": [1.0], "activations": ["tanh"], "T": 0}, "T must be a positive int"),
    ({"radii": [1.0], "activations": ["tanh"], "batch": 0}, "batch must be a positive int"),
])
def test_gradient_grid_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        G.gradient_grid(**kwargs)


# ---- plots: plot_grad_norms and plot_gradient_grid --------------------------------------------

def test_plot_grad_norms_draws_one_labelled_line_per_entry_on_a_log_axis():
    T = 30
    curves = {"vanishing": 0.8 ** (T - np.arange(1, T + 1)), "exploding": 1.2 ** (T - np.arange(1, T + 1))}
    curves["vanishing"][0] = 0.0                           # an underflow: must not be drawn
    fig = plots.plot_grad_norms(curves)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "time step k" and "∂L/∂h" in ax.get_ylabel() and ax.get_title()
    assert [line.get_label() for line in ax.lines] == ["vanishing", "exploding"]
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, np.arange(1, T + 1))
    assert np.isnan(y[0]) and np.all(y[1:] > 0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["vanishing", "exploding"]
    assert ax.yaxis.get_major_formatter()(1e-6, 0) == "10⁻⁶"  # plain text, not mathtext


def test_plot_grad_norms_draws_on_a_given_axes_with_ylim():
    fig, ax = plt.subplots()
    out = plots.plot_grad_norms({"a": np.ones(5)}, ax=ax, ylim=(1e-3, 10.0), title="t")
    assert out is fig and ax.get_ylim() == pytest.approx((1e-3, 10.0)) and ax.get_title() == "t"


def test_plot_grad_norms_bad_input():
    with pytest.raises(ValueError, match="norms_by_label must be a non-empty mapping"):
        plots.plot_grad_norms({})
    with pytest.raises(ValueError, match=r"norms_by_label\['a'\] must be a non-empty 1-D array"):
        plots.plot_grad_norms({"a": np.ones((2, 3))})


def test_plot_gradient_grid_has_one_panel_per_activation_and_one_legend():
    grid = G.gradient_grid([0.5, 1.0, 1.5], ["tanh", "relu", "identity"], T=40, hidden_size=16, batch=2)
    fig = plots.plot_gradient_grid(grid)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["tanh", "relu", "identity"]
    for ax in fig.axes:
        assert len(ax.lines) == 3 and ax.get_yscale() == "log"
        low, high = ax.get_ylim()  # every curve inside the panel
        assert low <= np.nanmin(grid["norms"]) and high >= np.nanmax(grid["norms"])
        assert ax.get_xlabel() == "time step k"
        assert ax.get_legend() is None
    assert "∂L/∂h" in fig.axes[0].get_ylabel()
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ρ = 0.5", "ρ = 1", "ρ = 1.5"]
    assert fig.get_figwidth() <= 9.0 and fig.get_suptitle()
    clipped = plots.plot_gradient_grid(grid, ylim=(1e-3, 1e3))
    assert clipped.axes[0].get_ylim() == pytest.approx((1e-3, 1e3))


def test_plot_gradient_grid_bad_input():
    grid = {"radii": [1.0], "activations": ["tanh"], "T": 5, "norms": np.ones((1, 1, 4))}
    with pytest.raises(ValueError, match=r"grid\['norms'\] must have shape .* = \(1, 1, 5\), got \(1, 1, 4\)"):
        plots.plot_gradient_grid(grid)
    with pytest.raises(ValueError, match="missing 'norms'"):
        plots.plot_gradient_grid({"radii": [1.0], "activations": ["tanh"], "T": 5})


def test_grad_norms_do_not_underflow_when_squared():
    # ‖g‖ for g ~ 1e-200 is ~1e-200; computing sqrt(Σ g²) naively would give 0 (1e-400 < float64)
    U, x, _ = _inputs(T=300, d_h=16)
    norms = G.hidden_grad_norms(G.recurrent_matrix(16, 0.5), U, x, "sigmoid")
    assert norms[0] < 1e-160 and np.all(norms > 0)
