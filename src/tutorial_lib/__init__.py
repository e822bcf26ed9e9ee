"""tutorial_lib: the helper package of *From RNNs to LLMs*.

One module per concept, in the order the book teaches them:

- ``utils``      seeding, device choice, parameter counts, timing      (chapter 1)
- ``data``       the corpus, a character tokenizer, splits, batches     (chapter 1)
- ``ngram``      n-gram language models with add-alpha smoothing       (chapter 1)
- ``plots``      the book's plotting helpers, one house style            (all chapters)
- ``train``      one training loop with progress bar, history, clipping (chapter 2 onwards)
- ``exercises``  checkers that give a learner feedback on an exercise   (all chapters)

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
