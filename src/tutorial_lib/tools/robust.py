"""``make robust``: do the notebooks' claims hold on other random numbers, and what may nbval compare?

A training run on another CPU, with another torch, or from another seed differs in the same way:
its numbers move. So a claim asserted in a notebook must hold for any seed, and a number that a
training run prints can only be compared within the spread that seeds give it.

``python -m tutorial_lib.tools.robust run NOTEBOOK ... --shifts 1000 2000 3000``
    executes each notebook once per shift with ``TUTORIAL_LIB_SEED_SHIFT`` set (every seed of the
    book moves, :func:`tutorial_lib.utils.shifted`), in a fresh kernel, writing the executed
    copies under ``_build/robust/shift-K/``; every assert must hold. It prints each run's time and
    names the cell and the error of any run that fails.
``python -m tutorial_lib.tools.robust tolerances [--write] NOTEBOOK ...``
    compares each code cell's outputs in the committed notebook with those runs:

    - the same text in every run: deterministic by construction, compared exactly;
    - the same words, other numbers: tagged ``nbval-approx``, with each number's tolerance, in the
      cell's metadata (``nbval_tolerance``), ``FACTOR`` times the most it moved from the committed
      value (``tests/nbval_tolerance.py`` reads it and adds one printed unit);
    - other words (a sample of text, a ranking that changed): listed, to be tagged
      ``nbval-ignore-output`` by hand once an assert holds its claim. Cells already tagged so, and
      cells that print timings, are left alone.

    ``--write`` writes the tags and tolerances into the notebooks (metadata only: their code and
    outputs stay as committed).

The number of each cell's outputs is read as nbval reads it (:func:`compared_texts`): streams
joined, the same sanitizers (``tests/sanitize.cfg``), the same outputs skipped.
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
from collections import defaultdict
from pathlib import Path

APPROX, IGNORE = "nbval-approx", "nbval-ignore-output"
TOLERANCE = "nbval_tolerance"  # cell metadata: one absolute tolerance per number of the outputs
FACTOR = 2.0  # a tolerance is this many times the largest move the seed shifts showed
OUT = Path("_build/robust")
# What nbval does not compare (nbval.plugin.IPyNbFile.skip_compare, images included).
SKIP = ("metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
        "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg")
# A number not glued to a word or to another number: "1.411", "-0.5", "2e-05"; in "2-8" the "-"
# is a dash, in "3x96" the "96" is part of a word.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of a traceback


def sanitizers(root: Path) -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of ``tests/sanitize.cfg``, which nbval applies too."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(root / "tests" / "sanitize.cfg")
    return [(config[s]["regex"], config[s]["replace"]) for s in config.sections()]


def compared_texts(outputs: list, sanitize, skip=SKIP) -> dict[str, list]:
    """nbval's view of a cell's outputs: {output field or MIME type: [sanitized values]}, with the
    pieces of each stream joined (``nbval.plugin.coalesce_streams``)."""
    import copy

    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    flat = defaultdict(list)
    for out in transform_streams_for_comparison(coalesce_streams(copy.deepcopy(outputs))):
        for key, value in out.items():
            if key in skip:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in skip:
                        flat[mime].append(sanitize(data))
            else:
                flat[key].append(sanitize(value))
    return flat


def words(text: str) -> list[str]:
    """The text between the numbers, runs of spaces as one (a column that goes from 99% to 100%
    loses a space of padding, not a word)."""
    return [re.sub(r"[ \t]+", " ", part) for part in NUMBER.split(text)]


def numbers(flat: dict[str, list]) -> list[str]:
    """Every number of :func:`compared_texts`, in order."""
    return [n for values in flat.values() for v in values if isinstance(v, str) for n in NUMBER.findall(v)]


def decimals(number: str) -> tuple[int, int]:
    """(decimals, exponent) as printed: (3, 0) for "1.411", (0, 0) for "4", (1, -5) for "2.0e-05"."""
    mantissa, _, exponent = number.lower().partition("e")
    return len(mantissa.partition(".")[2]), int(exponent or 0)


def unit(number: str) -> float:
    """One unit of the last printed digit: 0.001 for "1.411", 1e-6 for "2.0e-05"."""
    places, exponent = decimals(number)
    return 10.0 ** (exponent - places)


def same_form(a: dict[str, list], b: dict[str, list]) -> bool:
    """The same fields, outputs, words and number formats: only the numbers' values may differ."""
    if a.keys() != b.keys() or any(len(a[k]) != len(b[k]) for k in a):
        return False
    for key in a:
        for x, y in zip(a[key], b[key]):
            if not (isinstance(x, str) and isinstance(y, str)):
                if x != y:
                    return False
            elif words(x) != words(y) or [decimals(n) for n in NUMBER.findall(x)] != [
                    decimals(n) for n in NUMBER.findall(y)]:
                return False
    return True


def _sanitizer(root: Path):
    patterns = sanitizers(root)

    def sanitize(s):
        if not isinstance(s, str):
            return s
        for regex, replace in patterns:
            s = re.sub(regex, replace, s)
        return s
    return sanitize


