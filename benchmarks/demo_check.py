"""Sanity check of the synthetic demo corpus (a script, not a test).

Generates the embedded "demo" corpus into a temporary directory, extracts
openSMILE eGeMAPSv02 functionals from the audio and character n-gram TF-IDF
from the text, and runs leave-one-speaker-out (LOSO) logistic regression,
printing UAR (unweighted average recall = macro recall) for

* audio only (StandardScaler fitted on the training fold),
* audio only with per-speaker z-normalisation (each speaker standardised on
  its own utterances; label-free, so legitimate for the test speaker too),
* text only,
* audio + text (early fusion: standardised audio features, divided by
  sqrt(n_audio_features) so that the audio block has about unit row norm
  like the L2-normalised TF-IDF block, concatenated with the TF-IDF vectors),

plus the generation time.  The demo is meant to be learnable but not
trivial: audio and text each around UAR 0.6-0.85, their combination higher.

Usage::

    python benchmarks/demo_check.py [--seed 0] [--n-speakers 8] [--per-class 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys
import tempfile
import time

import numpy as np
import opensmile
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.preprocessing import StandardScaler

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load_demo_module():
    try:
        from affectbench.corpora import demo_synth  # type: ignore

        return demo_synth
    except Exception:  # package not installed / package __init__ needs extras
        path = ROOT / "src" / "affectbench" / "corpora" / "demo_synth.py"
        spec = importlib.util.spec_from_file_location("_affectbench_demo_synth", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


def uar(y_true, y_pred) -> float:
    return float(recall_score(y_true, y_pred, average="macro"))


def loso(speakers, labels, fit_predict) -> float:
    speakers = np.asarray(speakers)
    labels = np.asarray(labels)
    pred = np.empty_like(labels)
    for spk in np.unique(speakers):
        test = speakers == spk
        pred[test] = fit_predict(~test, test)
    return uar(labels, pred)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-speakers", type=int, default=8)
    ap.add_argument("--per-class", type=int, default=8)
    ap.add_argument("--C", type=float, default=1.0, help="inverse L2 strength of the classifier")
    args = ap.parse_args(argv)

    demo = _load_demo_module()
    with tempfile.TemporaryDirectory(prefix="affectbench-demo-") as tmp:
        out = pathlib.Path(tmp)
        t0 = time.perf_counter()
        rows = demo.synthesize_demo(out, n_speakers=args.n_speakers,
                                    per_class=args.per_class, seed=args.seed)
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows_again = demo.synthesize_demo(out, n_speakers=args.n_speakers,
                                          per_class=args.per_class, seed=args.seed)
        reuse_s = time.perf_counter() - t0
        assert rows_again == rows, "idempotent re-use returned different rows"
        size_mb = sum(p.stat().st_size for p in (out / "wav").glob("*.wav")) / 1e6
        durations = np.array([r["duration"] for r in rows])

        smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                feature_level=opensmile.FeatureLevel.Functionals)
        t0 = time.perf_counter()
        X_audio = np.vstack([smile.process_file(r["audio"]).to_numpy()[0] for r in rows])
        feat_s = time.perf_counter() - t0

    texts = [r["text"] for r in rows]
    y = np.array([r["label"] for r in rows])
    spk = np.array([r["speaker"] for r in rows])

    def clf():
        return LogisticRegression(C=args.C, max_iter=5000)

    def audio_fp(X):
        def fp(tr, te):
            sc = StandardScaler().fit(X[tr])
            return clf().fit(sc.transform(X[tr]), y[tr]).predict(sc.transform(X[te]))
        return fp

    def text_features(tr, te):
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        idx_tr, idx_te = np.flatnonzero(tr), np.flatnonzero(te)
        T_tr = vec.fit_transform([texts[i] for i in idx_tr])
        T_te = vec.transform([texts[i] for i in idx_te])
        return T_tr, T_te

    def text_fp(tr, te):
        T_tr, T_te = text_features(tr, te)
        return clf().fit(T_tr, y[tr]).predict(T_te)

    def fused_fp(tr, te):
        sc = StandardScaler().fit(X_audio[tr])
        w = 1.0 / np.sqrt(X_audio.shape[1])  # balance block norms (TF-IDF rows have norm 1)
        A_tr, A_te = sc.transform(X_audio[tr]) * w, sc.transform(X_audio[te]) * w
        T_tr, T_te = text_features(tr, te)
        F_tr = sparse.hstack([sparse.csr_matrix(A_tr), T_tr]).tocsr()
        F_te = sparse.hstack([sparse.csr_matrix(A_te), T_te]).tocsr()
        return clf().fit(F_tr, y[tr]).predict(F_te)

    # per-speaker z-normalisation (unsupervised; uses no labels)
    X_spk = X_audio.copy()
    for s in np.unique(spk):
        m = spk == s
        X_spk[m] = (X_audio[m] - X_audio[m].mean(0)) / (X_audio[m].std(0) + 1e-8)

    res_audio = loso(spk, y, audio_fp(X_audio))
    res_audio_spk = loso(spk, y, audio_fp(X_spk))
    res_text = loso(spk, y, text_fp)
    res_fused = loso(spk, y, fused_fp)

    print(f"demo corpus v{demo.DEMO_VERSION}: {len(rows)} utterances, "
          f"{len(np.unique(spk))} speakers, classes {demo.DEMO_EMOTIONS}")
    print(f"generation time     : {gen_s:.2f} s (re-use of existing set: {reuse_s * 1000:.0f} ms)")
    print(f"wav size            : {size_mb:.2f} MB; durations {durations.min():.2f}-{durations.max():.2f} s")
    print(f"eGeMAPSv02 features : {X_audio.shape[1]} functionals ({feat_s:.1f} s)")
    print("LOSO logistic regression, UAR (chance 0.25):")
    print(f"  audio (eGeMAPSv02)             : {res_audio:.3f}")
    print(f"  audio, per-speaker z-norm      : {res_audio_spk:.3f}")
    print(f"  text (char 2-5-gram TF-IDF)    : {res_text:.3f}")
    print(f"  audio + text (concatenated)    : {res_fused:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
