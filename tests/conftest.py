"""Shared test settings: headless plotting in this process, and no progress bars.

The matplotlib backend is chosen with ``matplotlib.use`` rather than the MPLBACKEND
environment variable: nbval's kernels inherit the environment, and they must keep
Jupyter's inline backend so that figures are displayed as in `make execute`.
"""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("TUTORIAL_LIB_PROGRESS", "0")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The whole book built into a temporary folder, exactly as `make book` does; its html folder.

    Shared by the build checks (test_book.py) and the browser tests (test_site.py), so the
    book is built once per run, also when pytest-xdist spreads the tests over several workers:
    the first worker to get here builds it under a lock in their shared temporary folder, the
    others wait and reuse it (the recipe of pytest-xdist's documentation).
    """
    import fcntl
    import json

    from tutorial_lib.tools import book

    jb = Path(sys.executable).with_name("jupyter-book")
    if not jb.exists():
        pytest.fail(f"jupyter-book is not installed next to {sys.executable}")
    shared = tmp_path_factory.getbasetemp()  # this run's; under xdist, each worker's is in the run's folder
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    out, done = shared / "book", shared / "book.json"
    with open(shared / "book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            book.vendor(ROOT / "_build" / "site_extra")  # the offline JavaScript (make book does this too)
            result = subprocess.run(
                [str(jb), "build", "--all", "-W", "-n", "--keep-going", "--path-output", str(out), str(ROOT)],
                capture_output=True, text=True, timeout=900,
            )
            done.write_text(json.dumps({"returncode": result.returncode, "log": result.stdout + result.stderr}))
        built = json.loads(done.read_text())
    log = built["log"]
    assert built["returncode"] == 0, log[-4000:]
    assert "WARNING" not in log, "\n".join(l for l in log.splitlines() if "WARNING" in l)[:4000]
    return out / "_build" / "html"
