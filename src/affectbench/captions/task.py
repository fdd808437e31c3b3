"""``task = "caption"``: generate one caption dimension per test utterance and score it.

Runs through the normal run-folder machinery: the same corpus reading, feature
extraction (cached), official folds (validation from the non-test side), identity and
``spec.toml`` / ``identity.json`` / ``run.json`` / ``metrics.json`` /
``predictions.parquet`` (the generated captions) / ``report.md``.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from . import baselines as B
from . import metrics as CM
from .errors import CaptionError
from .text import TOKENIZERS, check_script

DIMENSIONS = ("speaker", "style", "emotion", "overall")


def column(dimension: str) -> str:
    return f"caption_{dimension}"


def references(values) -> list[list[str]]:
    """Reference captions per row from a caption column: plain text, or a JSON list."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            out.append([])
            continue
        s = str(v).strip()
        if s.startswith("["):
            try:
                out.append([str(x).strip() for x in json.loads(s) if str(x).strip()])
                continue
            except json.JSONDecodeError:
                pass
        out.append([s] if s else [])
    return out


def check_spec(spec, source: str) -> None:
    from ..errors import SpecError

    c = spec.caption
    for key, val, allowed in (("dimension", c.dimension, DIMENSIONS), ("method", c.method, B.METHODS),
                              ("tokenize", c.tokenize, TOKENIZERS)):
        if val not in allowed:
            raise SpecError(f"{source}: 'caption.{key}' = {val!r} is not one of {', '.join(allowed)}")
    try:
        names = CM.metric_names(c.metrics)
    except CaptionError as e:
        raise SpecError(f"{source}: caption.metrics: {e}") from None
    needs = {"bertscore": ("bertscore",), "sbert_sim": ("sbert",), "fense": ("sbert", "fense_echecker"),
             "clapscore": ("clap",), "spider": ("spice",)}
    for name in names:  # before any feature is extracted, not after the captions are generated
        for opt in needs.get(name, ()):
            CM.need_folder(getattr(c, opt), name, opt, "a local model folder")
    if c.method == "hf" and not c.model:
        raise SpecError(f"{source}: caption.method = 'hf' needs caption.model = a local Hugging Face "
                        "seq2seq or decoder folder")
    if c.model and not Path(c.model).expanduser().is_dir():
        raise SpecError(f"{source}: caption.model = {c.model!r} is not a folder")
    if c.max_new_tokens < 1:
        raise SpecError(f"{source}: 'caption.max_new_tokens' must be >= 1")


def language(spec) -> str:
    return "en" if spec.caption.tokenize == "words" else "zh"


# -------------------------------------------------------------------------------- the run
def _caption_rows(data, spec, rep):
    col = column(spec.caption.dimension)
    refs = references(data.df[col].astype(object))
    have = np.array([bool(r) for r in refs])
    if not have.any():
        raise CaptionError(f"corpus '{data.corpus.name}' has no '{col}' captions in this copy (the caption "
                           "task needs a corpus that releases captions, e.g. emotiontalk)")
    if not have.all():
        rep.log(f"[yellow]{int((~have).sum())} utterance(s) without a {col} caption left out[/]")
    data.df = data.df[have].reset_index(drop=True)
    return int((~have).sum())


def _identity(spec, data, plans) -> dict:
    from ..runner import _digest, run_identity

    ident = run_identity(spec, data, plans)
    c = ident["spec"]["caption"]
    for key in ("model", "bertscore", "sbert", "fense_echecker", "clap", "spice"):
        c[key] = CM.folder_digest(c[key])  # content, not where the folder lives
    order = data.df.sort_values("id")
    ident["captions"] = {"references": _digest(order["id"].astype(str) + "\t" +
                                               order[column(spec.caption.dimension)].astype(str)),
                         "generator_version": B.VERSION, "metrics_version": CM.METRICS_VERSION}
    return ident


