"""Maintenance tools for the book itself, not for learners: each runs as ``python -m
tutorial_lib.tools.NAME`` (the Makefile's targets call them).

- ``book``    the Colab setup cell, executing notebooks, student copies, the offline JavaScript
- ``bench``   how long the book takes, and how close its training runs get to the machine
- ``course``  the instructors' page, written from the chapters' cards
"""
