"""tutorial_lib.prompting: prompts built right, accuracy measured right, the ideal ceiling, scoring."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tutorial_lib import prompting
from tutorial_lib.data import CharTokenizer
from tutorial_lib.prompting import PromptFormat
from tutorial_lib.tasks import RULE_INPUTS, RULE_OUTPUTS, RuleBatch, rule_sequences

TOK = CharTokenizer(RULE_INPUTS + RULE_OUTPUTS + " >,")
SMALL = RuleBatch(xs=torch.tensor([[0, 2, 0, 1], [3, 3, 1, 2]]), ys=torch.tensor([[2, 1, 2, 0], [0, 0, 3, 1]]),
                  rules=torch.tensor([[2, 0, 1, 3], [2, 3, 1, 0]]))


class CopyOracle(nn.Module):
    """Reads ids (B, T): finds the last earlier occurrence of the final input character and puts
    a large logit on the character after it (what an ideal induction head does)."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.vocab = vocab

    def forward(self, ids):
        B, T = ids.shape
        logits = torch.zeros(B, T, self.vocab)
        for b in range(B):
            query = ids[b, -1] if TOK.chars[int(ids[b, -1])] in RULE_INPUTS else ids[b, -2]  # before an arrow
            hits = [t for t in range(T - 2) if ids[b, t] == query]
            if hits:
                after = hits[-1] + 1  # the output letter follows the input, or the arrow after it
                if TOK.chars[int(ids[b, after])] == ">":
                    after += 1
                logits[b, -1, ids[b, after]] = 10.0
        return logits


def test_prompts_show_k_examples_then_the_query():
    prompts, answers = prompting.few_shot_prompts(SMALL, 2)
    assert prompts == ["aC cB a", "dA dA b"] and answers.tolist() == [2, 3]
    prompts, _ = prompting.few_shot_prompts(SMALL, 0, PromptFormat(arrow=">", sep=","))
    assert prompts == ["a>", "d>"]
    assert prompting.few_shot_prompts(SMALL, 3, PromptFormat(">", ","))[0][0] == "a>C,c>B,a>C,b>"
    with pytest.raises(ValueError, match=r"shots must be an integer in \[0, 3\]"):
        prompting.few_shot_prompts(SMALL, 4)


def test_ideal_accuracy_by_hand_and_at_zero_shots():
    # row 0: k=2 query a, shown {a, c}: right; k=3 query b, shown {a, c}: 1 / (4 - 2)
    # row 1: k=2 query b, shown {d}: 1 / 3; k=3 query c, shown {d, b}: 1 / 2
    ideal = prompting.ideal_accuracy(SMALL, [0, 2, 3])
    assert ideal[0] == pytest.approx(1 / 4)
    assert ideal[2] == pytest.approx((1 + 1 / 3) / 2) and ideal[3] == pytest.approx((1 / 2 + 1 / 2) / 2)


@pytest.mark.parametrize("fmt", [PromptFormat(), PromptFormat(">", ",")])
def test_an_ideal_copier_is_right_whenever_the_query_was_shown(fmt):
    batch = rule_sequences(300, pairs=9, num_symbols=8, repeat=0.5, seed=4)
    accuracy = prompting.few_shot_accuracy(CopyOracle(TOK.vocab_size), TOK, batch, [0, 1, 4, 8], fmt)
    ideal = prompting.ideal_accuracy(batch, [0, 1, 4, 8])
    for k, acc in accuracy.items():
        seen = (batch.xs[:, :k] == batch.xs[:, k:k + 1]).any(1).float().mean().item()
        assert seen - 1e-9 <= acc <= ideal[k] + 0.05  # right when shown; unshown: a fixed guess
    assert accuracy[8] > accuracy[1] > accuracy[0] - 0.1
    probs = prompting.answer_probs(CopyOracle(TOK.vocab_size), TOK, prompting.few_shot_prompts(batch, 8, fmt)[0])
    assert probs.shape == (300, 8) and torch.allclose(probs.sum(-1), torch.ones(300))


