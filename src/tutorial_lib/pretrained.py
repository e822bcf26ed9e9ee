"""The book's pretrained character GPT: build it once, ship it, load it offline (chapter 7).

Chapters 8-11 start from a small decoder-only transformer pretrained on the corpus. Training it
takes minutes, so the project trains it once with ``python -m tutorial_lib.pretrained build``
and ships the result inside the package, in ``tutorial_lib/checkpoints/``:

- ``gpt_char.pt``    the weights (a plain state dict, loadable with ``weights_only=True``)
- ``gpt_char.json``  a manifest: the config, the tokenizer's characters, the validation loss it
  reached, the corpus fingerprint, the training settings, and the SHA-256 of ``gpt_char.pt``

``load()`` checks the file against the manifest and the manifest against the code; anything
wrong gives a :class:`CheckpointError` that says what, and how to rebuild. Nothing is ever
downloaded.

Chapter 7 also compares an RNN, an LSTM and a GPT trained on the same compute budget (7.4).
The GPT trains in the notebook; the two recurrent models are trained by
``python -m tutorial_lib.pretrained baselines`` (about 3 minutes) and shipped as
``budget_rnn.pt``, ``budget_lstm.pt`` and ``budget.json`` (the numbers of all three runs).
``load_baseline(name)`` loads one with the same checks; a test retrains them.

Chapter 8 watches in-context learning appear in a small GPT trained on sequences that each
follow their own hidden rule. Whether and when it appears depends on the seed, so
``python -m tutorial_lib.pretrained in-context`` (about 2 minutes) trains ``IN_CONTEXT_SEEDS``
and ships the first as ``in_context.pt``, with every seed's validation curve in
``in_context.json``; ``load_in_context()`` loads it; a test trains it again.

Chapter 10 starts from an instruction-following model: chapter 9's SFT recipe (the loss on the
responses, replayed reference text in every batch) trained for longer, by
``python -m tutorial_lib.pretrained sft`` (under a minute) into ``sft.pt`` and ``sft.json`` (its
follow rates on held-out words and its reference loss); ``load_sft()`` loads it; a test trains
it again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from tutorial_lib import compute, data, finetune, prompting, tasks, train, utils
from tutorial_lib.gates import RecurrentLM
from tutorial_lib.transformer import GPT, TransformerConfig

__all__ = ["BuildConfig", "CheckpointError", "CHECKPOINTS", "build", "load", "checkpoint_paths", "Baseline",
           "BASELINES", "BASELINE_SEEDS", "BUDGET_BATCH", "BUDGET_CONTEXT", "budget_flops", "baseline_model",
           "train_baseline",
           "build_baselines", "load_baseline", "InContextConfig", "IN_CONTEXT_SEEDS", "train_in_context",
           "build_in_context", "load_in_context", "SFTConfig", "train_sft", "build_sft", "load_sft"]

CHECKPOINTS = Path(__file__).parent / "checkpoints"
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
    d = Path(directory) if directory is not None else CHECKPOINTS
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
    gen = utils.generator(config.seed)

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
         retrain: bool = False, config: BuildConfig | None = None,
         tokenizer: data.CharTokenizer | None = None) -> tuple[GPT, data.CharTokenizer, dict]:
    """The shipped GPT in eval mode, its tokenizer and its manifest (chapter 7).

    Raises :class:`CheckpointError` when a file is missing, the weights do not match the
    manifest's SHA-256 (a truncated or altered file) or do not fit the config, or the model was
    trained with another tokenizer (``tokenizer``, default the book's) or on another corpus than
    the book's frozen one; with ``retrain=True`` it instead says what is wrong, rebuilds the
    checkpoint with :func:`build` (``config``, default :class:`BuildConfig`; a progress bar shows
    the training) and loads that.
    """
    try:
        return _load(directory, device, tokenizer)
    except CheckpointError as exc:
        if not retrain:
            raise
        print(f"{exc}\nRebuilding it now.", file=sys.stderr)
        build(config, directory)
        return _load(directory, device, tokenizer)


def _require(paths: tuple[Path, ...], rebuild: str, takes: str) -> None:
    for path in paths:
        if not path.is_file():
            raise CheckpointError(f"{path} is missing; rebuild it with `{rebuild}` ({takes})")


def _load_weights(model: torch.nn.Module, weights: Path, sha256: object, manifest_path: Path, what: str,
                  rebuild: str) -> torch.nn.Module:
    """Check ``weights`` against the manifest's SHA-256, then load them into ``model`` (weights
    only); any failure is a :class:`CheckpointError` that says what and how to rebuild."""
    if _sha256(weights) != sha256:
        raise CheckpointError(f"{weights} does not match the SHA-256 recorded in {manifest_path.name}: the file "
                              f"is truncated or altered; rebuild it with `{rebuild}`")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a state dict of tensors; PyTorch's advice to unpickle code does not apply
        raise CheckpointError(f"{weights} is not a readable state dict of tensors ({type(exc).__name__}); the file "
                              f"is damaged or is not a checkpoint of this book; rebuild it with `{rebuild}`") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # missing or unexpected keys, or shapes that do not fit: keep PyTorch's detail
        detail = "; ".join(line.strip() for line in str(exc).splitlines()[1:4] if line.strip())
        raise CheckpointError(f"{weights} does not fit {what} as {manifest_path.name} describes it ({detail}); "
                              f"the manifest and the weights come from different builds; rebuild with `{rebuild}`"
                              ) from None
    return model


def _check_text(manifest: dict, manifest_path: Path, chars: str, rebuild: str, corpus: bool = True) -> None:
    """The tokenizer and corpus a model was trained with (its manifest's ``chars`` and
    ``corpus_fingerprint``) against the ones it is given; a :class:`CheckpointError` says which
    differs, how, and how to rebuild."""
    trained = manifest.get("chars")
    if trained != chars:
        if not isinstance(trained, str):
            raise CheckpointError(f"{manifest_path} records no tokenizer characters; rebuild with `{rebuild}`")
        diff = sorted(set(trained) ^ set(chars))
        raise CheckpointError(
            f"{manifest_path}: the model was trained with a tokenizer of {len(trained)} characters and is given one "
            f"of {len(chars)} (differing in {''.join(diff)!r}); its token ids would mean other characters. Use "
            f"the book's tokenizer (data.load_char_data().tokenizer), or rebuild with `{rebuild}`")
    if corpus:
        book = data.corpus_fingerprint(data.load_corpus())
        if manifest.get("corpus_fingerprint") != book:
            raise CheckpointError(
                f"{manifest_path}: the model was trained on the corpus with fingerprint "
                f"{manifest.get('corpus_fingerprint')}, but the book's frozen corpus has fingerprint {book} "
                f"(tutorial_lib/corpus/); rebuild the model with `{rebuild}`")


def _read_manifest(weights: Path, manifest_path: Path, rebuild: str, takes: str,
                   fields: Callable[[dict], Any]) -> tuple[dict, Any]:
    """Both files present, the manifest parsed and ``fields(manifest)`` read from it; anything
    missing or malformed is a :class:`CheckpointError` that says how to rebuild."""
    _require((weights, manifest_path), rebuild, takes)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return manifest, fields(manifest)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{manifest_path} is not a valid manifest ({exc}); rebuild with `{rebuild}`") from None


def _load(directory: Path | str | None, device: torch.device | str | None,
          tokenizer: data.CharTokenizer | None = None) -> tuple[GPT, data.CharTokenizer, dict]:
    weights, manifest_path = checkpoint_paths(directory)
    manifest, model_config = _read_manifest(weights, manifest_path, REBUILD, "about 18 minutes on 2 CPU cores",
                                            lambda m: TransformerConfig(**m["model"]))
    _check_text(manifest, manifest_path, _book_chars(tokenizer), REBUILD)
    model = _load_weights(GPT(model_config), weights, manifest.get("sha256"), manifest_path,
                          f"the GPT of {manifest_path.name}", REBUILD)
    model.eval()
    if device is not None:
        model.to(device)
    return model, data.CharTokenizer(manifest["chars"]), manifest


def _book_chars(tokenizer: data.CharTokenizer | None) -> str:
    """The characters of ``tokenizer``, or of the book's own (the frozen corpus's) when None."""
    if tokenizer is None:
        tokenizer = data.load_char_data().tokenizer
    if not isinstance(tokenizer, data.CharTokenizer):
        raise TypeError(f"tokenizer must be a data.CharTokenizer or None, got {type(tokenizer).__name__}")
    return "".join(tokenizer.chars)


@dataclass(frozen=True)
class Baseline:
    """One model of chapter 7's equal-budget comparison (batches of BUDGET_BATCH x BUDGET_CONTEXT)."""

    kind: str  # "rnn", "lstm" (a gates.RecurrentLM) or "gpt" (a transformer.GPT)
    width: int  # hidden size d_h, or the GPT's width C
    lr: float  # peak learning rate, the best of two or three tried
    n_layer: int = 1  # GPT layers (4 heads each)


