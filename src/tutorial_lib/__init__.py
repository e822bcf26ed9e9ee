"""tutorial_lib: the helper package of *From RNNs to LLMs*.

One module per concept, in the order the book teaches them:

- ``utils``      seeding, device choice, parameter counts, timing      (chapter 1)
- ``data``       the frozen corpus, a character tokenizer, splits, batches (chapter 1)
- ``ngram``      n-gram language models with add-alpha smoothing       (chapter 1)
- ``tasks``      synthetic tasks with known answers (bank, recall, translation) (chapters 1, 3, 5)
- ``plots``      the book's plotting helpers, one house style            (all chapters)
- ``exercises``  checkers that give a learner feedback on an exercise   (all chapters)
- ``rnn``        the recurrence of seed eq. 2.1, and a character RNN    (chapter 2)
- ``sampling``   temperature, top-k and top-p sampling of next tokens   (chapter 2 onwards)
- ``train``      one training loop with progress bar, history, clipping (chapter 2 onwards)
- ``gradients``  gradient norms through time, spectral radius           (chapter 3)
- ``gates``      the LSTM and the GRU, checked against PyTorch's          (chapter 4)
- ``attention``  additive and dot-product attention, masks               (chapter 5)
- ``seq2seq``    an encoder-decoder GRU, with or without attention       (chapter 5)
- ``transformer`` multi-head attention, encoder and decoder layers, GPT  (chapter 6)
- ``compute``    FLOPs of a training step by (7.4), counted and equal budgets (chapter 7)
- ``pretrained`` the shipped models: build, check, load offline        (chapter 7)
- ``bpe``        byte-level byte-pair encoding: subword tokens          (chapter 7)
- ``hf``         the book's models in Hugging Face's libraries, offline  (chapters 7, 9, 10)
- ``prompting``  zero-shot scoring, few-shot prompts, in-context learning (chapter 8)
- ``finetune``   freezing, per-layer rates, adapters, LoRA, SFT batches (chapter 9)
- ``rlhf``       reward model, Bradley-Terry, KL, policy gradient, DPO   (chapter 10)
- ``calibration`` reliability bins and the expected calibration error   (chapter 11)
- ``widgets``    interactive explorers built on the plots               (chapter 3 onwards)
- ``diagrams``   the architectures and pipelines, drawn in one style     (chapters 2, 4-7, 9, 10)
- ``tools``      maintenance commands for the book itself (not for learners)

Beside the modules: ``corpus/``, the book's frozen texts with their licence, and
``checkpoints/``, the shipped models and their records.

Shape symbols, used in every docstring and shape comment of the package:

====  ==========================================================
B     batch size
T     time (sequence length, number of positions)
C     channels: embedding or hidden width
H     number of attention heads
D     head dimension (C // H)
V     vocabulary size
====  ==========================================================
"""

__version__ = "0.1.0"