def test_choice_log_probs_sum_the_choice_characters():
    uniform = CopyOracle(TOK.vocab_size)  # all-zero logits except after a repeat: here none
    scores = prompting.choice_log_probs(uniform, TOK, "ab", ["C", "CD"])
    assert scores.tolist() == pytest.approx([-math.log(TOK.vocab_size), -2 * math.log(TOK.vocab_size)])
    from tutorial_lib.transformer import GPT, TransformerConfig

    torch.manual_seed(0)
    gpt = GPT(TransformerConfig(TOK.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=8)).eval()
    ids = TOK.encode_tensor("abCD")
    with torch.no_grad():
        logp = torch.log_softmax(gpt(ids[None, :-1])[0], -1)
    by_hand = logp[1, ids[2]] + logp[2, ids[3]]
    assert prompting.choice_log_probs(gpt, TOK, "ab", ["CD"])[0] == pytest.approx(float(by_hand), abs=1e-5)
    # choices of different lengths share one padded forward pass; the padding changes nothing
    together = prompting.choice_log_probs(gpt, TOK, "ab", ["CD", "C", "DCB"])
    alone = [prompting.choice_log_probs(gpt, TOK, "ab", [c])[0] for c in ("CD", "C", "DCB")]
    assert together.tolist() == pytest.approx([float(a) for a in alone], abs=1e-5)
    with pytest.raises(ValueError, match="non-empty"):
        prompting.choice_log_probs(gpt, TOK, "ab", [""])
    with pytest.raises(ValueError, match="block_size"):
        prompting.choice_log_probs(gpt, TOK, "abcdefgh", ["ABCD"])


def test_lm_batch_pays_the_loss_on_the_answers_only():
    x, y = prompting.lm_batch(SMALL, prompting.TOKENIZER)
    tok = prompting.TOKENIZER
    assert tok.decode(x[0]) == "aCcBaCb" and x.shape == y.shape == (2, 7)
    kept = [tok.chars[int(t)] for t in y[0] if t != -100]
    assert kept == list("CBCA")  # every answer, nothing else
    assert (y[:, 1::2] == -100).all()  # inputs are never targets
    x, y = prompting.lm_batch(SMALL, prompting.TOKENIZER, PromptFormat(">", ","))
    assert tok.decode(x[1]) == "d>A,d>A,b>D,c>" and (y != -100).sum() == 8


def test_in_context_batches_train_on_fresh_rules_and_validate_on_held_out_ones():
    get_batch, val = prompting.in_context_batches(batch_size=8, pairs=16, repeat=0.9, seed=3, val_size=64)
    first, second = get_batch("train"), get_batch("train")
    assert first[0].shape == (8, 31) and not torch.equal(first[0], second[0])  # new sequences each step
    vx, vy = get_batch("val")
    assert torch.equal(vx, get_batch("val")[0]) and vx.shape == (64, 31)  # the same held-out set
    assert torch.equal(vx, prompting.lm_batch(val)[0])
    again = prompting.in_context_batches(batch_size=8, pairs=16, repeat=0.9, seed=3, val_size=64)[0]
    assert torch.equal(again("train")[0], first[0])  # seeded
    # bursty training sequences use far fewer distinct inputs than the validation ones (repeat=0)
    def distinct(ids):
        return sum(len(set(row[0::2].tolist())) for row in ids) / len(ids)
    assert distinct(first[0]) < 4 < 6 < distinct(vx)
    with pytest.raises(ValueError, match="split must be 'train' or 'val'"):
        get_batch("test")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        prompting.in_context_batches(batch_size=0)


def test_ideal_loss_by_hand_and_below_a_uniform_guess():
    # row 0 xs a c a b: ln 4, ln 3, 0, ln 2; row 1 xs d d b c: ln 4, 0, ln 3, ln 2
    expected = (2 * math.log(4) + 2 * math.log(3) + 2 * math.log(2)) / 8
    assert prompting.ideal_loss(SMALL) == pytest.approx(expected)
    batch = rule_sequences(200, pairs=16, repeat=0.0, seed=1)
    assert 0.5 < prompting.ideal_loss(batch) < math.log(8)
    assert prompting.ideal_loss(rule_sequences(50, pairs=1, seed=1)) == pytest.approx(math.log(8))


