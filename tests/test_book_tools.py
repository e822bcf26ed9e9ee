"""tutorial_lib.tools.book: the Colab setup cell comes from _config.yml, and nowhere else; the student
notebooks keep the exercises and lose the solutions and outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tutorial_lib.tools import book

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


def test_vendor_checks_sha512_and_unpacks_only_what_the_site_needs(tmp_path, monkeypatch):
    import base64
    import hashlib
    import io
    import tarfile

    def tarball(files: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"package/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    data = tarball({"es5/tex.js": b"mj", "es5/x.js.map": b"map", "README.md": b"r"})
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(book.urllib.request, "urlopen", lambda url, timeout: Response(data))
    monkeypatch.setattr(book, "VENDOR", {"mathjax": ("9.9.9", good, {"es5/": "mathjax/"})})
    out = book.vendor(tmp_path)
    assert (out / "mathjax" / "tex.js").read_bytes() == b"mj"
    assert not (out / "mathjax" / "x.js.map").exists() and not (out / "README.md").exists()
    assert (out / "versions.txt").read_text() == "mathjax@9.9.9\n"
    assert book.vendor(tmp_path) == out  # already there: left alone
    monkeypatch.setattr(book, "VENDOR", {"mathjax": ("9.9.8", "sha512-AAAA", {"es5/": "mathjax/"})})
    with pytest.raises(RuntimeError, match="sha512 mismatch"):
        book.vendor(tmp_path)


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_student_notebooks_keep_the_exercises_and_lose_solutions_and_outputs(tmp_path):
    written = book.student(NOTEBOOKS, tmp_path)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for original, path in zip(NOTEBOOKS, written):
        full, nb = nbformat.read(original, as_version=4), nbformat.read(path, as_version=4)
        nbformat.validate(nb)  # it opens
        text = "\n".join(c.source for c in nb.cells)
        assert "{solution-start}" not in text and "{solution-end}" not in text, path.name
        assert not any(book.SOLUTION_TAG in c.metadata.get("tags", []) for c in nb.cells), path.name
        for c in nb.cells:
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None, path.name
        solutions = [c for c in full.cells if book.SOLUTION_TAG in c.metadata.get("tags", [])]
        assert solutions and len(nb.cells) == len(full.cells) - len(solutions)
        assert text.count("{exercise}") == "\n".join(c.source for c in full.cells).count("{exercise}") > 0
        stubs = [c.source for c in full.cells if "your code here" in c.source]
        assert [c.source for c in nb.cells if "your code here" in c.source] == stubs  # the learner's cells stay
        setup = [c.source for c in nb.cells if "setup" in c.metadata.get("tags", [])]
        assert setup == [c.source for c in full.cells if "setup" in c.metadata.get("tags", [])] and setup


def test_student_command_writes_the_folder(tmp_path, capsys):
    assert book.main(["student", str(tmp_path / "student"), str(NOTEBOOKS[0])]) == 0
    assert (tmp_path / "student" / NOTEBOOKS[0].name).exists()
    assert "1 student notebooks in" in capsys.readouterr().out


def test_staleness_is_read_from_fingerprints_of_the_code_and_the_package(monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("print(x)")]
    assert "never executed" in book.staleness(nb)[0]
    book.stamp(nb)
    assert book.staleness(nb) == []
    nb.cells[0].source = "# Another title"  # prose: the outputs do not depend on it
    assert book.staleness(nb) == []
    nb.cells[2].source = "print(x + 1)"
    assert book.staleness(nb) == ["code cells [1] (counting code cells from 0) changed since it was executed"]
    book.stamp(nb)
    nb.cells.append(nbformat.v4.new_code_cell("y = 2"))
    assert "3 code cells, 2 when it was executed" in book.staleness(nb)[0]
    book.stamp(nb)
    monkeypatch.setattr(book, "package_fingerprint", lambda: "0" * 16)
    assert book.staleness(nb) == ["tutorial_lib changed since it was executed"]


def test_the_package_fingerprint_ignores_comments_and_docstrings_but_not_code():
    base = book._code_fingerprint('"""Doc."""\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    assert book._code_fingerprint('"""Other."""\ndef f(x):\n    # a comment\n    return x + 1\n') == base
    assert book._code_fingerprint('def f(x):\n    return x + 2\n') != base
    assert book._code_fingerprint('def f(x):\n    return "x + 1"\n') != base  # a string that is code
    assert len(book.package_fingerprint()) == 16
