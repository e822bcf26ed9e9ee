"""Tests of tutorial_lib.exercises: right answers pass, common mistakes get their hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tutorial_lib.exercises import (
    Feedback,
    check_bigram_table,
    check_chain_rule,
    check_close,
    check_perplexity,
    check_shape,
)


def verdict(capsys, feedback: Feedback) -> str:
    """The single printed line, checked against the returned Feedback."""
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.strip() == feedback.message == repr(feedback)
    assert out.startswith("✅ Correct: " if feedback else "❌ Not yet: ")
    return out


def catches(check, right, wrong, hint: str, capsys) -> None:
    """``check`` passes the ``right`` answer and fails the ``wrong`` one with ``hint`` in its
    verdict, printed as one line."""
    assert check(right).ok
    capsys.readouterr()
    feedback = check(wrong)
    assert not feedback.ok and hint in feedback.message, feedback.message
    verdict(capsys, feedback)


# ---------------------------------------------------------------- building blocks


def test_feedback_is_truthy_when_ok():
    assert Feedback(True, "✅ Correct: x") and not Feedback(False, "❌ Not yet: x")
    assert repr(Feedback(False, "❌ Not yet: x")) == "❌ Not yet: x"


def test_check_close_numbers_arrays_tensors(capsys):
    assert verdict(capsys, check_close(0.1 + 0.2, 0.3, "x"))
    assert verdict(capsys, check_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), "v"))
    assert verdict(capsys, check_close(torch.ones(2, 2), torch.ones(2, 2), "t"))
    out = verdict(capsys, check_close(np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]), "v"))
    assert "index [2]" in out and "expected 3, got 3.5" in out and "0.5" in out


def test_check_close_reports_shape_type_dtype_nan_none(capsys):
    out = verdict(capsys, check_close(np.zeros((3,)), np.zeros((3, 3)), "P"))
    assert "shape (3,)" in out and "(3, 3)" in out
    out = verdict(capsys, check_close(np.array([1.0, np.nan]), np.array([1.0, 2.0]), "v"))
    assert "NaN" in out and "[1]" in out
    out = verdict(capsys, check_close(torch.zeros(2), np.zeros(2), "v"))
    assert "numpy.ndarray" in out and ".numpy()" in out
    out = verdict(capsys, check_close(np.array([1, 2]), np.array([1.0, 2.0]), "counts"))
    assert "integer" in out and "floating point" in out
    assert "return" in verdict(capsys, check_close(None, 1.0, "x"))
    assert "single number" in verdict(capsys, check_close(np.zeros(3), 1.0, "x"))
    assert "NaN" in verdict(capsys, check_close(float("nan"), 1.0, "x"))


def test_quiet_prints_nothing(capsys):
    fb = check_close(1.0, 2.0, "x", quiet=True)
    assert not fb and capsys.readouterr().out == ""


def test_check_shape(capsys):
    assert verdict(capsys, check_shape(torch.zeros(4, 3), (4, None), "h"))
    out = verdict(capsys, check_shape(np.zeros((3, 4)), (4, 3), "h"))
    assert "(3, 4)" in out and "(4, 3)" in out
    assert "dimensions" in verdict(capsys, check_shape(np.zeros(3), (3, 1), "h"))
    assert "list" in verdict(capsys, check_shape([1, 2], (2,), "h"))
    with pytest.raises(TypeError, match="expected_shape"):
        check_shape(np.zeros(2), 2, "h")


# ---------------------------------------------------------------- chapter 1: perplexity


def test_perplexity_correct(capsys):
    assert verdict(capsys, check_perplexity(lambda lp: float(np.exp(-np.mean(lp)))))
    assert verdict(capsys, check_perplexity(lambda lp: math.exp(-sum(lp) / len(lp))))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lp: np.exp(np.mean(lp)), "minus sign"),
        (lambda lp: -np.mean(lp), "cross-entropy"),
        (lambda lp: 2 ** -np.mean(lp), "log2"),
        (lambda lp: np.exp(-np.mean(lp) / np.log(2)), "log2"),
        (lambda lp: np.exp(-np.sum(lp)), "mean"),
        (lambda lp: np.exp(-lp), "single number"),
        (lambda lp: 4.0, "expected"),  # right only on the uniform case
    ],
)
def test_perplexity_common_mistakes(capsys, wrong, hint):
    fb = check_perplexity(wrong)
    assert not fb and hint in verdict(capsys, fb)


def test_checker_reports_a_raising_function_and_a_non_function(capsys):
    def broken(lp):
        raise ValueError("oops")

    out = verdict(capsys, check_perplexity(broken))
    assert "your function raised ValueError: oops" in out
    assert "without calling it" in verdict(capsys, check_perplexity(4.0))


# ---------------------------------------------------------------- chapter 1: bigram table


def bigram_reference(ids, V, alpha):
    P = np.full((V, V), float(alpha))
    for a, b in zip(ids[:-1], ids[1:]):
        P[a, b] += 1
    return P / P.sum(axis=1, keepdims=True)


def test_bigram_table_correct(capsys):
    assert verdict(capsys, check_bigram_table(bigram_reference))
    assert verdict(capsys, check_bigram_table(lambda ids, V, a: torch.tensor(bigram_reference(ids, V, a))))


def _counts(ids, V):
    C = np.zeros((V, V))
    for a, b in zip(ids[:-1], ids[1:]):
        C[a, b] += 1
    return C


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda ids, V, a: bigram_reference(ids, V, a).T, "transposed"),
        (lambda ids, V, a: (_counts(ids, V) + a) / (_counts(ids, V).sum(1, keepdims=True) + a), "alpha * V"),
        (lambda ids, V, a: _counts(ids, V) / _counts(ids, V).sum(1, keepdims=True), "smoothing"),
        (lambda ids, V, a: (_counts(ids, V) + a) / (np.bincount(ids, minlength=V)[:, None] + a * V), "ids[:-1]"),
        (lambda ids, V, a: _counts(ids, V) + a, "divide each row"),
        (lambda ids, V, a: np.ones((V, V)) / V, "P[a, b] = (count(a, b) + alpha)"),
        (lambda ids, V, a: np.ones((V, V)), "row sums"),
        (lambda ids, V, a: np.ones(V) / V, "shape (V, V)"),
        (lambda ids, V, a: np.zeros((V, V)) / 0.0, "NaN"),
        (lambda ids, V, a: [[1.0]], "numpy array"),
    ],
)
def test_bigram_table_common_mistakes(capsys, wrong, hint):
    with np.errstate(all="ignore"):
        fb = check_bigram_table(wrong)
    assert not fb and hint in verdict(capsys, fb)


# ---------------------------------------------------------------- chapter 1: chain rule


def test_chain_rule_correct(capsys):
    assert verdict(capsys, check_chain_rule(lambda p: sum(math.log(q) for q in p)))
    assert verdict(capsys, check_chain_rule(lambda p: np.log(p).sum()))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda p: float(np.prod(p)), "product"),
        (lambda p: float(np.sum(np.log10(p))), "log10"),
        (lambda p: float(np.sum(np.log2(p))), "log2"),
        (lambda p: float(np.mean(np.log(p))), "sum of the logs"),
        (lambda p: -float(np.sum(np.log(p))), "sign"),
        (lambda p: np.log(p), "single number"),
        (lambda p: p[0] + 1.0, "Hint: log p"),
    ],
)
def test_chain_rule_common_mistakes(capsys, wrong, hint):
    fb = check_chain_rule(wrong)
    assert not fb and hint in verdict(capsys, fb)


def test_chain_rule_reports_exception_name(capsys):
    assert "ZeroDivisionError" in verdict(capsys, check_chain_rule(lambda p: 1 / 0))


def test_check_close_odd_answers_do_not_raise(capsys):
    assert "numbers" in verdict(capsys, check_close(np.array(["a", "b"]), np.zeros(2), "v"))
    assert verdict(capsys, check_close(torch.ones(3, dtype=torch.bfloat16), torch.ones(3), "t"))
    with pytest.raises(TypeError, match="expected"):
        check_close(1.0, [1.0], "x")  # a bug in the notebook, not in the learner's answer


# ---------------------------------------------------------------- chapter 2


def _rnn_step(x_t, h_prev, W, U, b_h):
    return torch.tanh(h_prev @ W.T + x_t @ U.T + b_h)


@pytest.mark.parametrize("fn, hint", [
    (lambda x, h, W, U, b: torch.tanh(h @ W + x @ U.T + b), "h_prev @ W.T"),
    (lambda x, h, W, U, b: h @ W.T + x @ U.T + b, "activation"),
    (lambda x, h, W, U, b: torch.tanh(h @ W.T + x @ U.T), "bias b_h is missing"),
    (lambda x, h, W, U, b: torch.sigmoid(h @ W.T + x @ U.T + b), "sigmoid"),
    (lambda x, h, W, U, b: torch.tanh(h @ U.T + x @ W.T + b), "raised"),
    (lambda x, h, W, U, b: None, "returned None"),
])
def test_check_rnn_step(fn, hint, capsys):
    from tutorial_lib.exercises import check_rnn_step

    assert check_rnn_step(_rnn_step).ok
    feedback = check_rnn_step(fn)
    assert not feedback.ok and hint in feedback.message


@pytest.mark.parametrize("fn, hint", [
    (lambda dx, dh, do: dh * dx + dh * dh + do * dh, "biases"),
    (lambda dx, dh, do: dh * dx + dh * dh + dh, "output layer"),
    (lambda dx, dh, do: dh * dx + dh * dh + 2 * dh + do * dh + do, "two hidden biases"),
    (lambda dx, dh, do: 7, "expected"),
])
def test_check_rnn_param_count(fn, hint):
    from tutorial_lib.exercises import check_rnn_param_count

    assert check_rnn_param_count(lambda dx, dh, do: dh * dx + dh * dh + dh + do * dh + do).ok
    feedback = check_rnn_param_count(fn)
    assert not feedback.ok and hint in feedback.message


# ---------------------------------------------------------------- chapter 3


def _clip(grads, max_norm):
    total = torch.sqrt(sum(g.square().sum() for g in grads))
    return [g * min(1.0, max_norm / float(total)) for g in grads]


@pytest.mark.parametrize("fn, hint", [
    (lambda gs, m: [g * min(1.0, m / float(g.norm())) for g in gs], "each tensor on its own"),
    (lambda gs, m: [g * (m / float(torch.sqrt(sum(u.square().sum() for u in gs)))) for g in gs], "only ever shrinks"),
    (lambda gs, m: [g.clamp(-m, m) for g in gs], "clipping by value"),
    (lambda gs, m: gs[0], "list of 2 tensors"),
    (lambda gs, m: [g * 0 for g in gs], "differ"),
])
def test_check_clip_grad_norm(fn, hint):
    from tutorial_lib.exercises import check_clip_grad_norm

    assert check_clip_grad_norm(_clip).ok
    # torch's own clipping, applied to copies, is a right answer too
    def torch_clip(gs, m):
        gs = [g.clone().requires_grad_() for g in gs]
        for p in gs:
            p.grad = p.detach().clone()
        torch.nn.utils.clip_grad_norm_(gs, m)
        return [p.grad for p in gs]

    assert check_clip_grad_norm(torch_clip).ok
    feedback = check_clip_grad_norm(fn)
    assert not feedback.ok and hint in feedback.message


# ---------------------------------------------------------------- chapter 4


def _peephole(x, h, C, P, o_sees_new=True, peep=True, order=True):
    hx = torch.cat([h, x] if order else [x, h], 1)
    pf, pi, po = (P["p_f"], P["p_i"], P["p_o"]) if peep else (0, 0, 0)
    f = torch.sigmoid(hx @ P["W_f"].T + pf * C + P["b_f"])
    i = torch.sigmoid(hx @ P["W_i"].T + pi * C + P["b_i"])
    C_new = f * C + i * torch.tanh(hx @ P["W_C"].T + P["b_C"])
    o = torch.sigmoid(hx @ P["W_o"].T + po * (C_new if o_sees_new else C) + P["b_o"])
    return o * torch.tanh(C_new), C_new


@pytest.mark.parametrize("fn, hint", [
    (lambda x, h, C, P: _peephole(x, h, C, P, o_sees_new=False), "new cell C_t"),
    (lambda x, h, C, P: _peephole(x, h, C, P, peep=False), "peepholes are missing"),
    (lambda x, h, C, P: _peephole(x, h, C, P, order=False), "hidden state first"),
    (lambda x, h, C, P: _peephole(x, h, C, P)[0], "pair (h_t, C_t)"),
    (lambda x, h, C, P: tuple(t * 2 for t in _peephole(x, h, C, P)), "C_t"),
    (lambda x, h, C, P: 1 / 0, "ZeroDivisionError"),
])
def test_check_peephole_lstm_step(fn, hint):
    from tutorial_lib.exercises import check_peephole_lstm_step

    assert check_peephole_lstm_step(_peephole).ok
    feedback = check_peephole_lstm_step(fn)
    assert not feedback.ok and hint in feedback.message


def test_peephole_with_zero_peepholes_is_the_lstm_cell():
    """The checker's reference reduces to tutorial_lib.gates.LSTMCell when p = 0."""
    from tutorial_lib.gates import LSTMCell

    cell = LSTMCell(4, 5)
    P = {name: p.detach() for name, p in cell.named_parameters()}
    P.update({f"p_{k}": torch.zeros(5) for k in "fio"})
    x, h, C = torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 5)
    h_ref, C_ref = cell(x, (h, C))
    h_got, C_got = _peephole(x, h, C, P)
    torch.testing.assert_close(h_got, h_ref.detach())
    torch.testing.assert_close(C_got, C_ref.detach())


