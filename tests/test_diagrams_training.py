"""The diagrams of training an LLM (chapters 7 and 10): each draws its symbols, stages and steps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from tutorial_lib.diagrams.training import SYMBOLS, foundation_model, rlhf_vs_dpo, training_stages

DIAGRAMS = {"training_stages": training_stages, "foundation_model": foundation_model, "rlhf_vs_dpo": rlhf_vs_dpo}


def _texts(fig: Figure) -> list[str]:
    texts = [t.get_text() for t in fig.findobj(Text)]
    plt.close(fig)
    return texts


def test_every_diagram_lists_its_symbols():
    assert set(SYMBOLS) == set(DIAGRAMS)
    assert all(SYMBOLS.values())


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_returns_a_figure_with_its_symbols(name):
    fig = DIAGRAMS[name]()
    assert isinstance(fig, Figure)
    joined = "\n".join(_texts(fig))
    for symbol in SYMBOLS[name]:
        assert symbol in joined, f"{name}: {symbol!r} is not in the figure"


def test_training_stages_names_each_stage_its_data_and_its_chapter():
    joined = "\n".join(_texts(training_stages()))
    for stage, chapter in (("pretraining", 7), ("SFT", 9), ("RLHF or DPO", 10)):
        assert stage in joined and f"chapter {chapter}" in joined
    for data in ("unlabelled text", "instruction–response", "comparisons"):
        assert data in joined
    for model in ("pretrained\nmodel", "SFT\nmodel", "aligned\nmodel"):
        assert model in joined
    assert "(7.1)" in joined and "(10.2) or (10.5)" in joined


@pytest.mark.parametrize("tasks", [2, 3])
def test_foundation_model_draws_one_model_per_task_beside_one_adapted_model(tasks):
    texts = _texts(foundation_model(tasks=tasks))
    letters = "ABC"[:tasks]
    for letter in letters:
        assert texts.count(f"model {letter}") == 1  # its own model, on the left
        assert texts.count(f"task {letter}") == 2  # on both sides
    assert texts.count("foundation\nmodel") == 1
    ways = [t for t in texts if "\nchapter " in t]
    assert ways == ["prompting\nchapter 8", "fine-tuning\nchapter 9", "preference\ntuning\nchapter 10"][:tasks]


def test_rlhf_vs_dpo_has_a_reward_model_and_sampling_only_in_rlhf():
    texts = _texts(rlhf_vs_dpo())
    joined = "\n".join(texts)
    for number in ("(10.1)", "(10.2)", "(10.3)", "(10.5)"):
        assert number in joined
    assert sum("reward model\n" in t for t in texts) == 1
    assert sum(r"\sim \pi_\theta" in t for t in texts) == 1  # sampled once: in RLHF
    assert texts.count(r"policy $\pi_\theta$") == 2 and texts.count(r"reference $\pi_{\text{ref}}$") == 2
    # DPO reads the four log-probabilities of (10.5)
    for side in (r"\pi_\theta(y_w \mid x)", r"\pi_\theta(y_l \mid x)", r"\pi_{\text{ref}}(y_w \mid x)",
                 r"\pi_{\text{ref}}(y_l \mid x)"):
        assert side in joined


@pytest.mark.parametrize("tasks", [1, 4, 2.0, True, "3"])
def test_bad_tasks_is_named(tasks):
    with pytest.raises(ValueError, match="tasks must be an int in"):
        foundation_model(tasks=tasks)
    plt.close("all")