def run_caption(spec, *, force: bool = False, reporter=None):
    from .. import runner as R
    from ..protocol import make_folds

    rep = reporter or R.Reporter()
    t0 = time.perf_counter()
    data = R.load_data(spec, rep)
    no_caption = _caption_rows(data, spec, rep)
    for w in check_script([x for r in references(data.df[column(spec.caption.dimension)].astype(object))
                           for x in r], spec.caption.tokenize, f"{data.corpus.name} {column(spec.caption.dimension)}"):
        rep.log(f"[yellow]warning:[/] {w}")  # wrong script for the tokeniser: refused above half
    plans = R.plan_features(spec, data)
    identity = _identity(spec, data, plans)
    folder = Path(spec.output_dir).expanduser() / f"{spec.name}-{R.identity_hash(identity)}"
    done = None if force else R._finished(folder, identity)
    if done is not None:
        return R.RunResult(folder, done, True)
    fs = R.extract_features(spec, data, plans, rep)
    df = data.df[fs.ok].reset_index(drop=True)
    for b in fs.blocks:
        if b.X is not None:
            b.present = b.present[fs.ok]
            b.X = np.where(b.present[:, None], b.X[fs.ok], 0.0).astype(np.float32)
    proto = R.resolve_protocol(spec, data.corpus)
    folds = make_folds(df, proto["kind"], group=proto["group"], valid_groups=spec.protocol.valid_groups,
                       folds=proto["folds"], seed=spec.seed, speaker_independent=proto["speaker_independent"],
                       valid_unit=spec.protocol.valid_unit)
    refs = references(df[column(spec.caption.dimension)].astype(object))
    preds, fold_info = [], []
    upd = rep.task("caption folds", len(folds))
    for fold in folds:
        X = R.fold_matrix(spec, fs, fold, df["speaker"].astype(object).to_numpy(),
                          df["text"].astype(object).fillna("").tolist(), df["id"].astype(str).to_numpy())
        p, info = generate_fold(spec, df, X, fold, refs, data.view)
        preds.append(p)
        fold_info.append(info)
        upd(1)
    allp = pd.concat(preds, ignore_index=True)
    scored = CM.score_captions(allp["caption"].tolist(), [json.loads(r) for r in allp["references"]],
                               how=spec.caption.tokenize, metrics=spec.caption.metrics, models=spec.caption,
                               source=f"{spec.name} test captions")
    for k, v in scored["items"].items():
        allp[k] = np.asarray(v, np.float32)
    metrics = {"run": folder.name, "task": "caption", "dimension": spec.caption.dimension,
               "method": spec.caption.method, "tokenize": spec.caption.tokenize,
               "pooled": scored["corpus"], "n_tested": int(len(allp)),
               "empty_hypotheses": scored["empty_hypotheses"], "warnings": scored["warnings"],
               "metrics_version": CM.METRICS_VERSION}
    info = _describe(spec, data, df, fs, proto, fold_info, identity, no_caption, t0)
    _write(folder, spec, metrics, info, allp, identity)
    return R.RunResult(folder, metrics, False)


def _dense(X):
    return X.toarray() if hasattr(X, "toarray") else X


def generate_fold(spec, df, X, fold, refs, view):
    """Captions for the fold's test rows, by the spec's method; and what decided them."""
    lang = language(spec)
    dim, method = spec.caption.dimension, spec.caption.method
    train_refs = [refs[i] for i in fold.train]
    common = Counter(r[0] for r in train_refs).most_common(1)[0][0]
    out = pd.DataFrame({"id": df["id"].iloc[fold.test].to_numpy(), "fold": fold.name,
                        "speaker": df["speaker"].iloc[fold.test].to_numpy()})
    info = {"name": fold.name, "n_train": len(fold.train), "n_valid": len(fold.valid),
            "n_test": len(fold.test), "fingerprint": fold.fingerprint}
    if method == "retrieval":
        nn = B.retrieve(X[fold.train], X[fold.test])
        out["caption"] = [train_refs[j][0] for j in nn]
        out["neighbour"] = df["id"].iloc[fold.train].to_numpy()[nn]
    else:
        slots, info["slots"] = predict_slots(spec, df, _dense(X), fold, refs, view, lang)
        for k, v in slots.items():
            out[f"pred_{k}"] = v
        if method == "template":
            out["caption"] = [B.fill(dim, lang, e, g, r, common)
                              for e, g, r in zip(slots["emotion"], slots["gender"], slots["rate"])]
        else:
            texts = df["text"].iloc[fold.test].astype(object).tolist()
            prompts = [B.prompt(lang, dim, e, g, r, t) for e, g, r, t in
                       zip(slots["emotion"], slots["gender"], slots["rate"], texts)]
            out["caption"] = B.hf_generate(spec.caption.model, prompts, spec.caption.max_new_tokens)
    out["references"] = [json.dumps(refs[i], ensure_ascii=False) for i in fold.test]
    return out, info


