"""tutorial_lib.tools.bench (``make bench``): each measurement on small sizes, the report, the file."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tutorial_lib.tools import bench
from tutorial_lib.transformer import TransformerConfig


def test_the_matmul_peak():
    assert 1e8 < bench.matmul_peak(n=128, repeats=3) < 1e14  # FLOP/s of any CPU or GPU host
    with pytest.raises(ValueError, match="n must be a positive integer"):
        bench.matmul_peak(n=0)


def test_gpt_step_counts_flops_by_7_4():
    from tutorial_lib import compute
    from tutorial_lib.transformer import GPT

    config = TransformerConfig(20, block_size=16, n_layer=1, n_head=2, n_embd=16)
    g = bench.gpt_step(config, batch_size=4, context=16, steps=3)
    per_token = compute.training_flops_per_token(GPT(config), 16)
    assert g["flops_per_s"] == pytest.approx(per_token * 4 * 16 / (g["step_ms"] / 1000))
    assert g["weights"] == sum(p.numel() for p in GPT(config).parameters())


def test_module_ratios_cover_every_from_scratch_module():
    ratios = bench.module_ratios(repeats=1)
    assert set(ratios) == {"RNN (eq. 2.1)", "LSTM (4.1-4.6)", "GRU (4.7-4.10)", "attention (6.1)",
                           "multi-head attention (6.2)"}
    for m in ratios.values():
        assert m["ratio"] == pytest.approx(m["ours_ms"] / m["pytorch_ms"]) and m["ratio"] > 0


def test_notebooks_are_timed_without_touching_them(tmp_path):
    path = tmp_path / "tiny.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = sum(range(10))\nprint(x)")]), path)
    before = path.read_bytes()
    times = bench.time_notebooks([path], repeats=2, factor=2.0)
    assert path.read_bytes() == before  # executed, not saved
    entry = times["tiny.ipynb"]
    assert len(entry["runs_s"]) == 2 and entry["median_s"] > 0 and entry["over_budget"] is False
    assert entry["scaled_s"] == pytest.approx(2 * entry["median_s"])


def test_times_are_scaled_to_the_reference_machine():
    assert bench.scale(300e9) == pytest.approx(2.0)  # twice the reference's peak: 60 s here is 120 s there
    assert bench.scale(bench.REFERENCE_PEAK) == 1.0
    with pytest.raises(ValueError, match="peak must be a positive number"):
        bench.scale(0)


def test_the_report_flags_what_is_over_budget(tmp_path):
    result = {"torch": "x", "threads": 2, "matmul_peak_flops": 100e9, "reference_peak_flops": 150e9,
              "scale": 100 / 150, "gpt_steps": {"small": {"step_ms": 10.0, "flops_per_s": 30e9, "fraction_of_peak": 0.3},
                            "big": {"step_ms": 10.0, "flops_per_s": 50e9, "fraction_of_peak": 0.5}},
              "modules": {"RNN (eq. 2.1)": {"ours_ms": 2.0, "pytorch_ms": 1.0, "ratio": 2.0}},
              "notebooks": {"a.ipynb": {"median_s": 150.0, "scaled_s": 100.0, "over_budget": True},
                            "b.ipynb": {"median_s": 20.0, "scaled_s": 13.3, "over_budget": False}},
              "total_s": 170.0, "total_scaled_s": 113.3, "book_over_budget": False}
    table = bench.format_table(result)
    assert "30% of peak  (below 40%)" in table and "50% of peak\n" in table
    assert "a.ipynb" in table and "OVER" in table.splitlines()[-3] and "(2.0x)" in table
    assert "150.0 s   100.0 s  OVER" in table and "x 0.67" in table
    assert table.splitlines()[-1].strip().startswith("total") and "ok (budget 600 s scaled)" in table


def test_main_writes_the_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "module_ratios", lambda repeats=5: {})
    monkeypatch.setattr(bench, "gpt_step", lambda config, b, t, steps=10: {
        "weights": 1, "batch": b, "context": t, "step_ms": 1.0, "flops_per_s": 1e9})
    out = tmp_path / "bench.json"
    assert bench.main(["--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["notebooks"] == {} and result["matmul_peak_flops"] > 0
    assert all("fraction_of_peak" in g for g in result["gpt_steps"].values())
    assert "fp32 matmul peak" in capsys.readouterr().out