def run(notebooks: list[Path], shifts: list[int], out: Path = OUT, keep_going: bool = False
        ) -> dict[str, dict[int, str]]:
    """Execute every notebook at every shift into ``out/shift-K/``; returns {notebook: {shift:
    "ok, N s" or the failure}} and prints it as it goes. ``keep_going`` runs every cell after a
    failure too and names every failing cell (later cells may fail for the first one's sake)."""
    import nbformat

    from nbclient.exceptions import CellExecutionError

    from tutorial_lib.tools.book import execute
    from tutorial_lib.utils import SEED_SHIFT

    report: dict[str, dict[int, str]] = {}
    for path in notebooks:
        for shift in shifts:
            dest = out / f"shift-{shift}" / Path(path).name
            dest.unlink(missing_ok=True)
            try:
                seconds = execute(Path(path), dest=dest, env={SEED_SHIFT: str(shift)}, allow_errors=keep_going)
                result = f"ok, {seconds:.0f} s"
                errors = [(i, o) for i, c in enumerate(c for c in nbformat.read(dest, as_version=4).cells
                                                         if c.cell_type == "code")
                          for o in c.get("outputs", []) if o.get("output_type") == "error"]
                if errors:
                    result = f"FAILED ({seconds:.0f} s): " + "; ".join(
                        f"code cell {i}: {o['ename']}: {ANSI.sub('', o['evalue'])[:150]} at "
                        f"{_failing_line(o)}" for i, o in errors)
            except CellExecutionError as exc:
                lines = [l for l in ANSI.sub("", str(exc)).splitlines() if l.strip()]
                result = "FAILED: " + " | ".join(lines[-3:])[:600]
            report.setdefault(Path(path).name, {})[shift] = result
            print(f"{Path(path).name} shift {shift}: {result}", flush=True)
    return report


def _failing_line(error: dict) -> str:
    """The source line an error output's traceback points at (the line after "---->")."""
    for line in (ANSI.sub("", "\n".join(error.get("traceback", [])))).splitlines():
        if line.lstrip().startswith("--->"):
            return line.split("--->", 1)[1].strip()[:150]
    return "?"


def classify(committed, runs: list, sanitize) -> list[dict]:
    """For each code cell of ``committed`` (a notebook) against the same cells of ``runs``: what
    nbval may compare. Returns one dict per code cell: index, kind ("exact", "approx", "words",
    "ignored") and, for "approx", the tolerance of each number."""
    cells = []
    code = [c for c in committed.cells if c.cell_type == "code"]
    others = [[c for c in nb.cells if c.cell_type == "code"] for nb in runs]
    for i, cell in enumerate(code):
        tags = cell.metadata.get("tags", [])
        entry = {"index": i, "source": cell.source.splitlines()[0][:60] if cell.source else ""}
        if IGNORE in tags:
            cells.append(entry | {"kind": "ignored"})
            continue
        ref = compared_texts(cell.get("outputs", []), sanitize)
        shifted = [compared_texts(o[i].get("outputs", []), sanitize) for o in others]
        if all(s == ref for s in shifted):
            cells.append(entry | {"kind": "exact"})
        elif all(same_form(ref, s) for s in shifted):
            base = [float(n) for n in numbers(ref)]
            moved = [max(abs(float(n) - b) for n in column) for b, column in
                     zip(base, zip(*[numbers(s) for s in shifted]))]
            cells.append(entry | {"kind": "approx", "tolerance": [float(f"{FACTOR * m:.3g}") for m in moved]})
        else:
            cells.append(entry | {"kind": "words"})
    return cells


def tolerances(notebooks: list[Path], out: Path = OUT, write: bool = False, root: Path | None = None) -> dict:
    """:func:`classify` every notebook against its runs under ``out``; with ``write``, tag the
    cells and record their tolerances. Returns {notebook: cells}."""
    import nbformat

    from tutorial_lib.tools.book import find_root

    root = root or find_root()
    sanitize = _sanitizer(root)
    result = {}
    for path in notebooks:
        path = Path(path)
        runs = sorted(out.glob(f"shift-*/{path.name}"))
        if not runs:
            raise SystemExit(f"no runs of {path.name} under {out}: run `make robust` first")
        nb = nbformat.read(path, as_version=4)
        cells = classify(nb, [nbformat.read(r, as_version=4) for r in runs], sanitize)
        result[path.name] = cells
        code = [c for c in nb.cells if c.cell_type == "code"]
        for entry in cells:
            cell = code[entry["index"]]
            tags = cell.metadata.setdefault("tags", [])
            if entry["kind"] == "approx":
                if APPROX not in tags:
                    tags.append(APPROX)
                cell.metadata[TOLERANCE] = entry["tolerance"]
            elif entry["kind"] == "exact":
                if APPROX in tags:
                    tags.remove(APPROX)
                cell.metadata.pop(TOLERANCE, None)
            if not tags:
                del cell.metadata["tags"]
        counts = {k: sum(e["kind"] == k for e in cells) for k in ("exact", "approx", "words", "ignored")}
        print(f"{path.name} ({len(runs)} runs): " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        for e in cells:
            if e["kind"] == "words":
                print(f"    code cell {e['index']} changes its words with the seed: {e['source']!r}")
        if write:
            nbformat.write(nb, path)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.tools.robust", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute the notebooks with every seed shifted")
    r.add_argument("notebooks", nargs="+", type=Path)
    r.add_argument("--shifts", nargs="+", type=int, default=[1000, 2000, 3000])
    r.add_argument("--out", type=Path, default=OUT)
    r.add_argument("--keep-going", action="store_true", help="run every cell after a failure, name them all")
    t = sub.add_parser("tolerances", help="what nbval may compare, from those runs")
    t.add_argument("notebooks", nargs="+", type=Path)
    t.add_argument("--out", type=Path, default=OUT)
    t.add_argument("--write", action="store_true", help="write tags and tolerances into the notebooks")
    args = parser.parse_args(argv)
    if args.command == "run":
        report = run(args.notebooks, args.shifts, args.out, args.keep_going)
        failed = [f"{name} (shift {s})" for name, runs in report.items() for s, r in runs.items()
                  if not r.startswith("ok")]
        print("every claim held at every shift" if not failed else "failed: " + ", ".join(failed))
        return 1 if failed else 0
    tolerances(args.notebooks, args.out, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
