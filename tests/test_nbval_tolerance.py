"""The nbval-approx tag: numbers may move a little between CPUs, nothing else may."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbval_tolerance import TAG, numbers_close, texts_close

ROOT = Path(__file__).resolve().parents[1]

# Chapter 7's output on two CPUs (the committed one and CI's), from the run that made this plugin.
HERE = (
    "GPT after 1200 steps: 1.408 nats/char (4% lower)\n"
    "GPT   position 1: 2.40, 2-8: 1.53, 33-64: 1.38 nats/char\n"
)
CI = (
    "GPT after 1200 steps: 1.411 nats/char (3% lower)\n"
    "GPT   position 1: 2.43, 2-8: 1.53, 33-64: 1.39 nats/char\n"
)


def test_drift_between_cpus_is_close():
    assert texts_close(HERE, CI) and texts_close(CI, HERE)


@pytest.mark.parametrize(
    "changed",
    [
        HERE.replace("1.408", "1.470"),  # 4.4%: a real change
        HERE.replace("(4% lower)", "(7% lower)"),  # three units of a coarse number
        HERE.replace("1200 steps", "1000 steps"),
        HERE.replace("nats/char (4%", "bits/char (4%"),  # the words
        HERE.replace(" 2-8: 1.53,", ""),  # a number fewer
        HERE.replace("2.40", "-2.40"),  # the sign
    ],
)
def test_real_changes_are_not_close(changed):
    assert not texts_close(HERE, changed)


def test_number_parsing():
    assert numbers_close("2.0e-05", "2.1e-05")  # one unit of the last digit: 1e-06
    assert not numbers_close("2.0e-05", "2.5e-05")
    assert numbers_close("-0.00", "0.00") and numbers_close("100", "101")
    assert not numbers_close("100", "105")
    assert not numbers_close("1.5", "1.411")  # printed otherwise: the code changed
    assert texts_close("3x96 model", "3x96 model") and not texts_close("3x96", "3x97")
    assert texts_close(" 9    99%\n10   100%", " 9   100%\n10   100%")  # a column's padding
    assert not texts_close("99%\n", "99% \n\n") and not texts_close("a b", "ab")


def _notebook(path: Path):
    """Three cells that print 1.411 with a stored output computed elsewhere; one not tagged."""
    nb = nbformat.v4.new_notebook()
    stored = {"tagged, drifted": "1.408", "untagged, drifted": "1.408", "tagged, changed": "1.5"}
    for i, (name, printed) in enumerate(stored.items()):
        cell = nbformat.v4.new_code_cell(f"print({1.411!r})  # {name}", execution_count=i + 1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed + "\n")]
        if name.startswith("tagged"):
            cell.metadata["tags"] = [TAG]
        nb.cells.append(cell)
    nbformat.write(nb, path)


def test_plugin_under_nbval(tmp_path):
    """What `make test` runs: only the tagged cell whose number drifted a little passes."""
    path = tmp_path / "drift.ipynb"
    _notebook(path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "--nbval", "--nbval-current-env",
         "-p", "tests.nbval_tolerance", "-p", "no:cacheprovider", "-rA", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    report = result.stdout + result.stderr
    outcomes = dict(
        re.match(r"(PASSED|FAILED) \S+::Cell (\d)", line).group(2, 1)
        for line in report.splitlines() if re.match(r"(PASSED|FAILED) \S+::Cell \d", line)
    )
    assert outcomes == {"0": "PASSED", "1": "FAILED", "2": "FAILED"}, report[-3000:]
    assert "tagged nbval-approx" in report  # the third cell says why its tolerance did not help


def test_make_loads_the_plugin():
    """`make test` and `make nbval` both compare tagged cells with the tolerance."""
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test:", "nbval:"):
        recipe = makefile.split("\n" + target, 1)[1].split("\n\n", 1)[0]
        assert "--nbval" in recipe and "-p tests.nbval_tolerance" in recipe, target


def test_tags_are_on_code_cells_only():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            tags = cell.metadata.get("tags", [])
            if TAG in tags:
                assert cell.cell_type == "code" and "nbval-ignore-output" not in tags, (path.name, cell.source[:60])
