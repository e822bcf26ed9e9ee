"""Maintenance tools for the book itself, not for learners: each runs as ``python -m
tutorial_lib.tools.NAME`` (the Makefile's targets call them).

- ``book``     the Colab setup cell, executing notebooks (stamped with fingerprints), student
               copies, the offline JavaScript (``make execute``, ``make student``, ``make book``)
- ``robust``   the notebooks with their seeds shifted, and what nbval may compare (``make robust``)
- ``colab``    the notebooks in Colab's runtime (``make colab``)
- ``bench``    how long the book takes, scaled to the reference machine (``make bench``)
- ``course``   the instructors' page, written from the chapters' cards
- ``freeze``   the frozen texts of ``tutorial_lib/corpus/``, written from the running Python
"""
