"""A pytest plugin for nbval: cells tagged ``nbval-approx`` compare their numbers with a tolerance.

Why: a notebook that trains a model for hundreds of steps prints losses whose third digit
depends on the CPU it ran on. PyTorch's CPU kernels (MKL's matrix products, ATen's vectorised
reductions) are chosen by instruction set (AVX2, AVX-512, ...), each sums in its own order, and
training amplifies those last-bit differences (PyTorch's reproducibility notes: results are not
guaranteed across platforms). The outputs are deterministic on one machine, not across machines:
chapter 7 printed 1.408 nats/char here and 1.411 on CI's machine.

So a cell tagged ``nbval-approx`` still runs, still fails on any error or failed assert, and its
outputs must still have the same kinds, the same count and the same text (up to the padding
of aligned columns); only the numbers in the text may differ, each by at most ``REL_TOL`` of
its size plus one unit of its last printed digit (1.408 vs 1.411 passes; 1.408 vs 1.470 does
not; "3% lower" vs "4% lower" passes). 3% covers, with a margin, the most that forcing other
kernels (``MKL_CBWR=AVX2 ATEN_CPU_CAPABILITY=avx2``, ``MKL_CBWR=AVX``) moved a number in a
tagged cell: 2.4%. Every untagged cell is compared exactly, as nbval does.

Loaded with ``-p tests.nbval_tolerance`` (the Makefile's `test` and `nbval` targets).
"""

import re
from collections import defaultdict

TAG = "nbval-approx"
REL_TOL = 0.03

# A number not glued to a word or to another number: "1.411", "-0.5", "2e-05"; in "2-8" the
# "-" is a dash, in "3x96" the "96" is part of a word.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _digits(number: str) -> tuple[int, int]:
    """(decimals, exponent) as printed: (3, 0) for "1.411", (0, 0) for "4", (1, -5) for "2.0e-05"."""
    mantissa, _, exponent = number.lower().partition("e")
    return len(mantissa.partition(".")[2]), int(exponent or 0)


def numbers_close(ref: str, test: str, rel: float = REL_TOL) -> bool:
    """Whether two numbers printed alike agree within ``rel`` of their size plus one printed unit.

    Printed alike: as many decimals ("1.5" against "1.411" is a changed format, not a drift).
    """
    (decimals, exponent), (test_decimals, _) = _digits(ref), _digits(test)
    if decimals != test_decimals:
        return False
    unit = 10.0 ** (exponent - decimals)  # one unit of the last printed digit
    a, b = float(ref), float(test)
    return abs(a - b) <= rel * max(abs(a), abs(b)) + unit * (1 + 1e-9)


def _words(text: str) -> list[str]:
    """The text between the numbers, runs of spaces as one: a right-aligned column that goes
    from 99% to 100% loses a space of padding, not a word."""
    return [re.sub(r"[ \t]+", " ", part) for part in NUMBER.split(text)]


def texts_close(ref: str, test: str, rel: float = REL_TOL) -> bool:
    """Whether two texts are the same apart from numbers that are close (see numbers_close)."""
    if _words(ref) != _words(test):
        return False  # the words, the lines or the count of numbers changed
    return all(numbers_close(a, b, rel) for a, b in zip(NUMBER.findall(ref), NUMBER.findall(test)))


def _flatten(item, outputs, skip):
    """nbval's view of a cell's outputs: {output field or MIME type: [sanitized values]}."""
    from nbval.plugin import transform_streams_for_comparison

    flat = defaultdict(list)
    for out in transform_streams_for_comparison(outputs):
        for key, value in out.items():
            if key in skip:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in skip:
                        flat[mime].append(item.sanitize(data))
            else:
                flat[key].append(item.sanitize(value))
    return flat


def outputs_close(item, test, ref) -> bool:
    """Same fields, same number of outputs, texts equal up to close numbers."""
    skip = item.parent.skip_compare
    got, want = _flatten(item, test, skip), _flatten(item, ref, skip)
    if got.keys() != want.keys():
        return False
    for key, values in want.items():
        if len(got[key]) != len(values):
            return False
        for w, g in zip(values, got[key]):
            if w != g and not (isinstance(w, str) and isinstance(g, str) and texts_close(w, g)):
                return False
    return True


def pytest_configure(config):
    from nbval.plugin import IPyNbCell

    if getattr(IPyNbCell.compare_outputs, "tolerant", False):
        return  # already wrapped (the plugin was imported twice)
    exact = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        if exact(self, test, ref, skip_compare):
            return True
        if TAG not in self.cell.get("metadata", {}).get("tags", []):
            return False
        if outputs_close(self, test, ref):
            self.comparison_traceback = []
            return True
        self.comparison_traceback.append(
            f"(tagged {TAG}: numbers may differ by {REL_TOL:.0%} plus one printed unit; "
            "these differ by more, or the text around them changed)"
        )
        return False

    compare_outputs.tolerant = True
    IPyNbCell.compare_outputs = compare_outputs
