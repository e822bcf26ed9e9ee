"""``make bench``: how long the book takes, and how close its training runs to the machine.

``python -m tutorial_lib.tools.bench`` (not part of ``make test``) measures, on the machine it runs on:

- the wall time of every notebook, executed in a fresh kernel ``repeats`` times (median), against
  the 90 s budget of DESIGN.md, and the total against 10 minutes;
- the fp32 matrix-multiply peak (``matmul_peak``), and the training-step throughput of chapter 7's
  GPTs in model FLOPs per second by (7.4), as a fraction of that peak (``gpt_step``);
- each from-scratch module against PyTorch's own, forward and backward, as a time ratio
  (``module_ratios``): what the teaching versions cost.

It prints a table and writes ``_build/bench.json`` so that runs can be compared. The notebooks
are executed without saving: the committed outputs stay as they are.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tutorial_lib import compute, data, gates, rnn, transformer
from tutorial_lib.attention import dot_product_attention
from tutorial_lib.transformer import GPT, TransformerConfig
from tutorial_lib.utils import time_call

__all__ = ["NOTEBOOK_BUDGET_S", "BOOK_BUDGET_S", "PEAK_FRACTION", "matmul_peak", "gpt_step",
           "module_ratios", "time_notebooks", "run"]

NOTEBOOK_BUDGET_S = 90.0  # each notebook on 2 CPU cores (DESIGN.md)
BOOK_BUDGET_S = 600.0  # the whole book
PEAK_FRACTION = 0.40  # a transformer training step should reach this share of the matmul peak


def matmul_peak(n: int = 1024, repeats: int = 10) -> float:
    """fp32 FLOPs per second of an (n, n) @ (n, n) product on the CPU: 2 n³ FLOPs over the
    median of ``repeats`` runs. On a shared 2-core machine this varies from run to run by about
    a fifth, so :func:`run` measures it next to the training steps it is compared with."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    return 2 * n**3 / time_call(lambda: a @ b, repeats=repeats, warmup=2)


def gpt_step(config: TransformerConfig, batch_size: int, context: int, steps: int = 10) -> dict:
    """Model FLOPs per second of one AdamW training step of a GPT (forward, backward, update)
    on random ids: (7.4) x tokens / median step time. Returns the numbers in a dict."""
    torch.manual_seed(0)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, config.vocab_size, (batch_size, context), generator=g)
    y = torch.randint(0, config.vocab_size, (batch_size, context), generator=g)

    def step() -> None:
        logits = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = time_call(step, repeats=steps, warmup=2)
    flops = compute.training_flops_per_token(model, context) * batch_size * context
    return {"weights": sum(p.numel() for p in model.parameters()), "batch": batch_size, "context": context,
            "step_ms": 1000 * seconds, "flops_per_s": flops / seconds}


