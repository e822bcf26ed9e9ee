"""The book's models in the Hugging Face libraries (chapter 7 onwards): what a learner opens next.

- :func:`to_hf_tokenizer` loads our BPE merges (``tutorial_lib.bpe``) into a ``tokenizers``
  BPE model behind GPT-2's byte-level pre-tokenizer; :func:`char_tokenizer` does the same for
  the book's character tokenizer (a BPE with no merges).
- :func:`gpt2_config` and :func:`to_gpt2` turn our :class:`~tutorial_lib.transformer.GPT` into
  ``transformers.GPT2LMHeadModel`` (the same architecture: pre-norm blocks, learned positions,
  tied embeddings), and :func:`from_gpt2` goes back; :func:`export` writes a folder that
  ``from_pretrained`` reads (config, safetensors weights, tokenizer).

Nothing here downloads: the folders are written and read on this machine, and
:data:`OFFLINE` holds the switches that keep the Hugging Face libraries off the network.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from tutorial_lib.bpe import GPT2_PATTERN, BPETokenizer, bytes_to_unicode
from tutorial_lib.data import CharTokenizer
from tutorial_lib.transformer import GPT, TransformerConfig

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1"}


def offline() -> None:
    """Set :data:`OFFLINE` in this process's environment (before transformers is imported)."""
    os.environ.update(OFFLINE)


offline()  # importing this module is enough: no call may reach a hub


def to_hf_tokenizer(tokenizer: BPETokenizer):
    """Our byte-level BPE as a ``tokenizers.Tokenizer``: the same vocabulary (each token's bytes
    written with GPT-2's byte-to-character table), the same merges in the same order, GPT-2's
    pre-tokenizer and the byte-level decoder. ``.encode(text).ids`` equals ``tokenizer.encode(text)``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    if not isinstance(tokenizer, BPETokenizer):
        raise ValueError(f"tokenizer must be a tutorial_lib.bpe.BPETokenizer, got {type(tokenizer).__name__}")
    table = bytes_to_unicode()
    text = ["".join(table[b] for b in token) for token in tokenizer.vocab]  # id -> its printable form
    model = models.BPE(vocab={t: i for i, t in enumerate(text)},
                       merges=[(text[a], text[b]) for a, b in tokenizer.merges])
    hf = Tokenizer(model)
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)  # = GPT2_PATTERN
    hf.decoder = decoders.ByteLevel()
    return hf


assert GPT2_PATTERN  # the pattern ByteLevel(use_regex=True) applies; the tests hold them equal


def char_tokenizer(tokenizer: CharTokenizer):
    """The book's character tokenizer as a ``tokenizers.Tokenizer``: a BPE model with the
    characters as its vocabulary and no merges, so each character is one token, with the same ids."""
    from tokenizers import Tokenizer, decoders, models

    if not isinstance(tokenizer, CharTokenizer):
        raise ValueError(f"tokenizer must be a tutorial_lib.data.CharTokenizer, got {type(tokenizer).__name__}")
    hf = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(tokenizer.chars)}, merges=[]))
    hf.decoder = decoders.Fuse()  # ids back to one string, nothing between characters
    return hf


def gpt2_config(config: TransformerConfig):
    """The ``transformers.GPT2Config`` of a model built with ``config``. Where our GPT and GPT-2
    could differ, the config says what ours does: the exact GELU (GPT-2 used tanh's approximation,
    ``gelu_new``), a feed-forward width of ``ffn_mult * C``, no dropout. Our pre-norm blocks, learned
    positions, biases and tied embeddings are GPT-2's; a post-norm or sinusoidal GPT has no GPT-2 form."""
    from transformers import GPT2Config

    if not isinstance(config, TransformerConfig):
        raise ValueError(f"config must be a TransformerConfig, got {type(config).__name__}")
    if not config.norm_first or config.positions != "learned":
        raise ValueError("only a pre-norm GPT with learned positions has GPT-2's architecture, got "
                         f"norm_first={config.norm_first}, positions={config.positions!r}")
    return GPT2Config(vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd,
                      n_layer=config.n_layer, n_head=config.n_head, n_inner=config.ffn_mult * config.n_embd,
                      activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                      layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=None,
                      eos_token_id=None, pad_token_id=None)