def _gru_no_reset(x, h, P):
    hx = torch.cat([h, x], 1)
    z = torch.sigmoid(hx @ P["W_z"].T + P["b_z"])
    return (1 - z) * h + z * torch.tanh(hx @ P["W"].T + P["b"])


@pytest.mark.parametrize("fn, hint", [
    (lambda x, h, P: (lambda z, c: z * h + (1 - z) * c)(
        torch.sigmoid(torch.cat([h, x], 1) @ P["W_z"].T + P["b_z"]),
        torch.tanh(torch.cat([h, x], 1) @ P["W"].T + P["b"])), "swapped"),
    (lambda x, h, P: torch.tanh(torch.cat([h, x], 1) @ P["W"].T + P["b"]), "candidate alone"),
    (lambda x, h, P: _gru_no_reset(x, h, P) + 1, "h_t"),
    (lambda x, h, P: None, "None"),
])
def test_check_gru_without_reset(fn, hint):
    from tutorial_lib.exercises import check_gru_without_reset
    from tutorial_lib.gates import GRUCell

    assert check_gru_without_reset(_gru_no_reset).ok
    # the library's GRU cell with its reset gate pinned open (r = 1) is a right answer too
    def via_cell(x, h, P):
        cell = GRUCell(x.shape[1], h.shape[1])
        with torch.no_grad():
            for name in ("W_z", "b_z", "W", "b"):
                getattr(cell, name).copy_(P[name])
            cell.W_r.zero_()
            cell.b_r.fill_(1e4)  # σ(1e4) = 1
        return cell(x, h).detach()

    assert check_gru_without_reset(via_cell).ok
    feedback = check_gru_without_reset(fn)
    assert not feedback.ok and hint in feedback.message


