"""tutorial_lib.book: the Colab setup cell comes from _config.yml, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tutorial_lib import book

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cell_uses_the_configured_repository():
    url, branch = book.repository(ROOT)
    assert url.startswith("https://github.com/")
    cell = book.setup_cell_source(ROOT)
    assert f"git+{url}@{branch}" in cell
    assert '"google.colab" in sys.modules' in cell
    compile(cell.replace("%pip", "pass  #"), "<setup>", "exec")  # valid Python apart from the magic


def test_setup_cell_follows_a_changed_config(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b/\n  branch: dev\n")
    assert "git+https://github.com/a/b@dev" in book.setup_cell_source(tmp_path)


def test_missing_config_and_missing_url_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="_config.yml"):
        book.find_root(tmp_path)
    (tmp_path / "_config.yml").write_text("title: x\n")
    with pytest.raises(ValueError, match="repository.url"):
        book.repository(tmp_path)


def test_refresh_setup_cell_replaces_the_first_code_cell_and_tags_it():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("old"),
                nbformat.v4.new_code_cell("keep")]
    book.refresh_setup_cell(nb, "new")
    assert nb.cells[1].source == "new" and nb.cells[2].source == "keep"
    assert {"setup", "hide-cell"} <= set(nb.cells[1].metadata["tags"])
    with pytest.raises(ValueError, match="no code cell"):
        book.refresh_setup_cell(nbformat.v4.new_notebook(), "x")
