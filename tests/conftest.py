"""Shared test settings: headless plotting and no progress bars."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TUTORIAL_LIB_PROGRESS", "0")