def _links(ours: GPT, theirs) -> list[tuple[torch.Tensor, torch.Tensor, object]]:
    """(our parameter, theirs, how) for every weight; how is "same", "T" (GPT-2 stores its linear
    layers as Conv1D, weight (in, out): the transpose of nn.Linear's (out, in)), or 0, 1, 2 for Q, K
    and V, which GPT-2 keeps side by side in one c_attn (columns j C .. (j + 1) C)."""
    t = theirs.transformer
    links = [(ours.embed.tokens.weight, t.wte.weight, "same"), (ours.embed.positions, t.wpe.weight, "same"),
             (ours.norm.weight, t.ln_f.weight, "same"), (ours.norm.bias, t.ln_f.bias, "same")]
    for layer, block in zip(ours.layers, t.h):
        a, f = layer.self_attn, layer.ffn
        links += [(layer.norm1.weight, block.ln_1.weight, "same"), (layer.norm1.bias, block.ln_1.bias, "same"),
                  (layer.norm2.weight, block.ln_2.weight, "same"), (layer.norm2.bias, block.ln_2.bias, "same")]
        for j, w in enumerate((a.W_Q, a.W_K, a.W_V)):
            links += [(w.weight, block.attn.c_attn.weight, j), (w.bias, block.attn.c_attn.bias, j)]
        for w, conv in ((a.W_O, block.attn.c_proj), (f.W_1, block.mlp.c_fc), (f.W_2, block.mlp.c_proj)):
            links += [(w.weight, conv.weight, "T"), (w.bias, conv.bias, "same")]
    return links


def _view(theirs: torch.Tensor, how: object, C: int) -> torch.Tensor:
    """The part of GPT-2's tensor that holds our parameter, shaped as ours (a view: writable)."""
    if how == "same":
        return theirs
    if how == "T":
        return theirs.T
    block = theirs[..., how * C:(how + 1) * C]  # Q, K or V's columns of c_attn
    return block.T if block.ndim == 2 else block


def _check_gpt(model: object) -> GPT:
    if not isinstance(model, GPT):
        raise ValueError(f"model must be a tutorial_lib.transformer.GPT, got {type(model).__name__}")
    if not all(isinstance(m, nn.Linear) for layer in model.layers
               for m in (layer.self_attn.W_Q, layer.self_attn.W_K, layer.self_attn.W_V, layer.self_attn.W_O)):
        raise ValueError("model has LoRA layers or adapters: merge them first (finetune.merge_lora)")
    return model


@torch.no_grad()
def to_gpt2(model: GPT):
    """A ``transformers.GPT2LMHeadModel`` with our GPT's weights (copied), in eval mode: the same
    logits for the same ids."""
    from transformers import GPT2LMHeadModel

    model = _check_gpt(model)
    theirs = GPT2LMHeadModel(gpt2_config(model.config)).to(model.head.weight.dtype)
    for ours, hf, how in _links(model, theirs):
        _view(hf, how, model.config.n_embd).copy_(ours)
    return theirs.to(model.head.weight.device).eval()


