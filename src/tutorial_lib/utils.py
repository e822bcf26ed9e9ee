"""Small helpers every notebook uses: seeding, device choice, parameter counts, timing.

Introduced in chapter 1. The first cell of every notebook calls ``set_seed`` and
``get_device``; no other function in the package touches global random state.

Every seed of the book goes through :func:`shifted`: ``set_seed``, and the generators that
sampling code takes (:func:`generator` for PyTorch, :func:`rng` for NumPy). The environment
variable ``TUTORIAL_LIB_SEED_SHIFT`` (an integer, default 0) is added to each of them, so
``TUTORIAL_LIB_SEED_SHIFT=1000 make execute`` runs the whole book on other random numbers: every
claim a notebook asserts must still hold (``make robust`` does this). A shift of 1000 or more is
larger than any range of seeds a notebook uses (20 samples drawn with seeds 1 to 20), so no draw
of the shifted run is one of the unshifted run's.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

__all__ = ["set_seed", "seed_shift", "shifted", "generator", "rng", "get_device", "count_parameters",
           "format_count", "Timer", "time_call"]

SEED_SHIFT = "TUTORIAL_LIB_SEED_SHIFT"  # environment variable: added to every seed of the book


def seed_shift() -> int:
    """The integer in the environment variable ``TUTORIAL_LIB_SEED_SHIFT`` (0 when unset)."""
    value = os.environ.get(SEED_SHIFT, "").strip()
    if not value:
        return 0
    try:
        shift = int(value)
    except ValueError:
        raise ValueError(f"the environment variable {SEED_SHIFT} must be a non-negative integer, got {value!r}") from None
    if shift < 0:
        raise ValueError(f"the environment variable {SEED_SHIFT} must be a non-negative integer, got {shift}")
    return shift


def shifted(seed: int, name: str = "seed") -> int:
    """``seed`` plus :func:`seed_shift`: the seed the book actually uses (chapter 1).

    Raises TypeError or ValueError naming ``name`` unless ``seed`` is a non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative int, got {seed}")
    return int(seed) + seed_shift()


def generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (default CPU) seeded with ``shifted(seed)`` (chapter 1)."""
    return torch.Generator(device=device or "cpu").manual_seed(shifted(seed))


def rng(seed: int) -> np.random.Generator:
    """A NumPy ``Generator`` seeded with ``shifted(seed)`` (chapter 1)."""
    return np.random.default_rng(shifted(seed))


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and, if present, CUDA) with ``shifted(seed)``.

    Args:
        seed: a non-negative integer.

    Returns:
        None. This is the only function in the package that changes global random state.

    Introduced in chapter 1.
    """
    seed = shifted(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seeding accepts only 32-bit seeds
    torch.manual_seed(seed)  # the CPU generator (recent torch also seeds CUDA here)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the device to compute on: CUDA if available, then Apple MPS, then CPU.

    Args:
        prefer: optional, one of ``"cpu"``, ``"cuda"``, ``"mps"`` to force a device.

    Returns:
        A ``torch.device``.

    Raises:
        ValueError: if ``prefer`` is not a known device name or that device is not available.

    Introduced in chapter 1.
    """
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if prefer is None:
        for name in ("cuda", "mps", "cpu"):
            if available[name]:
                return torch.device(name)
    if not isinstance(prefer, str):
        raise TypeError(f"prefer must be a str or None, got {type(prefer).__name__}")
    name = prefer.lower()
    if name not in available:
        raise ValueError(f"prefer must be one of 'cpu', 'cuda', 'mps' or None, got {prefer!r}")
    if not available[name]:
        raise ValueError(f"prefer={prefer!r} was requested but that device is not available here")
    return torch.device(name)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Count the scalar parameters of a module.

    Args:
        module: any ``torch.nn.Module``.
        trainable_only: if True, count only parameters with ``requires_grad=True``.

    Returns:
        The total number of scalars (e.g. ``nn.Linear(3, 2)`` has 3*2 + 2 = 8).

    Introduced in chapter 1.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def format_count(n: int) -> str:
    """Format a count for humans: 12 -> "12", 840_000 -> "840.0K", 1_234_567 -> "1.23M".

    Args:
        n: a non-negative integer (e.g. a parameter count).

    Returns:
        The number itself below 1,000; thousands with one decimal and "K";
        millions and billions with two decimals and "M" / "B".

    Introduced in chapter 1.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be a non-negative int, got {n}")
    if n < 1_000:
        return str(int(n))
    # Thresholds sit where rounding would otherwise print "1000.0K" or "1000.00M".
    if n < 999_950:
        return f"{n / 1_000:.1f}K"
    if n < 999_995_000:
        return f"{n / 1_000_000:.2f}M"
    return f"{n / 1_000_000_000:.2f}B"


class Timer:
    """Measure wall-clock time with ``time.perf_counter``.

    Use as a context manager::

        with Timer() as t:
            work()
        print(t.elapsed)            # seconds, float

    or by hand: ``t = Timer(); t.start(); work(); seconds = t.stop()``.

    Introduced in chapter 1.
    """

    def __init__(self) -> None:
        self.elapsed: float = 0.0  # seconds between the last start() and stop()
        self._start: float | None = None

    def start(self) -> Timer:
        """Start (or restart) the clock; returns the timer itself."""
        self._start = time.perf_counter()
        return self

    def stop(self) -> float:
        """Stop the clock; sets and returns ``elapsed`` in seconds."""
        if self._start is None:
            raise ValueError("Timer.stop() called before Timer.start()")
        self.elapsed = time.perf_counter() - self._start
        self._start = None
        return self.elapsed

    def __enter__(self) -> Timer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def time_call(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1, best: bool = False) -> float:
    """Median (or fastest) wall-clock time of ``fn()`` in seconds.

    Args:
        fn: a function taking no arguments (wrap arguments with a lambda).
        repeats: number of timed calls, at least 1.
        warmup: number of untimed calls first (to fill caches, compile kernels), at least 0.
        best: return the fastest call instead of the median: the one least disturbed by other
            work on the machine, for comparisons that must hold on a busy one (chapter 6).

    Returns:
        The median (``best``: the minimum) of ``repeats`` timings, in seconds. For GPU work,
        make ``fn`` synchronise (e.g. call ``torch.cuda.synchronize()``) so the time is real.

    Introduced in chapter 1.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        with Timer() as t:
            fn()
        times.append(t.elapsed)
    return min(times) if best else statistics.median(times)


def check_ids(ids: object, name: str, vocab_size: int | None, shape: str = "(B, T)") -> torch.Tensor:
    """Check a batch of token ids: a 2-D, non-empty ``torch.long`` tensor with every id in
    [0, vocab_size) (no range check when ``vocab_size`` is None). TypeError or ValueError naming
    ``name``, the expected ``shape`` and, for an id out of range, the id and where it is; returns
    ``ids`` (chapters 2-6)."""
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"{name} must be a torch.long tensor of ids {shape}, got {got}")
    if ids.ndim != 2 or ids.numel() == 0:
        raise ValueError(f"{name} must have shape {shape}, non-empty, got shape {tuple(ids.shape)}")
    if vocab_size is not None:
        bad = (ids < 0) | (ids >= vocab_size)
        if bad.any():
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(f"{name} must hold ids in [0, {vocab_size}) (the vocabulary), got {int(ids[where])} at "
                             f"position {where} of shape {tuple(ids.shape)}: was the text encoded with another "
                             f"tokenizer?")
    return ids