def test_attention_weights_are_the_models_own_and_rows_sum_to_one():
    from tutorial_lib.transformer import GPT, TransformerConfig

    torch.manual_seed(0)
    gpt = GPT(TransformerConfig(prompting.TOKENIZER.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16))
    x, _ = prompting.lm_batch(SMALL)
    weights = prompting.attention_weights(gpt, x)
    assert weights.shape == (2, 2, 2, 7, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 2, 7), atol=1e-6)
    assert (weights.triu(1) == 0).all()  # causal: nothing from the future
    # the same numbers as the model's last layer computes: rerun the slow copy's first layer by hand
    slow = GPT(TransformerConfig(prompting.TOKENIZER.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16,
                                 fast=False))
    slow.load_state_dict(gpt.state_dict())
    with torch.no_grad():
        assert torch.allclose(slow(x), gpt(x), atol=1e-5)
    assert torch.allclose(slow.layers[1].self_attn.last_weights, weights[1])
    with pytest.raises(ValueError, match="transformer.GPT"):
        prompting.attention_weights(nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match=r"ids must be \(B, T\)"):
        prompting.attention_weights(gpt, x[0])


def test_induction_mass_sums_the_weight_on_matching_answers():
    xs = torch.tensor([[0, 1, 0]])  # "a? b? a?": the query a at position 4 matches the answer at 1
    T = 6
    weights = torch.zeros(1, 2, T, T)
    weights[..., 0] = 1.0  # every row on position 0 ...
    weights[0, 0, 4] = torch.tensor([0.0, 0.7, 0.1, 0.1, 0.1, 0.0])  # ... head 0's query row on the answer
    mass, uniform = prompting.induction_mass(weights, xs)
    assert mass.tolist() == pytest.approx([0.7, 0.0]) and uniform == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="nothing to measure"):
        prompting.induction_mass(weights, torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"weights must be \(B, H, T, T\)"):
        prompting.induction_mass(weights[0], xs)


def test_choice_accuracy_counts_the_items_whose_right_word_scores_higher():
    from tutorial_lib.tasks import WordChoice

    class Likes(nn.Module):  # puts a large logit on "C" after anything: prefers words made of C
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, ids):
            logits = torch.zeros(*ids.shape, TOK.vocab_size)
            logits[..., TOK.encode("C")[0]] = 5.0
            return logits

    items = [WordChoice("ab", "CC", "AB"), WordChoice("ab", "AB", "CC"), WordChoice("ba", "CA", "AA")]
    assert prompting.choice_accuracy(Likes(), TOK, items) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="items must be a non-empty list"):
        prompting.choice_accuracy(Likes(), TOK, [])


def test_an_ablated_head_averages_what_it_may_see_and_nothing_else_changes():
    from tutorial_lib.transformer import GPT, TransformerConfig

    torch.manual_seed(0)
    gpt = GPT(TransformerConfig(prompting.TOKENIZER.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16))
    gpt.eval()
    x, _ = prompting.lm_batch(SMALL)
    T = x.shape[1]
    intact = prompting.attention_weights(gpt, x)[1]  # (B, H, T, T)
    with torch.no_grad():
        before = gpt(x)
        with prompting.ablated(gpt, 1, [0]):
            after = gpt(x)
            used = gpt.layers[1].self_attn.last_weights  # (B, H, T, T)
        again = gpt(x)
    assert torch.equal(before, again) and "forward" not in vars(gpt.layers[1].self_attn)  # restored on exit
    assert not torch.allclose(before, after)
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]  # causal, equal weights
    assert torch.allclose(used[:, 0], uniform.expand(2, T, T))
    assert torch.allclose(used[:, 1], intact[:, 1], atol=1e-6)  # head 1 untouched
    with pytest.raises(ValueError, match="heads must be a non-empty list"):
        with prompting.ablated(gpt, 0, [2]):
            pass
    with pytest.raises(ValueError, match="layer must index"):
        with prompting.ablated(gpt, 3, [0]):
            pass
