"""The book's pretrained character GPT: build it once, ship it, load it offline (chapter 7).

Chapters 8-11 start from a small decoder-only transformer pretrained on the corpus. Training it
takes minutes, so the project trains it once with ``python -m tutorial_lib.pretrained build``
and ships the result inside the package, in ``tutorial_lib/data/``:

- ``gpt_char.pt``    the weights (a plain state dict, loadable with ``weights_only=True``)
- ``gpt_char.json``  a manifest: the config, the tokenizer's characters, the validation loss it
  reached, the corpus fingerprint, the training settings, and the SHA-256 of ``gpt_char.pt``

``load()`` checks the file against the manifest and the manifest against the code; anything
wrong gives a :class:`CheckpointError` that says what, and how to rebuild. Nothing is ever
downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from tutorial_lib import data, train, utils
from tutorial_lib.transformer import GPT, TransformerConfig

__all__ = ["BuildConfig", "CheckpointError", "DATA_DIR", "build", "load", "checkpoint_paths"]

DATA_DIR = Path(__file__).parent / "data"
NAME = "gpt_char"
REBUILD = "python -m tutorial_lib.pretrained build"


class CheckpointError(RuntimeError):
    """The shipped checkpoint is missing, corrupt or does not match this code."""


@dataclass
class BuildConfig:
    """How the shipped model is trained (chapter 7)."""

    n_layer: int = 4  # transformer layers
    n_head: int = 4  # attention heads per layer
    n_embd: int = 128  # model width C
    block_size: int = 128  # context length in characters
    dropout: float = 0.1  # on the residual branches: the corpus is small (~420k training chars)
    steps: int = 3000  # AdamW updates
    batch_size: int = 32  # windows per batch
    lr: float = 3e-3  # peak learning rate (warm-up, then cosine decay)
    warmup: int = 100  # warm-up steps
    weight_decay: float = 0.1  # AdamW weight decay on the weight matrices
    seed: int = 0  # seeds the weights and the batches

    def model_config(self, vocab_size: int) -> TransformerConfig:
        return TransformerConfig(vocab_size, block_size=self.block_size, n_layer=self.n_layer,
                                 n_head=self.n_head, n_embd=self.n_embd, dropout=self.dropout)


def checkpoint_paths(directory: Path | str | None = None) -> tuple[Path, Path]:
    """(weights, manifest) paths in ``directory`` (default: the package's data folder)."""
    d = Path(directory) if directory is not None else DATA_DIR
    return d / f"{NAME}.pt", d / f"{NAME}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(config: BuildConfig | None = None, directory: Path | str | None = None,
          progress: bool | None = None) -> dict:
    """Train the GPT on the corpus and write the checkpoint and its manifest (chapter 7).

    Deterministic for a given config, torch version and machine type (seeded weights and
    batches). Returns the manifest. Takes about 18 minutes on 2 CPU cores with the default
    config.
    """
    config = config or BuildConfig()
    chars = data.load_char_data()
    tok = chars.tokenizer
    utils.set_seed(config.seed)
    model = GPT(config.model_config(tok.vocab_size))
    gen = torch.Generator().manual_seed(config.seed)

    def get_batch(split: str):
        return data.get_batch(chars.train if split == "train" else chars.val, config.batch_size,
                              config.block_size, generator=gen)

    decay = [p for n, p in model.named_parameters() if p.ndim == 2]  # matrices (and embeddings)
    rest = [p for n, p in model.named_parameters() if p.ndim != 2]  # biases, LayerNorm
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=config.lr)
    run = train.TrainConfig(steps=config.steps, lr=config.lr, warmup=min(config.warmup, config.steps // 10),
                            eval_every=max(1, config.steps // 10), eval_batches=10, progress=progress)
    start = time.perf_counter()
    history = train.train(model, get_batch, run, optimizer=optimizer)
    val = train.split_cross_entropy(model, chars.val, block_size=config.block_size)
    weights, manifest_path = checkpoint_paths(directory)
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights)
    manifest = {
        "build": asdict(config),
        "model": asdict(config.model_config(tok.vocab_size)),
        "chars": "".join(tok.chars),
        "val_nats_per_char": round(val, 6),
        "corpus_fingerprint": data.corpus_fingerprint(chars.text),
        "train_seconds": round(time.perf_counter() - start, 1),
        "val_curve": [[s, round(v, 4)] for s, v in zip(history.val_steps, history.val_loss)],
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "sha256": _sha256(weights),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def load(directory: Path | str | None = None, device: torch.device | str | None = None,
         retrain: bool = False, config: BuildConfig | None = None) -> tuple[GPT, data.CharTokenizer, dict]:
    """The shipped GPT in eval mode, its tokenizer and its manifest (chapter 7).

    Raises :class:`CheckpointError` when a file is missing, the weights do not match the
    manifest's SHA-256 (a truncated or altered file), or the weights do not fit the config;
    with ``retrain=True`` it instead says what is wrong, rebuilds the checkpoint with
    :func:`build` (``config``, default :class:`BuildConfig`; a progress bar shows the training)
    and loads that. Warns (and still loads) when this Python's corpus differs from the one the
    model was trained on.
    """
    try:
        return _load(directory, device)
    except CheckpointError as exc:
        if not retrain:
            raise
        print(f"{exc}\nRebuilding it now.", file=sys.stderr)
        build(config, directory)
        return _load(directory, device)


def _load(directory: Path | str | None, device: torch.device | str | None) -> tuple[GPT, data.CharTokenizer, dict]:
    weights, manifest_path = checkpoint_paths(directory)
    for path in (weights, manifest_path):
        if not path.is_file():
            raise CheckpointError(f"the pretrained model's file {path} is missing; rebuild it with `{REBUILD}` "
                                  "(about 18 minutes on 2 CPU cores)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        model_config = TransformerConfig(**manifest["model"])
        chars = manifest["chars"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{manifest_path} is not a valid manifest ({exc}); rebuild with `{REBUILD}`") from None
    if _sha256(weights) != manifest.get("sha256"):
        raise CheckpointError(f"{weights} does not match the SHA-256 recorded in {manifest_path.name}: the file "
                              f"is truncated or altered; rebuild it with `{REBUILD}`")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model = GPT(model_config)
        model.load_state_dict(state)
    except Exception as exc:  # a pickle or shape error, said in one line
        raise CheckpointError(f"{weights} could not be loaded into the GPT of {manifest_path.name} "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0]}); rebuild with `{REBUILD}`") from None
    tokenizer = data.CharTokenizer(chars)
    text = data.load_corpus()
    if data.corpus_fingerprint(text) != manifest.get("corpus_fingerprint"):
        warnings.warn("this Python's corpus (pydoc_data.topics) differs from the one the model was trained on; "
                      "its validation loss here will differ a little from the recorded "
                      f"{manifest.get('val_nats_per_char')}", stacklevel=2)
    model.eval()
    if device is not None:
        model.to(device)
    return model, tokenizer, manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.pretrained",
                                     description="Build or check the book's pretrained character GPT.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="train the GPT and write tutorial_lib/data/gpt_char.{pt,json}")
    b.add_argument("--steps", type=int, default=BuildConfig.steps)
    b.add_argument("--dir", type=Path, default=None, help="where to write (default: the package's data)")
    sub.add_parser("check", help="load the shipped model and print its manifest's numbers")
    args = parser.parse_args(argv)
    if args.command == "build":
        manifest = build(BuildConfig(steps=args.steps), args.dir)
        print(f"validation: {manifest['val_nats_per_char']:.4f} nats/char after {args.steps} steps, "
              f"{manifest['train_seconds']:.0f} s; wrote {checkpoint_paths(args.dir)[0]}")
        return 0
    model, _, manifest = load()
    print(f"{utils.count_parameters(model):,} parameters; validation {manifest['val_nats_per_char']:.4f} "
          f"nats/char ({math.exp(manifest['val_nats_per_char']):.2f} perplexity)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
