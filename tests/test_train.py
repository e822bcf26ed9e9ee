"""Tests of tutorial_lib.train: schedule, loss, training loop, clipping, determinism."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tutorial_lib.train import History, TrainConfig, evaluate, lm_loss, lr_at, train

V = 8  # vocabulary of the toy task
# A fixed order-1 Markov chain: after token t comes (3t + 1) % V or (3t + 2) % V.
# Its entropy is log(2) per token, far below the uniform guess log(V).


def make_get_batch(seed: int, B: int = 16, T: int = 12):
    """Batches from the toy chain, drawn with their own generator (no global RNG)."""
    g = torch.Generator().manual_seed(seed)

    def get_batch(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        seq = torch.empty(B, T + 1, dtype=torch.long)
        seq[:, 0] = torch.randint(0, V, (B,), generator=g)
        for t in range(T):
            seq[:, t + 1] = (3 * seq[:, t] + 1 + torch.randint(0, 2, (B,), generator=g)) % V
        return seq[:, :-1], seq[:, 1:]  # x (B, T), y (B, T)

    return get_batch


def make_bigram(seed: int = 0) -> nn.Module:
    with torch.random.fork_rng():  # don't disturb the global RNG of other tests
        torch.manual_seed(seed)
        return nn.Embedding(V, V)  # logits of the next token = a row per current token


QUIET = dict(progress=False)


def test_lr_schedule_by_hand():
    cfg = TrainConfig(steps=101, lr=1e-2, warmup=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-3)  # warm-up starts at lr / warmup, not 0
    assert lr_at(4, cfg) == pytest.approx(5e-3)
    assert lr_at(10, cfg) == pytest.approx(1e-2)  # peak
    assert lr_at(55, cfg) == pytest.approx(0.5 * (1e-2 + 1e-3))  # cosine midpoint
    assert lr_at(100, cfg) == pytest.approx(1e-3)  # end: lr * min_lr_ratio
    lrs = [lr_at(s, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))  # decays monotonically
    no_warmup = TrainConfig(steps=5, lr=1.0, min_lr_ratio=0.0)
    assert [lr_at(s, no_warmup) for s in range(5)] == pytest.approx([1.0, 0.853553, 0.5, 0.146447, 0.0], abs=1e-6)
    with pytest.raises(ValueError, match="step"):
        lr_at(101, cfg)


@pytest.mark.parametrize(
    "field, value",
    [("steps", 0), ("lr", 0.0), ("weight_decay", -1.0), ("warmup", 1000), ("min_lr_ratio", 1.5),
     ("grad_clip", 0.0), ("eval_every", 0), ("eval_batches", 0), ("progress", "yes")],
)
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_lm_loss_matches_manual_and_rejects_bad_shapes():
    model = make_bigram()
    x, y = make_get_batch(0)("train")
    logits = model(x)  # (B, T, V)
    manual = -torch.log_softmax(logits, dim=-1).gather(-1, y.unsqueeze(-1)).mean()
    torch.testing.assert_close(lm_loss(model, x, y), manual, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(16, 12, 8\).*\(16, 11\)"):
        lm_loss(model, x, y[:, :-1])
    with pytest.raises(ValueError, match="logits"):
        lm_loss(nn.Linear(12, V), x.float(), y)  # logits (B, V): no time axis


def test_training_learns_the_toy_chain():
    model = make_bigram()
    cfg = TrainConfig(steps=200, lr=0.1, warmup=10, eval_every=50, eval_batches=4, **QUIET)
    h = train(model, make_get_batch(1), cfg)
    assert isinstance(h, History)
    assert h.steps == list(range(200)) and len(h.train_loss) == len(h.grad_norm) == len(h.lr) == 200
    assert h.val_steps == [0, 50, 100, 150, 200]
    assert h.val_loss[0] > 0.8 * math.log(V)  # untrained: about a uniform guess
    assert h.val_loss[-1] < math.log(2) + 0.1 < 0.5 * math.log(V)  # near the chain's entropy log(2)
    assert h.best_val() == min(h.val_loss) < h.val_loss[0]
    assert h.lr[10] == pytest.approx(0.1) and h.lr[-1] == pytest.approx(0.01)
    assert h.seconds > 0 and model.training


def test_evaluate_restores_mode_and_averages():
    model = make_bigram().eval()
    get_batch = make_get_batch(2)
    loss = evaluate(model, get_batch, batches=3)
    assert not model.training and 0 < loss < 2 * math.log(V)
    with pytest.raises(ValueError, match="batches"):
        evaluate(model, get_batch, batches=0)


def test_same_seed_same_history():
    cfg = TrainConfig(steps=30, lr=0.05, eval_every=10, eval_batches=2, **QUIET)
    a = train(make_bigram(3), make_get_batch(4), cfg)
    b = train(make_bigram(3), make_get_batch(4), cfg)
    c = train(make_bigram(3), make_get_batch(5), cfg)
    assert a.train_loss == b.train_loss and a.val_loss == b.val_loss and a.grad_norm == b.grad_norm
    assert a.train_loss != c.train_loss  # the check can fail: other data, other history


def test_stopping_early_repeats_the_start_of_the_whole_run():
    cfg = TrainConfig(steps=40, lr=0.05, warmup=5, eval_every=10, eval_batches=2, **QUIET)
    whole = train(make_bigram(3), make_get_batch(4), cfg)
    start = train(make_bigram(3), make_get_batch(4), cfg, stop_after=20)
    assert start.train_loss == whole.train_loss[:20] and start.lr == whole.lr[:20]  # the same schedule
    assert start.val_steps == [0, 10, 20] and start.val_loss == whole.val_loss[:3]
    for bad in (0, 41, 2.5, True):
        with pytest.raises(ValueError, match="stop_after must be None or an integer in"):
            train(make_bigram(3), make_get_batch(4), cfg, stop_after=bad)


@pytest.mark.parametrize("clip", [1.0, None])
def test_gradient_clipping_limits_the_update(clip):
    model = make_bigram()
    before = model.weight.detach().clone()
    cfg = TrainConfig(steps=1, lr=1.0, grad_clip=clip, eval_batches=1, **QUIET)
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    huge = lambda m, x, y: 1e6 * lm_loss(m, x, y)  # noqa: E731
    h = train(model, make_get_batch(6), cfg, loss_fn=huge, optimizer=sgd)
    change = (model.weight.detach() - before).norm().item()
    assert h.grad_norm[0] > 1e3  # recorded before clipping
    if clip is None:
        assert change == pytest.approx(h.grad_norm[0], rel=1e-4)  # the full gradient was applied
    else:
        assert change <= clip * 1.0 + 1e-4


def test_param_groups_keep_their_lr_ratio():
    a, b = nn.Linear(V, V), nn.Embedding(V, V)
    seen: list[tuple[float, float]] = []

    class Recording(torch.optim.AdamW):
        def step(self, closure=None):
            seen.append((self.param_groups[0]["lr"], self.param_groups[1]["lr"]))
            return super().step(closure)

    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = a, b

        def forward(self, x):
            return self.a(self.b(x))  # (B, T, V)

    opt = Recording([{"params": a.parameters(), "lr": 1e-3}, {"params": b.parameters(), "lr": 1e-4}])
    cfg = TrainConfig(steps=20, lr=1e-3, warmup=5, min_lr_ratio=0.1, eval_every=20, eval_batches=1, **QUIET)
    train(Both(), make_get_batch(7), cfg, optimizer=opt)
    assert len(seen) == 20
    assert all(lr0 / lr1 == pytest.approx(10.0) for lr0, lr1 in seen)
    assert seen[0][0] == pytest.approx(2e-4)  # warm-up: 1e-3 * 1 / 5
    assert seen[5][0] == pytest.approx(1e-3) and seen[-1][0] == pytest.approx(1e-4)  # peak, end


def test_progress_bar_is_silent_when_disabled(capsys, monkeypatch):
    monkeypatch.setenv("TUTORIAL_LIB_PROGRESS", "0")
    train(make_bigram(), make_get_batch(8), TrainConfig(steps=3, eval_batches=1))
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_train_rejects_a_dict_config():
    with pytest.raises(TypeError, match="config"):
        train(make_bigram(), make_get_batch(0), {"steps": 3})


def test_split_cross_entropy_matches_a_hand_computed_bigram_table():
    # A bigram "model" whose logits are log-probabilities from a fixed table: the split
    # cross-entropy must equal the mean of -log P[prev, next] over every adjacent pair,
    # whatever the block size, since a bigram needs only the previous token.
    from tutorial_lib.train import split_cross_entropy

    V = 5
    g = torch.Generator().manual_seed(0)
    table = torch.softmax(torch.randn(V, V, generator=g), dim=1)

    class Bigram(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, x):  # (B, T) -> (B, T, V)
            return table.log()[x]

    ids = torch.randint(0, V, (103,), generator=g)
    expected = -table.log()[ids[:-1], ids[1:]].mean().item()
    for block in (1, 7, 10, 102, 500):
        assert abs(split_cross_entropy(Bigram(), ids, block_size=block, batch_size=3) - expected) < 1e-6


def test_split_cross_entropy_rejects_bad_input():
    from tutorial_lib.train import split_cross_entropy

    model = nn.Embedding(3, 3)
    with pytest.raises(ValueError, match="ids must be a 1-D LongTensor"):
        split_cross_entropy(model, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="block_size must be a positive integer"):
        split_cross_entropy(model, torch.zeros(5, dtype=torch.long), block_size=0)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        split_cross_entropy(model, torch.zeros(1, dtype=torch.long))