BUDGET_BATCH, BUDGET_CONTEXT = 16, 64  # windows per batch, characters per window
BUDGET_GPT_STEPS = 1200  # the budget is what these steps of the GPT cost, by (7.4)
BASELINES = {  # about 350k weights each
    "rnn": Baseline("rnn", 512, 2e-3),
    "lstm": Baseline("lstm", 256, 1e-2),
    "gpt": Baseline("gpt", 96, 6e-3, n_layer=3),
}
BASELINE_FILES = ("rnn", "lstm")  # shipped weights; the GPT trains in the notebook


def baseline_model(name: str, vocab_size: int) -> torch.nn.Module:
    """A freshly initialised model of ``BASELINES[name]`` (seed it first for reproducibility)."""
    if name not in BASELINES:
        raise ValueError(f"name must be one of {sorted(BASELINES)}, got {name!r}")
    b = BASELINES[name]
    if b.kind == "gpt":
        return GPT(TransformerConfig(vocab_size, block_size=BUDGET_CONTEXT, n_layer=b.n_layer, n_head=4,
                                     n_embd=b.width, dropout=0.0))
    return RecurrentLM(b.kind, vocab_size, hidden_size=b.width, embed_size=64)


def budget_flops(vocab_size: int) -> float:
    """The comparison's budget in FLOPs: BUDGET_GPT_STEPS steps of the GPT, by (7.4)."""
    per_token = compute.training_flops_per_token(baseline_model("gpt", vocab_size), BUDGET_CONTEXT)
    return BUDGET_GPT_STEPS * BUDGET_BATCH * BUDGET_CONTEXT * per_token


