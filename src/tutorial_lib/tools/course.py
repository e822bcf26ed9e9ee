"""The book as a course: what each chapter's card says, which chapters it needs, its exercises.

Instructors plan with this. Everything is read from the notebooks themselves (the chapter card
of each: learning objectives, prerequisites, run time; the exercise directives; the checkers
the solutions call), so the instructors' page cannot drift from the chapters:

``python -m tutorial_lib.tools.course``
    write ``book/instructors.md`` (a table of the chapters and each chapter's objectives) and
    ``book/images/chapter_graph.png`` (the chapter dependency graph); a test checks that the
    committed page is what this writes.

Needs ``nbformat`` (the book's requirements), imported lazily like ``tutorial_lib.tools.book``.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

PAGE = Path("book") / "instructors.md"
GRAPH = Path("book") / "images" / "chapter_graph.png"


@dataclass
class Chapter:
    """One chapter as its notebook presents it."""

    number: int
    title: str
    path: Path
    objectives: list[str]
    prerequisites: str  # the card's sentence, as written
    needs: list[int]  # the chapters the prerequisites name
    run_time: str  # the card's sentence, as written
    exercises: list[str] = field(default_factory=list)  # "9.1: a LoRA layer by hand", ...
    checked: list[str] = field(default_factory=list)  # the exercises whose solution calls a checker
    points: dict[str, tuple[int, int]] = field(default_factory=dict)  # "9.1" -> (points, minutes)


def _card_field(card: str, name: str, path: Path) -> str:
    m = re.search(rf"\*\*{name}\.\*\*(.*?)(?:\n\s*\n|\n::::)", card, re.S)
    if not m:
        raise ValueError(f"{path.name}: the chapter card has no **{name}.** paragraph")
    return " ".join(m.group(1).split())


def read_chapter(path: Path) -> Chapter:
    """The :class:`Chapter` of the notebook at ``path``: title from its first cell, the rest
    from its chapter card and its ``{exercise}`` directives."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    m = re.match(r"#\s*(\d+)\.\s*(.+)", nb.cells[0].source)
    if not m:
        raise ValueError(f"{path.name}: the first cell must be the title '# N. Title'")
    cards = [c.source for c in nb.cells if c.cell_type == "markdown" and "Chapter card" in c.source]
    if len(cards) != 1:
        raise ValueError(f"{path.name}: expected one chapter card, found {len(cards)}")
    card = cards[0]
    objectives_block = card.split("**Learning objectives.**", 1)[-1].split("**Prerequisites.**", 1)[0]
    objectives = [" ".join(o.split()) for o in re.findall(r"^- (.*?)(?=^- |\Z)", objectives_block, re.S | re.M)]
    prerequisites = _card_field(card, "Prerequisites", path)
    named = re.findall(r"[Cc]hapters? (\d+(?:(?:, | and | to |-|–)\d+)*)", prerequisites)
    needs = sorted({int(n) for group in named for n in re.findall(r"\d+", group)})
    chapter = Chapter(int(m.group(1)), m.group(2).strip(), path, objectives, prerequisites, needs,
                      _card_field(card, "Run time", path))
    current = None
    for cell in nb.cells:
        e = re.search(r"```\{exercise\}\s*(.+)", cell.source)
        if cell.cell_type == "markdown" and e:
            current = e.group(1).strip()
            chapter.exercises.append(current)
        elif cell.cell_type == "code" and current and re.search(r"exercises\.check_\w+\(", cell.source):
            if current not in chapter.checked:
                chapter.checked.append(current)
    chapter.points = _points(_card_field(card, "Exercises", path), chapter, path)
    return chapter


def _points(text: str, chapter: Chapter, path: Path) -> dict[str, tuple[int, int]]:
    """The card's "**Exercises.** 9.1: 2 points, about 15 minutes; ..." as {"9.1": (2, 15)};
    it must name every exercise of the chapter once, in order, and no other."""
    found = re.findall(r"(\d+\.\d+): (\d+) points?, about (\d+) minutes", text)
    points = {number: (int(p), int(m)) for number, p, m in found}
    numbers = [e.split(":")[0] for e in chapter.exercises]
    if [number for number, _, _ in found] != numbers:
        raise ValueError(f"{path.name}: the card's **Exercises.** paragraph gives points to "
                         f"{[n for n, _, _ in found]}, but the chapter's exercises are {numbers}")
    return points


def read_chapters(root: Path) -> list[Chapter]:
    """Every chapter of the book at ``root``, in order; each must need only earlier chapters."""
    chapters = [read_chapter(p) for p in sorted((root / "notebooks").glob("*.ipynb"))]
    for ch in chapters:
        if any(n >= ch.number for n in ch.needs):
            raise ValueError(f"chapter {ch.number} needs chapters {ch.needs}: prerequisites come earlier")
    return chapters


