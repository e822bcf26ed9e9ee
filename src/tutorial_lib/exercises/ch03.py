"""Chapter 3 (The limits of RNNs): the exercises' checkers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._core import Feedback, _call, _describe, _fail, _judge_cases, _pass, _report


def check_clip_grad_norm(fn: Callable[[list[torch.Tensor], float], list[torch.Tensor]]) -> Feedback:
    """Chapter 3: check ``fn(grads, max_norm) -> clipped``, clipping by the global norm.

    ``grads`` is a list of gradient tensors of any shapes; the answer returns new tensors
    scaled by min(1, max_norm / ‖g‖), where ‖g‖ is the norm of all of them together.
    """
    g = torch.Generator().manual_seed(0)
    big = [torch.randn(4, 3, generator=g) * 10, torch.randn(5, generator=g) * 10]  # norm ~ 60
    small = [torch.randn(4, 3, generator=g) * 0.01, torch.randn(5, generator=g) * 0.01]

    def reference(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
        total = torch.sqrt(sum(t.square().sum() for t in grads))
        return [t * min(1.0, max_norm / float(total)) for t in grads]

    for case, grads, max_norm in (("large gradients, max_norm=1", big, 1.0),
                                  ("small gradients, max_norm=1", small, 1.0)):
        got, error = _call(fn, "check_clip_grad_norm", case, [t.clone() for t in grads], max_norm)
        if error is not None:
            return _report(error)
        if not isinstance(got, (list, tuple)) or len(got) != len(grads):
            return _report(_fail(f"return a list of {len(grads)} tensors, one per gradient; got {_describe(got)}."))
        expected = reference(grads, max_norm)
        if all(isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-7)
               for a, b in zip(got, expected)):
            continue
        per_tensor = [t * min(1.0, max_norm / float(t.norm())) for t in grads]
        scaled_up = [t * (max_norm / float(torch.sqrt(sum(u.square().sum() for u in grads)))) for t in grads]
        clamped = [t.clamp(-max_norm, max_norm) for t in grads]
        for wrong, why in ((per_tensor, "you clipped each tensor on its own; clip by the norm of all gradients "
                            "together, so their directions relative to each other are kept."),
                           (scaled_up, "you rescaled even when the norm was already below max_norm; clipping "
                            "only ever shrinks: scale by min(1, max_norm / norm)."),
                           (clamped, "you clamped each value; that is clipping by value. Clip by norm: "
                            "multiply every gradient by the same factor.")):
            if all(isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-7)
                   for a, b in zip(got, wrong)):
                return _report(_fail(f"on {case}: {why}"))
        return _report(_fail(f"on {case} the clipped gradients differ from the expected ones. Hint: compute "
                             "norm = sqrt(sum of all squared entries), then multiply each tensor by "
                             "min(1, max_norm / norm)."))
    return _report(_pass("gradients are scaled by min(1, max_norm / global norm), large and small cases."))


def check_one_d_jacobian(fn: Callable[[float, int, int], float]) -> Feedback:
    """Chapter 3: check ``fn(w, T, k) -> float`` (exercise 3.2): ∂h_T / ∂h_k for the
    one-dimensional linear RNN h_t = w h_{t-1} + u x_t, found here by autograd through the steps."""
    g = torch.Generator().manual_seed(3)

    def autograd(w: float, T: int, k: int) -> float:
        h_k = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        h = h_k
        for _ in range(k + 1, T + 1):
            h = w * h + 0.7 * torch.randn((), generator=g, dtype=torch.float64)  # u x_t does not matter
        return float(torch.autograd.grad(h, h_k)[0])

    cases = []
    for w, T, k in ((0.9, 30, 5), (1.2, 20, 0), (-0.5, 7, 2), (1.0, 50, 10)):
        mistakes = [
            (w ** T, "the product runs over the steps from k + 1 to T: T - k factors of w, not T."),
            (w ** (T - k + 1), "one factor too many: T - k steps separate h_k from h_T."),
            (w ** (T - k - 1), "one factor too few: T - k steps separate h_k from h_T."),
            ((T - k) * w ** (T - k - 1), "that is the derivative of w^(T-k) with respect to w; the exercise "
             "differentiates with respect to the state h_k."),
            (abs(w) ** (T - k), "keep the sign of w: a negative w flips the sign at every step."),
        ]
        cases.append((f"w={w}, T={T}, k={k}", (w, T, k), autograd(w, T, k), mistakes))
    return _judge_cases(fn, "check_one_d_jacobian", cases,
                        "∂h_T/∂h_k = w^(T-k): it vanishes for |w| < 1 and explodes for |w| > 1.", "∂h_T/∂h_k")


def check_crossing_radius(fn: Callable[[Sequence[float], Sequence[float]], float]) -> Feedback:
    """Chapter 3: check ``fn(radii, gammas) -> float`` (exercise 3.3): the radius at which the per-step
    factor γ, measured at increasing ``radii``, reaches 1, by linear interpolation between the last
    radius below 1 and the first at or above it (the measurements are assumed to cross 1)."""
    cases = []
    for radii, gammas in (([1, 2, 4, 8, 16], [0.2, 0.3, 0.5, 0.8, 1.4]),
                          ([0.5, 1.0, 1.5, 2.0], [0.6, 0.9, 1.2, 1.5])):
        j = next(i for i, g in enumerate(gammas) if g >= 1)  # the first at or above 1
        (r0, g0), (r1, g1) = (radii[j - 1], gammas[j - 1]), (radii[j], gammas[j])
        expected = r0 + (1 - g0) / (g1 - g0) * (r1 - r0)
        mistakes = [
            (r1, "that is the first radius measured above 1; interpolate between it and the one before."),
            (r0, "that is the last radius below 1; interpolate between it and the next one."),
            ((r0 + r1) / 2, "that is the midpoint; weigh by how far each γ is from 1."),
            (r1 - (1 - g0) / (g1 - g0) * (r1 - r0), "the interpolation runs the wrong way: start from the "
             "radius below, r0 + (1 - γ0) / (γ1 - γ0) (r1 - r0)."),
        ]
        cases.append((f"radii {radii}, γ {gammas}", (list(radii), list(gammas)), expected, mistakes))
    return _judge_cases(fn, "check_crossing_radius", cases,
                        "the radius where γ reaches 1, interpolated between the two measurements around it.",
                        "the radius")
