"""Our models and methods against the libraries practitioners use, on copied weights:
transformers' GPT-2 (logits, gradients, generate: greedy and sampled), its logits processors,
PEFT's LoRA (before and after merging), and TRL's SFT labels and DPO loss. Everything offline."""

from __future__ import annotations

import copy
import os

import pytest
import torch

from tutorial_lib import finetune, hf, pretrained, rlhf, sampling, tasks
from tutorial_lib.train import lm_loss
from tutorial_lib.transformer import GPT, TransformerConfig

transformers = pytest.importorskip("transformers")
GPT2Config, GPT2LMHeadModel = transformers.GPT2Config, transformers.GPT2LMHeadModel
TEXT = "def function(x):\n    return x + 1\n\nThe module"


@pytest.fixture(scope="module")
def shipped():
    model, tok, _ = pretrained.load()
    return model, tok


def small_gpt(seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    model = GPT(TransformerConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32, **kw))
    with torch.no_grad():  # weights large enough for sharp attention, biases and norms away from
        for p in model.parameters():  # their initial 0 and 1: a swapped or misplaced tensor shows
            p.mul_(10) if p.ndim == 2 else p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def test_the_switches_keep_the_hub_offline():
    assert all(os.environ[k] == v for k, v in hf.OFFLINE.items())


def test_gpt2_small_has_124m_parameters():
    with torch.device("meta"):  # shapes only: no memory
        ours = GPT(TransformerConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768))
        theirs = GPT2LMHeadModel(GPT2Config())
        theirs.tie_weights()  # transformers 5.0 does not tie on the meta device by itself
    assert sum(p.numel() for p in ours.parameters()) == theirs.num_parameters() == 124_439_808


def test_same_logits_and_gradients_as_gpt2():
    ours = small_gpt()
    theirs = hf.to_gpt2(ours)
    ids = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(1))
    a, b = ours(ids), theirs(ids).logits
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    a.square().mean().backward()
    b.square().mean().backward()
    pairs = hf._links(ours, theirs)
    for mine, their, how in pairs:
        torch.testing.assert_close(hf._view(their.grad, how, 32), mine.grad, rtol=1e-4, atol=1e-6)


def test_a_swapped_weight_would_show():
    ours = small_gpt()
    theirs = hf.to_gpt2(ours)
    with torch.no_grad():  # Q and K swapped in one layer: a real difference must fail the comparison
        w = theirs.transformer.h[1].attn.c_attn.weight
        w[:, :32], w[:, 32:64] = w[:, 32:64].clone(), w[:, :32].clone()  # scores transposed: not causal
    ids = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(2))
    assert (theirs(ids).logits - ours(ids)).abs().max() > 1e-3


def test_from_gpt2_round_trip():
    torch.manual_seed(3)
    theirs = GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=12, n_embd=24, n_layer=2, n_head=3,
                                        activation_function="gelu")).eval()
    ours = hf.from_gpt2(theirs)
    ids = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(ours(ids), theirs(ids).logits, rtol=1e-5, atol=1e-5)


def test_the_shipped_model_exported_and_read_back(shipped, tmp_path):
    model, tok = shipped
    folder = hf.export(model, tmp_path / "gpt_char", tok)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    theirs, their_tok = hf.load(folder)
    ids = torch.tensor([tok.encode(TEXT)])
    assert their_tok(TEXT).input_ids == ids[0].tolist()  # the character tokenizer, the same ids
    torch.testing.assert_close(theirs(ids).logits, model(ids), rtol=1e-5, atol=1e-5)
    greedy = theirs.generate(ids, max_new_tokens=40, do_sample=False)[0, ids.shape[1]:]
    assert greedy.tolist() == model.generate(ids[0], 40, temperature=0).tolist()
    assert their_tok.decode(greedy) == tok.decode(greedy.tolist())


def test_sampled_text_is_the_same_draw_as_generate(shipped):
    """Temperature, then top-k, then top-p, then one draw from the softmax: with the same seed,
    our generate and transformers' generate(do_sample=True) write the same text."""
    model, tok = shipped
    theirs = hf.to_gpt2(model)
    ids = torch.tensor([tok.encode(TEXT)])
    for seed, rule in enumerate([dict(temperature=1.0), dict(temperature=0.7, top_k=10),
                                 dict(temperature=1.3, top_p=0.8), dict(temperature=0.9, top_k=20, top_p=0.9)]):
        torch.manual_seed(seed)
        ours = model.generate(ids[0], 60, **rule)
        torch.manual_seed(seed)
        their = theirs.generate(ids, max_new_tokens=60, do_sample=True, **rule)[0, ids.shape[1]:]
        assert ours.tolist() == their.tolist(), rule


def test_filters_equal_the_logits_processors():
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    logits = torch.randn(200, 50, generator=torch.Generator().manual_seed(5)) * 3  # no ties
    none = torch.zeros(200, 1, dtype=torch.long)
    for t in (0.3, 1.0, 2.5):
        torch.testing.assert_close(sampling.apply_temperature(logits, t), TemperatureLogitsWarper(t)(none, logits))
    for k in (1, 5, 49):
        assert torch.equal(sampling.top_k_filter(logits, k), TopKLogitsWarper(k)(none, logits))
    for p in (0.1, 0.5, 0.9, 0.99):
        assert torch.equal(sampling.top_p_filter(logits, p), TopPLogitsWarper(p)(none, logits))


