"""tutorial_lib.finetune: what trains, how fast, and that adapters and LoRA start as the identity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tutorial_lib import finetune, train, utils
from tutorial_lib.transformer import GPT, TransformerConfig

V, C, L = 20, 32, 3


def trainable(model: nn.Module) -> int:
    return utils.count_parameters(model, trainable_only=True)


def gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(TransformerConfig(V, block_size=16, n_layer=L, n_head=4, n_embd=C))


def batch(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, V, (4, 12), generator=g)
    return x, torch.roll(x, -1, 1)


def step(model, lr=1e-2, optimizer=None):
    optimizer = optimizer or torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss = train.lm_loss(model, *batch())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def test_frozen_layers_stay_bit_identical_after_a_step_and_the_rest_moves():
    model = finetune.freeze_layers(gpt(), 2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    step(model)
    for name, p in model.named_parameters():
        frozen = name.startswith(("embed.", "layers.0.", "layers.1."))
        assert p.requires_grad != frozen, name
        if frozen:
            assert torch.equal(p, before[name]), name
    moved = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert any(n.startswith("layers.2.") for n in moved)  # the unfrozen layer learnt
    per_layer = sum(p.numel() for p in model.layers[2].parameters())
    assert trainable(model) == per_layer + sum(p.numel() for p in model.norm.parameters())
    assert trainable(finetune.freeze_layers(model, 0)) == sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in model.embed.parameters())
    with pytest.raises(ValueError, match=r"n must be an integer in \[0, 3\]"):
        finetune.freeze_layers(model, 4)
    with pytest.raises(ValueError, match="model must be a transformer.GPT"):
        finetune.freeze_layers(nn.Linear(2, 2), 1)


def test_layerwise_groups_follow_9_1_and_cover_every_weight_once():
    model = gpt()
    groups = finetune.layerwise_lr_groups(model, lr=1e-3, decay=0.5)
    assert [g["name"] for g in groups] == ["embed", "layer 1", "layer 2", "layer 3", "top"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3 / 8, 1e-3 / 4, 1e-3 / 2, 1e-3, 1e-3])
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))  # each weight in one group
    optimizer = torch.optim.AdamW(groups, lr=1e-3)  # AdamW keeps each group's own lr
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-3 / 8, 1e-3 / 4, 1e-3 / 2, 1e-3, 1e-3])
    # the first Adam step moves each weight by about its group's lr: lower layers move less
    before = [p.detach().clone() for p in groups[1]["params"] + groups[3]["params"]]
    step(model, optimizer=optimizer)
    low = max((p - b).abs().max().item() for p, b in zip(groups[1]["params"], before))
    high = max((p - b).abs().max().item() for p, b in zip(groups[3]["params"], before[len(groups[1]["params"]):]))
    assert low == pytest.approx(1e-3 / 4, rel=0.05) and high == pytest.approx(1e-3, rel=0.05)
    for bad, match in ((dict(lr=0, decay=0.5), "lr must be > 0"), (dict(lr=1e-3, decay=1.5), "decay must be in")):
        with pytest.raises(ValueError, match=match):
            finetune.layerwise_lr_groups(model, **bad)


def test_adapters_start_as_the_identity_count_as_9_2_and_only_they_train():
    model = gpt()
    x, _ = batch()
    with torch.no_grad():
        before = model(x)
    finetune.add_adapters(model, bottleneck=4)
    with torch.no_grad():
        assert torch.equal(model(x), before)  # W_up = 0: exactly the pretrained model
    assert trainable(model) == finetune.adapter_weights(L, C, 4) == 3 * (2 * 32 * 4 + 4 + 32)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    step(model)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    with torch.no_grad():
        assert not torch.allclose(model(x), before)  # the adapters learnt something
    with pytest.raises(ValueError, match="already has adapters"):
        finetune.add_adapters(model, 4)
    with pytest.raises(ValueError, match="bottleneck must be an integer >= 1"):
        finetune.Adapter(8, 0)


def test_lora_starts_as_the_identity_counts_as_9_3_and_merges_to_the_same_outputs():
    model = gpt()
    x, _ = batch()
    with torch.no_grad():
        before = model(x)
    finetune.add_lora(model, r=2, alpha=4.0, targets=("W_Q", "W_V"))
    with torch.no_grad():
        assert torch.equal(model(x), before)  # B = 0
    assert trainable(model) == finetune.lora_weights(L, C, 2) == 3 * 2 * 2 * 2 * 32
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    for _ in range(3):
        step(model)
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    with torch.no_grad():
        tuned = model(x)
        assert not torch.allclose(tuned, before)
        finetune.merge_lora(model)
        assert not any(isinstance(m, finetune.LoRALinear) for m in model.modules())
        assert torch.allclose(model(x), tuned, atol=1e-5)  # W + (alpha/r) B A: the same function
    assert type(model.layers[0].self_attn.W_Q) is nn.Linear


def test_lora_linear_by_hand_and_bad_input():
    torch.manual_seed(0)
    base = nn.Linear(5, 3)
    lora = finetune.LoRALinear(base, r=2, alpha=2.0)
    with torch.no_grad():
        lora.B.copy_(torch.randn(3, 2))
    x = torch.randn(7, 5)
    by_hand = x @ base.weight.T + base.bias + (2.0 / 2) * x @ (lora.B @ lora.A).T
    assert torch.allclose(lora(x), by_hand, atol=1e-6)
    assert torch.allclose(lora.merged()(x), by_hand, atol=1e-6)
    assert not base.weight.requires_grad and lora.A.requires_grad and lora.B.requires_grad
    with pytest.raises(ValueError, match=r"r must be an integer in \[1, 3\]"):
        finetune.LoRALinear(nn.Linear(5, 3), r=4)
    with pytest.raises(ValueError, match="base must be an nn.Linear"):
        finetune.LoRALinear(nn.Conv1d(2, 2, 1), r=1)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        finetune.LoRALinear(nn.Linear(5, 3), r=1, alpha=0)
    model = finetune.add_lora(gpt(), r=1)
    with pytest.raises(ValueError, match="W_Q already has a LoRA update"):
        finetune.add_lora(model, r=1)
    with pytest.raises(ValueError, match="targets must be a non-empty list"):
        finetune.add_lora(gpt(), r=1, targets=("W_X",))
    with pytest.raises(ValueError, match="were adapters added first"):
        finetune.add_lora(finetune.add_adapters(gpt(), 2), r=1)


def test_sft_batch_pays_the_loss_on_the_response_only():
    from tutorial_lib import tasks
    from tutorial_lib.data import CharTokenizer

    tok = CharTokenizer("QAWritencapsl:bBdDLEIYyhw \n")
    pairs = [tasks.Instruction("upper", "bad", "Q: Write in capitals: bad\nA: ", "BAD"),
             tasks.Instruction("upper", "yield", "Q: Write in capitals: yield\nA: ", "YIELD")]
    x, y = finetune.sft_batch(pairs, tok, block_size=64)
    assert x.shape == y.shape == (2, len(pairs[1].prompt) + 5)  # the longer text minus one
    for row, p in enumerate(pairs):
        targets = [tok.chars[t] for t in y[row].tolist() if t != -100]
        assert "".join(targets) == p.response + "\n"  # the answer and its newline, nothing else
        start = len(p.prompt)
        assert tok.decode(x[row, :start]) == p.prompt  # the input still holds the whole prompt
        assert (y[row, :start - 1] == -100).all()
    assert (y[0, len(pairs[0].prompt) + 3:] == -100).all()  # padding is never a target
    with pytest.raises(ValueError, match="more than block_size = 8"):
        finetune.sft_batch(pairs, tok, block_size=8)
    with pytest.raises(ValueError, match="pairs must be a non-empty list"):
        finetune.sft_batch([], tok, 8)


def test_follow_rate_is_exact_match_of_the_greedy_answer():
    from tutorial_lib import tasks
    from tutorial_lib.data import CharTokenizer

    tok = CharTokenizer("QA: abcXYZ\n")

    class Answers(nn.Module):  # always writes "XY\n", greedily
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def generate(self, prompt, length, temperature=1.0, generator=None):  # (B, T0) -> (B, length)
            return torch.tensor(tok.encode("XY\n" + "a" * 10))[:length].repeat(len(prompt), 1)

    pairs = [tasks.Instruction("k", "a", "Q: a\nA: ", "XY"), tasks.Instruction("k", "b", "Q: b\nA: ", "XYZ"),
             tasks.Instruction("k", "c", "Q: c\nA: ", "X")]
    assert finetune.follow_rate(Answers(), tok, pairs) == pytest.approx(1 / 3)
    mixed = pairs + [tasks.Instruction("upper", "c", "Q: c\nA: ", "XY")]
    mixed = [tasks.Instruction("first" if p.kind == "k" else p.kind, p.word, p.prompt, p.response) for p in mixed]
    assert finetune.follow_rates(Answers(), tok, mixed) == pytest.approx({"upper": 1.0, "first": 1 / 3})
    assert list(finetune.follow_rates(Answers(), tok, mixed)) == ["upper", "first"]  # INSTRUCTIONS' order


def test_greedy_answers_cut_at_the_newline_and_keep_answers_that_do_not_stop():
    from tutorial_lib import tasks
    from tutorial_lib.data import CharTokenizer

    tok = CharTokenizer("QA: abXY\n")

    class Writes(nn.Module):  # greedily writes `text`, whatever the prompt
        def __init__(self, text):
            super().__init__()
            self.text, self.dummy = text, nn.Parameter(torch.zeros(1))

        def generate(self, prompt, length, temperature=1.0, generator=None):  # (B, T0) -> (B, length)
            assert temperature == 0
            return torch.tensor(tok.encode(self.text))[:length].repeat(len(prompt), 1)

    pairs = [tasks.Instruction("k", "a", "Q: a\nA: ", "XY")]
    assert finetune.greedy_answers(Writes("XY\nabab"), tok, pairs) == ["XY"]
    assert finetune.greedy_answers(Writes("abababab"), tok, pairs, extra=3) == ["ababa"]  # 2 + 3, no stop
    with pytest.raises(ValueError, match="extra must be an integer >= 1"):
        finetune.greedy_answers(Writes("XY\n"), tok, pairs, extra=0)


def test_layer_weights_and_expected_trainable_match_the_counted_weights():
    model = gpt()
    assert finetune.layer_weights(C) == 12 * C * C + 13 * C == sum(p.numel() for p in model.layers[0].parameters())
    assert finetune.expected_trainable(model.config, "full") == utils.count_parameters(model)
    with pytest.raises(ValueError, match="method must be one of"):
        finetune.expected_trainable(model.config, "distill")


@pytest.mark.parametrize("method", finetune.METHODS)
def test_prepare_trains_what_the_formula_says_at_the_right_rates(method):
    options = finetune.MethodOptions(frozen=2, decay=0.5, bottleneck=4, rank=2, alpha=4.0)
    model = gpt()
    x, _ = batch()
    with torch.no_grad():
        before = model(x)
    groups = finetune.prepare(model, method, 1e-2, options)
    assert trainable(model) == finetune.expected_trainable(model.config, method, options)
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters() if p.requires_grad)  # each trainable once
    if method == "layer-lr":
        assert [g["lr"] for g in groups] == pytest.approx([1e-2 / 8, 1e-2 / 4, 1e-2 / 2, 1e-2, 1e-2])
    else:
        assert [g["lr"] for g in groups] == [1e-2]
    with torch.no_grad():
        assert torch.equal(model(x), before)  # preparing changes no output, adapters and LoRA included
    step(model, optimizer=torch.optim.AdamW(groups))
    with torch.no_grad():
        assert not torch.allclose(model(x), before)


def test_prepare_rejects_bad_input():
    with pytest.raises(ValueError, match="method must be one of"):
        finetune.prepare(gpt(), "prefix", 1e-3)
    with pytest.raises(ValueError, match="lr must be > 0"):
        finetune.prepare(gpt(), "full", 0.0)
    with pytest.raises(ValueError, match="model must be a transformer.GPT"):
        finetune.prepare(nn.Linear(2, 2), "full", 1e-3)
    with pytest.raises(ValueError, match=r"n must be an integer in \[0, 3\]"):
        finetune.prepare(gpt(), "freeze", 1e-3, finetune.MethodOptions(frozen=5))
    with pytest.raises(ValueError, match="model already has adapters"):
        finetune.prepare(finetune.add_adapters(gpt(), 2), "adapters", 1e-3)


def test_greedy_answers_in_batches_equal_one_prompt_at_a_time():
    from tutorial_lib import tasks
    from tutorial_lib.data import CharTokenizer

    tok = CharTokenizer("QA: WritencapslSpelbckwFrsofCuhgd\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    torch.manual_seed(0)
    model = GPT(TransformerConfig(tok.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=16))
    pairs = tasks.instruction_pairs(["cat", "lambda", "yield", "while"], 12, seed=0)  # prompts of several lengths
    assert len({len(p.prompt) for p in pairs}) > 2
    batched = finetune.greedy_answers(model, tok, pairs, extra=4)
    one_by_one = [finetune.greedy_answers(model, tok, [p], extra=4)[0] for p in pairs]
    assert batched == one_by_one
    assert all(len(a) <= len(p.response) + 4 for a, p in zip(batched, pairs))


def test_sampled_answers_are_seeded_and_temperature_0_is_greedy():
    from tutorial_lib import tasks
    from tutorial_lib.data import CharTokenizer

    tok = CharTokenizer("QA: WritencapslSpelbckwFrsofCuhgd\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    torch.manual_seed(0)
    model = GPT(TransformerConfig(tok.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=16))
    pairs = tasks.instruction_pairs(["cat", "lambda", "yield", "while"], 12, seed=0)
    sample = lambda seed: finetune.answers(model, tok, pairs, extra=3, temperature=1.0,
                                           generator=torch.Generator().manual_seed(seed))
    assert sample(1) == sample(1) and sample(1) != sample(2)
    assert finetune.answers(model, tok, pairs, extra=3) == finetune.greedy_answers(model, tok, pairs, extra=3)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        finetune.answers(model, tok, pairs, temperature=-1.0)


def test_sft_batches_draw_fresh_pairs_each_step_and_replay_plain_text():
    from tutorial_lib import tasks
    from tutorial_lib.data import CharTokenizer

    tok = CharTokenizer("QA: WritencapslSpelbckwFrsofCuhgd\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    words = ["cat", "lambda", "yield", "while"]
    asked = []

    def pairs_for_step(step):
        asked.append(step)
        return tasks.instruction_pairs(words, 4, seed=step)

    val = tasks.instruction_pairs(words, 3, seed=99)
    text = torch.tensor(tok.encode("abcdefghij" * 20))
    get_batch = finetune.sft_batches(pairs_for_step, tok, val, replay_ids=text, replay=2)
    x0, y0 = get_batch("train")
    x1, _ = get_batch("train")
    assert asked == [0, 1] and x0.shape[0] == 4 + 2 and not torch.equal(x0[:4], x1[:4])
    assert torch.equal(y0[4:, :-1], x0[4:, 1:])  # replayed rows: every target is the next character
    assert (y0[:4] == -100).any() and not (y0[4:] == -100).any()
    vx, vy = get_batch("val")
    assert torch.equal(vx, finetune.sft_batch(val, tok, 128)[0]) and asked == [0, 1]
    with pytest.raises(ValueError, match="replay_ids must be a 1-D tensor"):
        finetune.sft_batches(pairs_for_step, tok, val, replay=2)
    with pytest.raises(ValueError, match="replay must be an integer >= 0"):
        finetune.sft_batches(pairs_for_step, tok, val, replay=-1)


def test_adapters_follow_the_models_dtype_like_lora():
    for add in (lambda m: finetune.add_adapters(m, 4), lambda m: finetune.add_lora(m, 2)):
        model = GPT(TransformerConfig(vocab_size=12, block_size=8, n_layer=2, n_head=2, n_embd=16)).double()
        x = torch.randint(0, 12, (2, 8))
        before = model(x)
        add(model)
        trainable = [p for p in model.parameters() if p.requires_grad]
        assert trainable and all(p.dtype == torch.float64 for p in trainable)
        torch.testing.assert_close(model(x), before)  # still the identity, in float64
