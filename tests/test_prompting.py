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
    with pytest.raises(ValueError, match="non-empty"):
        prompting.choice_log_probs(gpt, TOK, "ab", [""])
    with pytest.raises(ValueError, match="block_size"):
        prompting.choice_log_probs(gpt, TOK, "abcdefgh", ["ABCD"])
