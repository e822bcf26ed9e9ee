"""``make colab``: run every notebook in Colab's runtime, as a Colab learner would.

Colab is the book's second target, with its own versions, which the package's loose bounds must
fit (and whose ipywidgets 7.7.1 must never be upgraded). This builds that environment in a venv
under ``_build/colab/`` (Python 3.13 and the versions of :data:`COLAB`, from the package
registry: several GB the first time), installs ``tutorial_lib`` on top of it with its own bounds
(``pip install .``), checks that no Colab version moved, copies the notebooks to a folder outside
the repository and executes each in a fresh kernel of that venv, with nothing but the package
installed: no repository files, no ``PYTHONHASHSEED``, progress bars on, as in Colab. It prints
and writes (``_build/colab/report.txt``) each notebook's time, or the cell and error that stopped it.

``python -m tutorial_lib.tools.colab [--python PYTHON] NOTEBOOK ...``
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tutorial_lib.tools.robust import ANSI

# Colab's runtime, as DESIGN.md lists it (plus the executor, at Colab's own versions).
COLAB = {"python": "3.13", "torch": "2.11.0", "numpy": "2.1.3", "matplotlib": "3.10.0", "ipywidgets": "7.7.1",
         "ipykernel": "6.17.1", "tqdm": "4.67.1", "nbclient": "0.10.2", "nbformat": "5.10.4",
         "transformers": "5.0.0", "tokenizers": "0.22.2", "peft": "0.20.0", "safetensors": "0.6.2",
         "regex": "2024.11.6"}
HERE = Path("_build/colab")


def find_python(version: str = COLAB["python"]) -> str:
    """A Python ``version`` interpreter: on the PATH, or one that pyenv installed."""
    found = shutil.which(f"python{version}")
    candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    for path in ([found] if found else []) + candidates:
        out = subprocess.run([path, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.startswith(version + "."):
            return path
    raise SystemExit(f"no Python {version} found (install it, e.g. `pyenv install {version}`, or pass --python)")


def build(root: Path, python: str, venv: Path) -> dict[str, str]:
    """The venv of Colab's versions with the package on top; returns the installed versions."""
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    if not (venv / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pins = [f"{k}=={v}" for k, v in COLAB.items() if k != "python"]
    subprocess.run(pip + ["install", *pins], check=True)
    subprocess.run(pip + ["install", "--force-reinstall", "--no-deps", str(root)], check=True)  # this checkout
    subprocess.run(pip + ["install", str(root)], check=True)  # its own bounds: must not move any pin
    listed = subprocess.run(pip[:3] + ["list", "--format", "json"], capture_output=True, text=True, check=True)
    versions = {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}
    moved = {k: versions.get(k) for k, v in COLAB.items() if k != "python" and versions.get(k) != v}
    if moved:
        raise SystemExit(f"installing tutorial_lib changed Colab's versions: {moved}")
    return versions


def run_inside(notebooks: list[Path], out: Path) -> list[str]:
    """(In the Colab venv) execute each notebook, copied to ``out``; one report line each."""
    from nbclient.exceptions import CellExecutionError

    from tutorial_lib.tools.book import execute

    os.environ.pop("PYTHONHASHSEED", None)  # Colab does not set it
    lines = []
    for path in notebooks:
        copy = out / path.name
        shutil.copy(path, copy)
        try:  # progress bars on, as a learner sees them (ipywidgets 7.7.1 draws them)
            seconds = execute(copy, dest=copy, timeout=1200, env={"TUTORIAL_LIB_PROGRESS": "1"})
            line = f"{path.name}: ok, {seconds:.1f} s"
        except CellExecutionError as exc:
            tail = [l for l in ANSI.sub("", str(exc)).splitlines() if l.strip()][-3:]
            line = f"{path.name}: FAILED: " + " | ".join(tail)[:800]
        print(line, flush=True)
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.tools.colab", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--python", default=None, help=f"a Python {COLAB['python']} (default: found by itself)")
    parser.add_argument("--inside", type=Path, default=None, help=argparse.SUPPRESS)  # the run in the venv
    args = parser.parse_args(argv)
    if args.inside is not None:
        lines = run_inside([p.resolve() for p in args.notebooks], args.inside)
        return 1 if any("FAILED" in line for line in lines) else 0
    from tutorial_lib.tools.book import find_root

    root = find_root()
    venv = (root / HERE / "venv").resolve()
    versions = build(root, args.python or find_python(), venv)
    out = Path(tempfile.mkdtemp(prefix="colab-notebooks-"))  # another folder, outside the repository
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    started = f"Python {COLAB['python']}, " + ", ".join(f"{k} {versions[k]}" for k in COLAB if k != "python")
    print(started, flush=True)
    inner = subprocess.Popen([str(venv / "bin" / "python"), "-m", "tutorial_lib.tools.colab", "--inside", str(out),
                              *[str(p.resolve()) for p in args.notebooks]], cwd=out, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    report = [started]
    for line in inner.stdout:  # one line per notebook, as each ends
        print(line, end="", flush=True)
        report.append(line.rstrip())
    (root / HERE / "report.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    return inner.wait()


if __name__ == "__main__":
    raise SystemExit(main())
