"""tutorial_lib.transformer against PyTorch's own modules on copied weights (outputs and
gradients, float64), masks, positional encodings, the three variants, and bad input."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from tutorial_lib import seq2seq, transformer, utils
from tutorial_lib.transformer import TransformerConfig

TIGHT = {"rtol": 1e-9, "atol": 1e-10}  # float64


def _grads(out, tensors, g):
    return torch.autograd.grad(out, tensors, g, allow_unused=True)


def _assert_grads_close(ours, theirs):
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, **TIGHT)


@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_multi_head_attention_matches_nn_multiheadattention(cross, masked):
    torch.manual_seed(0)
    C, H, B, T, S = 12, 3, 2, 5, 7 if cross else 5
    theirs = nn.MultiheadAttention(C, H, batch_first=True, dtype=torch.float64)
    ours = transformer.MultiHeadAttention(C, H).double().copy_from_torch(theirs)
    x_q = torch.randn(B, T, C, dtype=torch.float64, requires_grad=True)
    x_kv = torch.randn(B, S, C, dtype=torch.float64, requires_grad=True) if cross else x_q
    mask = None
    if masked:  # padding of the keys for sentence 1, and a causal mask when it is self-attention
        keep = torch.ones(B, S, dtype=torch.bool)
        keep[1, S - 2:] = False
        mask = keep[:, None, None, :]  # (B, 1, 1, S)
        if not cross:
            mask = mask & transformer.causal_mask(T)
    out, weights = ours(x_q, x_kv if cross else None, mask)
    # PyTorch's masks mean the opposite: True = blocked; one (B*H, T, S) mask
    attn_mask = None if mask is None else ~mask.expand(B, H, T, S).reshape(B * H, T, S)
    ref, ref_w = theirs(x_q, x_kv, x_kv, attn_mask=attn_mask, average_attn_weights=False)
    torch.testing.assert_close(out, ref, **TIGHT)
    torch.testing.assert_close(weights, ref_w, **TIGHT)
    g = torch.randn_like(out)
    inputs = (x_q, x_kv) if cross else (x_q,)
    names_ours, params_ours = zip(*ours.named_parameters())
    names_theirs, params_theirs = zip(*theirs.named_parameters())
    got = _grads(out, inputs + params_ours, g)
    want = _grads(ref, inputs + params_theirs, g)
    _assert_grads_close(got[: len(inputs)], want[: len(inputs)])
    grads_ours = dict(zip(names_ours, got[len(inputs):]))
    grads_theirs = dict(zip(names_theirs, want[len(inputs):]))
    W = torch.cat([grads_ours[f"W_{k}.weight"] for k in "QKV"])  # (3C, C), PyTorch's in_proj layout
    torch.testing.assert_close(W, grads_theirs["in_proj_weight"], **TIGHT)
    torch.testing.assert_close(grads_ours["W_O.weight"], grads_theirs["out_proj.weight"], **TIGHT)


def test_fast_attention_equals_the_teaching_version():
    torch.manual_seed(1)
    slow = transformer.MultiHeadAttention(16, 4).double()
    fast = transformer.MultiHeadAttention(16, 4, fast=True).double()
    fast.load_state_dict(slow.state_dict())
    x = torch.randn(3, 6, 16, dtype=torch.float64, requires_grad=True)
    mask = transformer.causal_mask(6)
    a, b = slow(x, mask=mask)[0], fast(x, mask=mask)[0]
    torch.testing.assert_close(a, b, **TIGHT)
    g = torch.randn_like(a)
    _assert_grads_close(_grads(a, (x,), g), _grads(b, (x,), g))
    assert fast(x)[1] is None
    weights = slow(x)[1]
    torch.testing.assert_close(slow.last_weights, weights.detach())


LAYER_C, LAYER_H, LAYER_FFN = 16, 4, 40  # the layer tests' width, heads, FFN width


def _layer_pair(ours_cls, theirs_cls, norm_first, seed):
    """PyTorch's layer in float64 (seeded) and ours with its weights copied across."""
    torch.manual_seed(seed)
    theirs = theirs_cls(LAYER_C, LAYER_H, LAYER_FFN, dropout=0.0, batch_first=True, norm_first=norm_first,
                        dtype=torch.float64)
    ours = ours_cls(LAYER_C, LAYER_H, LAYER_FFN, norm_first=norm_first).double()
    return transformer.copy_layer_from_torch(ours, theirs), theirs


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_nn_transformerencoderlayer(norm_first):
    ours, theirs = _layer_pair(transformer.EncoderLayer, nn.TransformerEncoderLayer, norm_first, seed=2)
    x = torch.randn(2, 6, LAYER_C, dtype=torch.float64, requires_grad=True)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[1, 4:] = True  # PyTorch: True = padding
    out = ours(x, (~pad)[:, None, None, :])
    ref = theirs(x, src_key_padding_mask=pad)
    torch.testing.assert_close(out, ref, **TIGHT)
    g = torch.randn_like(out)
    _assert_grads_close(_grads(out, (x,), g), _grads(ref, (x,), g))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_nn_transformerdecoderlayer(norm_first):
    ours, theirs = _layer_pair(transformer.DecoderLayer, nn.TransformerDecoderLayer, norm_first, seed=3)
    y = torch.randn(2, 5, LAYER_C, dtype=torch.float64, requires_grad=True)
    memory = torch.randn(2, 7, LAYER_C, dtype=torch.float64, requires_grad=True)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[0, 5:] = True
    causal = transformer.causal_mask(5)
    out = ours(y, memory, causal, (~pad)[:, None, None, :])
    ref = theirs(y, memory, tgt_mask=~causal, memory_key_padding_mask=pad)
    torch.testing.assert_close(out, ref, **TIGHT)
    g = torch.randn_like(out)
    _assert_grads_close(_grads(out, (y, memory), g), _grads(ref, (y, memory), g))


