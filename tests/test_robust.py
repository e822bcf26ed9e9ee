"""tutorial_lib.tools.robust (``make robust``) and tutorial_lib.tools.colab (``make colab``): the
seed-shifted runs name the claims that fail, the tolerances come from the runs, and the
package's lower bounds are the versions the Colab run uses."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tutorial_lib.tools import colab, robust

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_shifted_runs_name_the_claim_that_fails_and_feed_the_tolerances(tmp_path):
    path = _notebook(
        tmp_path / "claims.ipynb",
        "from tutorial_lib import utils\nprint('V =', 94)",  # deterministic: compared exactly
        "import torch\nutils.set_seed(0)\nx = torch.rand(1).item()\nprint(f'x = {x:.3f}')",  # moves with the seed
        "assert utils.shifted(0) < 1500, 'a claim that only some seeds keep'",
    )
    from tutorial_lib.tools.book import execute

    execute(path, dest=path)  # the committed outputs, at shift 0
    out = tmp_path / "runs"
    report = robust.run([path], [1000, 2000], out, keep_going=True)
    assert report["claims.ipynb"][1000].startswith("ok")
    failed = report["claims.ipynb"][2000]
    assert failed.startswith("FAILED") and "code cell 2: AssertionError: a claim that only some seeds keep" in failed
    cells = robust.tolerances([path], out, write=True, root=ROOT)["claims.ipynb"]
    assert [c["kind"] for c in cells[:2]] == ["exact", "approx"]
    written = nbformat.read(path, as_version=4).cells[1]
    assert robust.APPROX in written.metadata["tags"] and len(written.metadata[robust.TOLERANCE]) == 1
    assert written.metadata[robust.TOLERANCE][0] > 0


def test_the_packages_lower_bounds_are_the_versions_the_colab_run_installs():
    pyproject = (ROOT / "pyproject.toml").read_text()
    bounds = dict(re.findall(r'"([a-z]+)>=([0-9.]+)', pyproject))
    for name in ("torch", "numpy", "matplotlib", "ipywidgets", "tqdm", "transformers", "tokenizers", "peft",
                 "safetensors", "regex"):
        pinned = colab.COLAB[name].split(".")
        lower = bounds[name].split(".")
        assert pinned[: len(lower)] == lower, f"{name}: pyproject says >={bounds[name]}, make colab runs {colab.COLAB[name]}"
    assert 'requires-python = ">=3.11"' in pyproject  # 3.11 (requirements.txt) and 3.13 (Colab) are run


def test_a_missing_python_is_named():
    with pytest.raises(SystemExit, match="no Python 2.1 found"):
        colab.find_python("2.1")
