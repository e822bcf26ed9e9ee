"""Maintenance commands for the book itself, not for learners.

``python -m tutorial_lib.book setup-cell``
    print the Colab setup cell that opens every notebook, built from ``_config.yml``
    (the one place the repository URL is written).
``python -m tutorial_lib.book execute NOTEBOOK [NOTEBOOK ...]``
    refresh each notebook's setup cell, execute it top to bottom in a fresh kernel, and
    write it back with its outputs (what ``make execute`` runs).

The functions here need ``nbformat``, ``nbclient`` and ``PyYAML``, which the book's
``requirements.txt`` installs; they are imported lazily so ``tutorial_lib`` itself
does not depend on them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SETUP_TAG = "setup"  # cell tag that marks the Colab setup cell

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


def execute(path: Path, timeout: int = 600) -> float:
    """Execute one notebook in place in a fresh kernel; return the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    # Committed outputs carry no progress bars: the kernel inherits this from our environment.
    os.environ["TUTORIAL_LIB_PROGRESS"] = "0"
    nb = nbformat.read(path, as_version=4)
    refresh_setup_cell(nb, setup_cell_source(path.parent))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,      # no timestamps in the committed file
        store_widget_state=True,  # the book shows each widget's static state
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.book", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup-cell", help="print the Colab setup cell")
    run = sub.add_parser("execute", help="execute notebooks in place")
    run.add_argument("notebooks", nargs="+", type=Path)
    run.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)

    if args.command == "setup-cell":
        print(setup_cell_source())
        return 0
    for path in args.notebooks:
        seconds = execute(path, timeout=args.timeout)
        print(f"{path}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
