"""Hygiene of every chapter notebook, as committed.

These checks read the .ipynb files; they do not run them (nbval does that). They hold every
notebook to the pattern chapter 1 sets: a title, the generated setup cell first, executed in
order in one fresh kernel, clean outputs, figures, asserted claims and exercises.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tutorial_lib.tools.book import SETUP_TAG, setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_BYTES = 3 * 1024 * 1024
ABSOLUTE_PATH = re.compile(r"(/home/|/root/|/tmp/|/work/|/Users/|[A-Z]:\\\\|site-packages)")
HEX_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def outputs(nb: dict):
    for cell in code_cells(nb):
        for out in cell.get("outputs", []):
            yield cell, out


def output_text(out: dict) -> str:
    if "text" in out:
        return "".join(out["text"])
    data = out.get("data", {})
    return "".join("".join(v) if isinstance(v, list) else str(v)
                   for k, v in data.items() if k.startswith("text/"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks in notebooks/"


def test_every_notebook_is_in_the_toc_and_every_toc_file_exists():
    listed = toc_files()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in listed, f"{path.name} is not listed in _toc.yml"
    for entry in listed:
        matches = list(ROOT.glob(entry + ".*"))
        assert matches, f"_toc.yml lists {entry}, which does not exist"


def test_toc_is_in_chapter_order():
    chapters = [f for f in toc_files() if f.startswith("notebooks/")]
    assert chapters == sorted(chapters)


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def nb(request) -> dict:
    return load(request.param) | {"_path": request.param}


def test_name_and_size(nb):
    path: Path = nb["_path"]
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), "name notebooks NN_topic.ipynb"
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"


def test_title_cell_and_chapter_card(nb):
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown"
    assert re.match(r"# \S", source(first)), "the first cell must be a '# Title' markdown cell"
    intro = "\n".join(source(c) for c in nb["cells"][:4] if c["cell_type"] == "markdown")
    for heading in ("Learning objectives", "Prerequisites", "Run time"):
        assert heading in intro, f"the chapter card lacks '{heading}'"


def test_setup_cell_first_and_generated_from_config(nb):
    first = code_cells(nb)[0]
    assert source(first) == setup_cell_source(ROOT), "run `make execute` to refresh the setup cell"
    assert SETUP_TAG in first["metadata"].get("tags", [])
    assert first.get("outputs") == [], "the setup cell must print nothing outside Colab"


def test_seed_and_device_cell_follows_setup(nb):
    second = source(code_cells(nb)[1])
    assert "set_seed(" in second and "get_device(" in second


def test_executed_in_order_in_one_kernel(nb):
    counts = [c["execution_count"] for c in code_cells(nb) if source(c).strip()]
    assert None not in counts, "some code cells were not executed"
    assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}"


def test_no_errors_or_stderr(nb):
    for cell, out in outputs(nb):
        assert out["output_type"] != "error", f"error output: {out.get('ename')}: {out.get('evalue')}"
        if out.get("name") == "stderr":
            pytest.fail(f"stderr output in cell {source(cell)[:60]!r}: {output_text(out)[:200]!r}")


def test_no_absolute_paths_or_addresses(nb):
    for cell, out in outputs(nb):
        text = output_text(out)
        assert not ABSOLUTE_PATH.search(text), f"absolute path in output: {text[:200]!r}"
        assert not HEX_ADDRESS.search(text), f"memory address in output: {text[:200]!r}"


def test_has_figures(nb):
    figures = sum("image/png" in out.get("data", {}) for _, out in outputs(nb))
    assert figures >= 2, f"{figures} figures; a chapter shows at least two"


def test_claims_are_asserted(nb):
    asserts = sum(len(re.findall(r"^\s*assert ", source(c), re.M)) for c in code_cells(nb))
    assert asserts >= 3, "assert the claims the prose makes"


def test_exercises_with_tagged_solutions(nb):
    """Every cell of a solution, from its {solution-start} to its {solution-end} and the prose
    between, is tagged 'solution' (what `make student` removes), and no other cell is."""
    cells = nb["cells"]
    assert any("{exercise}" in source(c) for c in cells if c["cell_type"] == "markdown")
    inside = False
    n_solutions = 0
    for cell in cells:
        text = source(cell)
        starts = cell["cell_type"] == "markdown" and "{solution-start}" in text
        ends = cell["cell_type"] == "markdown" and "{solution-end}" in text
        if starts:
            assert not inside, "a {solution-start} inside another solution"
            inside, n_solutions = True, n_solutions + 1
        tagged = "solution" in cell["metadata"].get("tags", [])
        assert tagged == inside, (f"{'untagged' if inside else 'tagged'} {cell['cell_type']} cell "
                                  f"{'inside' if inside else 'outside'} a solution: {text[:60]!r}")
        if ends:
            inside = False  # a prose-only solution opens and closes in one cell
    assert not inside, "a {solution-start} has no {solution-end}"
    assert n_solutions >= 1


def test_widget_outputs_have_saved_state(nb):
    views = [out["data"][WIDGET_VIEW]["model_id"] for _, out in outputs(nb)
             if WIDGET_VIEW in out.get("data", {})]
    if not views:
        return
    state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    missing = [m for m in views if m not in state]
    assert not missing, f"widget views without saved state: {missing[:3]}"


def test_kernel_is_python3(nb):
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_outputs_are_current(nb):
    """The committed outputs were computed, by `make execute`, from these code cells and this
    package: recorded fingerprints, since numbers from training runs do not repeat across CPUs."""
    import nbformat

    from tutorial_lib.tools.book import staleness

    reasons = staleness(nbformat.read(nb["_path"], as_version=4))
    assert not reasons, f"{nb['_path'].name} is stale: {'; '.join(reasons)}. Run `make execute`."
