"""Shared test settings: headless plotting in this process, and no progress bars.

The matplotlib backend is chosen with ``matplotlib.use`` rather than the MPLBACKEND
environment variable: nbval's kernels inherit the environment, and they must keep
Jupyter's inline backend so that figures are displayed as in `make execute`.
"""

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("TUTORIAL_LIB_PROGRESS", "0")
