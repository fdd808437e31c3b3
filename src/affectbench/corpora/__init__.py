"""Corpus adapters. Importing this package registers every adapter."""
from __future__ import annotations

from .base import Corpus, Prepared, corpus_names, get_corpus, register  # noqa: F401
from . import demo, emodb, goemotions  # noqa: F401  (registration side effect)