# ---------------------------------------------------------------- chapter 5


def _dot_step(query, keys, mask, scale=True, use_mask=True):
    scores = torch.einsum("bd,bsd->bs", query, keys) / (math.sqrt(query.shape[1]) if scale else 1)
    if use_mask:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, dim=-1)
    return (w[:, :, None] * keys).sum(1), w


@pytest.mark.parametrize("fn, hint", [
    (lambda q, k, m: _dot_step(q, k, m, scale=False), "sqrt(D)"),
    (lambda q, k, m: _dot_step(q, k, m, use_mask=False), "padded positions"),
    (lambda q, k, m: (_dot_step(q, k, m)[0] * 2, _dot_step(q, k, m)[1]), "context"),
    (lambda q, k, m: _dot_step(q, k, m)[1], "pair"),
    (lambda q, k, m: 1 / 0, "ZeroDivisionError"),
])
def test_check_dot_attention_step(fn, hint, capsys):
    from tutorial_lib.attention import dot_product_attention
    from tutorial_lib.exercises import check_dot_attention_step

    assert check_dot_attention_step(_dot_step).ok
    # the library's dot_product_attention, one query per sentence, is a right answer too
    assert check_dot_attention_step(
        lambda q, k, m: tuple(t[:, 0] for t in dot_product_attention(q[:, None], k, k, m[:, None]))).ok
    capsys.readouterr()
    feedback = check_dot_attention_step(fn)
    assert not feedback.ok and hint in feedback.message
    verdict(capsys, feedback)


@pytest.mark.parametrize("fn, hint", [
    (lambda w, a: float((np.asarray(w)[: len(a)].argmax(1) == a).sum()), "fraction"),
    (lambda w, a: float(np.mean(np.asarray(w).argmax(1) == np.array(list(a) + [-1])[: len(w)]) * 4 / 4
                        if False else 0.5), "first len(alignment) rows"),
    (lambda w, a: float(np.mean(np.asarray(w)[: len(a)].argmax(0)[: len(a)] == a)), "axis 1"),
    (lambda w, a: "2/3", "one number"),
])
def test_check_alignment_score(fn, hint, capsys):
    from tutorial_lib.exercises import check_alignment_score

    assert check_alignment_score(lambda w, a: float(np.mean(np.asarray(w)[: len(a)].argmax(1) == a))).ok
    capsys.readouterr()
    feedback = check_alignment_score(fn)
    assert not feedback.ok and hint in feedback.message


def _min_p(logits, p):
    probs = torch.softmax(logits, dim=-1)
    return logits.masked_fill(probs < p * probs.max(dim=-1, keepdim=True).values, float("-inf"))


