"""The diagrams of training an LLM: its stages, a foundation model (chapter 7), RLHF beside DPO (chapter 10)."""

from __future__ import annotations

from matplotlib.figure import Figure

from tutorial_lib.diagrams.canvas import ARROWS, GREY, Canvas

# the symbols each diagram shares with its chapter's equations and prose (checked by a test)
SYMBOLS: dict[str, list[str]] = {
    "training_stages": [r"p(y_k \mid y_1, \dots, y_{k-1})"],
    "foundation_model": [r"\mathcal{L}(\theta)"],
    "rlhf_vs_dpo": [r"\pi_\theta", r"\pi_{\text{ref}}", r"\beta", "y_w", "y_l", "r(x, y)", r"J(\theta)",
                    r"\mathcal{L}_{\text{DPO}}", r"\mathrm{KL}"],
}

# the stages of chapter 7's opening: (name, what it learns, the data it reads, the model it leaves, chapter)
STAGES = [
    ("pretraining", "next-token prediction\n" r"$p(y_k \mid y_1, \dots, y_{k-1})$ (7.1)",
     "unlabelled text:\nthe Python language reference", "pretrained\nmodel", 7),
    ("SFT", "supervised fine-tuning,\nloss on the response only",
     "instruction–response\npairs", "SFT\nmodel", 9),
    ("RLHF or DPO", "learn from comparisons:\n(10.2) or (10.5)",
     "comparisons: prompt $x$,\nchosen $y_w$, rejected $y_l$", "aligned\nmodel", 10),
]


def training_stages() -> Figure:
    """The three stages of training an LLM as one pipeline, left to right (chapter 7).

    Each stage reads its own data (from below) and starts from the model the stage before it left:
    pretraining on unlabelled text by next-token prediction (7.1) leaves the pretrained model
    (chapter 7); supervised fine-tuning on instruction-response pairs leaves the SFT model
    (chapter 9); RLHF or DPO on comparisons of two responses leaves the aligned model (chapter 10).
    """
    c = Canvas(9.2, 3.2, title="Three stages of training an LLM, each starting from the model of the last")
    step, y_stage, y_data = 2.8, 1.75, 0.5
    before = c.box(0.45, y_stage, "random\nweights", w=0.7, h=0.6, kind="plain", fontsize=9)
    for i, (name, objective, data, model, chapter) in enumerate(STAGES):
        x = 1.7 + i * step
        stage = c.box(x, y_stage, name, w=1.3, h=0.6, kind="highlight", fontsize=10.5)
        c.text(x, y_stage + 0.4, objective, fontsize=9, va="bottom")
        c.text(x, y_stage + 1.1, f"stage {i + 1}, chapter {chapter}", fontsize=10, color=GREY, va="bottom")
        source = c.box(x, y_data, data, w=2.3, h=0.62, kind="input", fontsize=9)
        c.arrow(source, stage)
        c.arrow(before, stage)
        before = c.box(x + 1.4, y_stage, model, w=0.95, h=0.6, kind="state", fontsize=9.5)
        c.arrow(stage, before)
    return c.fig


# the ways chapters 8 to 10 adapt the pretrained model: (way, chapter)
ADAPTATIONS = [("prompting", 8), ("fine-tuning", 9), ("preference\ntuning", 10)]


def foundation_model(tasks: int = 3) -> Figure:
    """Traditional machine learning beside a foundation model, for ``tasks`` tasks (chapter 7).

    Left: one model per task, each trained on its own labelled data. Right: one model pretrained
    once on broad unlabelled text by minimising (7.2), then adapted to each task in one of the
    ways chapters 8 to 10 show: prompting, fine-tuning and preference tuning.
    """
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not 2 <= tasks <= len(ADAPTATIONS):
        raise ValueError(f"tasks must be an int in [2, {len(ADAPTATIONS)}], got {tasks!r}")
    rows = [0.75 + 0.9 * (tasks - 1 - i) for i in range(tasks)]  # top to bottom
    height = rows[0] + 0.95
    c = Canvas(9.4, height, title="One model per task, or one pretrained model adapted to every task")
    c.frame(0.1, 0.2, 3.85, height - 0.1, "traditional: one model per task")
    c.frame(4.05, 0.2, 9.3, height - 0.1, "foundation model: pretrained once, adapted many times")
    middle = (rows[0] + rows[-1]) / 2
    text = c.box(4.7, middle, "broad\nunlabelled text", w=1.2, h=0.6, kind="input", fontsize=9.5)
    model = c.box(6.35, middle, "foundation\nmodel", w=1.1, h=0.6, kind="state", fontsize=9.5)
    c.arrow(text, model, "pretraining", label_at=(0, 0.45), fontsize=9)
    c.text((text.x + model.x) / 2 + 0.1, middle - 0.45, r"$\mathcal{L}(\theta)$ (7.2)", fontsize=9)
    for y, letter, (way, chapter) in zip(rows, "ABC", ADAPTATIONS):
        data = c.box(0.85, y, f"labelled\ndata {letter}", w=1.1, h=0.6, kind="input", fontsize=9.5)
        own = c.box(2.25, y, f"model {letter}", w=0.95, h=0.5, kind="state", fontsize=9.5)
        task = c.box(3.4, y, f"task {letter}", w=0.7, h=0.5, kind="output", fontsize=9.5)
        c.arrow(data, own)
        c.arrow(own, task)
        adapt = c.box(7.75, y, f"{way}\nchapter {chapter}", w=1.15, h=0.7, kind="highlight", fontsize=9)
        c.arrow(model, adapt)
        c.arrow(adapt, c.box(8.85, y, f"task {letter}", w=0.7, h=0.5, kind="output", fontsize=9.5))
    return c.fig


