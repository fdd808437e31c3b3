"""Run an experiment spec end to end and write its run folder.

The run is a chain of stages, each a function a later feature can reuse:

    load_data      corpus → manifest → label view (+ the rows per-speaker statistics need)
    plan_features  extractors and the content key of every row they will read
    run_identity   everything that decides the numbers; names the run folder
    extract_features  → FeatureSet: one named block per extractor (cached, resumable)
    make_folds     (protocol.py) train / valid / test per fold, checked
    fit_fold       per-block normalisation → head → predictions and fold metrics
    pool_results   pooled metrics with bootstrap CIs (over speakers when the protocol is
                   speaker independent)
    _write         spec.toml, run.json, metrics.json, predictions, report

A finished run is reused only when its identity matches in full: the spec (minus where
outputs go and how many workers run), the manifest fingerprint, every row's media content
key, each extractor's identity and algorithm version, the head's version and affectbench's
version. Change any of them and the run is computed again, into another folder.
"""
from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from . import manifest as mf
from .metrics import AUDMETRIC_NAMES
from .errors import AffectbenchError, CorpusError, SpecError
from .spec import Spec, dump_toml
from .ui import Reporter

VERSIONED = ("affectbench", "numpy", "pandas", "scipy", "scikit-learn", "torch", "opensmile",
             "transformers", "soundfile", "soxr", "audmetric")

#: bump when the runner changes what it computes from the same features (pooling of folds,
#: normalisation, fusion scaling): part of every run identity
RUNNER_VERSION = "2"

CLASS_CONVENTION = ("UAR and macro-F1 average over the view's classes that occur in the truth being "
                    "scored; a class absent from a fold's test truth is left out of that fold's "
                    "average (listed per fold as classes_absent)")


@dataclass
class RunResult:
    folder: Path
    metrics: dict
    reused: bool

    @property
    def report(self) -> Path:
        return self.folder / "report.md"


def versions() -> dict:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in VERSIONED:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


# ------------------------------------------------------------------------------------ data
@dataclass
class Data:
    corpus: object
    prepared: object
    view: object
    df: pd.DataFrame  # the view's rows, text as encoders see it
    pool: pd.DataFrame | None  # rows outside the view that per-speaker statistics also use
    fingerprint: str
    train_view: object = None  # the label source heads train on, when it is not the scored one
    label_rows_dropped: int = 0  # rows of the view without a label in the training source


def load_data(spec: Spec, rep: Reporter) -> Data:
    from .corpora import get_corpus

    corpus = get_corpus(spec.corpus.name, **spec.corpus.options)
    reading = rep.task(f"reading {corpus.name}", None)
    prepared = corpus.prepare(spec.corpus.root, on_error=spec.corpus.on_error)
    reading(0, 1)
    reading(1)
    problems = prepared.problems
    if problems and not spec.corpus.allow_partial:
        raise CorpusError(
            f"{prepared.root}: this {corpus.title or corpus.name} copy is incomplete, so its results "
            f"would not be the official protocol's: {'; '.join(problems[:5])}"
            f"{f' (and {len(problems) - 5} more)' if len(problems) > 5 else ''}. Set "
            "corpus.allow_partial = true to run on what is there; the report will say it is partial.")
    for cav in prepared.caveats:
        rep.log(f"[yellow]caveat:[/] {cav}")
    for w in getattr(prepared, "warnings", []) or []:
        rep.log(f"[yellow]warning:[/] {w}")
    for p in problems:
        rep.log(f"[yellow]partial copy:[/] {p}")
    view = corpus.labelset.view(spec.corpus.view)
    df = view.apply(prepared.manifest)
    # encoders see the text a corpus says they should (markup stripped); the fingerprint covers it
    df["text"] = df["text"].map(corpus.text_for_features, na_action="ignore")
    train_view, lost = None, 0
    if spec.corpus.train_view and spec.corpus.train_view != view.name:
        df, train_view, lost = _with_training_labels(corpus, view, spec.corpus.train_view, prepared.manifest, df)
        rep.log(f"training on '{train_view.name}' labels, scoring on '{view.name}' labels"
                + (f" ({lost} utterance(s) without a '{train_view.name}' label left out)" if lost else ""))
    pool = None
    if spec.features.normalization == "speaker":
        full = prepared.manifest
        spk = set(df["speaker"].dropna())
        pool = full[full["speaker"].isin(spk) & ~full["id"].isin(set(df["id"]))].reset_index(drop=True)
        pool["text"] = pool["text"].map(corpus.text_for_features, na_action="ignore")
    fp = mf.fingerprint(df) if train_view is None else _digest([mf.fingerprint(df), train_view.name,
                                                                 *df["y_train"].astype(str)])
    return Data(corpus, prepared, view, df, pool, fp, train_view, lost)


