"""A fitted model as an artifact: the folder a run's final fit writes and ``predict`` / ``serve`` load.

A model folder holds two files:

- ``model.json``: the format and its version, the label set and task, each feature block's
  extractor (name, config, identity) and normalisation, the head's kind, options, version and
  fit summary, the card (the cross-validated run's metrics that vouch for the model, versions,
  data fingerprint, spec), the sha256 of every other file, and a sha256 of its own content;
- ``weights.safetensors``: every array (normaliser means/stds, TF-IDF vocabulary and IDF, head
  weights). No pickle anywhere: loading a model never runs code from the folder.

The normalisers and heads are the very objects a run's fold fits (``normalize.BlockFit`` and
the head from ``runner.fit_head``), so a saved model predicts what the fold would have.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelError

FORMAT = "affectbench-model"
FORMAT_VERSION = 1
CARD_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"
TASKS = {"single_label": "classification", "multilabel": "multilabel", "regression": "regression"}
DEFAULTS_PACKAGE = "affectbench.models"


@dataclass
class ModelOutput:
    probs: np.ndarray  # [n, k]; a NaN row for an item that failed
    per_modality: dict = field(default_factory=dict)  # modality -> [n, k], where the head gives one
    failed: dict = field(default_factory=dict)  # row -> reason (the file and the problem)


class Model:
    """A fitted pipeline: extractors → per-block normalisation → head.

    ``blocks`` are the fold's :class:`~affectbench.normalize.BlockFit` objects (z-scores, a
    fitted TF-IDF vectoriser), in the extractors' order.
    """

    def __init__(self, *, name: str, labels: list, task: str, extractors: list, blocks: list, head,
                 head_kind: str, head_options: dict, card: dict | None = None, path: Path | None = None,
                 warnings_: list | None = None):
        self.name, self.labels, self.task = name, list(labels), task
        self.extractors, self.blocks, self.head = list(extractors), list(blocks), head
        self.head_kind, self.head_options = head_kind, dict(head_options)
        self.modalities = [ex.modality for ex in self.extractors]
        self.card = card or {}
        self.path = path
        self.warnings = list(warnings_ or [])

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, {self.task}, labels={self.labels}, "
                f"blocks={[b.name for b in self.blocks]}, head={self.head_kind!r})")

    @property
    def takes_blocks(self) -> bool:
        return bool(getattr(self.head, "takes_blocks", False))

    # -- prediction ---------------------------------------------------------------------
    def predict_items(self, items: list[dict], *, jobs: int = 1) -> ModelOutput:
        """Probabilities for extractor items (``{"id", "audio", "start", "end", "text", …}``).

        A failing item gets a NaN row and its reason in ``failed``; the others are predicted.
        A fusion head keeps an item while one of its modalities is there (it masks the rest);
        a head on one matrix needs every block.
        """
        items = [{**it, "id": str(it.get("id") if it.get("id") is not None else i)} for i, it in enumerate(items)]
        n, k = len(items), len(self.labels)
        parts, present, why = [], [], {}
        for ex, bf in zip(self.extractors, self.blocks):
            X, pres, lengths, fails = _block_features(ex, bf, items, jobs)
            parts.append((X, lengths))
            present.append(pres)
            for i, reason in fails.items():
                why.setdefault(i, reason)
        have = np.logical_or.reduce(present) if self.takes_blocks else np.logical_and.reduce(present)
        probs = np.full((n, k), np.nan)
        out = ModelOutput(probs, {}, {i: r for i, r in sorted(why.items()) if not have[i]})
        rows = np.flatnonzero(have)
        if not len(rows):
            return out
        if self.takes_blocks:
            from .heads.blocks import Block

            blocks = [Block(bf.name, bf.modality, _dense(X)[rows], p[rows], None if ln is None else ln[rows])
                      for bf, (X, ln), p in zip(self.blocks, parts, present)]
            probs[rows] = self.head.predict_proba(blocks)
            for name, P in self.head.modality_predictions(blocks).items():
                mod = next(b.modality for b in self.blocks if b.name == name)
                full = np.full((n, k), np.nan)
                full[rows] = P
                full[rows[~next(b.present for b in blocks if b.name == name)]] = np.nan
                out.per_modality[mod] = full
        else:
            from .normalize import early_fusion

            M = early_fusion([X for X, _ in parts])
            probs[rows] = self.head.predict_proba(M[rows])
        return out

    def decide(self, probs: np.ndarray) -> list[str]:
        """Labels for probability rows (multi-label: the labels over their thresholds, joined by ';')."""
        out = []
        for row in np.asarray(probs, float):
            if not np.isfinite(row).all():
                out.append("")
            elif self.task == "multilabel":
                mask = self.head.decide(row[None])[0]
                out.append(";".join(c for c, m in zip(self.labels, mask) if m))
            elif self.task == "regression":
                out.append(";".join(f"{c}={v:.3f}" for c, v in zip(self.labels, row)))
            else:
                out.append(self.labels[int(row.argmax())])
        return out


# ---- features of new media through the same extractors and cache --------------------------------
def _dense(X):
    import scipy.sparse as sp

    return np.asarray(X.toarray(), np.float32) if sp.issparse(X) else X


def _has(item: dict, modality: str) -> bool:
    v = item.get(modality)
    return v is not None and not (isinstance(v, float) and v != v) and str(v).strip() != ""


def _block_features(ex, bf, items: list[dict], jobs: int):
    """(features [n, d] or frames [n, t, d], present [n], lengths or None, row -> failure)."""
    n = len(items)
    has = np.array([_has(it, ex.modality) for it in items], bool)
    fails = {i: f"{_where(it, ex.modality)}: no {ex.modality} for this item" for i, it in enumerate(items)
             if not has[i]}
    if bf.vectorizer is not None:  # a per-fold text extractor: its fitted vocabulary and IDF
        X = bf.vectorizer.transform([str(it.get("text")) if h else "" for it, h in zip(items, has)])
        return X, has, None, fails
    import pandas as pd

    from .features.extract import ITEM_COLUMNS, content_keys, extract

    sub = [it for it, h in zip(items, has) if h]
    df = pd.DataFrame([{c: it.get(c) for c in ITEM_COLUMNS} for it in sub], columns=list(ITEM_COLUMNS))
    for c in ("start", "end", "video_start", "video_end"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    keys = content_keys(ex, df) if len(df) else []
    res = extract(ex, df, jobs=jobs, on_error="skip", keys=keys) if len(df) else None
    idx = np.flatnonzero(has)
    ok = np.zeros(n, bool)
    if res is not None:
        ok[idx[res.ok]] = True
        problems = dict(res.failures)
        for i in idx[~res.ok]:
            where = _where(items[i], ex.modality)
            problem = problems.get(where) or problems.get(f"utterance {items[i]['id']}") or "extraction failed"
            fails[int(i)] = f"{where}: {problem}"
    if bf.sequence:
        return (*_frames(ex, bf, [keys[j] for j in np.flatnonzero(res.ok)] if res is not None else [], ok), fails)
    d = _dim(ex, bf, res)
    X = np.zeros((n, d), np.float32)
    if ok.any():
        F, _ = ex.split_stats(res.X)
        X[ok] = bf.zscore.apply(F) if bf.zscore is not None else F
    return X, ok, None, fails


def _dim(ex, bf, res) -> int:
    if bf.zscore is not None:
        return int(len(bf.zscore.mu))
    if res is not None and res.X.ndim == 2 and res.X.shape[1]:
        return int(res.X.shape[1] - len(ex.stat_names))
    return int(getattr(ex, "dim", None) or 1)


def _frames(ex, bf, keys: list[str], ok: np.ndarray):
    frames = ex.load_frames(keys) if keys else []
    T = max((len(f) for f in frames), default=1)
    d = frames[0].shape[1] if frames else (len(bf.zscore.mu) if bf.zscore is not None else 1)
    seq = np.zeros((len(ok), max(T, 1), d), np.float32)
    lengths = np.zeros(len(ok), np.int64)
    for i, f in zip(np.flatnonzero(ok), frames):
        seq[i, :len(f)] = bf.zscore.apply(f) if bf.zscore is not None else f
        lengths[i] = len(f)
    return seq, ok & (lengths > 0), lengths


def _where(item: dict, modality: str) -> str:
    v = item.get(modality)
    return str(v) if v is not None and modality != "text" else f"utterance {item.get('id')}"


# ---- saving ------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _content_hash(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k != "content_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _block_entry(i: int, ex, bf, arrays: dict) -> dict:
    norm = {"run_mode": bf.mode, "sequence": bf.sequence}
    if bf.vectorizer is not None:
        vocab = sorted(bf.vectorizer.vocabulary_, key=bf.vectorizer.vocabulary_.get)
        arrays[f"block{i}.vocab"] = np.frombuffer(json.dumps(vocab, ensure_ascii=False).encode(), np.uint8).copy()
        arrays[f"block{i}.idf"] = np.asarray(bf.vectorizer.idf_)
        norm["kind"] = "tfidf"
        norm["statistics"] = "vocabulary and IDF fitted on the model's training rows"
    elif bf.zscore is not None:
        arrays[f"block{i}.mu"], arrays[f"block{i}.sd"] = np.asarray(bf.zscore.mu), np.asarray(bf.zscore.sd)
        norm["kind"] = "zscore"
        norm["statistics"] = ("the training rows' mean/std (the run z-scored each speaker with that speaker's "
                              "statistics; at predict time the speaker is unknown)" if bf.mode == "speaker"
                              else "the training rows' mean/std")
    else:
        norm["kind"] = "none"
    return {"name": bf.name, "modality": bf.modality,
            "extractor": {"name": ex.name, "config": ex.config, "identity": ex.identity()},
            "normalisation": norm}


def save_model(fitted: Model, path) -> Path:
    """Write ``fitted`` as a model folder at ``path`` (replaced if it is a model folder already)."""
    from safetensors.numpy import save_file

    from .heads.saved import head_to_arrays

    path = Path(path).expanduser()
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / CARD_FILE).exists())):
        raise ModelError(path, "exists and is not a model folder; choose a new or empty folder")
    arrays: dict[str, np.ndarray] = {}
    blocks = [_block_entry(i, ex, bf, arrays) for i, (ex, bf) in enumerate(zip(fitted.extractors, fitted.blocks))]
    head_meta, head_arrays = head_to_arrays(fitted.head)
    arrays.update({f"head.{k}": np.ascontiguousarray(v) for k, v in head_arrays.items()})
    from .heads import HEADS
    from .runner import versions

    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": fitted.name, "task": fitted.task,
           "labels": fitted.labels, "blocks": blocks,
           "combine": "blocks" if fitted.takes_blocks else "early_fusion",
           "head": {"kind": fitted.head_kind, "version": str(getattr(HEADS[fitted.head_kind], "VERSION", "1")),
                    "saved_version": str(getattr(HEADS[fitted.head_kind], "SAVED_VERSION", "1")),
                    "options": fitted.head_options, **head_meta},
           "card": fitted.card, "versions": versions()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        save_file(arrays, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        doc["files"] = {WEIGHTS_FILE: _sha256(tmp / WEIGHTS_FILE)}
        doc["content_sha256"] = _content_hash(doc)
        (tmp / CARD_FILE).write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        _permissions(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _permissions(folder: Path) -> None:
    """As a plain mkdir and write would leave them (mkdtemp makes the folder private): a model
    installed or shared by one user must be readable by the others."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)
    for f in folder.iterdir():
        os.chmod(f, 0o666 & ~mask)


