"""The canonical one-row-per-utterance table every corpus adapter produces.

All corpora share the same columns so that everything downstream (protocols,
feature extraction, heads, metrics) is corpus-agnostic. Columns a corpus does
not have are null. Saved as Parquet, one corpus per file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CorpusError

#: column -> pandas dtype. Order is the on-disk order.
COLUMNS: dict[str, str] = {
    "id": "string",  # stable, corpus-unique
    "corpus": "string",
    "speaker": "string",
    "session": "string",  # recording session (fold group for IEMOCAP/MSP-IMPROV)
    "dialogue": "string",
    "turn": "Int64",  # order inside its dialogue
    "split": "string",  # official split (train/dev/test) where the corpus has one
    "audio": "string",  # absolute path
    "start": "float64",  # seconds inside `audio`; NaN = whole file
    "end": "float64",
    "video": "string",
    "video_start": "float64",  # seconds inside `video` (IEMOCAP: the turn inside the dialog AVI)
    "video_end": "float64",
    "image": "string",
    "text": "string",
    "language": "string",
    "label": "string",  # consensus label, canonical name (single-label corpora)
    "labels": "object",  # list[str] for multi-label corpora (GoEmotions)
    "label_text": "string",  # per-modality labels where a corpus has them
    "label_audio": "string",
    "label_video": "string",
    "label_multimodal": "string",
    "votes": "string",  # JSON of rater votes
    "valence": "float64",
    "arousal": "float64",
    "dominance": "float64",
    "sentiment": "float64",
    "meta": "string",  # JSON of corpus-specific extras (e.g. CREMA-D demographics)
    # reference captions (EmotionTalk's four dimensions): plain text; caption_overall is a
    # JSON list (the release has five versions of it)
    "caption_speaker": "string",
    "caption_style": "string",
    "caption_emotion": "string",
    "caption_overall": "string",
}


def empty_frame(n: int = 0) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([None] * n, dtype=t) for c, t in COLUMNS.items()})


def normalize(rows: list[dict] | pd.DataFrame, corpus: str) -> pd.DataFrame:
    """Build a manifest from rows: add missing columns, coerce dtypes, check ids."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    df["corpus"] = corpus
    unknown = [c for c in df.columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"manifest for {corpus}: unknown columns {unknown}")
    for col, dtype in COLUMNS.items():
        if col not in df.columns:
            df[col] = None
        if dtype == "object":
            df[col] = df[col].astype(object)
        else:
            df[col] = df[col].astype(dtype)
    df = df[list(COLUMNS)]
    dup = df["id"][df["id"].duplicated()]
    if len(dup):
        raise CorpusError(f"{corpus}: duplicate utterance ids, e.g. {list(dup.unique()[:5])}")
    return df.reset_index(drop=True)


def save(df: pd.DataFrame, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    # Parquet needs a uniform type for the list column.
    out["labels"] = out["labels"].map(lambda v: None if v is None else list(v))
    tmp = path.with_suffix(".tmp.parquet")
    out.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def load(path: Path) -> pd.DataFrame:
    df = pd.read_parquet(path)
    df["labels"] = df["labels"].map(lambda v: None if v is None else [str(x) for x in v])
    for col, dtype in COLUMNS.items():
        if col not in df.columns:  # a manifest saved before the column existed
            df[col] = None
        if dtype != "object":
            df[col] = df[col].astype(dtype)
    return df[list(COLUMNS)]


def fingerprint(df: pd.DataFrame) -> str:
    """Hash of what a result depends on: ids, labels, groups, splits, text, segment times.

    Absolute media paths are left out (the same corpus in another folder gives the same
    fingerprint); media *content* is covered separately by the feature cache keys.
    """
    cols = ["id", "speaker", "session", "dialogue", "split", "label", "labels", "text",
            "start", "end", "label_text", "label_audio", "label_video", "label_multimodal",
            "valence", "arousal", "dominance", "sentiment"]
    h = hashlib.sha256()
    sub = df[cols].sort_values("id")
    for rec in sub.itertuples(index=False):
        h.update(json.dumps([_jsonable(v) for v in rec], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def _jsonable(v):
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    return v
