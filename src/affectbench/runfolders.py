"""Reading finished run folders for comparison, and deciding which ones are comparable.

A comparison is only as honest as its inputs, so every folder is checked before it is
used: complete (DONE, run.json, metrics.json, predictions.parquet), single-label,
readable, and its ``metrics.json`` must still agree with ``predictions.parquet`` (a
hand-edited number would otherwise be ranked). A folder that fails gets one line naming
it and the reason; the other folders are still processed.

Fields that newer run folders add (``transductive``, ``ci_unit``, ``identity``,
``protocol.tested``) are read with ``.get`` so folders written before them still load.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .stats import metrics_from_confusions

REQUIRED = ("run.json", "metrics.json", "predictions.parquet")
TOL = 1e-6


class RunFolderError(Exception):
    """A folder that cannot take part in a comparison; the message says why."""


@dataclass
class Run:
    folder: Path
    info: dict
    metrics: dict
    preds: pd.DataFrame
    label: str = ""
    warnings: list[str] = field(default_factory=list)
    _test_key: str | None = field(default=None, repr=False)
    #: class indices of truth and prediction, and the row order that sorts by id (set on load)
    y: np.ndarray | None = field(default=None, repr=False)
    p: np.ndarray | None = field(default=None, repr=False)
    by_id: np.ndarray | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def spec(self) -> dict:
        return self.info.get("spec", {})

    @property
    def corpus(self) -> str:
        return self.info["corpus"]["name"]

    @property
    def view(self) -> str:
        return self.info["corpus"].get("view", "")

    @property
    def classes(self) -> list[str]:
        return list(self.metrics["pooled"].get("classes") or self.info["corpus"]["classes"])

    @property
    def protocol(self) -> dict:
        return self.info.get("protocol", {})

    @property
    def data_fingerprint(self) -> str:
        return str(self.info.get("data_fingerprint", ""))

    @property
    def fold_fingerprints(self) -> tuple:
        return tuple(sorted((f.get("name", ""), f.get("fingerprint", "")) for f in self.protocol.get("folds", [])))

    @property
    def test_key(self) -> str:
        """Which utterance each fold tested, from the predictions themselves.

        Fold fingerprints also cover the validation carve-out, which a seed changes; two
        runs whose test folds and data are equal were tested on the same items from the
        same training pool, so they are compared (with a note) even when those differ.
        """
        if self._test_key is None:
            keys = self.preds["id"].astype(str)
            if "fold" in self.preds.columns:
                keys = self.preds["fold"].astype(str) + "\t" + keys
            self._test_key = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]
        return self._test_key

    @property
    def speaker_independent(self) -> bool:
        return bool(self.protocol.get("speaker_independent", False))

    @property
    def stated_ci_unit(self) -> str | None:
        """What the run says its own CIs resampled, if it says (newer folders do)."""
        return ci_unit_of(self.metrics, self.info)

    @property
    def ci_unit(self) -> str:
        """The unit the run's own CIs resampled; older folders resampled utterances."""
        return self.stated_ci_unit or "utterance"

    @property
    def version(self) -> str:
        return str(self.info.get("versions", {}).get("affectbench", "?"))

    @property
    def pooled(self) -> dict:
        return self.metrics["pooled"]

    @property
    def protocol_key(self) -> tuple:
        p = self.protocol
        return (p.get("kind", "?"), p.get("group", "?"), len(p.get("folds", [])))

    @property
    def table_key(self) -> tuple:
        """Runs with equal keys were tested on the same items with the same labels."""
        return (self.corpus, self.view, tuple(self.classes), self.protocol_key, self.data_fingerprint,
                self.test_key)

    @property
    def system(self) -> str:
        """What was compared across corpora: features, normalisation and head, not the data."""
        s = self.spec
        feats = "+".join(s.get("features", {}).get("extractors", [])) or "?"
        head = s.get("head", {}).get("kind", "?")
        norm = s.get("features", {}).get("normalization", "")
        return f"{feats}/{head}" + (f"/{norm}" if norm and norm != "fold" else "")

    def caveats(self) -> list[str]:
        """What a reader must know before trusting the number: shown beside it."""
        from .html_report import caveats

        return caveats(self.metrics, self.info) + self.warnings


def ci_unit_of(metrics: dict, info: dict) -> str | None:
    """``ci_unit`` as written by the runner (pooled metrics) or in run.json; "cluster" is a
    speaker cluster in every protocol affectbench has."""
    u = info.get("ci_unit") or (metrics.get("pooled") or {}).get("ci_unit")
    return {"cluster": "speaker"}.get(u, u)