# ---- loading ------------------------------------------------------------------------------
def default_models() -> dict[str, Path]:
    """The models shipped inside the package, by the name ``default:<name>`` loads."""
    from importlib import resources

    try:
        root = Path(str(resources.files(DEFAULTS_PACKAGE)))
    except (ModuleNotFoundError, TypeError):
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / CARD_FILE).exists()}


def resolve(path) -> Path:
    s = str(path)
    if s.startswith("default:"):
        name = s.split(":", 1)[1]
        found = default_models()
        if name not in found:
            raise ModelError(s, f"no default model '{name}'. Shipped: {', '.join(found) or 'none'}")
        return found[name]
    return Path(path).expanduser()


def _read_card(path: Path) -> dict:
    if not path.is_dir():
        raise ModelError(path, "no such model folder" if not path.exists() else "not a folder (a model is a folder)")
    card = path / CARD_FILE
    try:
        doc = json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(card, "missing: this folder is not an affectbench model") from None
    except (OSError, ValueError) as e:
        raise ModelError(card, f"unreadable or not JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError(card, f"not an affectbench model file (format {doc.get('format') if isinstance(doc, dict) else None!r})")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelError(card, f"model format version {doc.get('format_version')!r}; this affectbench reads version "
                               f"{FORMAT_VERSION}. Re-train it with `affectbench train` (or use the affectbench "
                               f"{doc.get('versions', {}).get('affectbench', '?')} that wrote it)")
    if doc.get("content_sha256") != _content_hash(doc):
        raise ModelError(card, "changed after it was written (its content hash does not match); refusing to load")
    for name, digest in (doc.get("files") or {}).items():
        f = path / name
        if not f.is_file():
            raise ModelError(f, "missing (listed in model.json)")
        if _sha256(f) != digest:
            raise ModelError(f, "changed after the model was written (sha256 mismatch); refusing to load")
    return doc


