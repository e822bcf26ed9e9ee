"""Checkers that give a learner feedback on an exercise (all chapters).

A learner writes a function in an exercise cell and passes it to a checker,
e.g. ``check_perplexity(perplexity)``. The checker prints one line, either
``✅ Correct: ...`` or ``❌ Not yet: ...`` (what is wrong, expected vs got, and a
hint), and returns a :class:`Feedback`. A wrong answer never raises: an
exception from the learner's code is caught and reported.

The reference answers are written here independently, in a few lines of numpy,
so a checker never trusts the library code it is teaching.

One module per chapter (``ch01`` ... ``ch11``), each with its public checkers; the
building blocks are in ``_core``. ``exercises.check_perplexity`` and the rest are re-exported
here, so a notebook needs only ``from tutorial_lib import exercises``.
"""

from ._core import Feedback, check_close, check_shape
from .ch01 import check_perplexity, check_bigram_table, check_chain_rule, check_smoothing_sweep
from .ch02 import check_rnn_step, check_rnn_param_count, check_every_step_shares
from .ch03 import check_clip_grad_norm, check_one_d_jacobian, check_crossing_radius
from .ch04 import check_peephole_lstm_step, check_gru_without_reset, check_never_forget
from .ch05 import check_dot_attention_step, check_alignment_score, check_sentence_bits
from .ch06 import check_kv_cache, check_shift_matrix, check_encoder_layer_params
from .ch07 import check_min_p_filter, check_gru_lm_flops, check_loss_units
from .ch08 import check_lookup_answer, check_ideal_reader
from .ch09 import check_lora_forward, check_response_targets, check_early_stopping
from .ch10 import check_bradley_terry, check_dpo_loss, check_blind_spot
from .ch11 import check_ece, check_power_law_slope, check_abstention

__all__ = [
    "Feedback",
    "check_close",
    "check_shape",
    "check_perplexity",
    "check_bigram_table",
    "check_chain_rule",
    "check_smoothing_sweep",
    "check_rnn_step",
    "check_rnn_param_count",
    "check_every_step_shares",
    "check_clip_grad_norm",
    "check_one_d_jacobian",
    "check_crossing_radius",
    "check_peephole_lstm_step",
    "check_gru_without_reset",
    "check_never_forget",
    "check_dot_attention_step",
    "check_alignment_score",
    "check_sentence_bits",
    "check_kv_cache",
    "check_shift_matrix",
    "check_encoder_layer_params",
    "check_min_p_filter",
    "check_gru_lm_flops",
    "check_loss_units",
    "check_lookup_answer",
    "check_ideal_reader",
    "check_lora_forward",
    "check_response_targets",
    "check_early_stopping",
    "check_bradley_terry",
    "check_dpo_loss",
    "check_blind_spot",
    "check_ece",
    "check_power_law_slope",
    "check_abstention",
]