def _fwd_bwd(module: Callable[[], torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        module().square().mean().backward()
    return run


def module_ratios(repeats: int = 5) -> dict[str, dict[str, float]]:
    """Forward + backward time of each from-scratch module and of PyTorch's own on the same
    weights and input (B 32, T 64, width 128): ours / theirs."""
    torch.manual_seed(0)
    B, T, C = 32, 64, 128
    x = torch.randn(B, T, C, requires_grad=True)
    pairs = {}
    theirs_rnn = nn.RNN(C, C, batch_first=True)
    ours_rnn = rnn.copy_from_torch(rnn.RNN(C, C, batch_first=True), theirs_rnn)
    pairs["RNN (eq. 2.1)"] = (lambda: ours_rnn(x)[0], lambda: theirs_rnn(x)[0])
    for name, ours_cls, theirs_cls in (("LSTM (4.1-4.6)", gates.LSTM, nn.LSTM), ("GRU (4.7-4.10)", gates.GRU, nn.GRU)):
        theirs = theirs_cls(C, C, batch_first=True)
        kwargs = {"reset": "after"} if ours_cls is gates.GRU else {}
        ours = gates.copy_from_torch(ours_cls(C, C, batch_first=True, **kwargs), theirs)
        pairs[name] = (lambda o=ours: o(x)[0], lambda t=theirs: t(x)[0])
    q = x.view(B, T, 4, C // 4).transpose(1, 2)  # (B, H, T, D)
    pairs["attention (6.1)"] = (lambda: dot_product_attention(q, q, q)[0],
                                lambda: F.scaled_dot_product_attention(q, q, q))
    theirs_mha = nn.MultiheadAttention(C, 4, batch_first=True)
    ours_mha = transformer.MultiHeadAttention(C, 4).copy_from_torch(theirs_mha)
    pairs["multi-head attention (6.2)"] = (lambda: ours_mha(x)[0], lambda: theirs_mha(x, x, x)[0])
    out = {}
    for name, (ours_fn, theirs_fn) in pairs.items():
        ours_s = time_call(_fwd_bwd(ours_fn), repeats=repeats)
        theirs_s = time_call(_fwd_bwd(theirs_fn), repeats=repeats)
        out[name] = {"ours_ms": 1000 * ours_s, "pytorch_ms": 1000 * theirs_s, "ratio": ours_s / theirs_s}
    return out


def time_notebooks(paths: list[Path], repeats: int = 3) -> dict[str, dict]:
    """Execute each notebook ``repeats`` times in a fresh kernel, unsaved: median and all times."""
    from tutorial_lib.tools.book import execute

    out = {}
    for path in paths:
        times = [execute(Path(path), write=False) for _ in range(repeats)]
        out[Path(path).name] = {"median_s": statistics.median(times), "runs_s": times,
                                "over_budget": statistics.median(times) > NOTEBOOK_BUDGET_S}
        print(f"  {Path(path).name}: {', '.join(f'{t:.1f}' for t in times)} s", file=sys.stderr, flush=True)
    return out


def run(notebooks: list[Path], repeats: int = 3, out: Path | None = Path("_build/bench.json")) -> dict:
    """Everything ``make bench`` measures; prints the table and writes ``out`` (if not None)."""
    vocab = data.load_char_data().tokenizer.vocab_size
    configs = {
        "chapter 7's GPT (3 x 96), batch 16 x 64": (
            TransformerConfig(vocab, block_size=64, n_layer=3, n_head=4, n_embd=96, dropout=0.0), 16, 64),
        "shipped GPT (4 x 128), batch 32 x 128": (
            TransformerConfig(vocab, block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.1), 32, 128),
    }
    # The peak and the steps are measured side by side, three times: on a shared machine both
    # drift together, and the median of the three ratios is what is reported.
    peaks, runs = [], {name: [] for name in configs}
    for _ in range(3):
        peaks.append(matmul_peak())
        for name, (config, batch, context) in configs.items():
            entry = gpt_step(config, batch, context)
            entry["fraction_of_peak"] = entry["flops_per_s"] / peaks[-1]
            runs[name].append(entry)
    peak = statistics.median(peaks)
    # the run with the median ratio (the middle of three)
    gpts = {name: sorted(entries, key=lambda e: e["fraction_of_peak"])[1] for name, entries in runs.items()}
    modules = module_ratios()
    books = time_notebooks(notebooks, repeats) if notebooks else {}
    total = sum(v["median_s"] for v in books.values())
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "matmul_peak_flops": peak,
              "gpt_steps": gpts, "modules": modules, "notebooks": books, "total_s": total,
              "book_over_budget": total > BOOK_BUDGET_S}
    print(format_table(result))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return result


def format_table(result: dict) -> str:
    """The report of :func:`run` as text."""
    lines = [f"torch {result['torch']}, {result['threads']} threads; "
             f"fp32 matmul peak {result['matmul_peak_flops'] / 1e9:.0f} GFLOP/s"]
    for name, g in result["gpt_steps"].items():
        flag = "" if g["fraction_of_peak"] >= PEAK_FRACTION else f"  (below {PEAK_FRACTION:.0%})"
        lines.append(f"  {name}: {g['step_ms']:.0f} ms/step, {g['flops_per_s'] / 1e9:.0f} GFLOP/s, "
                     f"{g['fraction_of_peak']:.0%} of peak{flag}")
    lines.append("from scratch vs PyTorch, forward + backward (B 32, T 64, width 128):")
    for name, m in result["modules"].items():
        lines.append(f"  {name:28s} {m['ours_ms']:8.1f} ms vs {m['pytorch_ms']:7.1f} ms  ({m['ratio']:.1f}x)")
    if result["notebooks"]:
        lines.append(f"{'notebook':34s} {'median':>8s}  budget {NOTEBOOK_BUDGET_S:.0f} s")
        for name, nb in result["notebooks"].items():
            lines.append(f"  {name:32s} {nb['median_s']:7.1f} s  {'OVER' if nb['over_budget'] else 'ok'}")
        flag = "OVER" if result["book_over_budget"] else "ok"
        lines.append(f"  {'total':32s} {result['total_s']:7.1f} s  {flag} (budget {BOOK_BUDGET_S:.0f} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: none)")
    parser.add_argument("--repeats", type=int, default=3, help="executions per notebook (median)")
    parser.add_argument("--out", type=Path, default=Path("_build/bench.json"))
    args = parser.parse_args(argv)
    result = run(args.notebooks, args.repeats, args.out)
    over = [n for n, v in result["notebooks"].items() if v["over_budget"]]
    if over or result["book_over_budget"]:
        print("over budget: " + ", ".join(over + (["the whole book"] if result["book_over_budget"] else [])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
