"""Maintenance commands for the book itself, not for learners.

``python -m tutorial_lib.tools.book setup-cell``
    print the Colab setup cell that opens every notebook, built from ``_config.yml``
    (the one place the repository URL is written).
``python -m tutorial_lib.tools.book execute NOTEBOOK [NOTEBOOK ...]``
    refresh each notebook's setup cell, execute it top to bottom in a fresh kernel, and
    write it back with its outputs (what ``make execute`` runs).
``python -m tutorial_lib.tools.book student DEST NOTEBOOK [NOTEBOOK ...]``
    write each notebook's student copy to DEST: the cells tagged ``solution`` removed and
    every output cleared, by nbconvert's ``TagRemovePreprocessor`` and
    ``ClearOutputPreprocessor`` (what ``make student`` runs).
``python -m tutorial_lib.tools.book vendor [DEST]``
    download the JavaScript the built pages need (MathJax 3, RequireJS and the Jupyter
    widget renderer) from the npm registry, check each against its pinned sha512, and
    unpack it under DEST/_vendor (default ``_build/site_extra``), which ``_config.yml``
    copies into the site: the built book then opens with no network (what ``make book``
    and ``make test`` run first).

The functions here need ``nbformat``, ``nbclient`` and ``PyYAML``, which the book's
``requirements.txt`` installs; they are imported lazily so ``tutorial_lib`` itself
does not depend on them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import shutil
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

SETUP_TAG = "setup"  # cell tag that marks the Colab setup cell
SOLUTION_TAG = "solution"  # cell tag of every cell of an exercise's solution, code and prose

SETUP_TEMPLATE = '''\
# Setup. In Colab this installs the book's helper package, tutorial_lib, from the
# book's repository. Anywhere else (after `make book`, say) it does nothing.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "tutorial_lib @ git+{url}@{branch}"'''


def find_root(start: Path | None = None) -> Path:
    """The book's root folder: the nearest folder at or above ``start`` holding ``_config.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file():
            return folder
    raise FileNotFoundError(f"no _config.yml at or above {here}")


def repository(root: Path | None = None) -> tuple[str, str]:
    """The repository URL and branch from ``_config.yml``."""
    import yaml

    config = yaml.safe_load((find_root(root) / "_config.yml").read_text())
    repo = config.get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch", "main")
    if not url:
        raise ValueError("_config.yml has no repository.url")
    return url.rstrip("/"), branch


def setup_cell_source(root: Path | None = None) -> str:
    """The source of the Colab setup cell, with the repository URL from ``_config.yml``."""
    url, branch = repository(root)
    return SETUP_TEMPLATE.format(url=url, branch=branch)


def refresh_setup_cell(nb, source: str) -> None:
    """Make the first code cell of ``nb`` the setup cell (tagged ``setup`` and ``hide-cell``)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        raise ValueError("the notebook has no code cell to hold the setup cell")
    cell = code[0]
    cell.source = source
    tags = cell.metadata.setdefault("tags", [])
    for tag in (SETUP_TAG, "hide-cell"):
        if tag not in tags:
            tags.append(tag)


def execute(path: Path, timeout: int = 600, write: bool = True, dest: Path | None = None,
            env: dict[str, str] | None = None, allow_errors: bool = False) -> float:
    """Execute one notebook in a fresh kernel and save it in place, stamped with the fingerprints
    of its code and of the package (:func:`stamp`); return the wall time in seconds.

    ``write=False`` leaves the file alone (``make bench``); ``dest`` writes the executed notebook
    there instead of in place (``make robust``); ``env`` adds environment variables for the kernel,
    such as ``TUTORIAL_LIB_SEED_SHIFT``. A failing cell raises nbclient's ``CellExecutionError``, unless
    ``allow_errors``: then every cell runs and the errors stay in the outputs.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    # Committed outputs carry no progress bars: the kernel inherits this from our environment.
    os.environ["TUTORIAL_LIB_PROGRESS"] = "0"
    nb = nbformat.read(path, as_version=4)
    if write and dest is None:  # a saved notebook gets the current setup cell; others run as committed
        refresh_setup_cell(nb, setup_cell_source(path.parent))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,      # no timestamps in the committed file
        store_widget_state=True,  # the book shows each widget's static state
        allow_errors=allow_errors,
    )
    saved = {name: os.environ.get(name) for name in env or {}}
    os.environ.update(env or {})  # the kernel starts with this process's environment
    try:
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if dest is not None:
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest)
    elif write:
        stamp(nb)
        nbformat.write(nb, path)
    return seconds


# ---------------------------------------------------------------- stale outputs
# A committed notebook's outputs are current when its code cells and the package are what they were
# when `make execute` ran it. That is recorded, not inferred from numbers repeating (training runs
# differ between CPUs): the notebook's metadata holds a fingerprint of each code cell's source and
# one of the package's code and data.
STAMP = "tutorial_lib"  # notebook metadata key