def plot_graph(chapters: list[Chapter], path: Path) -> Path:
    """Draw the dependency graph as an arc diagram, the chapters in order along a line and an
    arrow from each prerequisite to the chapter that needs it (an arc when it skips chapters),
    and save it as a PNG at ``path``."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    from tutorial_lib import plots

    x = {ch.number: i for i, ch in enumerate(chapters)}
    fig, ax = plots.new_figure(figsize=(1.35 * len(chapters) + 0.5, 4.2))
    for ch in chapters:
        for n in ch.needs:
            skip = x[ch.number] - x[n]
            ax.annotate("", xy=(x[ch.number], 0.12 if skip > 1 else 0), xytext=(x[n], 0.12 if skip > 1 else 0),
                        arrowprops=dict(arrowstyle="-|>", color="0.45", lw=1.1, shrinkA=6 if skip > 1 else 40,
                                        shrinkB=6 if skip > 1 else 40,
                                        connectionstyle=f"arc3,rad={-0.35 if skip > 1 else 0}"))
    for ch in chapters:
        lines = textwrap.wrap(ch.title, 13)
        label = "\n".join([f"{ch.number}."] + lines[:4]) + ("…" if len(lines) > 4 else "")
        ax.text(x[ch.number], 0, label, ha="center", va="top", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc=plots.PALETTE[0], ec="none", alpha=0.15))
    ax.set_xlim(-0.6, len(chapters) - 0.4)
    ax.set_ylim(-0.75, 1.25)
    ax.set_axis_off()
    ax.set_title("Which chapters each chapter needs: each arrow ends at the chapter that needs it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    return path


def instructors_page(chapters: list[Chapter]) -> str:
    """The Markdown of ``book/instructors.md`` for ``chapters``."""
    lines = [
        "# For instructors",
        "",
        "<!-- Written by `python -m tutorial_lib.tools.course` from the chapters' cards; edit the",
        "     notebooks, then run it again (a test checks this page is up to date). -->",
        "",
        "Each chapter states its objectives, prerequisites and run time, and ends with exercises,",
        "their solutions hidden behind a toggle in the book. `make student` writes the notebooks",
        "to hand out into `_build/student/`: every cell tagged `solution` removed (nbconvert's",
        "`TagRemovePreprocessor`) and every output cleared. Exercises marked ✓ come with a",
        "checker from `tutorial_lib.exercises` that tells the learner what is wrong.",
        "",
        "Each card also gives every exercise its points and our estimate of a learner's time",
        f"({sum(p for ch in chapters for p, _ in ch.points.values())} points and about "
        f"{round(sum(m for ch in chapters for _, m in ch.points.values()) / 60)} hours for the whole book).",
        "",
        "The run times are on a 2-core laptop CPU, as each chapter's card states them. Every",
        "chapter also picks up a GPU by itself (CUDA, then Apple MPS), but the GPU times have",
        "not been measured yet.",
        "",
        "## The chapters",
        "",
        "| Chapter | Needs | Run time (2-core CPU) | Exercises to assign (✓ auto-checked; points, minutes) |",
        "|---|---|---|---|",
    ]
    for ch in chapters:
        needs = ", ".join(str(n) for n in ch.needs) or "—"
        seconds = re.search(r"[Aa]bout (\d+) s\b", ch.run_time)
        runtime = f"about {seconds.group(1)} s" if seconds else ch.run_time
        exercises = "; ".join(
            f"{e}{' ✓' if e in ch.checked else ''} ({ch.points[e.split(':')[0]][0]} pt, "
            f"~{ch.points[e.split(':')[0]][1]} min)" for e in ch.exercises)
        doc = f"{{doc}}`{ch.number}. {ch.title} <../notebooks/{ch.path.stem}>`"
        lines.append(f"| {doc} | {needs} | {runtime} | {exercises} |")
    lines += [
        "",
        "## How the chapters depend on each other",
        "",
        "```{figure} images/chapter_graph.png",
        ":alt: " + "; ".join(f"chapter {ch.number} needs {', '.join(map(str, ch.needs)) or 'nothing'}"
                             for ch in chapters),
        ":width: 100%",
        "",
        "The prerequisites each chapter's card names. A course can follow any order that keeps",
        "every arrow pointing forward.",
        "```",
        "",
        "## Objectives, chapter by chapter",
        "",
    ]
    for ch in chapters:
        lines += [f"### {ch.number}. {ch.title}", "", f"**Prerequisites.** {ch.prerequisites}", "",
                  "After this chapter a learner can", ""]
        lines += [f"- {o}" for o in ch.objectives] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write(root: Path) -> tuple[Path, Path]:
    """Write the instructors' page and the dependency graph of the book at ``root``."""
    chapters = read_chapters(root)
    page = root / PAGE
    page.write_text(instructors_page(chapters), encoding="utf-8")
    return page, plot_graph(chapters, root / GRAPH)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.tools.course", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="the book's root (default: found from here)")
    args = parser.parse_args(argv)
    from tutorial_lib.tools.book import find_root

    page, graph = write(args.root or find_root())
    print(f"wrote {page} and {graph}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