def test_sinusoidal_positions_by_hand_and_attention_is_blind_to_order():
    pe = transformer.sinusoidal_positions(50, 8)
    t, i = 7, 3  # dimension 2i = 6 and 2i + 1 = 7
    assert math.isclose(pe[t, 2 * i].item(), math.sin(t / 10000 ** (2 * i / 8)), rel_tol=1e-6)
    assert math.isclose(pe[t, 2 * i + 1].item(), math.cos(t / 10000 ** (2 * i / 8)), rel_tol=1e-6)
    # with no positions, a layer is permutation-equivariant: shuffle the input, the output follows
    torch.manual_seed(4)
    layer = transformer.EncoderLayer(8, 2, 16).double()
    x = torch.randn(1, 6, 8, dtype=torch.float64)
    perm = torch.randperm(6)
    torch.testing.assert_close(layer(x)[:, perm], layer(x[:, perm]), **TIGHT)


def test_gpt_is_causal_and_ties_weights():
    torch.manual_seed(5)
    model = transformer.GPT(TransformerConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)).double()
    ids = torch.randint(0, 11, (2, 8))
    changed = ids.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 11  # change the future
    a, b = model(ids), model(changed)
    assert a.shape == (2, 8, 11)
    torch.testing.assert_close(a[:, :5], b[:, :5], **TIGHT)
    assert not torch.allclose(a[:, 5:], b[:, 5:])
    assert model.head.weight is model.embed.tokens.weight
    with pytest.raises(ValueError, match="more than block_size = 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_without_positions_an_encoder_reads_a_bag_and_a_decoder_still_sees_order():
    torch.manual_seed(7)
    cfg = TransformerConfig(vocab_size=12, block_size=10, n_layer=2, n_head=2, n_embd=16, positions="none")
    ids, shuffled = torch.tensor([[3, 4, 5, 6, 7]]), torch.tensor([[6, 4, 7, 3, 5]])
    clf = transformer.EncoderClassifier(cfg, num_classes=3).double().eval()
    torch.testing.assert_close(clf(ids), clf(shuffled), **TIGHT)  # mean over a set: order-free
    assert transformer.Embedding(cfg).positions.abs().sum() == 0
    gpt = transformer.GPT(cfg).double().eval()
    swapped = torch.tensor([[4, 3, 5, 6, 7]])                        # the first two swapped
    # the causal mask alone tells the two orders apart: the same tokens, the same last token,
    # another last prediction (layer 1's earlier positions saw different prefixes)
    assert not torch.allclose(gpt(ids)[:, -1], gpt(swapped)[:, -1], atol=1e-6)
    with_learned = transformer.GPT(dataclasses.replace(cfg, positions="learned"))
    assert utils.count_parameters(with_learned) - utils.count_parameters(gpt) == 10 * 16


def test_encoder_classifier_and_encoder_decoder_ignore_padding():
    torch.manual_seed(6)
    cfg = TransformerConfig(vocab_size=12, block_size=10, n_layer=2, n_head=2, n_embd=16, positions="sinusoidal")
    clf = transformer.EncoderClassifier(cfg, num_classes=3).double().eval()
    ids = torch.tensor([[3, 4, 5, 0, 0, 0]])
    torch.testing.assert_close(clf(ids), clf(ids[:, :3]), **TIGHT)
    model = transformer.EncoderDecoder(cfg, cfg).double().eval()
    tgt = torch.tensor([[1, 6, 7, 2]])
    torch.testing.assert_close(model(ids, tgt)[0], model(ids[:, :3], tgt)[0], **TIGHT)
    # it fits chapter 5's loss: src (B, S), tgt (B, T + 2)
    loss = seq2seq.seq2seq_loss(model, ids, tgt)
    assert loss.ndim == 0 and math.isfinite(loss.item())
    # greedy decoding: teacher forcing on its own output reproduces it
    out, _ = model.greedy(ids, max_len=4)
    logits, _ = model(ids, torch.cat([torch.tensor([[1]]), out[:, :-1]], dim=1))
    alive = torch.cat([torch.tensor([[True]]), (out[:, :-1] != 2).cumprod(1).bool()], dim=1)
    assert torch.equal(logits.argmax(-1)[alive], out[alive])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: transformer.MultiHeadAttention(10, 3), "C must be divisible by H"),
        (lambda: transformer.MultiHeadAttention(8, 2)(torch.randn(2, 3, 7)), r"x_q must have shape \(B, L, C\) with C = 8"),
        (lambda: transformer.MultiHeadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(1, 3, 8)), "same batch size"),
        (lambda: transformer.sinusoidal_positions(4, 5), "C must be even"),
        (lambda: transformer.causal_mask(0), "T must be a positive integer"),
        (lambda: transformer.padding_mask(torch.zeros(2, 3)), "ids must be a torch.long tensor"),
        (lambda: TransformerConfig(10, n_head=3, n_embd=16), "must be divisible by n_head"),
        (lambda: TransformerConfig(10, positions="rotary"), "positions must be"),
        (lambda: TransformerConfig(0), "vocab_size must be a positive integer"),
        (lambda: transformer.FeedForward(8, 16, "tanh"), "activation must be"),
        (lambda: transformer.copy_layer_from_torch(transformer.EncoderLayer(8, 2, 16), nn.TransformerEncoderLayer(
            8, 2, 16, norm_first=True)), "same norm_first"),
    ],
)
def test_bad_input_is_rejected(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_gpt_generate_is_seeded_crops_its_context_and_is_greedy_at_temperature_zero():
    torch.manual_seed(7)
    model = transformer.GPT(TransformerConfig(vocab_size=9, block_size=6, n_layer=1, n_head=2, n_embd=8)).eval()
    prompt = torch.tensor([1, 2, 3])
    draw = lambda seed: model.generate(prompt, 12, generator=torch.Generator().manual_seed(seed))
    assert draw(0).shape == (12,) and torch.equal(draw(0), draw(0))  # longer than block_size: cropped
    greedy = model.generate(prompt, 12, temperature=0)
    ids = prompt.clone()
    for _ in range(12):  # the same rollout by hand
        ids = torch.cat([ids, model(ids[-6:][None])[0, -1].argmax().view(1)])
    assert torch.equal(greedy, ids[3:])
    assert torch.equal(model.generate(prompt, 12, top_k=1, generator=torch.Generator()), greedy)
    assert model.generate(prompt, 0).shape == (0,)
    with pytest.raises(ValueError, match="length must be"):
        model.generate(prompt, -1)
    with pytest.raises(ValueError, match="prompt must be"):
        model.generate(torch.tensor([], dtype=torch.long), 3)
    with pytest.raises(ValueError, match="temperature must be"):
        model.generate(prompt, 3, temperature=-1.0)


def test_gpt_generates_a_batch_of_prompts_row_by_row():
    torch.manual_seed(7)
    model = transformer.GPT(TransformerConfig(vocab_size=9, block_size=6, n_layer=1, n_head=2, n_embd=8)).eval()
    prompts = torch.tensor([[1, 2, 3], [4, 4, 0], [8, 7, 6]])  # (B, T0)
    greedy = model.generate(prompts, 10, temperature=0)  # (B, 10)
    assert greedy.shape == (3, 10)
    for row, prompt in zip(greedy, prompts):  # each row is that prompt's own greedy rollout
        assert torch.equal(row, model.generate(prompt, 10, temperature=0))
    sampled = model.generate(prompts, 10, generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (3, 10)
    assert torch.equal(sampled, model.generate(prompts, 10, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match=r"\(T0,\) or \(B, T0\)"):
        model.generate(torch.zeros(2, 0, dtype=torch.long), 3)


@pytest.mark.parametrize("fast", [False, True])
def test_both_attention_paths_check_the_mask_alike(fast):
    # the fused path used to hand any mask to torch: a wrong shape failed inside it, a float 0/1
    # mask was added to the scores, and a query with no allowed key silently gave zeros
    attention = transformer.MultiHeadAttention(8, 2, fast=fast)
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"mask must broadcast to \(B, H, T, S\) = \(2, 2, 5, 5\), got \(3, 3\)"):
        attention(x, mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask must be a torch.bool tensor"):
        attention(x, mask=torch.ones(5, 5))
    hides = transformer.causal_mask(5).clone()
    hides[2] = False
    with pytest.raises(ValueError, match="hides every key of some query"):
        attention(x, mask=hides)
    out, _ = attention(x, mask=transformer.causal_mask(5))
    assert out.shape == (2, 5, 8)


def test_copying_a_torch_layer_checks_everything_that_changes_the_outputs():
    ours = transformer.EncoderLayer(8, 2, 16)  # ReLU, eps 1e-5, biases
    for theirs, match in [
        (nn.TransformerEncoderLayer(8, 2, 16, activation="gelu"), "activation of ours, 'relu', got gelu"),
        (nn.TransformerEncoderLayer(8, 2, 16, layer_norm_eps=1e-3), "LayerNorm eps 1e-05"),
        (nn.TransformerEncoderLayer(8, 2, 16, bias=False), "bias=True like ours|biases"),
    ]:
        with pytest.raises(ValueError, match=match):
            transformer.copy_layer_from_torch(ours, theirs)
    gelu = transformer.EncoderLayer(8, 2, 16, activation="gelu")
    transformer.copy_layer_from_torch(gelu, nn.TransformerEncoderLayer(8, 2, 16, activation="gelu"))
    with pytest.raises(ValueError, match="add_bias_kv=False"):
        transformer.MultiHeadAttention(8, 2).copy_from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))
    with pytest.raises(ValueError, match="bias=False like ours, got bias=True"):
        transformer.MultiHeadAttention(8, 2, bias=False).copy_from_torch(nn.MultiheadAttention(8, 2))


def test_gpt_generate_checks_the_rule_on_every_path():
    model = transformer.GPT(TransformerConfig(vocab_size=9, block_size=6, n_layer=1, n_head=2, n_embd=8)).eval()
    prompt = torch.tensor([1, 2, 3])
    for kwargs, match in [
        (dict(temperature=0, top_k=0), "top_k must be an integer >= 1, got 0"),
        (dict(temperature=0, top_p=2), r"top_p must be a number in \(0, 1\], got 2"),
        (dict(temperature=-0.5), r"temperature must be 0 \(greedy\) or a finite number > 0, got -0.5"),
        (dict(temperature=float("inf")), "temperature must be 0"),
        (dict(temperature=True), "temperature must be 0"),
    ]:
        for length in (0, 3):  # before any token is drawn: a request for none is checked too
            with pytest.raises(ValueError, match=match):
                model.generate(prompt, length, **kwargs)
    with pytest.raises(ValueError, match=r"prompt must hold ids in \[0, 9\) .* got 9 at position \(0, 1\)"):
        model.generate(torch.tensor([1, 9]), 0)


def test_generation_with_the_kv_cache_equals_running_the_whole_text_each_step():
    torch.manual_seed(3)
    model = transformer.GPT(TransformerConfig(vocab_size=11, block_size=10, n_layer=2, n_head=2, n_embd=16)).eval()
    ids = torch.randint(0, 11, (3, 4))
    caches = [{} for _ in model.layers]
    with torch.no_grad():
        step = [model._extend(ids, caches, 0)]  # the prompt, then one position at a time
        for t in range(4, 10):
            new = torch.randint(0, 11, (3, 1))
            ids = torch.cat([ids, new], dim=1)
            step.append(model._extend(new, caches, t))
        torch.testing.assert_close(torch.cat(step, dim=1), model(ids), rtol=1e-5, atol=1e-5)
    assert caches[0]["k"].shape == (3, 2, 10, 8)  # (B, H, T, D): every position's keys, once
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    sampled = model.generate(prompt, 15, generator=torch.Generator().manual_seed(0))  # past block_size
    ids, g = prompt.clone(), torch.Generator().manual_seed(0)
    for _ in range(15):  # the same draws from the whole text each step
        from tutorial_lib.sampling import sample_next

        with torch.no_grad():
            ids = torch.cat([ids, sample_next(model(ids[:, -10:])[:, -1], 1.0, None, None, g)[:, None]], dim=1)
    assert torch.equal(sampled, ids[:, 3:])