def _fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _code_fingerprint(source: str) -> bytes:
    """What a module's behaviour depends on: its syntax tree with docstrings removed (comments are
    not in it), so editing a comment or a docstring does not make every notebook stale. A
    notebook that prints source (``inspect.getsource``) is still compared exactly by nbval."""
    import ast

    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def package_fingerprint() -> str:
    """A fingerprint of what the notebooks run: every module of ``tutorial_lib`` (but these
    maintenance tools) and every file it ships (checkpoints, the frozen corpus)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package).as_posix()
        if not path.is_file() or rel.startswith("tools/") or "__pycache__" in rel:
            continue
        content = path.read_bytes()
        digest.update(rel.encode() + b"\0")
        digest.update(_code_fingerprint(content.decode("utf-8")) if rel.endswith(".py") else content)
    return digest.hexdigest()[:16]


def _cell_fingerprints(nb) -> list[str]:
    return [_fingerprint(c.source.encode()) for c in nb.cells if c.cell_type == "code"]


def stamp(nb) -> None:
    """Record in ``nb``'s metadata the fingerprints its outputs were computed with."""
    nb.metadata[STAMP] = {"package": package_fingerprint(), "code_cells": _cell_fingerprints(nb)}


def staleness(nb) -> list[str]:
    """Why ``nb``'s outputs are out of date (an empty list: they are current)."""
    recorded = nb.metadata.get(STAMP)
    if not recorded:
        return ["it was never executed by `make execute` (no fingerprints in its metadata)"]
    reasons = []
    if recorded.get("package") != package_fingerprint():
        reasons.append("tutorial_lib changed since it was executed")
    now, then = _cell_fingerprints(nb), recorded.get("code_cells", [])
    if len(now) != len(then):
        reasons.append(f"it has {len(now)} code cells, {len(then)} when it was executed")
    else:
        changed = [i for i, (a, b) in enumerate(zip(now, then)) if a != b]
        if changed:
            reasons.append(f"code cells {changed} (counting code cells from 0) changed since it was executed")
    return reasons


# npm package -> (version, sha512 integrity from the registry, {file in the package: where it goes})
VENDOR = {
    "mathjax": ("3.2.2", "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
                {"es5/": "mathjax/"}),
    "requirejs": ("2.3.7", "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
                  {"require.js": "require.js"}),
    # 1.0.x renders the widget state that ipywidgets 8 saves
    "@jupyter-widgets/html-manager": (
        "1.0.15", "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        {"dist/": "html-manager/"}),
}
REGISTRY = "https://registry.npmjs.org"


def student_notebook(path: Path) -> str:
    """The student copy of the notebook at ``path``, as notebook JSON: nbconvert's
    ``TagRemovePreprocessor`` drops every cell tagged ``solution`` (the solution's code and
    the prose around it) and ``ClearOutputPreprocessor`` clears every output, so a learner
    runs each cell for the first time."""
    from nbconvert.exporters import NotebookExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {SOLUTION_TAG}
    config.ClearOutputPreprocessor.enabled = True
    config.NotebookExporter.preprocessors = [
        "nbconvert.preprocessors.TagRemovePreprocessor",
        "nbconvert.preprocessors.ClearOutputPreprocessor",
    ]
    body, _ = NotebookExporter(config=config).from_filename(str(path))
    return body


def student(notebooks: list[Path], dest: Path) -> list[Path]:
    """Write :func:`student_notebook` of each of ``notebooks`` into ``dest``; returns the paths."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        out = dest / Path(path).name
        out.write_text(student_notebook(Path(path)), encoding="utf-8")
        written.append(out)
    return written


def _npm_tarball(name: str, version: str, integrity: str) -> bytes:
    """The package's tarball from the npm registry, after checking its sha512."""
    url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise RuntimeError(f"{url}: sha512 mismatch (got {digest[:30]}..., expected {integrity[:30]}...)")
    return data


def vendor(dest: Path) -> Path:
    """Unpack the pinned JavaScript of :data:`VENDOR` under ``dest/_vendor``; return that folder.

    Idempotent: a folder already holding every version (``versions.txt``) is left alone.
    """
    out = Path(dest) / "_vendor"
    stamp = "\n".join(f"{name}@{version}" for name, (version, _, _) in sorted(VENDOR.items())) + "\n"
    if (out / "versions.txt").is_file() and (out / "versions.txt").read_text() == stamp:
        return out
    tmp = out.with_name("_vendor.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for name, (version, integrity, files) in VENDOR.items():
        data = _npm_tarball(name, version, integrity)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                inner = member.name.split("/", 1)[1] if "/" in member.name else ""  # drop "package/"
                for source, target in files.items():
                    wanted = inner == source or (source.endswith("/") and inner.startswith(source))
                    if member.isfile() and wanted and not inner.endswith(".map"):  # no source maps
                        path = tmp / (target + inner[len(source):])
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(tar.extractfile(member).read())
    (tmp / "versions.txt").write_text(stamp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.tools.book", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup-cell", help="print the Colab setup cell")
    run = sub.add_parser("execute", help="execute notebooks in place")
    run.add_argument("notebooks", nargs="+", type=Path)
    run.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    stu = sub.add_parser("student", help="write student notebooks: no solutions, no outputs")
    stu.add_argument("dest", type=Path)
    stu.add_argument("notebooks", nargs="+", type=Path)
    ven = sub.add_parser("vendor", help="download the site's JavaScript for offline pages")
    ven.add_argument("dest", nargs="?", type=Path, default=None, help="default: <root>/_build/site_extra")
    args = parser.parse_args(argv)

    if args.command == "setup-cell":
        print(setup_cell_source())
        return 0
    if args.command == "vendor":
        out = vendor(args.dest or find_root() / "_build" / "site_extra")
        print(f"JavaScript for offline pages in {out}")
        return 0
    if args.command == "student":
        written = student(args.notebooks, args.dest)
        print(f"{len(written)} student notebooks in {args.dest}")
        return 0
    for path in args.notebooks:
        seconds = execute(path, timeout=args.timeout)
        print(f"{path}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
