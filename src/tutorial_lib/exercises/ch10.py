"""Chapter 10 (RLHF and DPO): the exercises' checkers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ._core import Feedback, _call, _describe, _fail, _judge_scalar, _numpy, _pass, _report


def check_bradley_terry(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Chapter 10: check ``fn(r_chosen, r_rejected) -> loss``, the Bradley-Terry loss (10.1):
    -mean log sigma(r_chosen - r_rejected) over the pairs, both (B,)."""
    r_w = torch.tensor([2.0, -0.5, 0.3, -100.0])
    r_l = torch.tensor([1.0, 0.5, 0.3, 100.0])  # the last pair: the model is sure, and wrong
    d = r_w - r_l
    expected = -F.logsigmoid(d).mean()
    mistakes = [
        (-F.logsigmoid(-d).mean(), "the sign is the wrong way round: the chosen reward minus the rejected one."),
        (F.logsigmoid(d).mean(), "the loss is minus the log-likelihood: -log sigma(r_w - r_l)."),
        (-F.logsigmoid(d).sum(), "average over the pairs (mean), do not sum."),
        (-torch.sigmoid(d).mean(), "take the log of the probability: the loss is -log sigma(r_w - r_l)."),
        ((1 - torch.sigmoid(d)).mean(), "take the log of the probability: the loss is -log sigma(r_w - r_l)."),
    ]
    got, error = _call(fn, "check_bradley_terry", "r_chosen [2, -0.5, 0.3, -100], r_rejected [1, 0.5, 0.3, 100]",
                       r_w.clone(), r_l.clone())
    return _judge_scalar(got, error, expected, mistakes,
                         "-mean log sigma(r_w - r_l): the Bradley-Terry negative log-likelihood, stable at any margin.")


def check_dpo_loss(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Chapter 10: check ``fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta) ->
    loss``, the DPO loss (10.5), from the responses' log-probabilities (B,) and beta > 0."""
    pc, pr = torch.tensor([-3.0, -6.0, -2.0]), torch.tensor([-5.0, -4.0, -2.5])
    rc, rr = torch.tensor([-4.0, -5.0, -2.0]), torch.tensor([-4.5, -4.5, -3.0])
    beta = 0.5
    margin = (pc - rc) - (pr - rr)  # (B,)
    expected = -F.logsigmoid(beta * margin).mean()
    mistakes = [
        (-F.logsigmoid(beta * (pc - pr)).mean(), "subtract the reference's log-probabilities: the implicit reward "
         "is beta log(pi / pi_ref), a change from the reference, not the policy's own log-probability."),
        (-F.logsigmoid(margin).mean(), "multiply the margin by beta, as in (10.5)."),
        (-F.logsigmoid(-beta * margin).mean(), "the sign is the wrong way round: chosen minus rejected."),
        (-F.logsigmoid(beta * margin).sum(), "average over the pairs (mean), do not sum."),
        (-F.logsigmoid(beta * ((pc - rc) + (pr - rr))).mean(), "the rejected response's term is subtracted: "
         "(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))."),
    ]
    got, error = _call(fn, "check_dpo_loss", "three pairs of log-probabilities, beta 0.5",
                       pc.clone(), pr.clone(), rc.clone(), rr.clone(), beta)
    return _judge_scalar(got, error, expected, mistakes,
                         "the Bradley-Terry loss on the implicit reward beta log(pi / pi_ref): no reward model needed.")


def check_blind_spot(english_no_e: Sequence[str], gibberish_no_e: Sequence[str], english_with_e: Sequence[str],
                     score: Callable[[list[str]], Any], vocabulary: set[str] | None = None,
                     length: int = 12) -> Feedback:
    """Chapter 10: check exercise 10.3's experiment: three lists of hand-written responses of
    ``length`` characters (real English without an e, gibberish without an e, English with e's)
    and ``score(texts) -> rewards`` (n,), the reward model on them. Checks the responses are what
    their list says (with ``vocabulary``, that the English is made of words and the gibberish is
    not) and the scores' shape, then reports the mean reward of each list."""
    from tutorial_lib.tasks import real_word_share

    groups = {"english_no_e": english_no_e, "gibberish_no_e": gibberish_no_e, "english_with_e": english_with_e}
    means = {}
    for name, texts in groups.items():
        if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts \
                or not all(isinstance(t, str) for t in texts):
            return _report(_fail(f"{name} should be a non-empty list of strings; got {_describe(texts)}."))
        wrong_length = [t for t in texts if len(t) != length]
        if wrong_length:
            return _report(_fail(f"{name}: {wrong_length[0]!r} has {len(wrong_length[0])} characters; the policy "
                                 f"writes {length}, so compare responses of {length}."))
        has_e = [("e" in t.lower()) for t in texts]
        if name != "english_with_e" and any(has_e):
            return _report(_fail(f"{name}: {texts[has_e.index(True)]!r} contains an e."))
        if name == "english_with_e" and not all(has_e):
            return _report(_fail(f"english_with_e: {texts[has_e.index(False)]!r} has no e."))
        if vocabulary is not None:
            odd = [t for t in texts if (real_word_share([t], vocabulary) < 0.5) == name.startswith("english")]
            if odd:
                kind = "mostly words the book's text uses" if name.startswith("english") else "not words"
                return _report(_fail(f"{name}: {odd[0]!r} should be {kind}."))
        got, error = _call(score, "check_blind_spot", name, list(texts))
        if error is not None:
            return _report(error)
        values = _numpy(got) if isinstance(got, torch.Tensor) else np.asarray(got) if got is not None else None
        if values is None or values.dtype.kind not in "iuf" or values.shape != (len(texts),):
            return _report(_fail(f"score({name}) should return one reward per response, shape ({len(texts)},); "
                                 f"got {_describe(got)}."))
        if not np.isfinite(values).all():
            return _report(_fail(f"score({name}) returned a reward that is not finite."))
        means[name] = float(values.mean())
    blind = abs(means["english_no_e"] - means["gibberish_no_e"]) < \
        min(means["english_no_e"], means["gibberish_no_e"]) - means["english_with_e"]
    return _report(_pass(
        f"mean reward: English without e {means['english_no_e']:+.2f}, gibberish without e "
        f"{means['gibberish_no_e']:+.2f}, English with e's {means['english_with_e']:+.2f}: "
        + ("the e's move it more than the English does." if blind else
           "here English and gibberish differ more than the e's; try other responses.")))
