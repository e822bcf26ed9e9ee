"""Vanishing and exploding gradients in a plain RNN, measured step by step (chapter 3).

Backpropagation through time multiplies one Jacobian per step (seed §3.1):
``∂L/∂h_k = ∂L/∂h_T · J_T J_{T-1} ... J_{k+1}`` with ``J_t = ∂h_t/∂h_{t-1} = diag(σ'(z_t)) W``
for the RNN ``h_t = σ(W h_{t-1} + U x_t + b_h)`` (seed eq. 2.1). This module builds ``W`` with
a chosen spectral radius ρ, measures ``‖∂L/∂h_k‖`` for every step k with autograd, computes
the Jacobians by hand, and fits the per-step factor by which the gradient shrinks or grows.
All computations run in float64 so that a gradient of 1e-100 is a number, not a rounding zero.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from tutorial_lib import utils

__all__ = ["ACTIVATIONS", "recurrent_matrix", "spectral_radius", "state_grad_norms", "hidden_grad_norms",
           "jacobian_norms", "decay_rate", "gradient_grid"]

# σ and its derivative σ'(z), by name.
ACTIVATIONS = {
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    "identity": (lambda z: z, torch.ones_like),
}
INPUT_SIZE = 8  # d_x of the inputs made by gradient_grid


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread, then restore the caller's setting (also a decorator).

    The matrices here are tiny (B x d_h); splitting them across threads gains nothing, and
    when another process keeps a core busy the threads wait on each other (10x slower).
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _activation(name: object) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return name  # type: ignore[return-value]


def recurrent_matrix(hidden_size: int, spectral_radius: float, kind: str = "orthogonal",
                     seed: int = 0) -> Tensor:
    """A random recurrent matrix ``W`` (d_h, d_h) whose largest |eigenvalue| is ``spectral_radius``.

    ``kind="orthogonal"``: ρ·Q with Q a random orthogonal matrix, so every eigenvalue has
    modulus exactly ρ and ``‖W v‖ = ρ‖v‖`` for every v. ``kind="gaussian"``: a matrix of
    N(0, 1/d_h) entries rescaled to spectral radius ρ. ``seed`` seeds a local generator.
    Returns a float32 tensor. Introduced in chapter 3.
    """
    d_h = _positive_int("hidden_size", hidden_size)
    if isinstance(spectral_radius, bool) or not isinstance(spectral_radius, numbers.Real) \
            or not math.isfinite(spectral_radius) or spectral_radius < 0:
        raise ValueError(f"spectral_radius must be a finite number >= 0, got {spectral_radius!r}")
    if kind not in ("orthogonal", "gaussian"):
        raise ValueError(f"kind must be 'orthogonal' or 'gaussian', got {kind!r}")
    gen = utils.generator(seed)
    G = torch.randn(d_h, d_h, generator=gen, dtype=torch.float64) / math.sqrt(d_h)  # (d_h, d_h)
    if kind == "orthogonal":
        Q, R = torch.linalg.qr(G)
        Q = Q * torch.sign(torch.diagonal(R))  # sign fix: Q is uniformly (Haar) distributed
        W = spectral_radius * Q
    else:
        W = spectral_radius * G / torch.linalg.eigvals(G).abs().max()
    return W.to(torch.float32)


def spectral_radius(W: Tensor) -> float:
    """Largest modulus of the eigenvalues of a square matrix ``W`` (d_h, d_h) (chapter 3)."""
    if not isinstance(W, Tensor):
        raise TypeError(f"W must be a torch.Tensor, got {type(W).__name__}")
    if W.dim() != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square 2-D matrix (d_h, d_h), got shape {tuple(W.shape)}")
    return float(torch.linalg.eigvals(W.detach().double()).abs().max())


def _checked(W, U, x, activation, b_h, h0):
    """float64, detached copies of the inputs after checking their shapes."""
    for name, t in (("W", W), ("U", U), ("x", x), ("b_h", b_h), ("h0", h0)):
        if not isinstance(t, Tensor) and (t is not None or name in "WUx"):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if W.dim() != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix (d_h, d_h), got shape {tuple(W.shape)}")
    d_h = W.shape[0]
    if U.dim() != 2 or U.shape[0] != d_h:
        raise ValueError(f"U must have shape (d_h, d_x) = ({d_h}, d_x), got {tuple(U.shape)}")
    if x.dim() != 3 or x.shape[2] != U.shape[1] or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (T, B, d_x) with T, B >= 1 and d_x = {U.shape[1]}, "
                         f"got {tuple(x.shape)}")
    B = x.shape[1]
    b_h = torch.zeros(d_h) if b_h is None else b_h
    h0 = torch.zeros(B, d_h) if h0 is None else h0
    if tuple(b_h.shape) != (d_h,):
        raise ValueError(f"b_h must have shape (d_h,) = ({d_h},), got {tuple(b_h.shape)}")
    if tuple(h0.shape) != (B, d_h):
        raise ValueError(f"h0 must have shape (B, d_h) = ({B}, {d_h}), got {tuple(h0.shape)}")
    f64 = [t.detach().to(torch.float64) for t in (W, U, x, b_h, h0)]
    return (*f64, ACTIVATIONS[_activation(activation)])


def state_grad_norms(states: Sequence[Tensor], loss: Tensor) -> np.ndarray:
    """``‖∂L/∂h_k‖`` for each state ``h_k`` (B, d_h) in ``states`` (k = 1..T), averaged over B.

    ``loss`` is a scalar computed from the states; a state it does not depend on gets 0.
    The norm is computed as s·‖g/s‖ with s = max|g_i|, so that a gradient below 1e-154 does
    not underflow to 0 when squared. Returns a float64 array (T,). Introduced in chapter 3,
    reused for the gated networks of chapter 4.
    """
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError(f"loss must be a scalar tensor, got {getattr(loss, 'shape', type(loss).__name__)}")
    states = list(states)
    if not states or any(not isinstance(h, Tensor) or h.ndim != 2 for h in states):
        raise ValueError("states must be a non-empty sequence of (B, d_h) tensors")
    grads = torch.autograd.grad(loss, states, allow_unused=True)
    g = torch.stack([torch.zeros_like(h) if gk is None else gk for h, gk in zip(states, grads)])  # (T, B, d_h)
    g = g.detach().to(torch.float64)
    s = g.abs().amax(dim=2, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)  # (T, B, 1)
    norms = torch.linalg.vector_norm(g / s, dim=2) * s[..., 0]  # (T, B)
    return norms.mean(dim=1).numpy()  # (T,)


@_one_thread()
def hidden_grad_norms(W: Tensor, U: Tensor, x: Tensor, activation: str = "tanh",
                      b_h: Tensor | None = None, h0: Tensor | None = None) -> np.ndarray:
    """``‖∂L/∂h_k‖`` for every step k = 1..T of the RNN ``h_t = σ(W h_{t-1} + U x_t + b_h)``.

    Inputs: ``W`` (d_h, d_h), ``U`` (d_h, d_x), ``x`` (T, B, d_x), ``b_h`` (d_h,) (zeros if
    None), ``h0`` (B, d_h) (zeros if None); ``activation`` is σ: "tanh", "sigmoid", "relu" or
    "identity". The loss reads only the last state: ``L = Σ_b v · h_T^(b)`` with the fixed unit
    vector ``v = (1, ..., 1)/√d_h``, so ``‖∂L/∂h_T‖ = 1`` and every other entry says how much of
    that unit gradient reaches step k. Returns a float64 array (T,): entry k-1 is the norm
    of ∂L/∂h_k, averaged over the B sequences. Introduced in chapter 3.
    """
    W, U, x, b_h, h0, (sigma, _) = _checked(W, U, x, activation, b_h, h0)
    h = h0.requires_grad_(True)  # a leaf that needs a gradient, so every h_t joins the graph
    hs = []
    for x_t in x:                                # x_t: (B, d_x)
        h = sigma(h @ W.T + x_t @ U.T + b_h)     # (B, d_h) @ (d_h, d_h) + (B, d_x) @ (d_x, d_h)
        hs.append(h)
    v = torch.ones(W.shape[0], dtype=torch.float64) / math.sqrt(W.shape[0])  # (d_h,)
    L = (h @ v).sum()                            # (B, d_h) @ (d_h,) -> (B,) -> scalar
    return state_grad_norms(hs, L)


@_one_thread()
def jacobian_norms(W: Tensor, U: Tensor, x: Tensor, activation: str = "tanh",
                   b_h: Tensor | None = None, h0: Tensor | None = None) -> dict[str, np.ndarray]:
    """The product of Jacobians of BPTT, computed by hand for the first sequence of ``x``.

    With ``J_k = ∂h_k/∂h_{k-1} = diag(σ'(z_k)) W`` and ``z_k = W h_{k-1} + U x_k + b_h``, returns
    float64 arrays (T,) under the keys ``"step"``: ``‖J_k‖₂`` (spectral norm), ``"product"``:
    ``‖J_T J_{T-1} ... J_{k+1}‖₂`` (1 at k = T; it bounds ‖∂L/∂h_k‖ of :func:`hidden_grad_norms`
    and decays at the same rate), ``"mean_derivative"``: the mean of ``|σ'(z_k)|`` over the units,
    and ``"rms_derivative"``: the root mean square ``√mean σ'(z_k)²``, which, times the spectral
    radius of an orthogonal-times-ρ ``W``, predicts the per-step factor (chapter 3).
    Same inputs as :func:`hidden_grad_norms`. Introduced in chapter 3.
    """
    W, U, x, b_h, h0, (sigma, dsigma) = _checked(W, U, x, activation, b_h, h0)
    h, derivs = h0[0], []
    for x_t in x[:, 0]:                          # the first sequence; x_t: (d_x,)
        z = W @ h + U @ x_t + b_h                # (d_h,)
        h = sigma(z)
        derivs.append(dsigma(z))                 # σ'(z_k): (d_h,)
    D = torch.stack(derivs)                      # (T, d_h)
    J = D[:, :, None] * W                        # diag(σ'(z_k)) W scales row i by σ'(z_k)_i; (T, d_h, d_h)
    P, products = torch.eye(W.shape[0], dtype=torch.float64), []
    for J_k in J.flip(0):                        # k = T, T-1, ..., 1
        products.append(P)                       # J_T ... J_{k+1} (the identity at k = T)
        P = P @ J_k
    products = torch.stack(products[::-1])       # (T, d_h, d_h), index k-1
    return {
        "step": torch.linalg.matrix_norm(J, ord=2).numpy(),
        "product": torch.linalg.matrix_norm(products, ord=2).numpy(),
        "mean_derivative": D.abs().mean(dim=1).numpy(),
        "rms_derivative": D.pow(2).mean(dim=1).sqrt().numpy(),
    }


def decay_rate(norms: np.ndarray) -> float:
    """The per-step factor γ by which the gradient changes going one step back in time.

    Fits ``log ‖∂L/∂h_k‖ ≈ a + (T - k) log γ`` by least squares over the finite, positive
    entries of ``norms`` (T,) (as returned by :func:`hidden_grad_norms`), so γ is the typical
    ratio ``‖∂L/∂h_{k-1}‖ / ‖∂L/∂h_k‖``. γ < 1: the gradient vanishes geometrically, like
    γ^(T-k); γ > 1: it explodes. Returns NaN if fewer than two entries are usable.
    Introduced in chapter 3.
    """
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 1:
        raise ValueError(f"norms must be a 1-D array (T,), got shape {norms.shape}")
    steps_back = np.arange(len(norms))[::-1]     # T - k for k = 1..T
    ok = np.isfinite(norms) & (norms > 0)
    if ok.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(steps_back[ok], np.log(norms[ok]), deg=1)
    return float(np.exp(slope))


def gradient_grid(radii: Sequence[float], activations: Sequence[str], T: int = 100,
                  hidden_size: int = 64, batch: int = 8, seed: int = 0,
                  kind: str = "orthogonal") -> dict:
    """:func:`hidden_grad_norms` for every (spectral radius, activation) pair (chapter 3).

    One random input ``x`` (T, batch, d_x = 8) ~ N(0, 1), one ``U`` (hidden_size, 8) of
    N(0, 1/8) entries and one matrix ``Q`` from :func:`recurrent_matrix` (``kind``), all from
    ``seed`` (Q at radius 1); ``W = ρQ`` varies only in its radius. Returns ``{"radii": array (R,),
    "activations": list (A,), "T": T, "norms": array (R, A, T)}``.
    """
    radii = list(radii)
    if not radii or not all(isinstance(r, numbers.Real) and math.isfinite(r) and r >= 0 for r in radii):
        raise ValueError(f"radii must be a non-empty sequence of finite numbers >= 0, got {radii!r}")
    activations = [_activation(a) for a in list(activations)]
    if not activations:
        raise ValueError("activations must not be empty")
    T, d_h, B = (_positive_int(n, v) for n, v in (("T", T), ("hidden_size", hidden_size), ("batch", batch)))
    gen = utils.generator(seed)
    U = torch.randn(d_h, INPUT_SIZE, generator=gen) / math.sqrt(INPUT_SIZE)  # (d_h, d_x)
    x = torch.randn(T, B, INPUT_SIZE, generator=gen)                           # (T, B, d_x)
    Q = recurrent_matrix(d_h, 1.0, kind=kind, seed=seed)                      # radius 1
    norms = np.stack([np.stack([hidden_grad_norms(float(r) * Q, U, x, a) for a in activations])
                      for r in radii])           # (R, A, T)
    return {"radii": np.array(radii, dtype=float), "activations": activations, "T": T, "norms": norms}