@pytest.mark.parametrize("fn, hint", [
    (lambda l, p: l.masked_fill(torch.softmax(l, -1) < p, float("-inf")), "p * max"),
    (lambda l, p: l.masked_fill(l < p * l.max(-1, keepdim=True).values, float("-inf")), "on probabilities"),
    (lambda l, p: l.masked_fill(torch.softmax(l, -1) < p * torch.softmax(l, -1).max(-1, keepdim=True).values,
                                0.0), "not to 0"),
    (lambda l, p: l, "expected -inf"),
    (lambda l, p: torch.softmax(_min_p(l, p), -1), "differs"),
    (lambda l, p: None, "return"),
])
def test_check_min_p_filter(fn, hint, capsys):
    from tutorial_lib.exercises import check_min_p_filter

    assert check_min_p_filter(_min_p).ok
    capsys.readouterr()
    feedback = check_min_p_filter(fn)
    assert not feedback.ok and hint in feedback.message
    verdict(capsys, feedback)


def _lookup(prompt):
    query, shown = prompt[-1], prompt[:-1]
    for x, y in zip(reversed(shown[0::2]), reversed(shown[1::2])):
        if x == query:
            return y
    return next(y for y in "ABCDEFGH" if y not in shown[1::2])


@pytest.mark.parametrize("fn, hint", [
    (lambda p: p[1] if p[-1] in p[:-1:2] else _lookup(p), "right after"),
    (lambda p: "H" if p[-1] in p[:-1:2] else _lookup(p), "not a guess"),
    (lambda p: _lookup(p) if p[-1] in p[:-1:2] else (p[1] if len(p) > 1 else "A"), "not used yet"),
    (lambda p: _lookup(p) if p[-1] in p[:-1:2] else "z", "A-H"),
    (lambda p: _lookup(p) if p[-1] in p[:-1:2] else "H", "alphabetical"),
    (lambda p: _lookup(p).lower(), "A-H"),
    (lambda p: None, "one output letter"),
    (lambda p: 1 / 0, "ZeroDivisionError"),
])
def test_check_lookup_answer(fn, hint, capsys):
    from tutorial_lib.exercises import check_lookup_answer

    assert check_lookup_answer(_lookup).ok
    capsys.readouterr()
    feedback = check_lookup_answer(fn)
    assert not feedback.ok and hint in feedback.message, feedback.message


def _lora(x, W, b, A, B, alpha):
    return x @ W.T + b + alpha / A.shape[0] * (x @ A.T) @ B.T


@pytest.mark.parametrize("fn, hint", [
    (lambda x, W, b, A, B, alpha: x @ W.T + b + (x @ A.T) @ B.T, "alpha / r"),
    (lambda x, W, b, A, B, alpha: x @ W.T + b + alpha * (x @ A.T) @ B.T, "not alpha"),
    (lambda x, W, b, A, B, alpha: x @ W.T + alpha / A.shape[0] * (x @ A.T) @ B.T, "bias"),
    (lambda x, W, b, A, B, alpha: alpha / A.shape[0] * (x @ A.T) @ B.T, "frozen layer's output"),
    (lambda x, W, b, A, B, alpha: x @ W.T + b, "frozen layer alone"),
    (lambda x, W, b, A, B, alpha: _lora(x, W, b, A, B, alpha) + 0.1, "differs"),
    (lambda x, W, b, A, B, alpha: (A @ B), "RuntimeError"),
])
def test_check_lora_forward(fn, hint, capsys):
    from tutorial_lib.exercises import check_lora_forward

    assert check_lora_forward(_lora).ok
    capsys.readouterr()
    feedback = check_lora_forward(fn)
    assert not feedback.ok and hint in feedback.message, feedback.message
    verdict(capsys, feedback)


def _targets(prompt, response, masked=None):
    ids = torch.tensor(prompt + response)
    y = ids[1:].clone()
    y[: len(prompt) - 1 if masked is None else masked] = -100
    return ids[:-1], y


@pytest.mark.parametrize("fn, hint", [
    (lambda p, r: (torch.tensor(p + r)[:-1], torch.tensor(p + r)[1:]), "no target is masked"),
    (lambda p, r: _targets(p, r, masked=len(p)), "one target too many"),
    (lambda p, r: _targets(p, r, masked=len(p) - 2), "one target too few"),
    (lambda p, r: (_targets(p, r)[0], torch.where(_targets(p, r)[1] == -100, torch.tensor(p + r)[1:], -100)),
     "wrong way round"),
    (lambda p, r: (torch.tensor(p + r), torch.cat([_targets(p, r)[1], torch.tensor([-100])])), "without its last"),
    (lambda p, r: _targets(p, r)[1], "return the pair"),
    (lambda p, r: 1 / 0, "ZeroDivisionError"),
])
def test_check_response_targets(fn, hint, capsys):
    from tutorial_lib.exercises import check_response_targets

    assert check_response_targets(_targets).ok
    capsys.readouterr()
    feedback = check_response_targets(fn)
    assert not feedback.ok and hint in feedback.message, feedback.message
    verdict(capsys, feedback)


def _bt(r_w, r_l):
    return -torch.nn.functional.logsigmoid(r_w - r_l).mean()


@pytest.mark.parametrize("fn, hint", [
    (lambda w, l: -torch.nn.functional.logsigmoid(l - w).mean(), "wrong way round"),
    (lambda w, l: torch.nn.functional.logsigmoid(w - l).mean(), "minus the log-likelihood"),
    (lambda w, l: -torch.nn.functional.logsigmoid(w - l).sum(), "do not sum"),
    (lambda w, l: -torch.sigmoid(w - l).mean(), "take the log"),
    (lambda w, l: -torch.log(torch.sigmoid(w - l)).mean(), "underflows"),
    (lambda w, l: _bt(w, l) + 0.1, "expected"),
    (lambda w, l: (w - l), "return the loss as a number"),
    (lambda w, l: 1 / 0, "ZeroDivisionError"),
])
def test_check_bradley_terry(fn, hint, capsys):
    from tutorial_lib.exercises import check_bradley_terry

    catches(check_bradley_terry, _bt, fn, hint, capsys)


