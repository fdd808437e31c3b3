"""Frame-level fusion heads (heads/fusion_frame.py) on split-evidence sequences.

Each modality's bit shows on about a third of its valid frames (rows of 4–10 frames); the
best single modality (logistic regression on its mean frame) is capped at 50 % UAR.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from affectbench.errors import SpecError
from affectbench.heads import HEADS, make_head
from affectbench.heads.blocks import Block, rows
from affectbench.heads.train import masked_mean
from fixtures.fusion_data import split_evidence

FRAME = ["mult", "mfn", "graph_mfn", "mfm", "mctn"]
# CPU-small settings for CI: MulT's 6 crossmodal transformers dominate the file's time.
SMALL = {"mult": dict(hidden=16, heads=2, layers=1), "mfn": dict(hidden=16, memory=16, steps=8),
         "graph_mfn": dict(hidden=16, memory=16, steps=8), "mfm": dict(hidden=32),  # at 16 it sat at chance for 6 epochs first
         "mctn": dict(hidden=16, steps=8)}
FAST = dict(epochs=25, patience=5, batch_size=64)
FR = (4, 10)


def uar(y, p, k=4):
    return float(np.mean([np.mean(p[y == c] == c) for c in range(k)]))


def pooled(b):
    return masked_mean(torch.as_tensor(b.X), torch.as_tensor(b.lengths)).numpy()


@pytest.fixture(scope="module")
def data():
    B, y = split_evidence(560, seed=0, missing=0.3, frames=FR)
    test, yt = split_evidence(300, seed=7, frames=FR)
    no_a, _ = split_evidence(300, seed=7, frames=FR, missing=1.0, missing_block=0)
    some, _ = split_evidence(300, seed=7, frames=FR, missing=0.3)
    tr, va = np.arange(440), np.arange(440, 560)
    return dict(train=rows(B, tr), y=y[tr], valid=rows(B, va), yv=y[va], test=test, yt=yt,
                no_a=no_a, some=some)


@pytest.fixture(scope="module")
def single(data):
    from sklearn.linear_model import LogisticRegression

    out = {}
    for i, b in enumerate(data["train"]):
        keep = b.present
        lr = LogisticRegression(max_iter=1000).fit(pooled(b)[keep], data["y"][keep])
        out[b.name] = uar(data["yt"], lr.predict(pooled(data["test"][i])))
    return out


_fitted: dict = {}


def fitted(kind, data):
    if kind not in _fitted:
        _fitted[kind] = make_head(kind, seed=0, **FAST, **SMALL[kind]).fit(
            data["train"], data["y"], data["valid"], data["yv"], n_classes=4)
    return _fitted[kind]


@pytest.mark.parametrize("kind", FRAME)
def test_frame_fusion_beats_the_best_single_modality(kind, data, single):
    # Measured on a loaded 2-core machine (2026-11-29): single modalities 0.39 / 0.41 / 0.45 UAR
    # (capped at 0.5), MulT 0.93, MFN 0.92, Graph-MFN 0.88, MFM 0.92. The 0.25 margin (about
    # 0.70) needs two modalities combined and leaves 0.18 of slack below the weakest head.
    head = fitted(kind, data)
    best = max(single.values())
    assert best < 0.56, single
    score = uar(data["yt"], head.predict(data["test"]))
    json.dumps(head.state())
    if kind == "mctn":
        # MCTN reads only its source modality at test time (Pham et al. 2019): the others only
        # shape its representation through translation losses, and here they are independent
        # of the source, so it cannot exceed one bit's worth (0.5). Measured 0.41 (source A's
        # logistic regression: 0.45). We check it learnt from its source and did not fuse.
        assert 0.33 < score < best + 0.1, (score, single)
    else:
        assert score > best + 0.25, (kind, score, single)


@pytest.mark.parametrize("kind", FRAME)
def test_frame_heads_run_with_modalities_missing(kind, data):
    head = fitted(kind, data)
    P = head.predict_proba(data["some"])
    assert P.shape == (300, 4) and np.all(np.isfinite(P))
    P = head.predict_proba(data["no_a"])
    assert np.all(np.isfinite(P))
    if kind != "mctn":  # MCTN without its source has nothing to read
        assert uar(data["yt"], P.argmax(1)) > 0.4
    bare = [Block(b.name, b.modality, b.X, b.present & (np.arange(300) >= 5),
                  np.where(np.arange(300) < 5, 0, b.lengths)) for b in data["test"]]
    assert np.all(np.isfinite(head.predict_proba(bare)))  # rows with no modality at all


def test_frame_head_regression(data):
    B, yy = split_evidence(300, seed=3, frames=FR)
    val = ((yy // 2) + 0.5 * (yy % 2))[:, None].astype(np.float32)
    head = make_head("mult", regression=True, seed=0, epochs=15, patience=5, batch_size=64)
    head.fit(rows(B, np.arange(240)), val[:240], rows(B, np.arange(240, 300)), val[240:], n_classes=1)
    P = head.predict(data["test"])
    assert P.shape == (300, 1)
    truth = (data["yt"] // 2) + 0.5 * (data["yt"] % 2)
    assert np.corrcoef(truth, P[:, 0])[0, 1] > 0.7


@pytest.mark.parametrize("kind", FRAME)
def test_padding_beyond_lengths_is_ignored(kind, data):
    head = fitted(kind, data)
    test = data["test"]
    noisy = []
    for b in test:
        X = b.X.copy()
        pad = np.arange(X.shape[1])[None, :] >= b.lengths[:, None]
        X[pad] = 50.0  # garbage where the contract promises zeros: must not matter
        noisy.append(Block(b.name, b.modality, X, b.present, b.lengths))
    np.testing.assert_allclose(head.predict_proba(noisy), head.predict_proba(test), atol=1e-5)


@pytest.mark.parametrize("kind", FRAME)
def test_frame_heads_deterministic_per_seed(kind, data):
    small = dict(epochs=2, patience=100, batch_size=100, **SMALL[kind])
    tr, y = rows(data["train"], np.arange(200)), data["y"][:200]
    v, yv = rows(data["valid"], np.arange(60)), data["yv"][:60]
    te = rows(data["test"], np.arange(100))
    a = make_head(kind, seed=0, **small).fit(tr, y, v, yv, n_classes=4).predict_proba(te)
    b = make_head(kind, seed=0, **small).fit(tr, y, v, yv, n_classes=4).predict_proba(te)
    c = make_head(kind, seed=1, **small).fit(tr, y, v, yv, n_classes=4).predict_proba(te)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_frame_heads_refuse_bad_input(data):
    tr = data["train"]
    flat = [Block(b.name, b.modality, pooled(b), b.present) for b in tr]
    for kind in FRAME:
        with pytest.raises(SpecError, match=f"head '{kind}' works on frame sequences"):
            make_head(kind).fit(flat, data["y"], n_classes=4)
        with pytest.raises(SpecError, match="at least 2"):
            make_head(kind).fit(tr[:1], data["y"], n_classes=4)
    with pytest.raises(SpecError, match="mctn_source 'D'"):
        make_head("mctn", mctn_source="D").fit(tr, data["y"], n_classes=4)
    with pytest.raises(SpecError, match="divisible by heads"):
        make_head("mult", hidden=30, heads=4)
    bad = Block("A", "audio", tr[0].X, tr[0].present, tr[0].lengths + 100)
    with pytest.raises(SpecError, match="lengths outside"):
        make_head("mfm", epochs=1).fit([bad] + tr[1:], data["y"], n_classes=4)


def test_mctn_reads_its_chosen_source(data):
    head = make_head("mctn", mctn_source="B", seed=0, **FAST, **SMALL["mctn"]).fit(
        data["train"], data["y"], data["valid"], data["yv"], n_classes=4)
    P = head.predict_proba(data["test"])
    # A's and C's frames changed at test time: an MCTN translating from B does not look at them
    other = [data["test"][0].rows(np.roll(np.arange(300), 1)), data["test"][1],
             data["test"][2].rows(np.roll(np.arange(300), 7))]
    np.testing.assert_allclose(head.predict_proba(other), P, atol=1e-6)
    assert all(HEADS[k].needs_sequences and HEADS[k].takes_blocks for k in FRAME)
