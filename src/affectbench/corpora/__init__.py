"""Corpus adapters. Importing this package registers every adapter module in it."""
from __future__ import annotations

import importlib
import pkgutil

from .base import Corpus, Prepared, corpus_names, get_corpus, register  # noqa: F401

# One module per corpus; each registers itself with @register. Modules starting
# with "_" and helpers listed here are not adapters.
_NOT_ADAPTERS = {"base", "demo_synth", "demo_av_synth"}
for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_") and _m.name not in _NOT_ADAPTERS:
        importlib.import_module(f"{__name__}.{_m.name}")