def _dpo(pc, pr, rc, rr, beta):
    return -torch.nn.functional.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()


@pytest.mark.parametrize("fn, hint", [
    (lambda pc, pr, rc, rr, b: -torch.nn.functional.logsigmoid(b * (pc - pr)).mean(), "subtract the reference"),
    (lambda pc, pr, rc, rr, b: _dpo(pc, pr, rc, rr, 1.0), "multiply the margin by beta"),
    (lambda pc, pr, rc, rr, b: _dpo(pr, pc, rr, rc, b), "wrong way round"),
    (lambda pc, pr, rc, rr, b: _dpo(pc, pr, rc, rr, b) * 3, "do not sum"),
    (lambda pc, pr, rc, rr, b: -torch.nn.functional.logsigmoid(b * ((pc - rc) + (pr - rr))).mean(), "is subtracted"),
    (lambda pc, pr, rc, rr, b: _dpo(pc, pr, rc, rr, b) + 0.01, "expected"),
    (lambda pc, pr, rc, rr, b: None, "return the loss as a number"),
])
def test_check_dpo_loss(fn, hint, capsys):
    from tutorial_lib.exercises import check_dpo_loss

    catches(check_dpo_loss, _dpo, fn, hint, capsys)


def _ece(conf, ok, bins):
    from tutorial_lib.calibration import expected_calibration_error

    return expected_calibration_error(conf, ok, bins)


def _ece_variant(conf, ok, bins, weighted=True, absolute=True, clip=True):
    which = (conf * bins).astype(int)
    which = np.minimum(which, bins - 1) if clip else which
    total = 0.0
    for b in np.unique(which):
        if b >= bins:
            continue
        m = which == b
        gap = ok[m].mean() - conf[m].mean()
        gap = abs(gap) if absolute else gap
        total += (m.sum() / len(conf)) * gap if weighted else gap / len(np.unique(which))
    return total


@pytest.mark.parametrize("fn, hint", [
    (lambda c, o, b: _ece_variant(c, o, b, weighted=False), "weight each bin"),
    (lambda c, o, b: _ece_variant(c, o, b, absolute=False), "absolute value"),
    (lambda c, o, b: abs(o.mean() - c.mean()), "compare within bins"),
    (lambda c, o, b: _ece_variant(c, o, b, clip=False), "last bin"),
    (lambda c, o, b: _ece(c, o, b) + 0.01, "expected"),
    (lambda c, o, b: "0.1", "return the error as a number"),
])
def test_check_ece(fn, hint, capsys):
    from tutorial_lib.exercises import check_ece

    catches(check_ece, _ece, fn, hint, capsys)


@pytest.mark.parametrize("fn, hint", [
    (lambda x, y: np.polyfit(x, y, 1)[0], "fit on log-log axes"),
    (lambda x, y: np.polyfit(np.log(y), np.log(x), 1)[0], "regress log y on log x"),
    (lambda x, y: np.log(y[-1] / y[0]) / np.log(x[-1] / x[0]), "use every point"),
    (lambda x, y: np.polyfit(np.log10(x), np.log(y), 1)[0], "same logarithm"),
    (lambda x, y: 2.0, "expected"),
])
def test_check_power_law_slope(fn, hint, capsys):
    from tutorial_lib.exercises import check_power_law_slope

    catches(check_power_law_slope, lambda x, y: np.polyfit(np.log(x), np.log(y), 1)[0], fn, hint, capsys)


# ---------------------------------------------------------------- the checkers added with chapter 11's kit


def _shares(cell, xs, every_state=True, squared=True):
    """Exercise 2.3 as a learner writes it (the notebook's solution), with two ways to get it wrong."""
    T, B, _ = xs.shape
    copies = [cell.W.detach().clone().requires_grad_() for _ in range(T)]
    h, total = torch.zeros(B, cell.W.shape[0]), 0.0
    for t in range(T):
        h = torch.tanh(h @ copies[t].T + xs[t] @ cell.U.T + cell.b_h)
        if every_state:
            total = total + (h.square().sum() if squared else h.sum())
    if not every_state:
        total = h.square().sum()
    total.backward()
    return torch.stack([W_t.grad.norm() for W_t in copies])


def _whole_gradient(cell, xs):
    h, total = torch.zeros(xs.shape[1], cell.W.shape[0]), 0.0
    for x_t in xs:
        h = cell(x_t, h)
        total = total + h.square().sum()
    (grad,) = torch.autograd.grad(total, cell.W)
    return grad.norm().repeat(len(xs))


@pytest.mark.parametrize("fn, hint", [
    (lambda c, xs: _shares(c, xs, every_state=False), "section 2.2's loss"),
    (lambda c, xs: _shares(c, xs, squared=False), "square the states"),
    (_whole_gradient, "a copy of W of its own"),
    (lambda c, xs: _shares(c, xs)[:-1], "shape"),
    (lambda c, xs: _shares(c, xs) * 1.01, "differs"),
])
def test_check_every_step_shares(fn, hint, capsys):
    from tutorial_lib.exercises import check_every_step_shares

    state = torch.random.get_rng_state()
    catches(check_every_step_shares, _shares, fn, hint, capsys)
    assert torch.equal(torch.random.get_rng_state(), state)  # the learner's random numbers are untouched


@pytest.mark.parametrize("fn, hint", [
    (lambda w, T, k: w ** T, "T - k factors"),
    (lambda w, T, k: w ** (T - k + 1), "one factor too many"),
    (lambda w, T, k: (T - k) * w ** (T - k - 1), "with respect to w"),
    (lambda w, T, k: abs(w) ** (T - k), "keep the sign"),
    (lambda w, T, k: math.exp((T - k) * math.log(w)), "ValueError"),  # log of a negative w
    (lambda w, T, k: torch.ones(2), "as a number"),
])
def test_check_one_d_jacobian(fn, hint, capsys):
    from tutorial_lib.exercises import check_one_d_jacobian

    catches(check_one_d_jacobian, lambda w, T, k: w ** (T - k), fn, hint, capsys)
    if hint == "T - k factors":
        assert "(on w=0.9, T=30, k=5)" in check_one_d_jacobian(fn).message


