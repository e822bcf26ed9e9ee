"""A pytest plugin for nbval: a cell tagged ``nbval-approx`` compares each number within its own
tolerance, measured.

Why: a notebook that trains a model prints numbers whose last digits depend on the CPU it runs on
(MKL's matrix products and ATen's vectorised reductions are chosen by instruction set and sum in
their own order; training amplifies the last bits), on the torch release, and on the seed. Those
move a run alike, so the seed spread measures how far a number may move: ``make robust`` runs
every notebook with its seeds shifted, and ``tutorial_lib.tools.robust`` records, in the metadata
of every cell whose numbers moved (and only its numbers), one tolerance per number
(``nbval_tolerance``): twice the most it moved.

A tagged cell still runs, still fails on any error or failed assert, and its outputs must keep
their kinds, count, words and number formats; number ``i`` may differ from the committed one by
its tolerance plus one unit of its last printed digit. Every other cell is compared exactly, as
nbval does; ``nbval-ignore-output`` cells are not compared (their claims are held by asserts).

Loaded with ``-p tests.nbval_tolerance`` (the Makefile's `test` and `nbval` targets).
"""

from tutorial_lib.tools.robust import APPROX, NUMBER, TOLERANCE, compared_texts, numbers, same_form, unit

TAG = APPROX


def numbers_close(ref: str, test: str, tolerance: float) -> bool:
    """Whether ``test`` is within ``tolerance`` plus one printed unit of ``ref`` (printed alike)."""
    return abs(float(ref) - float(test)) <= tolerance + unit(ref) * (1 + 1e-9)


def outputs_close(item, test, ref, tolerances: list[float]) -> str | None:
    """None if ``test`` matches ``ref`` up to the numbers' tolerances, else why not."""
    skip = item.parent.skip_compare
    got, want = compared_texts(test, item.sanitize, skip), compared_texts(ref, item.sanitize, skip)
    if not same_form(want, got):
        return "the text around the numbers, their count or their format changed"
    wanted, gotten = numbers(want), numbers(got)
    if len(tolerances) != len(wanted):
        return (f"{len(tolerances)} tolerances are recorded for {len(wanted)} numbers: run `make robust` and "
                "`python -m tutorial_lib.tools.robust tolerances --write`")
    far = [(w, g, t) for w, g, t in zip(wanted, gotten, tolerances) if not numbers_close(w, g, t)]
    if far:
        return "; ".join(f"{g} where the notebook has {w} (tolerance {t:g} + one printed unit)" for w, g, t in far[:5])
    return None


def pytest_configure(config):
    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell.compare_outputs, "tolerant", False):
        return  # already wrapped (the plugin was imported twice)
    exact = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        if exact(self, test, ref, skip_compare):
            return True
        metadata = self.cell.get("metadata", {})
        if TAG not in metadata.get("tags", []):
            return False
        why = outputs_close(self, test, ref, metadata.get(TOLERANCE, []))
        if why is None:
            self.comparison_traceback = []
            return True
        self.comparison_traceback.append(f"(tagged {TAG}: {why})")
        return False

    compare_outputs.tolerant = True
    IPyNbCell.compare_outputs = compare_outputs


__all__ = ["NUMBER", "numbers_close", "outputs_close"]
