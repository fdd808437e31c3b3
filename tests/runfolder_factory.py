"""Synthetic run folders, written file by file exactly as the runner writes them.

Used by the compare / leaderboard tests and by benchmarks/bench_leaderboard.py: a real
run takes seconds, a synthetic one milliseconds, and statistics tests need control over
how good each "system" is.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from affectbench import metrics as M
from affectbench.spec import dump_toml

CLASSES = ["neutral", "happy", "sad", "angry"]


def truth(n_speakers=8, per_speaker=30, classes=CLASSES, seed=0):
    rng = np.random.default_rng(seed)
    spk = np.repeat([f"spk{i:02d}" for i in range(1, n_speakers + 1)], per_speaker)
    y = rng.integers(0, len(classes), len(spk))
    ids = np.array([f"{s}_{i:04d}" for i, s in enumerate(spk)])
    return ids, spk, y


def make_run(root: Path, name: str, acc: float, *, corpus="demo", view="four", classes=CLASSES, seed=0,
             data_seed=0, n_speakers=8, per_speaker=30, extractors=("egemaps",), head="linear", n_boot=200,
             data_fingerprint=None, extra_info=None, version="0.1.0", drop: int = 0) -> Path:
    """A finished leave-one-speaker-out run whose predictions are right with probability ``acc``."""
    ids, spk, y = truth(n_speakers, per_speaker, classes, data_seed)
    if drop:  # a partial copy: the last utterances are missing
        ids, spk, y = ids[:-drop], spk[:-drop], y[:-drop]
    rng = np.random.default_rng([zlib.crc32(name.encode()), seed])  # str hash() varies per process
    k = len(classes)
    pred = np.where(rng.random(len(y)) < acc, y, rng.integers(0, k, len(y)))
    P = rng.dirichlet(np.ones(k), len(y)).astype(np.float32)
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"name": name.rsplit("-", 1)[0], "seed": seed, "output_dir": str(root), "description": "synthetic",
            "corpus": {"name": corpus, "view": view}, "protocol": {"kind": "loso"},
            "features": {"extractors": list(extractors), "normalization": "fold"}, "head": {"kind": head},
            "metrics": {"bootstrap": n_boot, "ci": 0.95}}
    folds, fold_metrics = [], []
    df = pd.DataFrame({"id": ids, "fold": spk, "speaker": spk, "true": [classes[i] for i in y],
                       "pred": [classes[i] for i in pred]})
    for j, c in enumerate(classes):
        df[f"p_{c}"] = P[:, j]
    for s in sorted(set(spk)):
        m = spk == s
        fm = M.classification(y[m], pred[m], classes, n_boot=0)
        fm["fold"] = s
        fold_metrics.append(fm)
        folds.append({"name": s, "fingerprint": f"fp-{data_seed}-{s}", "n_train": int((~m).sum()), "n_valid": 0,
                      "n_test": int(m.sum()), "test_groups": [s], "valid_groups": [],
                      "speaker_independent": True, "test_speakers_seen_in_training": 0})
    # as the runner does for a speaker-independent protocol: CIs over speakers, said so
    pooled = M.classification(y, pred, classes, n_boot=n_boot, seed=seed, groups=spk)
    if "ci" in pooled:
        pooled["ci_unit"] = "speaker"
    metrics = {"run": name, "task": "single_label", "pooled": pooled, "folds": fold_metrics,
               "fold_mean": {k_: {"mean": float(np.mean([f[k_] for f in fold_metrics])),
                                  "std": float(np.std([f[k_] for f in fold_metrics]))} for k_ in M.SINGLE},
               "metric_names": M.AUDMETRIC_NAMES, "n_skipped": 0}
    info = {"spec": spec,
            "corpus": {"name": corpus, "root": None, "view": view, "classes": list(classes), "n": len(y),
                       "caveats": [], "problems": [], "skipped_while_reading": []},
            "data_fingerprint": data_fingerprint or f"data{data_seed:012d}",
            "protocol": {"kind": "loso", "group": "speaker", "valid_groups": 0, "speaker_independent": True,
                         "folds": folds},
            "normalization": {"mode": "fold", "description": "standardisation fitted on the training fold"},
            "features": [{"extractor": e} for e in extractors], "failures": [],
            "versions": {"python": "3.11", "affectbench": version}, "seconds": 0.0, **(extra_info or {})}
    (folder / "spec.toml").write_text(dump_toml(spec), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    df.to_parquet(folder / "predictions.parquet", index=False)
    (folder / "DONE").write_text("2026-11-29T00:00:00")
    return folder