def test_top_k_differs_on_ties_only():
    """With tied logits, transformers keeps every token tied with the k-th; ours keeps exactly k."""
    from transformers import TopKLogitsWarper

    logits = torch.tensor([[2.0, 1.0, 1.0, 1.0, 0.0]])
    assert torch.isfinite(sampling.top_k_filter(logits, 2)).sum() == 2
    assert torch.isfinite(TopKLogitsWarper(2)(None, logits)).sum() == 4


@pytest.fixture
def lora_model(shipped):
    model = finetune.add_lora(copy.deepcopy(shipped[0]), r=4, alpha=8.0, targets=("W_Q", "W_V"))
    with torch.no_grad():  # B starts at zero; a trained-looking B makes the update matter
        for m in model.modules():
            if isinstance(m, finetune.LoRALinear):
                m.B.normal_(0, 0.05, generator=torch.Generator().manual_seed(6))
    return model


def test_lora_equals_peft(shipped, lora_model):
    pytest.importorskip("peft")
    theirs = hf.to_peft(lora_model)
    trainable, _ = theirs.get_nb_trainable_parameters()
    assert trainable == sum(p.numel() for p in lora_model.parameters() if p.requires_grad) == \
        finetune.lora_weights(4, 128, 4, ("W_Q", "W_V"))
    ids = torch.tensor([shipped[1].encode(TEXT)])
    a, b = lora_model(ids), theirs(ids)
    assert (a - shipped[0](ids)).abs().max() > 1e-2  # the update changes the outputs
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    a.square().mean().backward()
    b.square().mean().backward()
    for name, m in lora_model.named_modules():
        if isinstance(m, finetune.LoRALinear):
            layer = theirs.base_model.model.get_submodule(name)
            torch.testing.assert_close(layer.lora_A["default"].weight.grad, m.A.grad, rtol=1e-4, atol=1e-7)
            torch.testing.assert_close(layer.lora_B["default"].weight.grad, m.B.grad, rtol=1e-4, atol=1e-7)
    merged, ours = theirs.merge_and_unload(), finetune.merge_lora(lora_model)
    mine, their = ours.state_dict(), merged.state_dict()
    assert mine.keys() == their.keys()
    for key in mine:
        torch.testing.assert_close(their[key], mine[key], rtol=1e-5, atol=1e-6)


def test_sft_labels_and_loss_equal_trl(shipped, tmp_path):
    """TRL's SFTTrainer, on prompt-completion pairs with completion_only_loss, builds labels that
    are -100 on the prompt: our sft_batch's targets, shifted by the one position that transformers'
    loss shifts inside; and TRL's loss is our lm_loss on them."""
    pytest.importorskip("trl")
    model, tok = shipped
    pairs = tasks.instruction_pairs(["while", "return", "class", "lambda"], 6, seed=1)
    batch, loss = hf.trl_sft(model, tok, pairs, tmp_path)
    x, y = finetune.sft_batch(pairs, tok, 128)
    assert torch.equal(batch["labels"][:, 1:], y)
    assert torch.equal(batch["input_ids"][:, :-1][y != -100], x[y != -100])
    torch.testing.assert_close(loss, lm_loss(model, x, y), rtol=1e-5, atol=1e-6)


def test_dpo_loss_equals_trl(shipped, tmp_path):
    """TRL's DPOTrainer (sigmoid loss, the reference a frozen copy) on prompt/chosen/rejected
    triples gives our dpo_loss of our response_log_probs, for a policy that differs from it."""
    pytest.importorskip("trl")
    model, tok = shipped
    policy = copy.deepcopy(model)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    pairs = tasks.instruction_pairs(["while", "return", "class", "lambda"], 4, seed=2)
    triples = [(p.prompt, p.response + "\n", p.response[::-1] + "s\n") for p in pairs]
    theirs = hf.trl_dpo_loss(policy, model, tok, triples, 0.3, tmp_path)

    def logp(net, k):
        out = []
        for t in triples:
            ids = torch.tensor([tok.encode(t[0] + t[k])])
            x, y = ids[:, :-1], ids[:, 1:].clone()
            y[:, :len(t[0]) - 1] = -100
            out.append(rlhf.response_log_probs(net, x, y))
        return torch.cat(out)

    with torch.no_grad():
        ours = rlhf.dpo_loss(logp(policy, 1), logp(policy, 2), logp(model, 1), logp(model, 2), 0.3)
    assert abs(ours.item() - torch.log(torch.tensor(2.0)).item()) > 1e-3  # the policy is not the reference
    torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-6)


def test_bad_input_is_named(lora_model):
    with pytest.raises(ValueError, match="only a pre-norm GPT with learned positions"):
        hf.gpt2_config(TransformerConfig(vocab_size=10, norm_first=False))
    with pytest.raises(ValueError, match="model has LoRA layers or adapters: merge them first"):
        hf.to_gpt2(lora_model)
    with pytest.raises(ValueError, match="model must be a tutorial_lib.transformer.GPT"):
        hf.to_gpt2(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="model has no LoRA layers"):
        hf.to_peft(small_gpt())
    with pytest.raises(ValueError, match="tokenizer must be a tutorial_lib.bpe.BPETokenizer"):
        hf.to_hf_tokenizer("abc")
    theirs = GPT2LMHeadModel(GPT2Config(vocab_size=10, n_positions=4, n_embd=8, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="exact GELU"):
        hf.from_gpt2(theirs)  # GPT-2's own gelu_new