def train_baseline(name: str, chars: data.CharData | None = None, progress: bool | None = None,
                   evaluations: int = 12, device: torch.device | str | None = None, seed: int = 0,
                   stop_after: int | None = None) -> tuple[torch.nn.Module, train.History]:
    """Train ``BASELINES[name]`` on the budget (AdamW, 5% warm-up, cosine decay) from ``seed``
    (weights and batches) and return the model (eval mode) and its history; ``evaluations``
    validation points on the way; ``stop_after`` ends the run early (``train.train``). On a GPU
    (``device``) the numbers differ a little from the CPU's recorded ones."""
    chars = chars or data.load_char_data()
    vocab = chars.tokenizer.vocab_size
    utils.set_seed(seed)
    model = baseline_model(name, vocab).to(device or "cpu")
    per_token = compute.training_flops_per_token(model, BUDGET_CONTEXT)
    steps = compute.steps_for_budget(budget_flops(vocab), per_token, BUDGET_BATCH, BUDGET_CONTEXT)
    gen = utils.generator(seed)

    def get_batch(split: str):
        return data.get_batch(chars.train if split == "train" else chars.val, BUDGET_BATCH, BUDGET_CONTEXT,
                              generator=gen)

    config = train.TrainConfig(steps=steps, lr=BASELINES[name].lr, warmup=steps // 20,
                               eval_every=max(1, steps // evaluations), eval_batches=8, progress=progress)
    history = train.train(model, get_batch, config, stop_after=stop_after)
    return model.eval(), history


def _baseline_paths(directory: Path | str | None, name: str) -> tuple[Path, Path]:
    """(weights of ``name``, the comparison's manifest) in ``directory`` (default: package data)."""
    d = Path(directory) if directory is not None else CHECKPOINTS
    return d / f"budget_{name}.pt", d / "budget.json"


BASELINE_SEEDS = (0, 1, 2)  # each model of the comparison is trained from each; seed 0's weights ship


def build_baselines(directory: Path | str | None = None, progress: bool | None = None,
                    seeds: tuple[int, ...] = BASELINE_SEEDS) -> dict:
    """Train the three models of the comparison from each of ``seeds``, write the two recurrent
    ones of the first seed and the numbers of every run (``budget.json``); returns that manifest.
    About 3 minutes per seed on 2 CPU cores."""
    chars = data.load_char_data()
    manifest = {"budget_flops": budget_flops(chars.tokenizer.vocab_size), "vocab_size": chars.tokenizer.vocab_size,
                "chars": "".join(chars.tokenizer.chars), "batch_size": BUDGET_BATCH,
                "context": BUDGET_CONTEXT, "corpus_fingerprint": data.corpus_fingerprint(chars.text),
                "seeds": list(seeds), "torch": torch.__version__, "models": {}}
    for name in BASELINES:
        for seed in seeds:
            model, history = train_baseline(name, chars, progress, seed=seed)
            val = round(train.split_cross_entropy(model, chars.val, BUDGET_CONTEXT), 6)
            if seed != seeds[0]:
                manifest["models"][name]["val_by_seed"][str(seed)] = val
                continue
            entry = {"baseline": asdict(BASELINES[name]), "steps": history.val_steps[-1],
                     "flops_per_token": compute.training_flops_per_token(model, BUDGET_CONTEXT),
                     "val_nats_per_char": val, "val_by_seed": {str(seed): val},
                     "train_seconds": round(history.seconds, 1),
                     "val_curve": [[s, round(v, 4)] for s, v in zip(history.val_steps, history.val_loss)]}
            if name in BASELINE_FILES:
                weights, _ = _baseline_paths(directory, name)
                weights.parent.mkdir(parents=True, exist_ok=True)
                torch.save(model.state_dict(), weights)
                entry["sha256"] = _sha256(weights)
            manifest["models"][name] = entry
    manifest_path = _baseline_paths(directory, BASELINE_FILES[0])[1]
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def load_baseline(name: str, directory: Path | str | None = None,
                  tokenizer: data.CharTokenizer | None = None) -> tuple[torch.nn.Module, dict]:
    """A shipped recurrent model of the comparison (eval mode) and the comparison's manifest;
    :class:`CheckpointError` as :func:`load` raises it, ``tokenizer`` (default the book's) included."""
    if name not in BASELINE_FILES:
        raise ValueError(f"name must be one of {BASELINE_FILES} (the GPT is trained in chapter 7), got {name!r}")
    weights, manifest_path = _baseline_paths(directory, name)
    again = "python -m tutorial_lib.pretrained baselines"
    manifest, (recorded, vocab) = _read_manifest(weights, manifest_path, again, "about 3 minutes",
                                                 lambda m: (m["models"][name]["sha256"], int(m["vocab_size"])))
    _check_text(manifest, manifest_path, _book_chars(tokenizer), again)
    model = _load_weights(baseline_model(name, vocab), weights, recorded, manifest_path, str(BASELINES[name]), again)
    return model.eval(), manifest


@dataclass(frozen=True)
class InContextConfig:
    """Chapter 8's in-context learner: a 2-layer GPT trained on rule sequences (``tasks``)."""

    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    pairs: int = 16  # examples per training sequence: 32 characters
    repeat: float = 0.5  # probability that an input repeats an earlier one (bursty sequences)
    batch_size: int = 32
    steps: int = 2000
    lr: float = 3e-3
    warmup: int = 50
    eval_every: int = 100

    def model_config(self) -> TransformerConfig:
        return TransformerConfig(prompting.TOKENIZER.vocab_size, block_size=64, n_layer=self.n_layer,
                                 n_head=self.n_head, n_embd=self.n_embd, dropout=0.0)


IN_CONTEXT_SEEDS = (1, 0, 2, 3)  # the first is shipped; the others show how the seed changes the run
IN_CONTEXT_AGAIN = "python -m tutorial_lib.pretrained in-context"


def train_in_context(seed: int, config: InContextConfig = InContextConfig(), progress: bool | None = None,
                     device: torch.device | str | None = None, stop_after: int | None = None
                     ) -> tuple[GPT, train.History]:
    """Train the in-context learner from ``seed`` (weights and sequences): loss on the answers
    only, validation on held-out sequences with no forced repeats. Returns (model in eval mode,
    history); ``stop_after`` ends the run early (``train.train``). About 45 s on 2 CPU cores."""
    get_batch, _ = prompting.in_context_batches(config.batch_size, config.pairs, config.repeat, seed=seed)
    utils.set_seed(seed)
    model = GPT(config.model_config()).to(device or "cpu")
    run = train.TrainConfig(steps=config.steps, lr=config.lr, warmup=config.warmup, eval_every=config.eval_every,
                            eval_batches=1, progress=progress)  # one fixed validation batch: 1 is all of it
    history = train.train(model, get_batch, run, stop_after=stop_after)
    return model.eval(), history


def _in_context_paths(directory: Path | str | None) -> tuple[Path, Path]:
    d = Path(directory) if directory is not None else CHECKPOINTS
    return d / "in_context.pt", d / "in_context.json"


def build_in_context(directory: Path | str | None = None, progress: bool | None = None,
                     seeds: tuple[int, ...] = IN_CONTEXT_SEEDS) -> dict:
    """Train one in-context learner per seed; write the first seed's weights and every seed's
    validation curve; returns the manifest. About 45 s per seed on 2 CPU cores."""
    config = InContextConfig()
    _, val = prompting.in_context_batches(config.batch_size, config.pairs, config.repeat, seed=seeds[0])
    manifest = {"config": asdict(config), "seeds": list(seeds), "chars": "".join(prompting.TOKENIZER.chars),
                "ideal_val_loss": round(prompting.ideal_loss(val), 6), "torch": torch.__version__, "runs": {}}
    weights, manifest_path = _in_context_paths(directory)
    for seed in seeds:
        model, history = train_in_context(seed, config, progress)
        manifest["runs"][str(seed)] = {"train_seconds": round(history.seconds, 1),
                                       "val_curve": [[s, round(v, 4)] for s, v in
                                                     zip(history.val_steps, history.val_loss)]}
        if seed == seeds[0]:
            weights.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), weights)
            manifest["sha256"] = _sha256(weights)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def load_in_context(directory: Path | str | None = None) -> tuple[GPT, dict]:
    """Chapter 8's shipped in-context learner (eval mode) and its manifest; it reads
    ``prompting.TOKENIZER``'s characters, which its manifest must record."""
    weights, manifest_path = _in_context_paths(directory)
    manifest, (config, recorded) = _read_manifest(weights, manifest_path, IN_CONTEXT_AGAIN, "about 3 minutes",
                                                  lambda m: (InContextConfig(**m["config"]), m["sha256"]))
    _check_text(manifest, manifest_path, "".join(prompting.TOKENIZER.chars), IN_CONTEXT_AGAIN, corpus=False)
    model = _load_weights(GPT(config.model_config()), weights, recorded, manifest_path, "the in-context GPT",
                          IN_CONTEXT_AGAIN)
    return model.eval(), manifest


