"""Shared fixtures of the saved-model and predict tests: a real EmoDB model trained by `train`.

32 EmoDB files (4 speakers x neutral/happy/sad/angry x 2), linked into a temp folder in the
corpus's own layout: eGeMAPS on 64 s of audio and a LOSO run take seconds, not the minutes
of the full corpus.
"""
from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

from conftest import shared_data

SPEAKERS = ("03", "08", "09", "10")
LETTERS = "WFTN"


def emodb_subset(dest: Path, per_class: int = 2) -> Path:
    src = shared_data("emodb") / "wav"
    picked = defaultdict(list)
    for p in sorted(src.glob("*.wav")):
        spk, letter = p.name[:2], p.name[5]
        if spk in SPEAKERS and letter in LETTERS and len(picked[spk, letter]) < per_class:
            picked[spk, letter].append(p)
    (dest / "wav").mkdir(parents=True)
    for files in picked.values():
        for p in files:
            (dest / "wav" / p.name).symlink_to(p)
    return dest


def emodb_spec(root: Path, runs: Path, head: str = "linear", name: str = "emodb_small"):
    from affectbench import load_spec

    return load_spec(data={"name": name, "output_dir": str(runs),
                           "corpus": {"name": "emodb", "root": str(root), "view": "four", "allow_partial": True},
                           "protocol": {"kind": "loso", "valid_groups": 1},
                           "features": {"extractors": ["egemaps"], "jobs": 1},
                           "head": {"kind": head}, "metrics": {"bootstrap": 50}})


def speech_file(path: Path, pieces: list, sr: int = 16000) -> Path:
    """A WAV of EmoDB clips (paths) and pauses (seconds of near-silence), in order."""
    import soxr

    rng = np.random.default_rng(0)
    out = []
    for p in pieces:
        if isinstance(p, (int, float)):
            out.append((rng.standard_normal(int(p * sr)) * 1e-4).astype(np.float32))
        else:
            x, r = sf.read(p, dtype="float32")
            out.append(soxr.resample(x, r, sr).astype(np.float32))
    sf.write(path, np.concatenate(out), sr)
    return path


def copy_of(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


TEXTS = {"happy": ["what a wonderful day", "I love this so much", "great news, I am delighted",
                   "this makes me so glad"],
         "sad": ["I miss her terribly", "this is so sad and lonely", "I feel down and hopeless",
                 "we lost everything today"],
         "angry": ["this is outrageous and unfair", "I hate you for this", "stop lying to me, I am furious",
                   "how dare they do that"],
         "neutral": ["the bus leaves at nine", "the report is on the table", "we meet on tuesday",
                     "the shop is next to the bank"]}


def text_model(folder: Path, labels=("neutral", "happy", "sad", "angry")):
    """A small real text model: TF-IDF (fitted here) + logistic regression, saved as a folder."""
    from affectbench.features import get_extractor
    from affectbench.heads import make_head
    from affectbench.model import Model, save_model
    from affectbench.normalize import BlockFit

    texts = [t for c in labels for t in TEXTS[c]]
    y = np.repeat(np.arange(len(labels)), 4)
    ex = get_extractor("tfidf", min_df=1, ngram_min=2, ngram_max=4)
    vec = ex.fit(texts)
    opts = {"C": 10.0}
    head = make_head("logreg", **opts).fit(vec.transform(texts), y, n_classes=len(labels))
    m = Model(name="text_small", labels=list(labels), task="classification", extractors=[ex],
              blocks=[BlockFit("tfidf", "text", "none", vectorizer=vec)], head=head, head_kind="logreg",
              head_options=opts)
    return save_model(m, folder)


def tiny_whisper(d: Path) -> Path:
    """A random Whisper (two tiny layers, a byte-level vocabulary) saved as a local folder."""
    import json

    import torch
    from transformers import (WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration,
                              WhisperProcessor, WhisperTokenizer)
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
    vocab = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    for s in specials:
        vocab[s] = len(vocab)
    d.mkdir(parents=True, exist_ok=True)
    (d / "vocab.json").write_text(json.dumps(vocab))
    (d / "merges.txt").write_text("#version: 0.2\n")
    tok = WhisperTokenizer(str(d / "vocab.json"), str(d / "merges.txt"), unk_token=specials[0],
                           bos_token=specials[0], eos_token=specials[0])
    tok.add_special_tokens({"additional_special_tokens": specials[1:]})
    cfg = WhisperConfig(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, num_mel_bins=80, max_source_positions=1500, max_target_positions=64,
                        pad_token_id=vocab[specials[0]], bos_token_id=vocab[specials[0]],
                        eos_token_id=vocab[specials[0]], decoder_start_token_id=vocab[specials[1]])
    torch.manual_seed(0)
    m = WhisperForConditionalGeneration(cfg)
    m.generation_config.no_timestamps_token_id = vocab["<|notimestamps|>"]
    m.generation_config.forced_decoder_ids = None
    m.save_pretrained(d)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tok).save_pretrained(d)
    return d
