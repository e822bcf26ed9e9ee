"""The nbval-approx tag: each number may move by its measured tolerance, nothing else may; and the
tool that measures the tolerances reads outputs as nbval does."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbval_tolerance import TAG, numbers_close
from tutorial_lib.tools import robust

ROOT = Path(__file__).resolve().parents[1]
SANITIZE = robust._sanitizer(ROOT)


def flat(text: str) -> dict:
    return robust.compared_texts([nbformat.v4.new_output("stream", name="stdout", text=text)], SANITIZE)


# Chapter 7's output on two CPUs (the committed one and CI's), from the run that made the first plugin.
HERE = "GPT after 1200 steps: 1.408 nats/char (4% lower)\nGPT   position 1: 2.40, 2-8: 1.53\n"
CI = "GPT after 1200 steps: 1.411 nats/char (3% lower)\nGPT   position 1: 2.43, 2-8: 1.53\n"


def test_numbers_move_within_their_own_tolerance_plus_one_printed_unit():
    assert numbers_close("1.408", "1.411", 0.002)  # 0.003 <= 0.002 + 0.001
    assert not numbers_close("1.408", "1.412", 0.002)
    assert numbers_close("100", "101", 0) and not numbers_close("100", "102", 0)  # exact but for the unit
    assert numbers_close("2.0e-05", "2.1e-05", 0) and not numbers_close("2.0e-05", "2.5e-05", 1e-7)
    assert robust.unit("1.411") == pytest.approx(1e-3) and robust.unit("2.0e-05") == pytest.approx(1e-6)


def test_only_the_numbers_may_change():
    assert robust.same_form(flat(HERE), flat(CI))
    assert robust.numbers(flat(HERE)) == ["1200", "1.408", "4", "1", "2.40", "2", "8", "1.53"]
    for changed in (HERE.replace("nats/char", "bits/char"),  # the words
                    HERE.replace(" 2-8: 1.53", ""),  # a number fewer
                    HERE.replace("1.408", "1.41"),  # printed otherwise: the code changed
                    HERE.replace("3x", "3 x")):
        assert changed == HERE or not robust.same_form(flat(HERE), flat(changed))
    assert robust.same_form(flat(" 9    99%\n10   100%"), flat(" 9   100%\n10   100%"))  # a column's padding
    assert not robust.same_form(flat("a b"), flat("ab"))


def test_streams_are_read_whole_and_sanitized_as_nbval_does():
    pieces = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in ("loss 1.5", "0\n")]
    assert robust.compared_texts(pieces, SANITIZE) == {"stdout": ["loss 1.50\n"]}
    figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure size 640x480 with 1 Axes>",
                                                          "image/png": "iVBOR"})
    assert robust.compared_texts([figure], SANITIZE) == {"text/plain": ["<Figure>"]}  # no numbers, no image


def test_classify_finds_exact_approximate_and_changing_cells():
    def notebook(*texts):
        nb = nbformat.v4.new_notebook()
        for t in texts:
            cell = nbformat.v4.new_code_cell("print()")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t)]
            nb.cells.append(cell)
        return nb

    committed = notebook("V = 94\n", "loss 1.40, 90%\n", "ranking: LSTM < RNN\n")
    runs = [notebook("V = 94\n", "loss 1.43, 88%\n", "ranking: RNN < LSTM\n"),
            notebook("V = 94\n", "loss 1.39, 90%\n", "ranking: LSTM < RNN\n")]
    cells = robust.classify(committed, runs, SANITIZE)
    assert [c["kind"] for c in cells] == ["exact", "approx", "words"]
    assert cells[1]["tolerance"] == [pytest.approx(0.06), pytest.approx(4.0)]  # twice the largest move


def _notebook(path: Path):
    """Cells that print 1.411 against stored outputs computed elsewhere."""
    nb = nbformat.v4.new_notebook()
    stored = {"tagged, within": ("1.408", [0.002]), "untagged": ("1.408", None),
              "tagged, beyond": ("1.400", [0.002]), "tagged, no tolerance": ("1.408", [])}
    for i, (name, (printed, tolerance)) in enumerate(stored.items()):
        cell = nbformat.v4.new_code_cell(f"print({1.411!r})  # {name}", execution_count=i + 1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed + "\n")]
        if tolerance is not None:
            cell.metadata["tags"] = [TAG]
            cell.metadata[robust.TOLERANCE] = tolerance
        nb.cells.append(cell)
    nbformat.write(nb, path)


def test_plugin_under_nbval(tmp_path):
    """What `make test` runs: only the tagged cell whose number moved within its tolerance passes."""
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
    assert outcomes == {"0": "PASSED", "1": "FAILED", "2": "FAILED", "3": "FAILED"}, report[-3000:]
    assert "1.411 where the notebook has 1.400 (tolerance 0.002 + one printed unit)" in report
    assert "0 tolerances are recorded for 1 numbers" in report


def test_make_loads_the_plugin():
    """`make test` and `make nbval` both compare tagged cells with their tolerances."""
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test:", "nbval:"):
        recipe = makefile.split("\n" + target, 1)[1].split("\n\n", 1)[0]
        assert "--nbval" in recipe and "-p tests.nbval_tolerance" in recipe, target


def test_every_tagged_cell_has_a_tolerance_for_each_of_its_numbers():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            tags = cell.metadata.get("tags", [])
            if TAG in tags:
                assert cell.cell_type == "code" and "nbval-ignore-output" not in tags, (path.name, cell.source[:60])
                count = len(robust.numbers(robust.compared_texts(cell.outputs, SANITIZE)))
                assert len(cell.metadata.get(robust.TOLERANCE, [])) == count, (path.name, cell.source[:60])
            else:
                assert robust.TOLERANCE not in cell.metadata, (path.name, cell.source[:60])
