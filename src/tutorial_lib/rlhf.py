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
- ``policy_gradient_loss`` REINFORCE with a baseline                                      (10.3)
- ``dpo_loss``             direct preference optimisation, no reward model, no sampling     (10.5)

and the three training loops of the chapter, each one step at a time so the notebook can show it:
``reward_model_step`` (10.1), ``rl_step`` (10.2, 10.3) and ``dpo_step`` (10.5), on prompts and
continuations of fixed lengths (``encode_preferences``, ``response_batch``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tutorial_lib import utils
from tutorial_lib.transformer import causal_mask

__all__ = ["response_log_probs", "response_kl", "RewardModel", "bradley_terry_loss", "preference_accuracy",
           "policy_gradient_loss", "dpo_loss", "response_batch", "encode_preferences", "reward_model_step",
           "rewards", "rl_step", "dpo_step", "RLHistory", "DPOHistory", "train_rl", "train_dpo"]


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
    return _target_log_probs(F.log_softmax(model(x), dim=-1), y)


def response_kl(policy: nn.Module, reference: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """KL(pi || pi_ref) along each response: at every response position t the exact KL between
    the two next-token distributions, sum_v pi(v) (log pi(v) - log pi_ref(v)), summed over t.
    x, y (B, T) -> (B,), never negative; differentiable in the policy, not in the reference."""
    x, y = _check_batch(x, y)
    with torch.no_grad():
        logq = F.log_softmax(reference(x), dim=-1)  # (B, T, V)
    return _kl(F.log_softmax(policy(x), dim=-1), logq, y)


def _target_log_probs(logp: Tensor, y: Tensor) -> Tensor:
    """logp (B, T, V), targets y (B, T) -> the sum of each row's target log-probs (B,), -100 skipped."""
    picked = logp.gather(-1, y.clamp(min=0)[..., None])[..., 0]  # (B, T): log p of each target
    return (picked * (y != -100)).sum(1)


def _kl(logp: Tensor, logq: Tensor, y: Tensor) -> Tensor:
    """The exact KL of two next-token distributions, logp and logq (B, T, V), summed over the
    response positions of y (B, T) -> (B,)."""
    kl = (logp.exp() * (logp - logq)).sum(-1).clamp(min=0)  # (B, T); >= 0, but rounding can dip below
    return (kl * (y != -100)).sum(1)


class RewardModel(nn.Module):
    """r(x, y): a copy of a pretrained ``transformer.GPT``'s embeddings, layers and final norm,
    with a scalar head in place of the next-token head, read at the last token of each text
    (chapter 10). Starting from the SFT model is usual: the reward model already reads the text.

    ``forward(ids, lengths=None)``: ids (B, T), lengths (B,) the number of real tokens of each
    row (the rest is padding; None: every row is T long) -> rewards (B,)."""

    def __init__(self, gpt: nn.Module) -> None:
        super().__init__()
        if not all(hasattr(gpt, name) for name in ("embed", "layers", "norm", "config")):
            raise ValueError("gpt must be a transformer.GPT (with embed, layers, norm and config)")
        self.body = copy.deepcopy(nn.ModuleDict({"embed": gpt.embed, "layers": gpt.layers, "norm": gpt.norm}))
        self.config = gpt.config
        self.head = nn.Linear(gpt.config.n_embd, 1)
        nn.init.zeros_(self.head.weight)  # every reward starts at 0
        nn.init.zeros_(self.head.bias)

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        if not isinstance(ids, Tensor) or ids.ndim != 2:
            raise ValueError(f"ids must be a (B, T) tensor, got {tuple(getattr(ids, 'shape', ()))}")
        if lengths is None:
            lengths = torch.full(ids.shape[:1], ids.shape[1], dtype=torch.long)
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

        grad J = mean (R - b) grad log pi(y | x)                                             (10.3)

    for responses y sampled from the policy. ``log_probs`` (B,) from :func:`response_log_probs`
    (with grad), ``returns`` R (B,), e.g. the rewards, treated as constants; ``baseline`` b defaults to the batch
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


# The training loops of chapter 10, on prompts (B, P) and continuations (B, L) of fixed lengths.
def _check_texts(prompts: object, responses: object, name: str) -> None:
    if (not isinstance(prompts, Tensor) or not isinstance(responses, Tensor) or prompts.ndim != 2
            or responses.ndim != 2 or len(prompts) != len(responses) or responses.shape[1] < 1):
        raise ValueError(f"prompts and {name} must be (B, P) and (B, L) tensors with one B and L >= 1, got "
                         f"{tuple(getattr(prompts, 'shape', ()))} and {tuple(getattr(responses, 'shape', ()))}")


def response_batch(prompts: Tensor, continuations: Tensor) -> tuple[Tensor, Tensor]:
    """The text prompt + continuation as a language-modelling batch whose targets are the
    continuation only: prompts (B, P), continuations (B, L) -> x, y (B, P + L - 1), y = -100 on
    the P - 1 positions that predict the prompt (as ``finetune.sft_batch`` does for answers)."""
    _check_texts(prompts, continuations, "continuations")
    ids = torch.cat([prompts, continuations], dim=1)  # (B, P + L)
    x, y = ids[:, :-1], ids[:, 1:].clone()  # position t predicts token t + 1
    y[:, :prompts.shape[1] - 1] = -100
    return x, y


def encode_preferences(preferences: Sequence, tokenizer) -> tuple[Tensor, Tensor, Tensor]:
    """``tasks.Preference`` comparisons -> prompts (N, P), chosen (N, L), rejected (N, L) ids;
    every prompt must have one length and every continuation another."""
    if not preferences:
        raise ValueError("preferences must be a non-empty list of tasks.Preference")
    P, L = len(preferences[0].prompt), len(preferences[0].chosen)
    if any(len(p.prompt) != P or len(p.chosen) != L or len(p.rejected) != L for p in preferences):
        raise ValueError(f"every prompt must be {P} characters and every continuation {L}, like the first")
    def ids(texts: list[str]) -> Tensor:
        return torch.stack([tokenizer.encode_tensor(t) for t in texts])
    return (ids([p.prompt for p in preferences]), ids([p.chosen for p in preferences]),
            ids([p.rejected for p in preferences]))


def rewards(reward_model: nn.Module, prompts: Tensor, responses: Tensor) -> Tensor:
    """r(x, y) for each prompt (B, P) and its response (B, L): the reward model read on the whole
    text, prompt then response -> (B,)."""
    _check_texts(prompts, responses, "responses")
    return reward_model(torch.cat([prompts, responses], 1))


def reward_model_step(reward_model: RewardModel, optimizer: torch.optim.Optimizer, prompts: Tensor,
                      chosen: Tensor, rejected: Tensor) -> float:
    """One update of the reward model on a batch of comparisons, by the Bradley-Terry loss (10.1):
    prompts (B, P), chosen and rejected (B, L). Returns the loss before the update."""
    loss = bradley_terry_loss(rewards(reward_model, prompts, chosen), rewards(reward_model, prompts, rejected))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def rl_step(policy: nn.Module, reference: nn.Module, reward_model: nn.Module, optimizer: torch.optim.Optimizer,
            prompts: Tensor, length: int, beta: float, generator: torch.Generator | None = None) -> dict[str, float]:
    """One step of RLHF on the objective (10.2): sample a continuation of ``length`` tokens for
    each prompt (B, P) from the policy and score it with the frozen reward model; the reward's
    gradient is the policy gradient (10.3, REINFORCE with the batch-mean baseline), and the KL
    term, exact at every position of the samples, is differentiated directly (a low-variance
    gradient for the penalty that leaves out its score-function term: the samples are held
    fixed; InstructGPT and TRL put a per-token log-ratio into the reward instead). Returns the batch's mean reward, KL and r - beta KL, before the update."""
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    prompts = prompts.to(next(policy.parameters()).device)
    with torch.no_grad():
        continuations = policy.generate(prompts, length, temperature=1.0, generator=generator)  # (B, L)
        reward = rewards(reward_model, prompts, continuations)  # (B,)
        x, y = response_batch(prompts, continuations)  # (B, P + L - 1) twice
        logq = F.log_softmax(reference(x), dim=-1)  # (B, T, V), the reference: no gradient
    logp = F.log_softmax(policy(x), dim=-1)  # (B, T, V): one pass of the policy for both terms
    log_probs = _target_log_probs(logp, y)  # (B,), with grad
    kl = _kl(logp, logq, y)  # (B,), with grad
    loss = policy_gradient_loss(log_probs, reward) + beta * kl.mean()  # -(10.2): (10.3) + the penalty
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()
    return {"reward": reward.mean().item(), "kl": kl.mean().item(),
            "objective": (reward - beta * kl).mean().item()}


def dpo_step(policy: nn.Module, optimizer: torch.optim.Optimizer, prompts: Tensor, chosen: Tensor,
             rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor, beta: float) -> float:
    """One DPO update (10.5) on comparisons: prompts (B, P), chosen and rejected (B, L), and the
    reference's log-probabilities of both (B,), computed once before training. Returns the loss."""
    policy_chosen = response_log_probs(policy, *response_batch(prompts, chosen))  # (B,)
    policy_rejected = response_log_probs(policy, *response_batch(prompts, rejected))  # (B,)
    loss = dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


@dataclass
class RLHistory:
    """What :func:`train_rl` recorded, one entry per step, and the run's wall-clock time."""

    reward: list[float] = field(default_factory=list)  # the batch's mean reward-model score
    kl: list[float] = field(default_factory=list)  # the batch's mean KL(pi || pi_ref) per continuation
    seconds: float = 0.0


@dataclass
class DPOHistory:
    """What :func:`train_dpo` recorded: the loss (10.5) of each step, and the wall-clock time."""

    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def train_rl(policy: nn.Module, reference: nn.Module, reward_model: nn.Module,
             prompts_for_step: Callable[[int], Tensor], steps: int, length: int, beta: float, lr: float = 2e-4,
             seed: int = 0, on_step: Callable[[int], None] | None = None) -> RLHistory:
    """:func:`rl_step` ``steps`` times with Adam at ``lr``, on ``prompts_for_step(step)`` (B, P),
    sampling from a generator seeded by ``seed``; the policy stays in eval mode (no dropout).
    ``on_step(k)``, if given, is called after the k-th step (1, ..., steps), to look at the policy
    along the way; its time is not part of ``seconds``."""
    _positive(steps, "steps")
    _callable(on_step)
    policy.eval()
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    g = utils.generator(seed, next(policy.parameters()).device)  # samples where the model is
    history = RLHistory()
    for step in range(steps):
        start = time.perf_counter()
        out = rl_step(policy, reference, reward_model, optimizer, prompts_for_step(step), length, beta, g)
        history.seconds += time.perf_counter() - start
        history.reward.append(out["reward"])
        history.kl.append(out["kl"])
        if on_step is not None:
            on_step(step + 1)
    return history


def _callable(on_step: object) -> None:
    if on_step is not None and not callable(on_step):
        raise ValueError(f"on_step must be a function of the step number or None, got {on_step!r}")


def train_dpo(policy: nn.Module, reference: nn.Module, prompts: Tensor, chosen: Tensor, rejected: Tensor,
              steps: int, beta: float, lr: float = 1e-4, batch: int = 32, seed: int = 0,
              on_step: Callable[[int], None] | None = None) -> DPOHistory:
    """:func:`dpo_step` ``steps`` times with Adam at ``lr`` on batches of ``batch`` comparisons
    drawn from prompts (N, P), chosen and rejected (N, L); the reference's log-probabilities are
    computed once, first (they are part of the time). ``on_step`` as in :func:`train_rl`."""
    _positive(steps, "steps")
    _positive(batch, "batch")
    _callable(on_step)
    policy.eval()
    start = time.perf_counter()
    device = next(policy.parameters()).device
    prompts, chosen, rejected = prompts.to(device), chosen.to(device), rejected.to(device)
    with torch.no_grad():
        ref_chosen = response_log_probs(reference, *response_batch(prompts, chosen))  # (N,)
        ref_rejected = response_log_probs(reference, *response_batch(prompts, rejected))  # (N,)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    g = utils.generator(seed)
    history = DPOHistory()
    history.seconds = time.perf_counter() - start
    for step in range(steps):
        start = time.perf_counter()
        i = torch.randint(len(prompts), (batch,), generator=g)
        history.loss.append(dpo_step(policy, optimizer, prompts[i], chosen[i], rejected[i], ref_chosen[i],
                                     ref_rejected[i], beta))
        history.seconds += time.perf_counter() - start
        if on_step is not None:
            on_step(step + 1)
    return history