def _extractor(entry: dict, where: Path, notes: list):
    from .features import get_extractor

    from .features import extractor_class

    e = entry["extractor"]
    config = dict(e["config"])
    if "precision" in extractor_class(e["name"]).defaults and "precision" not in config:
        config["precision"] = "fp32"  # written before encoders had a precision: they ran in fp32
    ex = get_extractor(e["name"], **config)
    saved, now = e["identity"], ex.identity()
    if saved.get("config", {}).get("precision", "fp32") != now["config"].get("precision", "fp32"):
        notes.append(f"extractor '{ex.name}' was trained on {saved.get('config', {}).get('precision', 'fp32')} "
                     f"features and runs in {now['config'].get('precision')} here (this machine's precision)")
    if saved.get("algo_version") != now.get("algo_version"):
        raise ModelError(where, f"extractor '{ex.name}' computes its features with algorithm version "
                                f"{now.get('algo_version')}, the model was trained on version {saved.get('algo_version')}")
    if saved.get("model") and saved.get("model") != ex.model_fingerprint():
        raise ModelError(where, f"extractor '{ex.name}': its model files differ from the ones the model was "
                                f"trained on (fingerprint {ex.model_fingerprint()} ≠ {saved.get('model')})")
    if saved.get("versions") != now.get("versions"):
        notes.append(f"extractor '{ex.name}' was trained with {saved.get('versions')}, now {now.get('versions')}")
    return ex