def load_run(folder: Path, *, current_version: str | None = None) -> Run:
    folder = Path(folder)
    missing = [f for f in REQUIRED if not (folder / f).exists()]
    if missing:
        raise RunFolderError(f"incomplete run folder: no {', '.join(missing)}")
    if not (folder / "DONE").exists():
        raise RunFolderError("incomplete run folder: no DONE marker (the run did not finish)")
    try:
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunFolderError(f"unreadable JSON: {e}") from None
    for key, where in (("corpus", info), ("pooled", metrics)):
        if not isinstance(where.get(key), dict):
            raise RunFolderError(f"no '{key}' in {'run.json' if where is info else 'metrics.json'}: "
                                 "written by another affectbench version?")
    task = metrics.get("task", "single_label")
    if task != "single_label":
        raise RunFolderError(f"a {task} run: compare and leaderboard rank single-label runs only")
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        # the per-class probabilities are not needed to compare decisions: skip reading them
        names = pq.read_schema(folder / "predictions.parquet").names
        tbl = pq.read_table(folder / "predictions.parquet", columns=[c for c in names if not c.startswith("p_")])
    except Exception as e:  # noqa: BLE001 - any unreadable parquet is the same problem for us
        raise RunFolderError(f"unreadable predictions.parquet: {e}") from None
    for col in ("id", "true", "pred"):
        if col not in tbl.column_names:
            raise RunFolderError(f"predictions.parquet has no '{col}' column")
    # the checks below run in Arrow's C kernels: 500 folders must load in a few seconds
    run = Run(folder, info, metrics, tbl.to_pandas())
    classes = run.classes
    value_set = pa.array(classes, pa.string())
    y, p = (pc.fill_null(pc.index_in(tbl[c].cast(pa.string()), value_set=value_set), -1).to_numpy()
            .astype(np.int64) for c in ("true", "pred"))
    if (y < 0).any() or (p < 0).any():
        bad = sorted(set(np.asarray(tbl["true"].to_pylist(), object)[y < 0]) |
                     set(np.asarray(tbl["pred"].to_pylist(), object)[p < 0]))
        raise RunFolderError(f"predictions.parquet has labels outside the class set {classes}: {bad[:5]}")
    k = len(classes)
    got = {m: float(v) for m, v in
           metrics_from_confusions(np.bincount(y * k + p, minlength=k * k).reshape(k, k)).items()}
    ids = tbl["id"].cast(pa.string())
    run.y, run.p = y, p
    run.by_id = pc.sort_indices(ids).to_numpy()
    keys = pc.binary_join_element_wise(tbl["fold"].cast(pa.string()), ids, "\t") if "fold" in tbl.column_names else ids
    run._test_key = hashlib.sha256("\n".join(pc.take(keys, pc.sort_indices(keys)).to_pylist()).encode()).hexdigest()[:16]
    for m in ("war", "uar", "macro_f1"):
        said = metrics["pooled"].get(m)
        if said is None or abs(float(said) - got[m]) > TOL:
            raise RunFolderError(
                f"metrics.json says {m} = {said} but predictions.parquet gives {got[m]:.6f}: "
                "edited by hand or out of date; re-run it")
    if metrics["pooled"].get("n", len(y)) != len(y):
        raise RunFolderError(f"metrics.json counts {metrics['pooled']['n']} predictions, "
                             f"predictions.parquet holds {len(y)}")
    if pc.count_distinct(ids).as_py() != len(ids):
        raise RunFolderError("predictions.parquet lists an utterance id twice")
    if current_version is None:
        from importlib import metadata

        try:
            current_version = metadata.version("affectbench")
        except metadata.PackageNotFoundError:
            current_version = "?"
    if run.version != current_version:
        run.warnings.append(f"made by affectbench {run.version} (this is {current_version})")
    return run


def _is_run_dir(p: Path) -> bool:
    return any((p / f).exists() for f in (*REQUIRED, "spec.toml", "DONE"))


def find_run_dirs(paths) -> tuple[list[Path], list[str]]:
    """Run folders named directly or found below the given folders, and lines about empty ones."""
    found, notes = [], []
    for p in map(Path, paths):
        if not p.exists():
            notes.append(f"{p}: no such folder")
        elif _is_run_dir(p):
            found.append(p)
        elif p.is_dir():
            subs = sorted(d for d in p.rglob("*") if d.is_dir() and _is_run_dir(d))
            if not subs:
                notes.append(f"{p}: empty folder: no run folders in it")
            found += subs
            for d in sorted(p.iterdir()):
                if d.is_dir() and not _is_run_dir(d) and not any(x.is_dir() or x.is_file() for x in d.iterdir()):
                    notes.append(f"{d}: empty folder, not a run")
        else:
            notes.append(f"{p}: not a folder")
    return found, notes


def _content_hash(run: Run) -> str:
    h = hashlib.sha256(json.dumps(run.metrics["pooled"], sort_keys=True).encode())
    h.update(run.data_fingerprint.encode())
    return h.hexdigest()[:16]


def load_runs(paths, *, log=None) -> tuple[list[Run], list[str]]:
    """Load every run folder under ``paths``; bad ones become lines, never a crash.

    Two folders with the same name are the same run copied twice (kept once) or two
    different runs (both kept, labelled by their parent folder so they stay apart).
    """
    dirs, notes = find_run_dirs(paths)
    from importlib import metadata

    try:
        version = metadata.version("affectbench")
    except metadata.PackageNotFoundError:
        version = "?"
    runs: list[Run] = []
    seen: dict[str, list[Run]] = {}
    unique, seen_dirs = [], set()
    for d in dirs:
        if d.resolve() not in seen_dirs:
            seen_dirs.add(d.resolve())
            unique.append(d)

    def one(d):
        try:
            return load_run(d, current_version=version)
        except RunFolderError as e:
            return e

    # reading is mostly file I/O and Parquet decoding, which release the GIL: a few threads help
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        loaded = list(pool.map(one, unique))
    for d, r in zip(unique, loaded):
        if isinstance(r, RunFolderError):
            notes.append(f"{d}: {r}")
            continue
        for w in r.warnings:
            notes.append(f"{d}: {w}")
        same = seen.setdefault(r.name, [])
        dup = next((o for o in same if _content_hash(o) == _content_hash(r)), None)
        if dup is not None:
            notes.append(f"{d}: same run as {dup.folder} (same name and numbers), counted once")
            continue
        same.append(r)
        runs.append(r)
    for name, same in seen.items():
        for r in same:
            r.label = name if len(same) == 1 else f"{name} ({r.folder.parent.name or r.folder.parent})"
        if len(same) > 1:
            notes.append(f"{len(same)} different runs are named {name}: " +
                         ", ".join(str(r.folder) for r in same) + "; labelled by their parent folder")
    if log:
        for n in notes:
            log(n)
    return runs, notes