def rlhf_vs_dpo() -> Figure:
    """RLHF's two steps above DPO's one, on the same comparisons (chapter 10).

    RLHF: a reward model $r(x, y)$ is fitted to the comparisons with the Bradley-Terry loss (10.1);
    then the policy $\\pi_\\theta$ samples responses, the reward model scores them, the frozen
    reference $\\pi_{\\text{ref}}$ prices the distance $\\beta\\,\\mathrm{KL}$, and the policy gradient
    (10.3) of the objective $J(\\theta)$ (10.2) updates the policy. DPO: the policy's and the
    reference's log-probabilities of the chosen and rejected responses give one loss (10.5),
    whose gradient updates the policy: no reward model, no sampling.
    """
    c = Canvas(9.2, 7.0, title=r"RLHF and DPO learn from the same comparisons $(x, y_w, y_l)$")
    grad = ARROWS["gradient"][0]
    # RLHF, step 1: the reward model (10.1)
    c.frame(0.1, 2.72, 9.1, 6.9, "RLHF: fit a reward model, then run a policy-gradient loop")
    pairs = c.box(1.25, 5.95, "comparisons\n$(x, y_w, y_l)$", w=1.8, h=0.65, kind="input", fontsize=10)
    reward = c.box(5.45, 5.95, "reward model\n$r(x, y)$", w=1.6, h=0.65, kind="layer", fontsize=10)
    c.arrow(pairs, reward, "Bradley–Terry loss (10.1)", label_at=(0, 0.22), fontsize=9.5)
    # RLHF, step 2: sample, score, penalise, update (10.2, 10.3)
    prompts = c.box(1.25, 4.45, "prompts $x$", w=1.2, h=0.5, kind="input", fontsize=10)
    policy = c.box(3.1, 4.45, r"policy $\pi_\theta$", w=1.3, h=0.55, kind="highlight", fontsize=10)
    sampled = c.box(5.45, 4.45, r"$y \sim \pi_\theta(\cdot \mid x)$", w=1.6, h=0.55, kind="state")
    objective = c.box(8.0, 4.45, r"$J(\theta)$ (10.2)", w=1.5, h=0.55, kind="output", fontsize=10)
    reference = c.box(5.45, 3.55, r"reference $\pi_{\text{ref}}$", w=1.6, h=0.45, kind="frozen", fontsize=10)
    c.arrow(prompts, policy)
    c.arrow(policy, sampled, "sample", label_at=(0, 0.2), fontsize=9)
    c.arrow(sampled, reward, "score", label_at=(0.3, 0), fontsize=9)
    c.arrow(reward, objective, r"$r(x, y)$", corner="h", label_at=(0.1, 0.2), fontsize=10)
    c.arrow(reference, (7.65, 4.17), corner="h")
    c.text(6.95, 3.35, r"$-\beta\,\mathrm{KL}(\pi_\theta \| \pi_{\text{ref}})$", fontsize=10, ha="left")
    c.line([(8.45, 4.17), (8.45, 3.1), (3.1, 3.1), (3.1, 4.16)], kind="gradient")
    c.text(3.3, 2.93, r"policy gradient (10.3): update $\pi_\theta$", fontsize=9.5, color=grad, ha="left")
    # DPO (10.5): one loss on log-probabilities
    c.frame(0.1, 0.1, 9.1, 2.6, "DPO: one loss, no reward model, no sampling", label_at="bottom left")
    pairs = c.box(1.25, 1.45, "comparisons\n$(x, y_w, y_l)$", w=1.8, h=0.65, kind="input", fontsize=10)
    policy = c.box(3.1, 1.9, r"policy $\pi_\theta$", w=1.3, h=0.55, kind="highlight", fontsize=10)
    reference = c.box(3.1, 0.95, r"reference $\pi_{\text{ref}}$", w=1.6, h=0.45, kind="frozen", fontsize=10)
    loss = c.box(8.0, 1.45, "$\\mathcal{L}_{\\text{DPO}}$ (10.5)\n\n$\\beta$ as in (10.2)", w=1.5, h=1.3,
                 kind="output", fontsize=10)
    c.arrow(pairs, policy)
    c.arrow(pairs, reference)
    c.arrow(policy, (loss.x - 0.75, 1.9))
    c.arrow(reference, (loss.x - 0.75, 0.95))
    c.text(5.5, 2.08, r"$\log \pi_\theta(y_w \mid x)$, $\log \pi_\theta(y_l \mid x)$", fontsize=9.5)
    c.text(5.5, 1.13, r"$\log \pi_{\text{ref}}(y_w \mid x)$, $\log \pi_{\text{ref}}(y_l \mid x)$",
           fontsize=9.5)
    c.line([(7.6, 2.1), (7.6, 2.4), (3.1, 2.4), (3.1, 2.18)], kind="gradient")
    c.text(5.5, 2.5, r"the gradient of (10.5): update $\pi_\theta$", fontsize=9, color=grad)
    return c.fig