def _carousel(C_0, C_tilde):
    C = C_0
    for C_t in C_tilde:  # eq. 4.4 with f = i = 1
        C = C + C_t
    return C


@pytest.mark.parametrize("fn, hint", [
    (lambda C_0, Ct: Ct.sum(0), "C_0 is missing"),
    (lambda C_0, Ct: Ct[-1], "last candidate"),
    (lambda C_0, Ct: C_0 + Ct.mean(0), "does not average"),
    (lambda C_0, Ct: torch.tanh(_carousel(C_0, Ct)), "h_T"),
    (lambda C_0, Ct: torch.as_tensor(_carousel(C_0, Ct).detach().numpy()), "not connected to C_0"),
    (lambda C_0, Ct: 2 * C_0 - C_0.detach() + Ct.sum(0) + 0 * C_0, "should be the identity"),
    (lambda C_0, Ct: _carousel(C_0, Ct).T, "shape"),
])
def test_check_never_forget(fn, hint, capsys):
    from tutorial_lib.exercises import check_never_forget

    catches(check_never_forget, _carousel, fn, hint, capsys)


def _kv_step(layer, x_new, cache, keep=True, scale=True, recompute=False):
    """Exercise 6.1's solution, with the ways a learner gets it wrong."""
    B, _, C = x_new.shape
    H, D = layer.H, layer.D
    heads = lambda t: t.view(B, -1, H, D).transpose(1, 2)  # (B, L, C) -> (B, H, L, D)
    if recompute:  # keeps the inputs and projects every key again
        cache["x"] = x_new if "x" not in cache else torch.cat([cache["x"], x_new], dim=1)
        k, v = heads(layer.W_K(cache["x"])), heads(layer.W_V(cache["x"]))
    else:
        k, v = heads(layer.W_K(x_new)), heads(layer.W_V(x_new))
        if keep:
            k = cache["k"] = k if "k" not in cache else torch.cat([cache["k"], k], dim=2)
            v = cache["v"] = v if "v" not in cache else torch.cat([cache["v"], v], dim=2)
    q = heads(layer.W_Q(x_new))  # (B, H, 1, D)
    w = torch.softmax(q @ k.transpose(-2, -1) / (D ** 0.5 if scale else 1.0), dim=-1)
    return layer.W_O((w @ v).transpose(1, 2).reshape(B, 1, C))


_GLOBAL_CACHE: dict = {}


@pytest.mark.parametrize("fn, hint", [
    (lambda l, x, c: _kv_step(l, x, c, keep=False), "attended only to itself"),
    (lambda l, x, c: _kv_step(l, x, c, scale=False), "sqrt(D)"),
    (lambda l, x, c: _kv_step(l, x, c, recompute=True), "W_K projected 28 positions for 7 tokens"),
    (lambda l, x, c: _kv_step(l, x, _GLOBAL_CACHE), "still empty"),
    (lambda l, x, c: _kv_step(l, x, c)[:, 0], "shape (2, 1, 16)"),
    (lambda l, x, c: _kv_step(l, x, c) + 0.01, "differs"),
])
def test_check_kv_cache(fn, hint, capsys):
    from tutorial_lib.exercises import check_kv_cache

    _GLOBAL_CACHE.clear()
    state = torch.random.get_rng_state()
    catches(check_kv_cache, _kv_step, fn, hint, capsys)
    assert torch.equal(torch.random.get_rng_state(), state)  # the learner's random numbers are untouched


def test_check_kv_cache_accepts_the_library_layer_path(capsys):
    """A cache written with the layer's own helpers (as the notebook's solution does) passes too."""
    from tutorial_lib import attention
    from tutorial_lib.exercises import check_kv_cache

    def solution(layer, x_new, cache):
        q, k, v = (layer._heads(m(x_new)) for m in (layer.W_Q, layer.W_K, layer.W_V))
        cache["k"] = k if "k" not in cache else torch.cat([cache["k"], k], dim=2)
        cache["v"] = v if "v" not in cache else torch.cat([cache["v"], v], dim=2)
        out, _ = attention.dot_product_attention(q, cache["k"], cache["v"])
        return layer.W_O(out.transpose(1, 2).reshape(x_new.shape[0], 1, layer.C))

    assert verdict(capsys, check_kv_cache(solution))


def _rotation(angle):
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]])


@pytest.mark.parametrize("fn, hint", [
    (lambda k, w: _rotation(k * w).T, "rotation by -kω"),
    (lambda k, w: _rotation(w), "one position on"),
    (lambda k, w: _rotation(k * w).numpy(), "torch.Tensor"),
    (lambda k, w: _rotation(k * w)[0], "shape"),
])
def test_check_shift_matrix(fn, hint, capsys):
    from tutorial_lib import transformer
    from tutorial_lib.exercises import check_shift_matrix

    catches(check_shift_matrix, lambda k, w: _rotation(k * w), fn, hint, capsys)
    pe = transformer.sinusoidal_positions(40, 16)  # the right answer does move the book's encodings
    omega = 10000 ** (-4 / 16)
    assert torch.allclose(pe[3, 4:6] @ _rotation(5 * omega), pe[8, 4:6], atol=1e-5)


@pytest.mark.parametrize("fn, hint", [
    (lambda C: 12 * C * C, "biases"),
    (lambda C: 12 * C * C + 9 * C, "LayerNorms are missing"),
    (lambda C: 4 * (C * C + C) + 2 * (C * C + C) + 4 * C, "4C wide"),
    (lambda C: 3 * (C * C + C) + 8 * C * C + 5 * C + 4 * C, "four projections"),
    (lambda C: 12 * C * C + 13 * C + 1, "expected"),
])
def test_check_encoder_layer_params(fn, hint, capsys):
    from tutorial_lib import transformer, utils
    from tutorial_lib.exercises import check_encoder_layer_params

    catches(check_encoder_layer_params, lambda C: 12 * C * C + 13 * C, fn, hint, capsys)
    for C, H in ((64, 4), (64, 8), (8, 2)):  # the checker's answer is the book's layer
        assert utils.count_parameters(transformer.EncoderLayer(C, H, 4 * C)) == 12 * C * C + 13 * C


