"""Run an experiment spec end to end and write its run folder.

corpus → label view → features (cached) → folds → head per fold → metrics →
run folder. The run folder is named after the spec and a hash of everything
that determines its numbers (spec minus output/jobs, plus the data
fingerprint); finding a complete one there, ``run`` returns it at once.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from . import manifest as mf
from .errors import AffectbenchError
from .spec import Spec, dump_toml
from .ui import Reporter

VERSIONED = ("affectbench", "numpy", "pandas", "scipy", "scikit-learn", "torch", "opensmile",
             "transformers", "soundfile", "soxr", "audmetric")


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


def run(spec: Spec, *, force: bool = False, reporter: Reporter | None = None) -> RunResult:
    from .corpora import get_corpus
    from .normalize import describe

    rep = reporter or Reporter()
    t0 = time.perf_counter()
    corpus = get_corpus(spec.corpus.name, **spec.corpus.options)
    reading = rep.task(f"reading {corpus.name}", None)
    prepared = corpus.prepare(spec.corpus.root, on_error=spec.corpus.on_error)
    reading(0, 1)
    reading(1)
    problems = prepared.problems
    if problems and not spec.corpus.allow_partial:
        from .errors import CorpusError

        raise CorpusError(
            f"{prepared.root}: this {corpus.title or corpus.name} copy is incomplete, so its results "
            f"would not be the official protocol's: {'; '.join(problems[:5])}"
            f"{f' (and {len(problems) - 5} more)' if len(problems) > 5 else ''}. Set "
            "corpus.allow_partial = true to run on what is there; the report will say it is partial.")
    view = corpus.labelset.view(spec.corpus.view)
    df = view.apply(prepared.manifest)
    # encoders see the text a corpus says they should (markup stripped); the fingerprint covers it
    df["text"] = df["text"].map(corpus.text_for_features, na_action="ignore")
    data_fp = mf.fingerprint(df)
    folder = Path(spec.output_dir).expanduser() / f"{spec.name}-{spec.result_hash(data_fp)}"
    done = folder / "metrics.json"
    if done.exists() and (folder / "DONE").exists() and not force:
        return RunResult(folder, json.loads(done.read_text()), True)

    # The corpus's official protocol unless the spec names one; then the spec's values rule.
    pk = dict(corpus.default_protocol)
    if spec.protocol.kind:
        pk = {"kind": spec.protocol.kind}
    kind = pk["kind"]
    group = spec.protocol.group if spec.protocol.kind else pk.get("group", spec.protocol.group)
    fixed_folds = spec.protocol.folds or pk.get("folds")
    spk_indep = (spec.protocol.speaker_independent if spec.protocol.speaker_independent is not None
                 else pk.get("speaker_independent"))

    # -- features ------------------------------------------------------------------
    from .features import extract, get_extractor

    blocks, per_fold, failures, extraction_info = [], [], [], []
    ok = np.ones(len(df), bool)
    for name in spec.features.extractors:
        ex = get_extractor(name, **spec.features.options.get(name, {}))
        if ex.modality not in corpus.modalities:
            raise AffectbenchError(f"extractor '{name}' needs {ex.modality}, corpus "
                                   f"'{corpus.name}' has {', '.join(corpus.modalities)}")
        if ex.per_fold:
            per_fold.append(ex)
            continue
        upd = rep.task(f"{name} features", len(df))
        res = extract(ex, df, jobs=spec.features.jobs, on_error=spec.corpus.on_error, progress=upd,
                      executor=spec.features.executor, address=spec.features.address)
        failures += res.failures
        X, stats = ex.split_stats(res.X)
        extraction_info.append({"extractor": name, "identity": ex.identity(), "computed": res.computed,
                                "cached": res.cached, "failed": len(res.failures), "store": res.store_dir,
                                "stats": stats, "stats_text": ex.describe_stats(stats, len(res.failures))})
        if extraction_info[-1]["stats_text"]:
            rep.log(f"{name}: {extraction_info[-1]['stats_text']}")
        full = np.full((len(df), X.shape[1]), np.nan, np.float32)
        full[res.ok] = X
        blocks.append((ex, full))
        ok &= res.ok
    for ex in per_fold:  # fitted per fold, but empty texts are refused up front like any input
        from .errors import MediaError
        from .features.base import texts_by_length

        slots, _ = texts_by_length(df[["id", "text"]].to_dict("records"))
        bad = [i for i, r in enumerate(slots) if r is not None]
        fails = [(slots[i].path, slots[i].problem) for i in bad]
        if fails and spec.corpus.on_error == "raise":
            raise MediaError(fails[0][0], f"{fails[0][1]} ({len(fails)} in all); set on_error = "
                                          "\"skip\" to leave them out")
        failures += fails
        ok[bad] = False
    if not ok.all():
        rep.log(f"[yellow]skipping {int((~ok).sum())} utterance(s) that failed extraction[/]")
    df = df[ok].reset_index(drop=True)
    blocks = [(ex, X[ok]) for ex, X in blocks]

    n_layers = None
    if spec.head.kind == "weighted":  # a learnable mix of one encoder's layers (SUPERB style)
        layered = [ex for ex, _ in blocks if ex.config.get("layer") == "all" and getattr(ex, "n_layers", None)]
        if per_fold or len(blocks) != 1 or not layered:
            from .errors import SpecError

            raise SpecError('head "weighted" learns a mix of one encoder\'s layers: use exactly one '
                            'extractor (hf-audio or hf-text) with layer = "all"')
        n_layers = layered[0].n_layers

    # -- folds ---------------------------------------------------------------------
    from .protocol import make_folds

    folds = make_folds(df, kind, group=group, valid_groups=spec.protocol.valid_groups,
                       folds=fixed_folds, seed=spec.seed, speaker_independent=spk_indep,
                       missing_groups="drop" if failures else "raise")

    # -- heads -----------------------------------------------------------------------
    from .heads import make_head
    from .normalize import normalise
    import scipy.sparse as sp

    classes = list(view.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    task = view.task
    if task == "regression":
        Y = np.stack(df["y"].to_list()).astype(np.float32) if len(df) else np.zeros((0, len(classes)))
    elif task == "multilabel":
        Y = np.zeros((len(df), len(classes)), bool)
        for i, ys in enumerate(df["y"]):
            Y[i, [cidx[c] for c in ys]] = True
    else:
        Y = df["y"].map(cidx).to_numpy(np.int64)
    speakers = df["speaker"].astype(object).to_numpy()
    texts = df["text"].astype(object).fillna("").tolist()
    preds, fold_metrics, fold_info = [], [], []
    from . import metrics as M

    score = {"regression": M.regression, "multilabel": M.multilabel, "single_label": M.classification}[task]
    upd = rep.task("folds", len(folds))
    upd(0, len(folds))
    for k, fold in enumerate(folds):
        parts = []
        for ex, X in blocks:
            mode = spec.features.normalization if ex.standardise else "none"
            parts.append(normalise(X, mode, fold.train, speakers))
        for ex in per_fold:  # fitted on this fold's training texts only, applied to all rows
            parts.append(ex.fit_apply([texts[i] for i in fold.train], texts))
        if len(parts) > 1:
            # Early fusion: a z-scored block of d features has squared norm ~d, an L2-normed
            # TF-IDF row has norm 1; without balancing, the widest block drowns the others.
            parts = [p if sp.issparse(p) else p / np.sqrt(p.shape[1]) for p in parts]
        if any(sp.issparse(p) for p in parts):
            X = sp.hstack([sp.csr_matrix(p) if not sp.issparse(p) else p for p in parts]).tocsr()
        else:
            X = np.hstack(parts)
        h = spec.head
        head = make_head(h.kind, epochs=h.epochs, lr=h.lr, weight_decay=h.weight_decay,
                         batch_size=h.batch_size, patience=h.patience, class_balanced=h.class_balanced,
                         multilabel=task == "multilabel", regression=task == "regression",
                         threshold=h.threshold, seed=spec.seed, C=h.C, n_layers=n_layers)
        head.fit(X[fold.train], Y[fold.train], X[fold.valid], Y[fold.valid], n_classes=len(classes))
        P = head.predict_proba(X[fold.test])
        pred = head.decide(P)
        m = score(Y[fold.test], pred, classes, n_boot=spec.metrics.bootstrap, ci=spec.metrics.ci,
                  seed=spec.seed)
        m["fold"] = fold.name
        fold_metrics.append(m)
        fold_info.append({"name": fold.name, "fingerprint": fold.fingerprint,
                          "n_train": len(fold.train), "n_valid": len(fold.valid), "n_test": len(fold.test),
                          "test_groups": fold.test_groups, "valid_groups": fold.valid_groups,
                          "speaker_independent": fold.speaker_independent,
                          "test_speakers_seen_in_training": fold.test_speakers_seen_in_training,
                          "head": head.state()})
        fp = pd.DataFrame({"id": df["id"].iloc[fold.test].to_numpy(), "fold": fold.name,
                           "speaker": df["speaker"].iloc[fold.test].to_numpy()})
        if task == "regression":
            for j, c in enumerate(classes):
                fp[f"true_{c}"] = Y[fold.test][:, j]
                fp[f"pred_{c}"] = pred[:, j].astype(np.float32)
        else:
            if task == "multilabel":
                fp["true"] = [";".join(c for c, b in zip(classes, row) if b) for row in Y[fold.test]]
                fp["pred"] = [";".join(c for c, b in zip(classes, row) if b) for row in pred]
            else:
                fp["true"] = [classes[i] for i in Y[fold.test]]
                fp["pred"] = [classes[i] for i in pred]
            for j, c in enumerate(classes):
                fp[f"p_{c}"] = P[:, j].astype(np.float32)
        preds.append(fp)
        upd(1)

    allp = pd.concat(preds, ignore_index=True)
    boot = dict(n_boot=spec.metrics.bootstrap, ci=spec.metrics.ci, seed=spec.seed)
    test_idx = np.concatenate([f.test for f in folds])
    if task == "regression":
        pooled = M.regression(Y[test_idx], allp[[f"pred_{c}" for c in classes]].to_numpy(), classes, **boot)
    elif task == "multilabel":
        pooled = M.multilabel(Y[test_idx], np.vstack([_ml(r, classes) for r in allp["pred"]]), classes, **boot)
    else:
        pooled = M.classification(allp["true"].map(cidx).to_numpy(), allp["pred"].map(cidx).to_numpy(),
                                  classes, n_boot=spec.metrics.bootstrap, ci=spec.metrics.ci, seed=spec.seed)
    metrics = {
        "run": folder.name,
        "task": task,
        "pooled": pooled,
        "folds": fold_metrics,
        "fold_mean": _fold_mean(fold_metrics, task),
        "metric_names": M.AUDMETRIC_NAMES,
        "n_skipped": int(len(failures)),
    }
    info = {
        "spec": spec.to_dict(),
        "corpus": {"name": corpus.name, "root": prepared.root, "view": view.name,
                   "classes": classes, "n": int(len(df)), "caveats": prepared.caveats,
                   "problems": prepared.problems,
                   "skipped_while_reading": prepared.issues.skipped},
        "data_fingerprint": data_fp,
        "protocol": {"kind": kind, "group": "speaker" if kind == "loso" else group,
                     "valid_groups": spec.protocol.valid_groups,
                     "speaker_independent": all(f.speaker_independent for f in folds),
                     "folds": fold_info},
        "normalization": {"mode": spec.features.normalization,
                          "description": describe(spec.features.normalization)},
        "features": extraction_info + [{"extractor": ex.name, "identity": ex.identity(),
                                        "fitted_per_fold": True} for ex in per_fold],
        "failures": [{"path": p, "problem": pr} for p, pr in failures],
        "versions": versions(),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    _write(folder, spec, metrics, info, allp)
    return RunResult(folder, metrics, False)


def _ml(s: str, classes):
    got = set(s.split(";")) if s else set()
    return np.array([c in got for c in classes])


def _fold_mean(folds: list[dict], task: str) -> dict:
    from .metrics import MULTI, REGRESSION, SINGLE

    keys = {"multilabel": MULTI, "regression": REGRESSION, "single_label": SINGLE}[task]
    return {k: {"mean": float(np.mean([f[k] for f in folds])), "std": float(np.std([f[k] for f in folds]))}
            for k in keys}


def _write(folder: Path, spec: Spec, metrics: dict, info: dict, preds: pd.DataFrame) -> None:
    from .report import write_report

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "DONE").unlink(missing_ok=True)
    (folder / "spec.toml").write_text(dump_toml(spec.to_dict()), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str),
                                     encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    preds.to_parquet(folder / "predictions.parquet", index=False)
    write_report(folder, metrics, info)
    (folder / "DONE").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
