"""tutorial_lib.rlhf: the preference losses against hand-computed values, KL >= 0, the reward model."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tutorial_lib import finetune, rlhf, tasks
from tutorial_lib.data import CharTokenizer
from tutorial_lib.transformer import GPT, TransformerConfig

TOK = CharTokenizer("QA: WritencapslSpelbckwFrsofCuhgd\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(TransformerConfig(TOK.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=16)).eval()


def batch():
    pairs = tasks.instruction_pairs(["cat", "lambda", "yield"], 4, seed=0)
    return pairs, *finetune.sft_batch(pairs, TOK, block_size=64)


def test_bradley_terry_loss_by_hand_and_accuracy():
    r_w, r_l = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.0, 0.0, 1.0])
    by_hand = (math.log(1 + math.exp(-2)) + math.log(2) + math.log(1 + math.exp(2))) / 3
    assert rlhf.bradley_terry_loss(r_w, r_l).item() == pytest.approx(by_hand, rel=1e-6)
    assert rlhf.bradley_terry_loss(r_w + 5, r_l + 5).item() == pytest.approx(by_hand, rel=1e-6)  # differences only
    assert rlhf.preference_accuracy(r_w, r_l) == pytest.approx((1 + 0.5 + 0) / 3)
    with pytest.raises(ValueError, match=r"r_chosen and r_rejected must be 1-D tensors of the same shape"):
        rlhf.bradley_terry_loss(r_w, r_l[:2])


def test_dpo_loss_by_hand_is_log_2_at_the_reference_and_pushes_the_chosen_up():
    loss = rlhf.dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.0]),
                         beta=0.5)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1.0)), rel=1e-6)  # beta * margin = 0.5 * 2
    logp = torch.randn(5) * 3
    same = rlhf.dpo_loss(logp, logp.flip(0), logp, logp.flip(0), beta=0.1)
    assert same.item() == pytest.approx(math.log(2), rel=1e-6)
    chosen, rejected = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    rlhf.dpo_loss(chosen, rejected, torch.zeros(3), torch.zeros(3), beta=1.0).backward()
    assert (chosen.grad < 0).all() and (rejected.grad > 0).all()  # descent raises chosen, lowers rejected
    with pytest.raises(ValueError, match="beta must be > 0"):
        rlhf.dpo_loss(logp, logp, logp, logp, beta=0)
    with pytest.raises(ValueError, match="the policy's and the reference's log-probs must have the same shape"):
        rlhf.dpo_loss(logp, logp, logp[:2], logp[:2], beta=1.0)


def test_response_log_probs_sum_the_response_targets_only():
    model = gpt()
    pairs, x, y = batch()
    got = rlhf.response_log_probs(model, x, y)
    logp = F.log_softmax(model(x), -1)
    for row, p in enumerate(pairs):
        start = len(p.prompt) - 1  # position that predicts the first response character
        ids = TOK.encode(p.response + "\n")
        by_hand = sum(logp[row, start + i, t] for i, t in enumerate(ids))
        assert got[row].item() == pytest.approx(by_hand.item(), rel=1e-5)
    with pytest.raises(ValueError, match=r"x and y must be tensors of the same shape \(B, T\)"):
        rlhf.response_log_probs(model, x, y[:, :-1])
    with pytest.raises(ValueError, match="at least one response target"):
        rlhf.response_log_probs(model, x, torch.full_like(y, -100))


def test_response_kl_is_zero_for_the_same_model_non_negative_and_exact():
    policy, reference = gpt(0), gpt(1)
    _, x, y = batch()
    assert torch.allclose(rlhf.response_kl(policy, policy, x, y), torch.zeros(len(x)), atol=1e-6)
    kl = rlhf.response_kl(policy, reference, x, y)
    assert (kl > 0).all()
    p, q = F.log_softmax(policy(x), -1), F.log_softmax(reference(x), -1)
    by_hand = F.kl_div(q, p, log_target=True, reduction="none").sum(-1)  # sum_v p (log p - log q)
    assert torch.allclose(kl, (by_hand * (y != -100)).sum(1), atol=1e-5)
    kl.sum().backward()
    assert next(policy.parameters()).grad is not None and next(reference.parameters()).grad is None


def test_reward_model_starts_at_zero_reads_the_last_real_token_and_rejects_bad_lengths():
    model = gpt()
    rm = rlhf.RewardModel(model)
    ids = torch.randint(0, TOK.vocab_size, (3, 10))
    lengths = torch.tensor([10, 6, 1])
    assert torch.equal(rm(ids, lengths), torch.zeros(3))
    torch.nn.init.normal_(rm.head.weight)
    r = rm(ids, lengths)
    padded = ids.clone()
    padded[1, 6:] = 0  # what follows the last real token does not matter
    assert torch.allclose(rm(padded, lengths), r)
    assert not torch.allclose(rm(ids, torch.tensor([10, 7, 1])), r)
    assert rm.body["embed"].tokens.weight is not model.embed.tokens.weight  # a copy, not the policy itself
    with pytest.raises(ValueError, match=r"lengths must be a \(B,\) = \(3,\) tensor of values in \[1, T = 10\]"):
        rm(ids, torch.tensor([11, 1, 1]))
    with pytest.raises(ValueError, match="gpt must be a transformer.GPT"):
        rlhf.RewardModel(torch.nn.Linear(2, 2))


def test_policy_gradient_loss_gives_the_reinforce_gradient():
    logits = torch.zeros(4, requires_grad=True)  # a policy over 4 actions
    actions = torch.tensor([0, 1, 1, 3])
    log_probs = F.log_softmax(logits, -1)[actions]  # (4,)
    returns = torch.tensor([1.0, 0.0, 2.0, -1.0])
    rlhf.policy_gradient_loss(log_probs, returns).backward()
    b = returns.mean()
    expected = torch.zeros(4)
    for a, R in zip(actions, returns):
        expected -= (R - b) * (torch.eye(4)[a] - torch.softmax(torch.zeros(4), -1)) / 4  # -(R-b) grad log pi
    assert torch.allclose(logits.grad, expected, atol=1e-6)
    same = rlhf.policy_gradient_loss(log_probs.detach().requires_grad_(), torch.full((4,), 3.0))
    assert same.item() == 0.0  # equal returns: nothing to learn once the baseline is taken off
    with pytest.raises(ValueError, match="log_probs and returns must be 1-D tensors"):
        rlhf.policy_gradient_loss(log_probs, returns[:3])


def test_response_batch_targets_the_continuation_only():
    prompts, conts = torch.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([[7, 8], [9, 10]])
    x, y = rlhf.response_batch(prompts, conts)
    assert x.tolist() == [[1, 2, 3, 7], [4, 5, 6, 9]]
    assert y.tolist() == [[-100, -100, 7, 8], [-100, -100, 9, 10]]
    with pytest.raises(ValueError, match=r"prompts and continuations must be \(B, P\) and \(B, L\) tensors"):
        rlhf.response_batch(prompts, conts[:1])
    with pytest.raises(ValueError, match=r"prompts and responses must be \(B, P\) and \(B, L\) tensors"):
        rlhf.rewards(rlhf.RewardModel(gpt()), prompts, conts[:1])


def test_encode_preferences_and_its_bad_input():
    prefs = [tasks.Preference("ab", "cd", "ef"), tasks.Preference("ba", "dc", "fe")]
    prompts, chosen, rejected = rlhf.encode_preferences(prefs, TOK)
    assert prompts.shape == chosen.shape == rejected.shape == (2, 2)
    assert TOK.decode(chosen[1]) == "dc" and TOK.decode(rejected[0]) == "ef"
    with pytest.raises(ValueError, match="every prompt must be 2 characters and every continuation 2"):
        rlhf.encode_preferences(prefs + [tasks.Preference("ab", "cde", "fgh")], TOK)
    with pytest.raises(ValueError, match="non-empty list"):
        rlhf.encode_preferences([], TOK)


def letter_pairs(n, seed):
    """Prompts 'QA' with two random 6-letter continuations, labelled by the lipogram labeller."""
    g = torch.Generator().manual_seed(seed)
    letters = "abcdefgh"
    texts = ["".join(letters[i] for i in torch.randint(0, 8, (6,), generator=g)) for _ in range(2 * n)]
    return tasks.label_preferences(["QA: "] * n, texts[:n], texts[n:], noise=0.0)


def test_the_reward_model_learns_a_preference_and_dpo_moves_towards_it():
    torch.manual_seed(0)
    model = gpt()
    train_set, test_set = letter_pairs(256, 0), letter_pairs(128, 1)
    rm = rlhf.RewardModel(model)
    opt = torch.optim.Adam(rm.parameters(), lr=3e-3)
    data = rlhf.encode_preferences(train_set, TOK)
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(len(data[0]), (32,), generator=g) for _ in range(40)]
    losses = [rlhf.reward_model_step(rm, opt, *(t[i] for t in data)) for i in batches]
    assert losses[0] == pytest.approx(math.log(2), rel=1e-5)  # every reward starts at 0
    assert np_mean(losses[-5:]) < 0.5
    with torch.no_grad():
        p, w, l = rlhf.encode_preferences(test_set, TOK)
        assert rlhf.preference_accuracy(rlhf.rewards(rm, p, w), rlhf.rewards(rm, p, l)) > 0.8
    policy = gpt()
    history = rlhf.train_dpo(policy, model, *data, steps=30, beta=0.5, lr=3e-3)
    assert history.loss[0] == pytest.approx(math.log(2), rel=1e-5)  # the policy starts as the reference
    assert np_mean(history.loss[-5:]) < 0.6 and history.seconds > 0
    with torch.no_grad():  # the policy now gives the chosen continuations more probability than before
        margin = lambda m: (rlhf.response_log_probs(m, *rlhf.response_batch(p, w))
                            - rlhf.response_log_probs(m, *rlhf.response_batch(p, l))).mean()
        assert margin(policy) > margin(model) + 0.5
    with pytest.raises(ValueError, match="batch must be a positive integer, got 0"):
        rlhf.train_dpo(gpt(), model, *data, steps=1, beta=0.5, batch=0)


def np_mean(xs):
    return sum(xs) / len(xs)


SMALL = CharTokenizer("QA: abe")  # few symbols, so a random policy writes e often


def small_gpt(seed):
    torch.manual_seed(seed)
    return GPT(TransformerConfig(SMALL.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()


def test_rl_raises_a_known_reward_and_the_kl_penalty_pulls_the_policy_back():
    e = SMALL.encode("e")[0]

    class FewerE(torch.nn.Module):  # a reward model that is exactly the labeller: minus the e's written
        def forward(self, ids):
            return -(ids[:, 4:] == e).float().sum(1)

    class Indifferent(torch.nn.Module):  # every continuation is as good as any other
        def forward(self, ids):
            return torch.zeros(len(ids))

    prompts = torch.tensor([SMALL.encode("QA: ")] * 32)
    free = rlhf.train_rl(small_gpt(0), small_gpt(0), FewerE(), lambda step: prompts, steps=30, length=8, beta=0.0,
                         lr=3e-3)
    assert len(free.reward) == len(free.kl) == 30 and free.kl[0] == pytest.approx(0, abs=1e-5)
    assert np_mean(free.reward[-5:]) > np_mean(free.reward[:5]) + 0.5  # fewer e's than at the start
    far = small_gpt(1)
    with torch.no_grad():
        far.head.weight.mul_(20)  # a peaked policy, far from the near-uniform reference
    pulled = rlhf.train_rl(far, small_gpt(0), Indifferent(), lambda step: prompts, steps=30, length=8,
                           beta=1.0, lr=3e-3)
    assert np_mean(pulled.kl[-5:]) < np_mean(pulled.kl[:5]) - 0.5  # only the penalty acts: back to the reference
    far_again = small_gpt(1)
    with torch.no_grad():
        far_again.head.weight.mul_(20)
    kept = rlhf.train_rl(far_again, small_gpt(0), Indifferent(), lambda step: prompts, steps=10, length=8, beta=0.0)
    assert torch.equal(far_again.head.weight, small_gpt(1).head.weight * 20)  # nothing moved
    assert kept.kl[-1] > np_mean(pulled.kl[-5:])
    with pytest.raises(ValueError, match="beta must be >= 0"):
        rlhf.train_rl(small_gpt(0), small_gpt(0), FewerE(), lambda step: prompts, steps=1, length=2, beta=-1.0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        rlhf.train_rl(small_gpt(0), small_gpt(0), FewerE(), lambda step: prompts, steps=0, length=2, beta=1.0)


def test_response_kl_is_never_negative_even_for_two_models_a_rounding_error_apart():
    policy, reference = gpt(0), gpt(0)
    with torch.no_grad():  # a hair apart: the exact KL is about 1e-12, float32 rounding is larger
        for p in reference.parameters():
            p.add_(1e-6 * torch.randn_like(p))
    _, x, y = batch()
    kl = rlhf.response_kl(policy, reference, x, y)
    assert (kl >= 0).all() and kl.max() < 1e-4


def test_on_step_sees_the_policy_after_each_step_and_its_time_is_not_counted():
    import time

    prompts = torch.tensor([SMALL.encode("QA: ")] * 8)

    class Indifferent(torch.nn.Module):
        def forward(self, ids):
            return torch.zeros(len(ids))

    seen, weights = [], []

    def look(step):  # what the policy is after `step` steps; slow on purpose
        seen.append(step)
        weights.append(policy.head.weight.detach().clone())
        time.sleep(0.05)

    policy = small_gpt(1)
    with torch.no_grad():
        policy.head.weight.mul_(20)  # far from the reference: the penalty moves it every step
    history = rlhf.train_rl(policy, small_gpt(0), Indifferent(), lambda step: prompts, steps=4, length=4,
                            beta=1.0, lr=3e-3, on_step=look)
    assert seen == [1, 2, 3, 4] and torch.equal(weights[-1], policy.head.weight)
    assert not torch.equal(weights[0], weights[1])  # each look comes after its own step
    assert history.seconds < 4 * 0.05  # the looks' sleeps are not part of the time
    with pytest.raises(ValueError, match="on_step must be a function of the step number or None"):
        rlhf.train_rl(small_gpt(0), small_gpt(0), Indifferent(), lambda step: prompts, steps=1, length=2,
                      beta=1.0, on_step=3)
    model = gpt(0)
    data = rlhf.encode_preferences(letter_pairs(64, 0), TOK)
    dpo_seen = []
    dpo = rlhf.train_dpo(gpt(0), model, *data, steps=3, beta=0.5, on_step=lambda k: (dpo_seen.append(k),
                                                                                     time.sleep(0.1)))
    assert dpo_seen == [1, 2, 3] and dpo.seconds < 0.3
    with pytest.raises(ValueError, match="on_step must be a function"):
        rlhf.train_dpo(gpt(0), model, *data, steps=1, beta=0.5, on_step="every 10")