def _gru_flops(V, d_x, d_h, gates=3, passes=6, output=True, embedding=False):
    return passes * (gates * d_h * (d_x + d_h) + (V * d_h if output else 0) + (V * d_x if embedding else 0))


@pytest.mark.parametrize("fn, hint", [
    (lambda V, d_x, d_h: _gru_flops(V, d_x, d_h, gates=4), "LSTM's count"),
    (lambda V, d_x, d_h: _gru_flops(V, d_x, d_h, passes=2), "forward pass only"),
    (lambda V, d_x, d_h: _gru_flops(V, d_x, d_h, output=False), "output layer"),
    (lambda V, d_x, d_h: _gru_flops(V, d_x, d_h, embedding=True), "table lookup"),
    (lambda V, d_x, d_h: 6 * (3 * d_h * d_h + V * d_h), "d_h + d_x inputs"),
])
def test_check_gru_lm_flops(fn, hint, capsys):
    from tutorial_lib import compute, gates
    from tutorial_lib.exercises import check_gru_lm_flops

    catches(check_gru_lm_flops, _gru_flops, fn, hint, capsys)
    gru = gates.RecurrentLM("gru", 94, hidden_size=256, embed_size=64)  # the checker agrees with (7.4)
    assert compute.training_flops_per_token(gru, 64) == _gru_flops(94, 64, 256)


@pytest.mark.parametrize("fn, hint", [
    (lambda L: (L * math.log(2), math.exp(L)), "divide by ln 2"),
    (lambda L: (L / math.log(10), math.exp(L)), "bans"),
    (lambda L: (L / math.log(2), 2 ** L), "2^H is for H in bits"),
    (lambda L: (L / math.log(2), math.exp(L / math.log(2))), "mixes the bases"),
    (lambda L: (math.exp(L), L / math.log(2)), "wrong way round"),
    (lambda L: L / math.log(2), "return the pair"),
])
def test_check_loss_units(fn, hint, capsys):
    from tutorial_lib.exercises import check_loss_units

    catches(check_loss_units, lambda L: (L / math.log(2), math.exp(L)), fn, hint, capsys)


@pytest.mark.parametrize("fn, hint", [
    (lambda n, V: n * math.log(V), "nats"),
    (lambda n, V: V ** n, "number of different sentences"),
    (lambda n, V: math.log2(n * V), "not log2(n V)"),
    (lambda n, V: math.ceil(n * math.log2(V)), "keep the fraction"),
    (lambda n, V: str(n * math.log2(V)), "as a number"),
])
def test_check_sentence_bits(fn, hint, capsys):
    from tutorial_lib.exercises import check_sentence_bits

    catches(check_sentence_bits, lambda n, V: n * math.log2(V), fn, hint, capsys)


def _early_stop(steps, losses):
    i = int(np.argmin(losses))  # the first of the lowest
    return steps[i], losses[i]


@pytest.mark.parametrize("fn, hint", [
    (lambda s, l: (int(np.argmin(l)), min(l)), "not the index"),
    (lambda s, l: (s[-1], l[-1]), "the last evaluation"),
    (lambda s, l: (s[len(l) - 1 - int(np.argmin(l[::-1]))], min(l)), "earliest step"),
    (lambda s, l: (s[int(np.argmax(l))], max(l)), "highest loss"),
    (lambda s, l: min(l), "the pair (step, loss)"),
])
def test_check_early_stopping(fn, hint, capsys):
    from tutorial_lib.exercises import check_early_stopping

    catches(check_early_stopping, _early_stop, fn, hint, capsys)


def _abstain(conf, ok, t, strict=False, over_all=False):
    answer = conf > t if strict else conf >= t
    return answer.mean(), ((ok & answer).mean() if over_all else ok[answer].mean())


@pytest.mark.parametrize("fn, hint", [
    (lambda c, o, t: _abstain(c, o, t, strict=True), "at least the threshold"),
    (lambda c, o, t: _abstain(c, o, t, over_all=True), "not a wrong answer"),
    (lambda c, o, t: (1 - (c >= t).mean(), o[c >= t].mean()), "not the share it abstains on"),
    (lambda c, o, t: ((c >= t).mean(), o[c < t].mean()), "abstains on"),
    (lambda c, o, t: (c >= t).mean(), "the pair (answered, accuracy)"),
])
def test_check_abstention(fn, hint, capsys):
    from tutorial_lib.exercises import check_abstention

    catches(check_abstention, _abstain, fn, hint, capsys)


@pytest.fixture(scope="module")
def corpus():
    from tutorial_lib import data

    return data.load_char_data()


def _sweep(corpus, on="val", scale=1.0, fixed_alpha=None, skip=None):
    from tutorial_lib import ngram

    V = corpus.tokenizer.vocab_size
    text = corpus.val if on == "val" else corpus.train
    return {
        (n, a): scale * ngram.NGramModel(n, V, alpha=fixed_alpha or a).fit(corpus.train).cross_entropy(text)
        for n in (3, 6) for a in (0.003, 0.03, 0.3, 3.0) if (n, a) != skip
    }


@pytest.mark.parametrize("kwargs, hint", [
    ({"on": "train"}, "training text"),
    ({"scale": 1 / math.log(2)}, "in bits"),
    ({"fixed_alpha": 0.03}, "pass alpha="),
    ({"skip": (6, 0.3)}, "no value for order 6, alpha 0.3"),
    ({"scale": 1.01}, "expected"),
])
def test_check_smoothing_sweep(kwargs, hint, corpus, capsys):
    from tutorial_lib.exercises import check_smoothing_sweep

    V = corpus.tokenizer.vocab_size
    check = lambda ces: check_smoothing_sweep(ces, corpus.train, corpus.val, V)
    catches(check, _sweep(corpus), _sweep(corpus, **kwargs), hint, capsys)
    if hint == "expected":
        assert "order 6 moves by" in check(_sweep(corpus)).message
        assert "pass a dict" in check([1.0]).message


