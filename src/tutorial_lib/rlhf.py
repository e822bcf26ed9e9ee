"""Learning from preferences: a reward model, KL-regularised policy gradients and DPO (chapter 10).

The third stage of an LLM's training in the lecture: people compare two responses to a prompt,
a **reward model** learns to score responses from those comparisons, and the policy (the SFT
model) is trained to get a high reward without drifting far from where it started. Every
function here works on the batches of ``finetune.sft_batch``: inputs ``x`` (B, T) and targets
``y`` (B, T) with -100 wherever the target is not part of the response.

- ``response_log_probs``   log pi(y | x) of each response, summed over its tokens
- ``response_kl``          KL(pi || pi_ref) along each response, exact at every position, >= 0
- ``RewardModel``          a transformer with a scalar head: r(x, y) for a prompt and response
- ``bradley_terry_loss``   -log sigma(r(x, y_w) - r(x, y_l)): preferences -> rewards     (10.1)
- ``policy_gradient_loss`` REINFORCE with a baseline on a KL-penalised reward          (10.2, 10.3)
- ``dpo_loss``             direct preference optimisation, no reward model, no sampling     (10.5)
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tutorial_lib.transformer import causal_mask

__all__ = ["response_log_probs", "response_kl", "RewardModel", "bradley_terry_loss", "preference_accuracy",
           "policy_gradient_loss", "dpo_loss"]


def _check_batch(x: object, y: object) -> tuple[Tensor, Tensor]:
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)) or x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must be tensors of the same shape (B, T), got "
                         f"{tuple(getattr(x, 'shape', ()))} and {tuple(getattr(y, 'shape', ()))}")
    if x.dtype != torch.long or y.dtype != torch.long:
        raise ValueError(f"x and y must be torch.long ids, got {x.dtype} and {y.dtype}")
    if not (y != -100).any(1).all():
        raise ValueError("every row of y must have at least one response target (not -100)")
    return x, y


def _check_pair(a: object, b: object, names: str) -> tuple[Tensor, Tensor]:
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"{names} must be 1-D tensors of the same shape (B,), got "
                         f"{tuple(getattr(a, 'shape', ()))} and {tuple(getattr(b, 'shape', ()))}")
    return a, b


def response_log_probs(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """log pi(response | prompt) of each row: the sum of log p(y_t | x_<=t) over the positions t
    where y is not -100 (the chain rule, 7.1). x, y (B, T) -> (B,), differentiable."""
    x, y = _check_batch(x, y)
    logp = F.log_softmax(model(x), dim=-1)  # (B, T, V)
    keep = y != -100  # (B, T)
    picked = logp.gather(-1, y.clamp(min=0)[..., None])[..., 0]  # (B, T): log p of each target
    return (picked * keep).sum(1)


def response_kl(policy: nn.Module, reference: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """KL(pi || pi_ref) along each response: at every response position t the exact KL between
    the two next-token distributions, sum_v pi(v) (log pi(v) - log pi_ref(v)), summed over t.
    x, y (B, T) -> (B,), never negative; differentiable in the policy, not in the reference."""
    x, y = _check_batch(x, y)
    logp = F.log_softmax(policy(x), dim=-1)  # (B, T, V)
    with torch.no_grad():
        logq = F.log_softmax(reference(x), dim=-1)  # (B, T, V)
    kl = (logp.exp() * (logp - logq)).sum(-1)  # (B, T), >= 0 at every position
    return (kl * (y != -100)).sum(1)


class RewardModel(nn.Module):
    """r(x, y): a copy of a pretrained ``transformer.GPT``'s embeddings, layers and final norm,
    with a scalar head in place of the next-token head, read at the last token of each text
    (chapter 10). Starting from the SFT model is usual: the reward model already reads the text.

    ``forward(ids, lengths)``: ids (B, T), lengths (B,) the number of real tokens of each row
    (the rest is padding) -> rewards (B,)."""

    def __init__(self, gpt: nn.Module) -> None:
        super().__init__()
        if not all(hasattr(gpt, name) for name in ("embed", "layers", "norm", "config")):
            raise ValueError("gpt must be a transformer.GPT (with embed, layers, norm and config)")
        self.body = copy.deepcopy(nn.ModuleDict({"embed": gpt.embed, "layers": gpt.layers, "norm": gpt.norm}))
        self.config = gpt.config
        self.head = nn.Linear(gpt.config.n_embd, 1)
        nn.init.zeros_(self.head.weight)  # every reward starts at 0
        nn.init.zeros_(self.head.bias)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        if not isinstance(ids, Tensor) or ids.ndim != 2:
            raise ValueError(f"ids must be a (B, T) tensor, got {tuple(getattr(ids, 'shape', ()))}")
        if (not isinstance(lengths, Tensor) or lengths.shape != ids.shape[:1]
                or (lengths < 1).any() or (lengths > ids.shape[1]).any()):
            raise ValueError(f"lengths must be a (B,) = ({ids.shape[0]},) tensor of values in [1, T = {ids.shape[1]}]")
        h = self.body["embed"](ids)  # (B, T, C)
        mask = causal_mask(ids.shape[1], ids.device)  # (T, T): the last token sees the whole text
        for layer in self.body["layers"]:
            h = layer(h, mask)
        last = h[torch.arange(len(ids), device=ids.device), lengths.to(ids.device) - 1]  # (B, C)
        return self.head(self.body["norm"](last))[:, 0]  # (B,)


def bradley_terry_loss(r_chosen: Tensor, r_rejected: Tensor) -> Tensor:
    """The Bradley-Terry model says the chosen response wins with probability
    sigma(r(x, y_w) - r(x, y_l)); its negative log-likelihood, averaged over the pairs:

        L = -mean log sigma(r_w - r_l)                                                  (10.1)

    r_chosen, r_rejected (B,) -> a scalar. Only differences of rewards are learnt."""
    r_chosen, r_rejected = _check_pair(r_chosen, r_rejected, "r_chosen and r_rejected")
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def preference_accuracy(r_chosen: Tensor, r_rejected: Tensor) -> float:
    """The fraction of pairs whose chosen response gets the higher reward (ties count half)."""
    r_chosen, r_rejected = _check_pair(r_chosen, r_rejected, "r_chosen and r_rejected")
    return ((r_chosen > r_rejected).float() + 0.5 * (r_chosen == r_rejected).float()).mean().item()


def policy_gradient_loss(log_probs: Tensor, returns: Tensor, baseline: Tensor | float | None = None) -> Tensor:
    """REINFORCE with a baseline: a loss whose gradient is the policy gradient estimate

        grad J = mean (R - b) grad log pi(y | x),   R = r(x, y) - beta KL(pi || pi_ref)      (10.2, 10.3)

    for responses y sampled from the policy. ``log_probs`` (B,) from :func:`response_log_probs`
    (with grad), ``returns`` R (B,), treated as constants; ``baseline`` b defaults to the batch
    mean of R, which lowers the variance without changing the expected gradient. -> a scalar."""
    log_probs, returns = _check_pair(log_probs, returns, "log_probs and returns")
    returns = returns.detach()
    b = returns.mean() if baseline is None else baseline
    return -((returns - b) * log_probs).mean()


def dpo_loss(policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor,
             beta: float) -> Tensor:
    """Direct preference optimisation (Rafailov et al. 2023): the Bradley-Terry loss (10.1) with the
    reward that the KL-regularised objective implies, r = beta log(pi / pi_ref) + const (10.4):

        L = -mean log sigma(beta [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))])   (10.5)

    Inputs are the responses' log-probabilities (B,) under the policy (with grad) and the frozen
    reference; beta > 0. Equals log 2 when the policy is the reference. -> a scalar."""
    policy_chosen, policy_rejected = _check_pair(policy_chosen, policy_rejected, "policy_chosen and policy_rejected")
    ref_chosen, ref_rejected = _check_pair(ref_chosen, ref_rejected, "ref_chosen and ref_rejected")
    if policy_chosen.shape != ref_chosen.shape:
        raise ValueError(f"the policy's and the reference's log-probs must have the same shape (B,), got "
                         f"{tuple(policy_chosen.shape)} and {tuple(ref_chosen.shape)}")
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    margin = (policy_chosen - ref_chosen.detach()) - (policy_rejected - ref_rejected.detach())  # (B,)
    return -F.logsigmoid(beta * margin).mean()