def predict_slots(spec, df, X, fold, refs, view, lang):
    """Emotion (the view's labels), gender and rate (weak labels from the captions of every
    dimension) predicted for the test rows by linear adapters fitted on the training rows."""
    from ..heads import make_head

    all_refs = [sum((references([df[column(d)].iloc[i]])[0] for d in DIMENSIONS), []) for i in range(len(df))]
    weak = B.slot_labels(all_refs, lang)
    labels = {"emotion": [str(y) if isinstance(y, str) else None for y in df["y"]] if "y" in df else
              [None] * len(df), **weak}
    out, info = {}, {}
    h = spec.head
    for slot, lab in labels.items():
        lab = np.array(lab, dtype=object)
        tr = [i for i in fold.train if lab[i] is not None]
        va = [i for i in fold.valid if lab[i] is not None]
        classes = sorted({lab[i] for i in tr})
        if len(classes) < 2:
            out[slot] = [classes[0] if classes else None] * len(fold.test)
            info[slot] = {"classes": classes, "trained": False}
            continue
        idx = {c: k for k, c in enumerate(classes)}
        va = [i for i in va if lab[i] in idx]
        head = make_head("linear", epochs=h.epochs, lr=h.lr, weight_decay=h.weight_decay,
                         batch_size=h.batch_size, patience=h.patience, class_balanced=h.class_balanced,
                         seed=spec.seed, l2=h.l2, l2_grid=h.l2_grid, solver=h.solver, select=h.select)
        y = np.array([idx[lab[i]] for i in tr])
        yv = np.array([idx[lab[i]] for i in va], dtype=np.int64)
        head.fit(X[tr], y, X[va] if va else None, yv if va else None, n_classes=len(classes))
        pred = head.decide(head.predict_proba(X[fold.test]))
        out[slot] = [classes[k] for k in pred]
        te = [j for j, i in enumerate(fold.test) if lab[i] is not None]
        acc = float(np.mean([out[slot][j] == lab[fold.test[j]] for j in te])) if te else None
        info[slot] = {"classes": classes, "trained": True, "n_train": len(tr), "n_valid": len(va),
                      "test_accuracy": acc}
    return out, info


def _describe(spec, data, df, fs, proto, fold_info, identity, no_caption, t0) -> dict:
    from ..runner import versions

    c = spec.caption
    return {"spec": spec.to_dict(), "identity": identity, "task": "caption",
            "corpus": {"name": data.corpus.name, "root": data.prepared.root, "view": data.view.name,
                       "n": int(len(df)), "caveats": data.prepared.caveats,
                       "problems": data.prepared.problems, "without_caption": no_caption,
                       "skipped_while_reading": data.prepared.issues.skipped},
            "caption": {"dimension": c.dimension, "column": column(c.dimension), "method": c.method,
                        "tokenize": c.tokenize, "language": language(spec), "metrics": CM.metric_names(c.metrics),
                        "generator_version": B.VERSION},
            "data_fingerprint": data.fingerprint,
            "protocol": {"kind": proto["kind"], "folds": fold_info},
            "features": fs.info, "failures": [{"path": p, "problem": pr} for p, pr in fs.failures],
            "versions": versions(), "seconds": round(time.perf_counter() - t0, 2)}


def _write(folder: Path, spec, metrics: dict, info: dict, preds: pd.DataFrame, identity: dict) -> None:
    from ..runner import write_run_files

    write_run_files(folder, spec, metrics, info, preds, identity)
    (folder / "report.md").write_text(report(metrics, info, preds), encoding="utf-8")
    (folder / "DONE").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))


_HOW = {"jieba": "jieba word segmentation (Chinese)", "chars": "one token per Han character (Chinese)",
        "words": "lower-cased words, punctuation dropped (English)"}
_METHOD = {"retrieval": "nearest training caption by cosine on the run's features (no language model)",
           "template": "a template filled from labels predicted by linear adapters (no language model)",
           "hf": "a local Hugging Face model prompted with the predicted labels and the transcript"}


def report(metrics: dict, info: dict, preds: pd.DataFrame) -> str:
    c, corp = info["caption"], info["corpus"]
    lines = [f"# {metrics['run']}: {c['dimension']} captions", "",
             f"- corpus: {corp['name']} ({corp['n']} utterances with a `{c['column']}` caption"
             + (f"; {corp['without_caption']} without one left out" if corp["without_caption"] else "") + ")",
             f"- generator: {c['method']}: {_METHOD[c['method']]}",
             f"- tokenisation before the lexical metrics: {c['tokenize']} = {_HOW[c['tokenize']]}",
             f"- protocol: {info['protocol']['kind']}; "
             + "; ".join(f"fold {f['name']}: train {f['n_train']}, valid {f['n_valid']}, test {f['n_test']}"
                         for f in info["protocol"]["folds"]), "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in metrics["pooled"].items()]
    lines.append("")
    slots = [f for f in info["protocol"]["folds"] if f.get("slots")]
    for f in slots:
        for s, d in f["slots"].items():
            acc = d.get("test_accuracy")
            lines.append(f"- predicted {s} ({', '.join(d['classes'])}): "
                         + (f"test accuracy {acc:.3f}" if acc is not None else "not trained (one class)"))
    for w in metrics.get("warnings", []) + list(corp.get("caveats", [])):
        lines.append(f"- note: {w}")
    lines += ["", "## Examples", "", "| id | generated | first reference |", "|---|---|---|"]
    for r in preds.head(5).itertuples():
        ref = json.loads(r.references)[0]
        lines.append(f"| {r.id} | {r.caption} | {ref} |")
    return "\n".join(lines) + "\n"
