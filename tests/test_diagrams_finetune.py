"""The diagrams of fine-tuning (chapter 9): five methods on one GPT, and the SFT loss mask."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from tutorial_lib import finetune, tasks
from tutorial_lib.data import CharTokenizer
from tutorial_lib.diagrams.finetune import SYMBOLS, finetuning_methods, sft_loss_mask, sft_targets

DIAGRAMS = {"finetuning_methods": finetuning_methods, "sft_loss_mask": sft_loss_mask}


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


@pytest.mark.parametrize("layers, frozen", [(4, 3), (3, 0)])
def test_finetuning_methods_draws_every_method_on_the_same_layers(layers, frozen):
    texts = _texts(finetuning_methods(layers=layers, frozen=frozen))
    joined = "\n".join(texts)
    for number in ("(9.1.1)", "(9.1.2)", "(9.1.3)", "(9.1.4)", "(9.3)", "(9.1)", "(9.2)"):
        assert number in joined
    assert sum(t.startswith("layer 1") for t in texts) == 5  # the same stack in all five panels
    assert texts.count("adapter") == layers  # one after each layer
    assert texts.count(r"$\mathbf{B}\mathbf{A}$") == layers  # one update inside each layer
    assert f"first\n{frozen} layers frozen" in joined
    # (9.1): the top layer at eta, each one below a factor gamma slower
    assert f"layer {layers}  $\\eta$" in texts and f"layer {layers - 1}  $\\eta\\gamma$" in texts
    assert f"layer 1  $\\eta\\gamma^{{{layers - 1}}}$" in texts


@pytest.mark.parametrize("kind", sorted(tasks.INSTRUCTIONS))
def test_sft_targets_are_those_of_sft_batch(kind):
    pair = tasks.instruction_pairs(["while"], 1, kinds=(kind,))[0]
    text = pair.prompt + pair.response + "\n"
    tok = CharTokenizer(text)
    _, y = finetune.sft_batch([pair], tok, block_size=64)
    expected = [None if t == -100 else tok.decode([t]) for t in y[0].tolist()]
    assert sft_targets(pair.prompt, pair.response) == expected


def test_sft_loss_mask_marks_the_response_and_its_newline():
    texts = _texts(sft_loss_mask(padding=0))
    prompt = "Q: Write in capitals: while\nA: "
    assert texts.count("·") == len(prompt) - 1  # the masked targets
    assert f"first len(prompt) − 1 = {len(prompt) - 1} targets" in "\n".join(texts)
    assert texts.count("⏎") == 2  # in the prompt's input and as the last target
    assert "the loss" in texts and f"prompt ({len(prompt)} characters)" in texts
    assert sft_loss_mask(padding=2).findobj(Text)  # padding adds masked positions
    plt.close("all")


@pytest.mark.parametrize("kwargs, name", [
    ({"layers": 1}, "layers"), ({"layers": 4.0}, "layers"), ({"frozen": 4}, "frozen"), ({"frozen": -1}, "frozen"),
    ({"frozen": True}, "frozen"),
])
def test_finetuning_methods_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be"):
        finetuning_methods(**kwargs)
    plt.close("all")


@pytest.mark.parametrize("kwargs, name", [
    ({"prompt": "Write in capitals: while"}, "prompt"), ({"response": ""}, "response"),
    ({"response": "A\nB"}, "response"), ({"padding": 5}, "padding"), ({"padding": True}, "padding"),
    ({"response": "W" * 20}, "prompt and response"),
])
def test_sft_loss_mask_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must"):
        sft_loss_mask(**kwargs)
    plt.close("all")