def _with_training_labels(corpus, view, name: str, manifest: pd.DataFrame, df: pd.DataFrame):
    """Rows of the scored view that also have a label in the training source (EmotionTalk:
    train on the audio annotators' labels, score on the multimodal consensus, or the reverse)."""
    tv = corpus.labelset.view(name)
    if tv.task != view.task or list(tv.classes) != list(view.classes):
        raise SpecError(f"corpus.train_view = '{name}' has classes {list(tv.classes)} ({tv.task}); the "
                        f"scored view '{view.name}' has {list(view.classes)} ({view.task}): they must match")
    ytrain = tv.apply(manifest).set_index("id")["y"]
    keep = df["id"].isin(ytrain.index)
    out = df[keep].reset_index(drop=True)
    out["y_train"] = ytrain.loc[out["id"]].to_numpy()
    return out, tv, int((~keep).sum())


# -------------------------------------------------------------------------------- identity
@dataclass
class Planned:
    extractor: object
    keys: list[str]  # content key per view row
    pool_keys: list[str] | None


def plan_features(spec: Spec, data: Data) -> list[Planned]:
    from .features import get_extractor
    from .features.extract import content_keys

    from .heads import HEADS

    plans = []
    needs_seq = getattr(HEADS[spec.head.kind], "needs_sequences", False)
    for name in spec.features.extractors:
        ex = get_extractor(name, **spec.features.options.get(name, {}))
        if ex.modality not in data.corpus.modalities:
            raise SpecError(f"features.extractors: '{name}' needs {ex.modality}, corpus "
                            f"'{data.corpus.name}' has {', '.join(data.corpus.modalities)}")
        if needs_seq and not (ex.frames_capable and ex.config.get("frames")):
            how = (f"set features.options.{name}.frames = true" if ex.frames_capable else
                   f"'{name}' gives no frame sequences; use an extractor that does (egemaps, compare, "
                   "minilm, fer, hf-audio)")
            raise SpecError(f"head.kind = '{spec.head.kind}' works on frame sequences: {how}")
        pool_keys = None
        if data.pool is not None and len(data.pool) and ex.standardise and not ex.per_fold:
            pool_keys = content_keys(ex, data.pool)
        plans.append(Planned(ex, content_keys(ex, data.df), pool_keys))
    return plans


