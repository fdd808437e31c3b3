"""Feature extractors, the feature cache and parallel extraction."""
from __future__ import annotations

from .base import Extractor, extractor_class, extractor_names, get_extractor  # noqa: F401
from . import face, hf_audio, hf_text, opensmile_ext, text_ext  # noqa: F401  (registration side effect)
from .extract import Extraction, extract  # noqa: F401