@dataclass
class SFTConfig:
    """Chapter 10's starting point: chapter 9's SFT of the shipped GPT, with replay, trained longer."""

    steps: int = 600  # AdamW updates
    pairs: int = 24  # instruction pairs per batch (tasks.instruction_pairs, fresh words every step)
    replay: int = 6  # windows of reference text per batch, so the model keeps the reference
    lr: float = 3e-3  # peak learning rate
    seed: int = 0  # seeds dropout


SFT_AGAIN = "python -m tutorial_lib.pretrained sft"


def train_sft(config: SFTConfig = SFTConfig(), progress: bool | None = None,
              stop_after: int | None = None) -> tuple[GPT, dict]:
    """SFT of the shipped GPT on instruction pairs (chapter 9's recipe, ``finetune.sft_batches``);
    returns the model (eval mode) and what it reached: the follow rate of each instruction kind
    on 200 held-out words (``tasks.instruction_words``) and the reference's validation loss.
    ``stop_after`` ends the run early (``train.train``)."""
    model, tok, _ = load()
    chars = data.load_char_data()
    train_words, test_words = tasks.instruction_words(tok.decode(chars.train))
    test = tasks.instruction_pairs(test_words, 200, seed=1)
    utils.set_seed(config.seed)
    get_batch = finetune.sft_batches(lambda step: tasks.instruction_pairs(train_words, config.pairs, seed=100 + step),
                                     tok, test[:32], replay_ids=chars.train, replay=config.replay)
    run = train.TrainConfig(steps=config.steps, lr=config.lr, eval_every=max(1, config.steps // 6), eval_batches=1,
                            progress=progress)
    history = train.train(model, get_batch, run, stop_after=stop_after)
    model.eval()
    record = {
        "follow_rate": finetune.follow_rates(model, tok, test),
        "ref_nats_per_char": round(train.split_cross_entropy(model, chars.val, block_size=128), 6),
        "val_curve": [[s, round(v, 4)] for s, v in zip(history.val_steps, history.val_loss)],
        "train_seconds": round(history.seconds, 1),
    }
    return model, record


def _sft_paths(directory: Path | str | None) -> tuple[Path, Path]:
    d = Path(directory) if directory is not None else CHECKPOINTS
    return d / "sft.pt", d / "sft.json"


def build_sft(directory: Path | str | None = None, progress: bool | None = None) -> dict:
    """Train :func:`train_sft` and write ``sft.pt`` and its manifest ``sft.json``; returns the manifest."""
    config = SFTConfig()
    model, record = train_sft(config, progress)
    weights, manifest_path = _sft_paths(directory)
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights)
    tok = data.load_char_data().tokenizer
    manifest = {"config": asdict(config), "model": asdict(model.config), "chars": "".join(tok.chars),
                "corpus_fingerprint": data.corpus_fingerprint(data.load_corpus()), **record,
                "torch": torch.__version__, "sha256": _sha256(weights)}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def load_sft(directory: Path | str | None = None, device: torch.device | str | None = None,
             tokenizer: data.CharTokenizer | None = None) -> tuple[GPT, dict]:
    """Chapter 10's shipped SFT model (eval mode) and its manifest; the tokenizer is chapter 7's.
    :class:`CheckpointError` as :func:`load` raises it, ``tokenizer`` (default the book's) included."""
    weights, manifest_path = _sft_paths(directory)
    manifest, (config, recorded) = _read_manifest(weights, manifest_path, SFT_AGAIN, "under a minute",
                                                  lambda m: (TransformerConfig(**m["model"]), m["sha256"]))
    _check_text(manifest, manifest_path, _book_chars(tokenizer), SFT_AGAIN)
    model = _load_weights(GPT(config), weights, recorded, manifest_path, "the SFT GPT", SFT_AGAIN)
    return model.eval().to(device or "cpu"), manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutorial_lib.pretrained",
                                     description="Build or check the book's pretrained character GPT.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="train the GPT and write tutorial_lib/checkpoints/gpt_char.{pt,json}")
    b.add_argument("--steps", type=int, default=BuildConfig.steps)
    b.add_argument("--dir", type=Path, default=None, help="where to write (default: the package's data)")
    sub.add_parser("check", help="load the shipped model and print its manifest's numbers")
    sub.add_parser("baselines", help="train chapter 7's equal-budget RNN, LSTM and GPT; write budget_*")
    sub.add_parser("in-context", help="train chapter 8's in-context learners; write in_context.{pt,json}")
    sub.add_parser("sft", help="train chapter 10's instruction-following model; write sft.{pt,json}")
    args = parser.parse_args(argv)
    if args.command == "build":
        manifest = build(BuildConfig(steps=args.steps), args.dir)
        print(f"validation: {manifest['val_nats_per_char']:.4f} nats/char after {args.steps} steps, "
              f"{manifest['train_seconds']:.0f} s; wrote {checkpoint_paths(args.dir)[0]}")
        return 0
    if args.command == "baselines":
        manifest = build_baselines()
        for name, entry in manifest["models"].items():
            print(f"{name}: {entry['steps']} steps, {entry['train_seconds']:.0f} s, "
                  f"validation {entry['val_nats_per_char']:.4f} nats/char")
        return 0
    if args.command == "in-context":
        manifest = build_in_context()
        for seed, run in manifest["runs"].items():
            print(f"seed {seed}: {run['train_seconds']:.0f} s, validation {run['val_curve'][-1][1]:.4f} nats/answer "
                  f"(ideal {manifest['ideal_val_loss']:.4f})")
        return 0
    if args.command == "sft":
        manifest = build_sft()
        rates = ", ".join(f"{k} {v:.2f}" for k, v in manifest["follow_rate"].items())
        print(f"{manifest['train_seconds']:.0f} s; follow rate {rates}; reference "
              f"{manifest['ref_nats_per_char']:.4f} nats/char")
        return 0
    model, _, manifest = load()
    print(f"{utils.count_parameters(model):,} parameters; validation {manifest['val_nats_per_char']:.4f} "
          f"nats/char ({math.exp(manifest['val_nats_per_char']):.2f} perplexity)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