def _block_fit(i: int, entry: dict, arrays: dict, ex):
    from .normalize import BlockFit, ZScore

    norm = entry["normalisation"]
    bf = BlockFit(entry["name"], entry["modality"], norm["run_mode"], sequence=bool(norm.get("sequence")))
    if norm["kind"] == "zscore":
        bf.zscore = ZScore(arrays[f"block{i}.mu"], arrays[f"block{i}.sd"])
    elif norm["kind"] == "tfidf":
        vec = ex.vectorizer()
        vec.vocabulary_ = {t: j for j, t in enumerate(json.loads(bytes(arrays[f"block{i}.vocab"]).decode()))}
        vec.idf_ = arrays[f"block{i}.idf"]
        bf.vectorizer = vec
    return bf


def load_model(path) -> Model:
    """The model folder at ``path`` (or ``default:<name>``), checked before anything is built:
    format and version, content and weight hashes, head weight layout, extractor identities."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from .heads import HEADS, make_head
    from .heads.saved import head_from_arrays

    path = resolve(path)
    doc = _read_card(path)
    h = doc["head"]
    if h["kind"] not in HEADS:
        raise ModelError(path / CARD_FILE, f"head kind '{h['kind']}' is unknown to this affectbench")
    notes: list[str] = []
    # Two versions: SAVED_VERSION says whether this code can read the weights (refuse when not);
    # VERSION (head.version) is the training recipe, provenance on the card only: the saved
    # weights predict as they did, so a recipe fix must not strand every model trained before it.
    layout, reads = h.get("saved_version", "1"), str(getattr(HEADS[h["kind"]], "SAVED_VERSION", "1"))
    if layout != reads:
        raise ModelError(path / CARD_FILE, f"head '{h['kind']}' weights are saved in layout version {layout}; this "
                                           f"affectbench reads layout version {reads}: re-train the model")
    try:
        arrays = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(path / WEIGHTS_FILE, f"unreadable weights ({e})") from None
    extractors = [_extractor(b, path / CARD_FILE, notes) for b in doc["blocks"]]
    blocks = [_block_fit(i, b, arrays, ex) for i, (b, ex) in enumerate(zip(doc["blocks"], extractors))]
    if any(b.mode == "speaker" for b in blocks):
        notes.append("trained with per-speaker normalisation; the speaker of new media is unknown, so the "
                     "training rows' statistics are used (predictions can differ from the run's)")
    head = make_head(h["kind"], **h["options"])
    try:
        head_from_arrays(head, h, {k[5:]: v for k, v in arrays.items() if k.startswith("head.")})
    except (KeyError, RuntimeError, ValueError) as e:
        raise ModelError(path / WEIGHTS_FILE, f"weights do not fit head '{h['kind']}' ({e})") from None
    for note in notes:
        warnings.warn(f"{path}: {note}", stacklevel=2)
    return Model(name=doc["name"], labels=doc["labels"], task=doc["task"], extractors=extractors, blocks=blocks,
                 head=head, head_kind=h["kind"], head_options=h["options"], card=doc.get("card", {}),
                 path=path, warnings_=notes)


__all__ = ["Model", "ModelOutput", "load_model", "save_model"]