def _crossing(radii, gammas):
    j = next(i for i, g in enumerate(gammas) if g >= 1)
    r0, r1, g0, g1 = radii[j - 1], radii[j], gammas[j - 1], gammas[j]
    return r0 + (1 - g0) * (r1 - r0) / (g1 - g0)


@pytest.mark.parametrize("fn, hint", [
    (lambda r, g: next(x for x, y in zip(r, g) if y >= 1), "first radius measured above 1"),
    (lambda r, g: [x for x, y in zip(r, g) if y < 1][-1], "last radius below 1"),
    (lambda r, g: float(np.interp(1.0, g, r)) * 1.05, "expected"),
    (lambda r, g: np.interp(1.0, r, g), "expected"),  # the axes swapped
])
def test_check_crossing_radius(fn, hint, capsys):
    from tutorial_lib.exercises import check_crossing_radius

    catches(check_crossing_radius, _crossing, fn, hint, capsys)
    assert check_crossing_radius(lambda r, g: float(np.interp(1.0, g, r)))  # numpy's way, also right


def _distinct(k, K):
    """The distribution of the distinct count D among k draws from K, one draw at a time."""
    p = np.zeros(K + 1)
    p[0] = 1.0
    for _ in range(k):
        p = p * np.arange(K + 1) / K + np.r_[0, p[:-1] * (K - np.arange(K)) / K]
    return p


def _ideal_by_steps(k, K):
    """Exercise 8.2's solution."""
    d = np.arange(K + 1)
    return float(_distinct(k, K) @ np.where(d < K, d / K + (1 - d / K) / np.maximum(K - d, 1), 1.0))


@pytest.mark.parametrize("fn, hint", [
    (lambda k, K: float(_distinct(k, K) @ np.arange(K + 1)) / K, "add the guesses"),
    (lambda k, K: float(_distinct(k, K) @ (np.arange(K + 1) / K + (1 - np.arange(K + 1) / K) / K)), "not among all K"),
    (lambda k, K: (float(_distinct(k, K) @ np.arange(K + 1)) + 1) / K, "always right"),
    (lambda k, K: min(1.0, (k + 1) / K), "draws repeat"),
])
def test_check_ideal_reader(fn, hint, capsys):
    from tutorial_lib import prompting, tasks
    from tutorial_lib.exercises import check_ideal_reader

    catches(check_ideal_reader, _ideal_by_steps, fn, hint, capsys)
    batch = tasks.rule_sequences(4000, pairs=30, repeat=0.0, seed=1)  # the book's ideal reader, sampled
    measured = prompting.ideal_accuracy(batch, [4, 15, 28])
    for k in (4, 15, 28):
        assert abs(measured[k] - _ideal_by_steps(k, 8)) < 0.02


BLIND = {
    "english_no_e": ["and this is ", "in a list of"],
    "gibberish_no_e": ["xqzt bvnk jr", "zzzz qqq ppp"],
    "english_with_e": ["the element ", "here we see "],
}
WORDS = {"and", "this", "is", "in", "a", "list", "of", "the", "element", "here", "we", "see"}


def _e_score(texts):  # a reward model that only counts e's, blind to English
    return torch.tensor([-float(t.count("e")) for t in texts])


@pytest.mark.parametrize("change, hint", [
    ({"english_no_e": ["and this is"]}, "has 11 characters"),
    ({"gibberish_no_e": ["xqzt bvnk je"]}, "contains an e"),
    ({"english_with_e": ["and this is "]}, "has no e"),
    ({"english_no_e": "and this is "}, "non-empty list of strings"),
    ({"gibberish_no_e": ["and this is "]}, "should be not words"),
    ({"english_no_e": ["xqzt bvnk jr"]}, "should be mostly words"),
    ({"score": lambda texts: torch.zeros(len(texts), 2)}, "one reward per response"),
    ({"score": lambda texts: 1 / 0}, "ZeroDivisionError"),
    ({"score": lambda texts: torch.full((len(texts),), float("nan"))}, "not finite"),
])
def test_check_blind_spot(change, hint, capsys):
    from tutorial_lib.exercises import check_blind_spot

    def run(**kw):
        args = {**BLIND, "score": _e_score, "vocabulary": WORDS, **kw}
        return check_blind_spot(args.pop("english_no_e"), args.pop("gibberish_no_e"),
                                args.pop("english_with_e"), **args)

    right = run()
    assert right.ok and "the e's move it more than the English does" in right.message
    capsys.readouterr()
    wrong = run(**change)
    assert not wrong.ok and hint in wrong.message, wrong.message
    verdict(capsys, wrong)
    english_only = lambda texts: torch.tensor([5.0 if t[0] in "aih" else 0.0 for t in texts])
    assert "try other responses" in run(score=english_only).message


# ---------------------------------------------------------------- layout


def test_each_chapter_has_its_own_module_and_the_package_reexports_every_checker():
    """One module per chapter (STYLE.md): chNN holds chapter N's checkers, each says so in its
    docstring and is a name of ``tutorial_lib.exercises`` itself (the notebooks' import)."""
    import importlib
    import inspect

    import tutorial_lib.exercises as exercises

    seen = []
    for n in range(1, 12):
        module = importlib.import_module(f"tutorial_lib.exercises.ch{n:02d}")
        checkers = [name for name, fn in vars(module).items()
                    if name.startswith("check_") and inspect.isfunction(fn) and fn.__module__ == module.__name__]
        assert checkers, f"ch{n:02d} has no checker"
        for name in checkers:
            assert inspect.getdoc(getattr(module, name)).startswith(f"Chapter {n}:"), (n, name)
            assert getattr(exercises, name) is getattr(module, name) and name in exercises.__all__
        seen += checkers
    assert len(seen) == len(set(seen))
    assert sorted(n for n in exercises.__all__ if n.startswith("check_")) == sorted(seen + ["check_close", "check_shape"])
