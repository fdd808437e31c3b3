"""Shared fixtures of the saved-model and predict tests: a real EmoDB model trained by `train`.

48 EmoDB files (4 speakers x neutral/happy/sad/angry x 3), linked into a temp folder in the
corpus's own layout: eGeMAPS on 96 s of audio and a LOSO run take seconds, not the minutes
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


def emodb_subset(dest: Path, per_class: int = 3) -> Path:
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