def _digest(items) -> str:
    h = hashlib.sha256()
    for x in items:
        h.update(str(x).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def run_identity(spec: Spec, data: Data, plans: list[Planned]) -> dict:
    """Everything that decides a run's numbers (see the module docstring)."""
    from .heads import HEADS

    order = np.argsort(data.df["id"].astype(str).to_numpy(), kind="stable")
    head_cls = HEADS[spec.head.kind]
    feats = []
    for p in plans:
        f = {"identity": p.extractor.identity(), "content": _digest(np.asarray(p.keys, object)[order])}
        if p.pool_keys is not None:
            f["speaker_statistics_content"] = _digest(sorted(p.pool_keys))
        feats.append(f)
    out = {"affectbench": metadata.version("affectbench"), "runner_version": RUNNER_VERSION,
           "spec": spec.deciding(), "data_fingerprint": data.fingerprint, "features": feats,
           "head": {"kind": spec.head.kind, "version": str(getattr(head_cls, "VERSION", "1"))}}
    if spec.robustness.perturbations:  # algorithm version, noise-folder contents
        from .robustness import identities

        out["robustness"] = identities(spec)
    return out


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _finished(folder: Path, identity: dict) -> dict | None:
    try:
        if not (folder / "DONE").exists():
            return None
        stored = json.loads((folder / "identity.json").read_text(encoding="utf-8"))
        if json.loads(json.dumps(identity, default=str)) != stored:
            return None
        return json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -------------------------------------------------------------------------------- features
@dataclass
class FeatureBlock:
    """One extractor's features for the kept rows: pooled ``[n, d]`` (sequence blocks will
    carry ``[n, t, d]`` + lengths), or fitted per fold from text (``X`` is None)."""

    name: str
    modality: str
    extractor: object
    X: np.ndarray | None
    standardise: bool
    per_fold: bool = False
    pool_X: np.ndarray | None = None  # features of the per-speaker statistics pool
    pool_speakers: np.ndarray | None = None
    present: np.ndarray | None = None  # [n] bool: the row has this modality (None: all do)
    seq: np.ndarray | None = None  # [n, t, d] frames, zero-padded (frame-level heads only)
    lengths: np.ndarray | None = None  # [n] frames per row


@dataclass
class FeatureSet:
    blocks: list[FeatureBlock]
    ok: np.ndarray  # view rows kept (every block extracted)
    failures: list[tuple[str, str]] = field(default_factory=list)
    info: list[dict] = field(default_factory=list)


def extract_features(spec: Spec, data: Data, plans: list[Planned], rep: Reporter,
                     partial: bool = False) -> FeatureSet:
    """``partial``: the head takes blocks and masks a missing modality, so a row is kept while
    at least one block has it; a row with no file for a modality is absent there, not broken."""
    from .features import extract
    from .features.base import texts_by_length

    df = data.df
    ok = np.ones(len(df), bool)
    present = []
    failures, info, blocks = [], [], []
    for p in plans:
        ex = p.extractor
        if ex.per_fold:  # fitted per fold, but empty texts are refused up front like any input
            slots, _ = texts_by_length(df[["id", "text"]].to_dict("records"))
            bad = [i for i, r in enumerate(slots) if r is not None]
            fails = [(slots[i].path, slots[i].problem) for i in bad]
            if fails and spec.corpus.on_error == "raise":
                from .errors import MediaError

                raise MediaError(fails[0][0], f"{fails[0][1]} ({len(fails)} in all); set on_error = "
                                              "\"skip\" to leave them out")
            failures += fails
            ok[bad] = False
            blocks.append(FeatureBlock(ex.name, ex.modality, ex, None, False, per_fold=True))
            info.append({"extractor": ex.name, "identity": ex.identity(), "fitted_per_fold": True})
            continue
        upd = rep.task(f"{ex.name} features", len(df))
        has = _has_media(df, ex.modality) if partial else np.ones(len(df), bool)
        res = extract(ex, df[has], jobs=spec.features.jobs, on_error=spec.corpus.on_error, progress=upd,
                      executor=spec.features.executor, address=spec.features.address,
                      keys=[k for k, h in zip(p.keys, has) if h])
        res.ok = _scatter(res.ok, has)
        failures += res.failures
        X, stats = ex.split_stats(res.X)
        entry = {"extractor": ex.name, "identity": ex.identity(), "computed": res.computed,
                 "cached": res.cached, "failed": len(res.failures), "store": res.store_dir,
                 "stats": stats,
                 # only items that had media but no face; rows without a video file are absent
                 "stats_text": ex.describe_stats(stats, sum("no face" in pr for _, pr in res.failures))}
        if entry["stats_text"]:
            rep.log(f"{ex.name}: {entry['stats_text']}")
        rep.log(f"{ex.name}: {res.cached} cached, {res.computed} computed, {len(res.failures)} failed")
        full = np.full((len(df), X.shape[1] if X.ndim == 2 and len(X) else 0), np.nan, np.float32)
        if len(X):
            full[res.ok] = X
        block = FeatureBlock(ex.name, ex.modality, ex, full, ex.standardise, present=res.ok)
        if p.pool_keys is not None:
            block.pool_X, block.pool_speakers, entry["speaker_statistics"] = _pool_features(
                spec, data, p, full, res.ok, rep)
        blocks.append(block)
        entry["absent"] = int((~has).sum())
        info.append(entry)
        present.append(res.ok)
    if present:
        ok &= np.logical_or.reduce(present) if partial else np.logical_and.reduce(present)
    return FeatureSet(blocks, ok, failures, info)


def load_sequences(fs: FeatureSet, plans: list[Planned], df: pd.DataFrame) -> None:
    """Frame sequences of the kept rows, zero-padded to the longest: ``[n, t, d]`` + lengths.

    Stored by the extractors beside their pooled rows (``frames = true``), at most
    ``max_frames`` frames each; a row without the modality gets length 0.
    """
    for b, p in zip(fs.blocks, plans):
        if b.per_fold:
            continue
        keep = np.flatnonzero(fs.ok)
        pres = b.present if b.present is not None else np.ones(len(keep), bool)
        keys = [p.keys[i] for i in keep]
        rows = np.flatnonzero(pres)
        where = df[b.modality].astype(object).tolist() if b.modality in df.columns else None
        frames = b.extractor.load_frames([keys[i] for i in rows], [where[i] for i in rows] if where else None)
        T = max((len(f) for f in frames), default=1)
        d = frames[0].shape[1] if frames else 1
        seq = np.zeros((len(keep), T, d), np.float32)
        lengths = np.zeros(len(keep), np.int64)
        for i, f in zip(rows, frames):
            seq[i, :len(f)] = f
            lengths[i] = len(f)
        b.seq, b.lengths = seq, lengths


def _has_media(df: pd.DataFrame, modality: str) -> np.ndarray:
    if modality == "text" or modality not in df.columns:
        return np.ones(len(df), bool)
    return df[modality].notna().to_numpy()


def _scatter(ok_sub: np.ndarray, has: np.ndarray) -> np.ndarray:
    out = np.zeros(len(has), bool)
    out[has] = ok_sub
    return out


def _pool_features(spec, data, plan, X_view, ok_view, rep):
    """Features of the speakers' other utterances, for per-speaker statistics only: a file
    that fails there is left out of the statistics (never fatal: it is not scored)."""
    from .features import extract

    res = extract(plan.extractor, data.pool, jobs=spec.features.jobs, on_error="skip",
                  progress=rep.task(f"{plan.extractor.name} (speaker statistics)", len(data.pool)),
                  executor=spec.features.executor, address=spec.features.address, keys=plan.pool_keys)
    Xp, _ = plan.extractor.split_stats(res.X)
    pool_X = np.vstack([X_view[ok_view], Xp]) if len(Xp) else X_view[ok_view]
    spk = np.concatenate([data.df["speaker"].astype(object).to_numpy()[ok_view],
                          data.pool["speaker"].astype(object).to_numpy()[res.ok]])
    return pool_X, spk, {"extra_utterances": int(res.ok.sum()), "extra_failed": len(res.failures)}


def _assert_finite(X, where: str, ids) -> None:
    """Nothing non-finite may reach a normaliser or a head: one NaN row spreads to every
    prediction of the fold while the run still exits 0."""
    import scipy.sparse as sp

    vals = X.data if sp.issparse(X) else X
    if np.isfinite(vals).all():
        return
    rows = np.flatnonzero(~np.isfinite(X.toarray() if sp.issparse(X) else X).all(1))
    raise AffectbenchError(f"{where}: non-finite feature values for {len(rows)} utterance(s), e.g. "
                           f"{', '.join(map(str, np.asarray(ids)[rows[:5]]))}; refusing to train on them "
                           "(this is a bug: extraction should have reported these files)")


# ------------------------------------------------------------------------------- protocol
def resolve_protocol(spec: Spec, corpus) -> dict:
    """The corpus's official protocol unless the spec names one; then the spec's values rule."""
    pk = dict(corpus.default_protocol)
    if spec.protocol.kind:
        pk = {"kind": spec.protocol.kind}
    return {"kind": pk["kind"],
            "group": spec.protocol.group if spec.protocol.kind else pk.get("group", spec.protocol.group),
            "folds": spec.protocol.folds or pk.get("folds"),
            "speaker_independent": (spec.protocol.speaker_independent
                                    if spec.protocol.speaker_independent is not None
                                    else pk.get("speaker_independent")),
            # a corpus with too few speakers to validate on another one (TESS: 2) names its unit
            "valid_unit": spec.protocol.valid_unit or pk.get("valid_unit", "")}


def _targets(df: pd.DataFrame, view) -> np.ndarray:
    classes = list(view.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    if view.task == "regression":
        return np.stack(df["y"].to_list()).astype(np.float32) if len(df) else np.zeros((0, len(classes)))
    if view.task == "multilabel":
        Y = np.zeros((len(df), len(classes)), bool)
        for i, ys in enumerate(df["y"]):
            Y[i, [cidx[c] for c in ys]] = True
        return Y
    return df["y"].map(cidx).to_numpy(np.int64)


# ---------------------------------------------------------------------------------- folds
def fold_matrix(spec: Spec, fs: FeatureSet, fold, speakers, texts, ids, fitted: list | None = None):
    """Per-block normalisation fitted on the fold's training rows, then early fusion.
    ``fitted`` collects what each block fitted (:class:`normalize.BlockFit`), for a saved model."""
    from .normalize import early_fusion

    parts = [_per_fold_text(b, fold, texts, fitted) if b.per_fold else _normalised(spec, b, fold, speakers, ids, fitted)
             for b in fs.blocks]
    return early_fusion(parts)


def _per_fold_text(b: FeatureBlock, fold, texts, fitted: list | None = None):
    """A text block fitted on this fold's training texts only (TF-IDF), applied to all rows."""
    from .normalize import BlockFit

    vec = b.extractor.fit([texts[i] for i in fold.train])
    if fitted is not None:
        fitted.append(BlockFit(b.name, b.modality, "none", vectorizer=vec))
    return vec.transform(texts)


def _normalised(spec: Spec, b: FeatureBlock, fold, speakers, ids, fitted: list | None = None) -> np.ndarray:
    """The block normalised with statistics from the fold's training rows that have it; rows
    without the modality stay zero (heads see them through the block's mask)."""
    from .normalize import BlockFit, fit_normaliser

    mode = spec.features.normalization if b.standardise else "none"
    pres = np.ones(len(b.X), bool) if b.present is None else b.present
    train = fold.train[pres[fold.train]]
    if len(train) == 0:
        raise AffectbenchError(f"fold {fold.name}: no training utterance has '{b.name}' features")
    Z = np.zeros(b.X.shape, np.float32)
    # positions of the training rows inside the present rows
    where = np.cumsum(pres) - 1
    Z[pres], z = fit_normaliser(b.X[pres], mode, where[train], np.asarray(speakers)[pres], b.pool_X,
                                b.pool_speakers)
    _assert_finite(Z, f"features '{b.name}' after {mode} normalisation", ids)
    if fitted is not None:
        fitted.append(BlockFit(b.name, b.modality, mode, zscore=z))
    return Z


def fold_blocks(spec: Spec, fs: FeatureSet, fold, speakers, texts, ids, fitted: list | None = None) -> list:
    """The blocks a fusion head receives: each normalised on its own, with its mask."""
    import scipy.sparse as sp

    from .heads.blocks import Block

    out = []
    for b in fs.blocks:
        if b.per_fold:
            M = _per_fold_text(b, fold, texts, fitted)
            if sp.issparse(M):
                if M.shape[1] > 20000:
                    raise SpecError(f"features.extractors: '{b.name}' gives {M.shape[1]} sparse columns; "
                                    "a fusion head needs a dense block (lower its max_features)")
                M = M.toarray()
            out.append(Block(b.name, b.modality, np.asarray(M, np.float32), np.ones(len(texts), bool)))
            continue
        pres = np.ones(len(b.X), bool) if b.present is None else b.present
        if b.seq is not None:
            out.append(Block(b.name, b.modality, _normalised_frames(spec, b, fold, fitted), pres.copy(),
                             b.lengths.copy()))
            continue
        out.append(Block(b.name, b.modality, _normalised(spec, b, fold, speakers, ids, fitted), pres.copy()))
    return out


def _normalised_frames(spec: Spec, b: FeatureBlock, fold, fitted: list | None = None) -> np.ndarray:
    """Frames z-scored with the mean/std of the training rows' real frames (padding stays 0)."""
    from .normalize import BlockFit, ZScore

    mode = spec.features.normalization if b.standardise else "none"
    if mode == "speaker":
        raise SpecError("features.normalization = 'speaker' is not available for frame sequences; use 'fold'")
    valid = np.arange(b.seq.shape[1])[None, :] < b.lengths[:, None]  # [n, t]
    if mode == "none":
        if fitted is not None:
            fitted.append(BlockFit(b.name, b.modality, mode, sequence=True))
        return b.seq
    tr = np.zeros(len(b.seq), bool)
    tr[fold.train] = True
    frames = b.seq[valid & tr[:, None]]
    if len(frames) == 0:
        raise AffectbenchError(f"fold {fold.name}: no training frames for '{b.name}'")
    z = ZScore.fit(frames)
    if fitted is not None:
        fitted.append(BlockFit(b.name, b.modality, mode, zscore=z, sequence=True))
    Z = z.apply(b.seq)
    Z[~valid] = 0.0
    if not np.isfinite(Z).all():
        raise AffectbenchError(f"features '{b.name}': non-finite frame values after normalisation")
    return Z.astype(np.float32)


def head_options(spec: Spec, task: str, n_layers) -> dict:
    """What ``make_head`` is given (each head takes the options its signature names): a saved
    model stores these and rebuilds its head from them."""
    h = spec.head
    return dict(epochs=h.epochs, lr=h.lr, weight_decay=h.weight_decay,
                batch_size=h.batch_size, patience=h.patience, class_balanced=h.class_balanced,
                multilabel=task == "multilabel", regression=task == "regression",
                threshold=h.threshold, seed=spec.seed, C=h.C, n_layers=n_layers, refit=h.refit,
                l2=h.l2, l2_grid=h.l2_grid, solver=h.solver, select=h.select,
                **{"context": h.context, **h.options})


def fit_head(spec: Spec, X, Yt, fold, n_classes: int, task: str, n_layers, dialogue=None):
    """The head fitted on the fold's training rows (early stopping / choices on valid).
    ``dialogue``: the rows' :class:`~affectbench.heads.context.DialogueOrder` (context heads)."""
    from .heads import make_head

    head = make_head(spec.head.kind, **head_options(spec, task, n_layers))
    if getattr(head, "takes_context", False):
        from .heads.blocks import rows

        head.fit(rows(X, fold.train), Yt[fold.train], rows(X, fold.valid), Yt[fold.valid],
                 n_classes=n_classes, dialogue=dialogue.rows(fold.train),
                 valid_dialogue=dialogue.rows(fold.valid))
    elif getattr(head, "takes_blocks", False):
        from .heads.blocks import rows

        head.fit(rows(X, fold.train), Yt[fold.train], rows(X, fold.valid), Yt[fold.valid], n_classes=n_classes)
    else:
        head.fit(X[fold.train], Yt[fold.train], X[fold.valid], Yt[fold.valid], n_classes=n_classes)
    return head


def fit_fold(spec: Spec, X, Y, fold, classes, task, n_layers, Y_train=None, dialogue=None):
    """One fold: the head fitted on train (early stopping / choices on valid), scored on test."""
    from . import metrics as M

    Yt = Y if Y_train is None else Y_train  # the training label source (validation uses it too)
    head = fit_head(spec, X, Yt, fold, len(classes), task, n_layers, dialogue)
    if getattr(head, "takes_context", False):
        from .heads.blocks import rows

        P = head.predict_proba(rows(X, fold.test), dialogue=dialogue.rows(fold.test))
    elif getattr(head, "takes_blocks", False):
        from .heads.blocks import rows

        P = head.predict_proba(rows(X, fold.test))
    else:
        P = head.predict_proba(X[fold.test])
    pred = head.decide(P)
    score = {"regression": M.regression, "multilabel": M.multilabel, "single_label": M.classification}[task]
    m = score(Y[fold.test], pred, classes, n_boot=spec.metrics.bootstrap, ci=spec.metrics.ci, seed=spec.seed)
    m["fold"] = fold.name
    return head, P, pred, m


def _fold_predictions(df, fold, Y, P, pred, classes, task) -> pd.DataFrame:
    fp = pd.DataFrame({"id": df["id"].iloc[fold.test].to_numpy(), "fold": fold.name,
                       "speaker": df["speaker"].iloc[fold.test].to_numpy()})
    if task == "regression":
        for j, c in enumerate(classes):
            fp[f"true_{c}"] = Y[fold.test][:, j]
            fp[f"pred_{c}"] = pred[:, j].astype(np.float32)
        return fp
    if task == "multilabel":
        fp["true"] = [";".join(c for c, b in zip(classes, row) if b) for row in Y[fold.test]]
        fp["pred"] = [";".join(c for c, b in zip(classes, row) if b) for row in pred]
    else:
        fp["true"] = [classes[i] for i in Y[fold.test]]
        fp["pred"] = [classes[i] for i in pred]
    for j, c in enumerate(classes):
        fp[f"p_{c}"] = P[:, j].astype(np.float32)
    return fp


def _fold_info(fold, head) -> dict:
    return {"name": fold.name, "fingerprint": fold.fingerprint,
            "n_train": len(fold.train), "n_valid": len(fold.valid), "n_test": len(fold.test),
            "test_groups": fold.test_groups, "valid_groups": fold.valid_groups,
            "valid_unit": fold.meta.get("valid_unit"),
            "rows_without_speaker": fold.meta.get("rows_without_speaker", 0),
            "speaker_independent": fold.speaker_independent,
            "test_speakers_seen_in_training": fold.test_speakers_seen_in_training,
            "head": head.state()}


@dataclass
class TrainingSet:
    """The kept rows, their feature blocks and targets: what folds (and a final model) fit on."""

    fs: FeatureSet
    df: pd.DataFrame
    ids: np.ndarray
    block_head: bool
    n_layers: int | None
    dropped: dict
    classes: list
    task: str
    Y: np.ndarray
    Y_train: np.ndarray | None
    speakers: np.ndarray
    texts: list


def training_set(spec: Spec, data: Data, plans: list[Planned], rep: Reporter) -> TrainingSet:
    from .heads import HEADS

    block_head = getattr(HEADS[spec.head.kind], "takes_blocks", False)
    if getattr(HEADS[spec.head.kind], "takes_context", False):  # before any feature is computed
        from .dialogue import require_dialogues

        require_dialogues(data.df, data.corpus.name, spec.head.kind)
    fs = extract_features(spec, data, plans, rep, partial=block_head)
    dropped = _dropped(data.df, ~fs.ok)
    if dropped["total"]:
        rep.log(f"[yellow]skipping {dropped['total']} utterance(s) that failed extraction[/]")
    df = data.df[fs.ok].reset_index(drop=True)
    ids = df["id"].astype(str).to_numpy()
    for b in fs.blocks:
        if b.present is not None:
            b.present = b.present[fs.ok]
        if b.X is not None:  # once per run, not per fold: absent rows are zeros, the rest finite
            b.X = np.where(b.present[:, None], b.X[fs.ok], 0.0).astype(np.float32)
            _assert_finite(b.X, f"features '{b.name}'", ids)
    n_layers = _weighted_layers(spec, fs)
    if getattr(HEADS[spec.head.kind], "needs_sequences", False):
        load_sequences(fs, plans, df)
    Y = _targets(df, data.view)
    Y_train = _targets(df.assign(y=df["y_train"]), data.view) if data.train_view is not None else None
    return TrainingSet(fs, df, ids, block_head, n_layers, dropped, list(data.view.classes), data.view.task,
                       Y, Y_train, df["speaker"].astype(object).to_numpy(),
                       df["text"].astype(object).fillna("").tolist())


# ----------------------------------------------------------------------------------- run
def run(spec: Spec, *, force: bool = False, reporter: Reporter | None = None) -> RunResult:
    rep = reporter or Reporter()
    if spec.task == "caption":
        from .captions.task import run_caption

        return run_caption(spec, force=force, reporter=rep)
    t0 = time.perf_counter()
    cross = spec.protocol.kind == "cross"
    if cross:  # train on some corpora, test on others (crosscorpus.py)
        from .crosscorpus import load_cross

        data = load_cross(spec, rep)
    else:
        data = load_data(spec, rep)
    plans = plan_features(spec, data)
    identity = run_identity(spec, data, plans)
    folder = Path(spec.output_dir).expanduser() / f"{spec.name}-{identity_hash(identity)}"
    done = None if force else _finished(folder, identity)
    if done is not None:
        return RunResult(folder, done, True)

    tr = training_set(spec, data, plans, rep)
    fs, df, ids, block_head, n_layers, dropped = tr.fs, tr.df, tr.ids, tr.block_head, tr.n_layers, tr.dropped
    n_view = len(data.df)

    from .protocol import make_folds

    proto = resolve_protocol(spec, data.corpus)
    group = "speaker" if proto["kind"] == "loso" else proto["group"]
    known = (data.df[group].dropna().astype(str).unique().tolist()
             if group in data.df.columns else None)
    from .heads import HEADS

    ctx = getattr(HEADS[spec.head.kind], "takes_context", False)
    if cross:
        from .crosscorpus import cross_fold

        folds, proto["group"] = [cross_fold(df, spec)], "corpus"
    else:
        folds = make_folds(df, proto["kind"], group=proto["group"], valid_groups=spec.protocol.valid_groups,
                           folds=proto["folds"], seed=spec.seed, speaker_independent=proto["speaker_independent"],
                           valid_unit=proto["valid_unit"] or ("dialogue" if ctx else ""), known_groups=known)
    order = _context_order(df, folds) if ctx else None

    classes, task = tr.classes, tr.task
    Y, Y_train, speakers, texts = tr.Y, tr.Y_train, tr.speakers, tr.texts
    preds, fold_metrics, fold_info, heads = [], [], [], []
    upd = rep.task("folds", len(folds))
    upd(0, len(folds))
    for fold in folds:
        X = (fold_blocks if block_head else fold_matrix)(spec, fs, fold, speakers, texts, ids)
        head, P, pred, m = fit_fold(spec, X, Y, fold, classes, task, n_layers, Y_train, dialogue=order)
        fold_metrics.append(m)
        heads.append(head)
        fold_info.append(_fold_info(fold, head))
        preds.append(_fold_predictions(df, fold, Y, P, pred, classes, task))
        upd(1)

    allp = pd.concat(preds, ignore_index=True)
    if allp["id"].duplicated().any():  # folds are checked to be disjoint; this is the last guard
        raise AffectbenchError(f"utterance {allp['id'][allp['id'].duplicated()].iloc[0]} was scored twice")
    spk_indep = all(f.speaker_independent for f in folds)
    test_idx = np.concatenate([f.test for f in folds])
    pooled = pool_results(spec, Y, allp, test_idx, classes, task,
                          groups=speakers[test_idx] if spk_indep and pd.notna(speakers[test_idx]).all() else None)
    tested = {"n_tested": int(len(allp)), "n_view": int(n_view), "n_kept": int(len(df)),
              "n_corpus": int(len(data.prepared.manifest))}
    if block_head:  # rows kept with a modality missing: the head masked it
        tested["missing_modality"] = {b.name: int((~b.present).sum()) for b in fs.blocks
                                      if b.present is not None}
    if ctx:
        tested["context"] = {"turns": spec.head.context, "dialogues": int(df["dialogue"].nunique()),
                             "description": CONTEXT_TEXT[spec.head.context]}
    if data.train_view is not None:
        tested["label_source"] = {"train": data.train_view.name, "score": data.view.name,
                                  "without_training_label": data.label_rows_dropped}
    metrics = {
        "run": folder.name,
        "task": task,
        "pooled": pooled,
        "folds": fold_metrics,
        "fold_mean": _fold_mean(fold_metrics, task),
        "metric_names": AUDMETRIC_NAMES,
        "n_skipped": dropped["total"],
        "tested": tested,
    }
    if cross:
        from .crosscorpus import per_corpus

        metrics["per_corpus"] = per_corpus(spec, allp, df, classes, task)
    if spec.robustness.perturbations:  # the same test folds under test-time perturbations
        from .robustness import evaluate

        metrics["robustness"] = evaluate(spec, df, fs, plans, folds, heads, Y, classes, task, rep,
                                         block_head, pooled)
    info = _describe(spec, data, fs, proto, folds, fold_info, dropped, tested, identity, t0)
    if cross:
        info["cross"] = data.cross
    _write(folder, spec, metrics, info, allp, identity)
    return RunResult(folder, metrics, False)


CONTEXT_TEXT = {
    "past": "context heads read each utterance's earlier turns only (online use)",
    "past+future": "context heads read earlier and later turns of the dialogue (offline analysis; "
                   "not available to a system that must answer as the conversation unfolds)"}


def _context_order(df: pd.DataFrame, folds):
    """The dialogue order of the kept rows, after checking that every fold keeps whole dialogues."""
    from .dialogue import check_fold_dialogues
    from .heads.context import DialogueOrder

    for fold in folds:
        check_fold_dialogues(df, fold)
    return DialogueOrder.from_frame(df)


def _weighted_layers(spec: Spec, fs: FeatureSet):
    if spec.head.kind != "weighted":
        return None
    layered = [b for b in fs.blocks if b.extractor.config.get("layer") == "all"
               and getattr(b.extractor, "n_layers", None)]
    if len(fs.blocks) != 1 or not layered:  # a learnable mix of one encoder's layers (SUPERB style)
        raise SpecError('head "weighted" learns a mix of one encoder\'s layers: use exactly one '
                        'extractor (hf-audio or hf-text) with layer = "all"')
    return layered[0].extractor.n_layers


def _dropped(df: pd.DataFrame, bad: np.ndarray) -> dict:
    """Utterances left out because a file failed: counted per row (not per distinct file),
    per official split and per speaker."""
    out = {"total": int(bad.sum())}
    for col in ("split", "speaker"):
        if col in df.columns and df[col].notna().any():
            out[f"by_{col}"] = {str(k): int(v) for k, v in
                                df.loc[bad, col].astype(object).fillna("(none)").value_counts().items()}
    return out


def pool_results(spec: Spec, Y, allp: pd.DataFrame, test_idx, classes, task, groups=None) -> dict:
    """Metrics over every test prediction. ``groups``: the clusters the bootstrap resamples
    (speakers for a speaker-independent protocol); None: utterances, and the result says so."""
    from . import metrics as M

    boot = dict(n_boot=spec.metrics.bootstrap, ci=spec.metrics.ci, seed=spec.seed, groups=groups)
    cidx = {c: i for i, c in enumerate(classes)}
    if task == "regression":
        out = M.regression(Y[test_idx], allp[[f"pred_{c}" for c in classes]].to_numpy(), classes, **boot)
    elif task == "multilabel":
        out = M.multilabel(Y[test_idx], np.vstack([_ml(r, classes) for r in allp["pred"]]), classes, **boot)
    else:
        out = M.classification(allp["true"].map(cidx).to_numpy(), allp["pred"].map(cidx).to_numpy(),
                               classes, **boot)
    if groups is not None and "ci" in out:
        out["ci_unit"] = "speaker"
    return out


def _describe(spec, data, fs, proto, folds, fold_info, dropped, tested, identity, t0) -> dict:
    from .normalize import TRANSDUCTIVE, describe

    kind = proto["kind"]
    units = sorted({f.meta.get("valid_unit") for f in folds if f.meta.get("valid_unit")})
    return {
        "spec": spec.to_dict(),
        "identity": identity,
        "corpus": {"name": data.corpus.name, "root": data.prepared.root, "view": data.view.name,
                   "classes": list(data.view.classes), "n": tested["n_kept"], "caveats": data.prepared.caveats,
                   "problems": data.prepared.problems,
                   "warnings": list(getattr(data.prepared, "warnings", []) or []),
                   "skipped_while_reading": data.prepared.issues.skipped},
        "data_fingerprint": data.fingerprint,
        "tested": tested,
        "dropped": dropped,
        "transductive": spec.features.normalization in TRANSDUCTIVE,
        "class_convention": CLASS_CONVENTION,
        "protocol": {"kind": kind, "group": "speaker" if kind == "loso" else proto["group"],
                     "valid_groups": spec.protocol.valid_groups,
                     "valid_unit": units[0] if len(units) == 1 else (units or None),
                     "refit": (spec.head.refit if spec.head.refit is not None
                               else any(fi["head"].get("refit", False) for fi in fold_info)),
                     "speaker_independent": all(f.speaker_independent for f in folds),
                     "folds": fold_info},
        "normalization": {"mode": spec.features.normalization,
                          "description": describe(spec.features.normalization),
                          "transductive": spec.features.normalization in TRANSDUCTIVE},
        "features": fs.info,
        "failures": [{"path": p, "problem": pr} for p, pr in fs.failures],
        "versions": versions(),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _ml(s: str, classes):
    got = set(s.split(";")) if s else set()
    return np.array([c in got for c in classes])


def _fold_mean(folds: list[dict], task: str) -> dict:
    from .metrics import MULTI, REGRESSION, SINGLE

    keys = {"multilabel": MULTI, "regression": REGRESSION, "single_label": SINGLE}[task]
    return {k: {"mean": float(np.mean([f[k] for f in folds])), "std": float(np.std([f[k] for f in folds]))}
            for k in keys}


def _extra_sections(folder: Path, metrics: dict, info: dict) -> None:
    """Cross-corpus and robustness tables appended to report.md."""
    lines = []
    if "cross" in info:
        from .crosscorpus import report_lines

        lines += report_lines(metrics, info)
    if "robustness" in metrics:
        from .robustness import report_lines as robustness_lines

        lines += robustness_lines(metrics["robustness"])
    if lines:
        with open(folder / "report.md", "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


def write_run_files(folder: Path, spec: Spec, metrics: dict, info: dict, preds: pd.DataFrame,
                    identity: dict) -> None:
    """Everything a run folder holds but its reports, with DONE removed first: a folder is
    finished only once the caller writes DONE after its reports (the caption task shares this)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "DONE").unlink(missing_ok=True)
    (folder / "spec.toml").write_text(dump_toml(spec.to_dict()), encoding="utf-8")
    (folder / "identity.json").write_text(json.dumps(identity, indent=2, sort_keys=True, default=str),
                                          encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str),
                                     encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
    preds.to_parquet(folder / "predictions.parquet", index=False)


def _write(folder: Path, spec: Spec, metrics: dict, info: dict, preds: pd.DataFrame, identity: dict) -> None:
    from .report import write_report

    write_run_files(folder, spec, metrics, info, preds, identity)
    write_report(folder, metrics, info)
    _extra_sections(folder, metrics, info)
    from .html_report import write_html_report

    write_html_report(folder, metrics, info)
    (folder / "DONE").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