@torch.no_grad()
def from_gpt2(theirs) -> GPT:
    """Our GPT with the weights of a ``GPT2LMHeadModel`` (the way LLMs-from-scratch loads GPT-2
    into its own model). Its config must be one :func:`gpt2_config` can write: exact GELU, no
    cross-attention, tied embeddings."""
    c = theirs.config
    if c.activation_function != "gelu" or not c.tie_word_embeddings or c.add_cross_attention:
        raise ValueError("theirs must use the exact GELU ('gelu'), tied embeddings and no cross-attention, got "
                         f"{c.activation_function!r}, tie_word_embeddings={c.tie_word_embeddings}, "
                         f"add_cross_attention={c.add_cross_attention}")
    inner = c.n_inner or 4 * c.n_embd
    if inner % c.n_embd:
        raise ValueError(f"theirs' n_inner ({inner}) must be a multiple of n_embd ({c.n_embd})")
    config = TransformerConfig(vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer,
                               n_head=c.n_head, n_embd=c.n_embd, ffn_mult=inner // c.n_embd)
    ours = GPT(config).to(theirs.transformer.wte.weight.dtype)
    for mine, hf, how in _links(ours, theirs):
        mine.copy_(_view(hf, how, c.n_embd))
    return ours.to(theirs.transformer.wte.weight.device).eval()


def export(model: GPT, directory: Path | str, tokenizer: CharTokenizer | BPETokenizer | None = None) -> Path:
    """Write ``model`` (and its tokenizer) as a Hugging Face folder: ``config.json``,
    ``model.safetensors`` and, with a tokenizer, ``tokenizer.json``. ``GPT2LMHeadModel.from_pretrained``
    and ``AutoTokenizer.from_pretrained`` read it back offline. Returns the folder."""
    from transformers import PreTrainedTokenizerFast
    from transformers.utils import logging

    logging.disable_progress_bar()  # a bar for writing a few MB is noise in a notebook
    directory = Path(directory)
    to_gpt2(model).save_pretrained(directory)  # safetensors; the tied head is stored once
    if tokenizer is not None:
        hf = char_tokenizer(tokenizer) if isinstance(tokenizer, CharTokenizer) else to_hf_tokenizer(tokenizer)
        PreTrainedTokenizerFast(tokenizer_object=hf).save_pretrained(directory)
    return directory


def load(directory: Path | str):
    """(model, tokenizer) of a folder written by :func:`export`, read the way a practitioner
    reads any model (``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``), offline."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # a bar for loading a few MB is noise in a notebook
    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(directory, local_files_only=True)


def to_peft(model: nn.Module):
    """PEFT's LoRA with the same update as ours: ``model`` carries ``finetune.add_lora`` layers;
    returns a ``peft.PeftModel`` around a copy of the frozen base, ``LoraConfig(r, lora_alpha,
    target_modules)`` with our r, alpha (scale = alpha / r, as ours) and targets, and our A and B
    copied into its ``lora_A`` and ``lora_B``. It computes what ``model`` computes."""
    import copy

    from peft import LoraConfig, get_peft_model

    from tutorial_lib.finetune import LoRALinear

    ours = {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}
    if not ours:
        raise ValueError("model has no LoRA layers: add them with finetune.add_lora first")
    ranks = {(m.r, m.scale) for m in ours.values()}
    if len(ranks) != 1:
        raise ValueError(f"every LoRA layer must have the same r and alpha, got (r, alpha / r) = {sorted(ranks)}")
    (r, scale), = ranks
    base = copy.deepcopy(model)
    for name in ours:  # our LoRA layers back to their frozen nn.Linear
        parent, _, child = name.rpartition(".")
        setattr(base.get_submodule(parent), child, getattr(base.get_submodule(name), "base"))
    targets = sorted({name.rpartition(".")[2] for name in ours})
    theirs = get_peft_model(base, LoraConfig(r=r, lora_alpha=r * scale, target_modules=targets, lora_dropout=0.0))
    with torch.no_grad():
        for name, m in ours.items():
            layer = theirs.base_model.model.get_submodule(name)
            layer.lora_A["default"].weight.copy_(m.A)  # (r, in)
            layer.lora_B["default"].weight.copy_(m.B)  # (out, r)
    return theirs


def _trl_tokenizer(tokenizer: CharTokenizer):
    """The book's character tokenizer as the ``processing_class`` TRL's trainers take; the newline
    ends a turn (its end-of-sequence token) and pads (padding is masked by the attention mask)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=char_tokenizer(tokenizer), pad_token="\n", eos_token="\n")


def trl_sft(model: GPT, tokenizer: CharTokenizer, pairs, directory: Path | str):
    """TRL's ``SFTTrainer`` set up as a practitioner would for response-only SFT (prompt-completion
    rows, ``completion_only_loss=True``) on ``model`` exported to GPT-2, with the book's pairs
    (``tasks.Instruction``: prompt, response). Returns (TRL's collated batch of all the pairs,
    TRL's loss on it): its ``labels`` are -100 wherever the loss is not taken."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from trl import SFTConfig, SFTTrainer

    disable_progress_bar()
    rows = [{"prompt": p.prompt, "completion": p.response + "\n"} for p in pairs]
    with warnings.catch_warnings():  # transformers' notices of renamed training arguments
        warnings.simplefilter("ignore", FutureWarning)
        trainer = SFTTrainer(model=to_gpt2(model), processing_class=_trl_tokenizer(tokenizer),
                             train_dataset=Dataset.from_list(rows),
                             args=SFTConfig(output_dir=str(directory), report_to=[], use_cpu=True, bf16=False,
                                            completion_only_loss=True, disable_tqdm=True))
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
        return batch, trainer.compute_loss(trainer.model, batch)


def trl_dpo_loss(policy: GPT, reference: GPT, tokenizer: CharTokenizer, triples, beta: float,
                 directory: Path | str) -> torch.Tensor:
    """TRL's ``DPOTrainer`` loss (its default: the sigmoid loss of Rafailov et al.) of ``policy``
    against the frozen ``reference``, both exported to GPT-2, on (prompt, chosen, rejected) text
    triples. ``bf16=False``: TRL's configs default to bfloat16 where it is available, which moves
    the reference's log-probabilities by hundredths and would hide a real difference."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from trl import DPOConfig, DPOTrainer

    disable_progress_bar()
    rows = [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in triples]
    with warnings.catch_warnings():  # transformers' notices of renamed training arguments
        warnings.simplefilter("ignore", FutureWarning)
        trainer = DPOTrainer(model=to_gpt2(policy), ref_model=to_gpt2(reference),
                             processing_class=_trl_tokenizer(tokenizer), train_dataset=Dataset.from_list(rows),
                             args=DPOConfig(output_dir=str(directory), report_to=[], use_cpu=True, beta=beta,
                                            bf16=False, disable_tqdm=True))
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
        with torch.no_grad():
            return trainer.compute_loss(trainer.model, batch)
