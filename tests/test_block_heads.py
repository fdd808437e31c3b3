"""The runner's block path: heads that take one block per extractor (with masks) or frame sequences."""
from __future__ import annotations

import json

import numpy as np
import pytest

import affectbench as ab
from affectbench.errors import SpecError
from affectbench.heads import HEADS
from affectbench.heads.blocks import check_blocks
from affectbench.heads.sklearn_head import LogRegHead


class _Recording:
    """A real head for the contract: logistic regression on [block means], recording what it got."""

    takes_blocks = True
    needs_sequences = False
    VERSION = "test"
    seen: list = []

    def __init__(self, *, seed: int = 0, hidden: int = 8):
        self.hidden = hidden
        self.inner = LogRegHead(seed=seed)

    def _x(self, blocks):
        check_blocks(blocks, need_sequences=self.needs_sequences, where="test head")
        parts = []
        for b in blocks:
            X = b.X
            if b.is_sequence:  # mean over each row's real frames
                m = np.arange(X.shape[1])[None, :] < b.lengths[:, None]
                X = (X * m[..., None]).sum(1) / np.maximum(b.lengths, 1)[:, None]
            parts.append(np.where(b.present[:, None], X, 0.0))
        return np.hstack(parts)

    def fit(self, blocks, y, vblocks, yv, n_classes=None):
        type(self).seen.append([(b.name, b.X.shape, int(b.present.sum()), b.is_sequence) for b in blocks])
        self.inner.fit(self._x(blocks), y, n_classes=n_classes)
        return self

    def predict_proba(self, blocks):
        return self.inner.predict_proba(self._x(blocks))

    def decide(self, P):
        return P.argmax(1)

    def state(self):
        return {"hidden": self.hidden}


class _Frames(_Recording):
    needs_sequences = True


@pytest.fixture
def heads(monkeypatch):
    monkeypatch.setitem(HEADS, "rec", _Recording)
    monkeypatch.setitem(HEADS, "frames", _Frames)
    _Recording.seen.clear()
    return _Recording.seen


def _spec(tmp_path, **kw):
    halves = [[f"spk0{i}" for i in range(1, 5)], [f"spk0{i}" for i in range(5, 9)]]
    d = {"name": "b", "output_dir": str(tmp_path), "corpus": {"name": "demo"},
         "protocol": {"kind": "folds", "folds": halves},
         "features": {"extractors": ["egemaps", "tfidf"], "options": {"tfidf": {"max_features": 300}}},
         "metrics": {"bootstrap": 20}, "head": {"kind": "rec", "options": {"hidden": 4}}}
    for k, v in kw.items():
        d[k].update(v)
    return ab.load_spec(data=d)


def test_block_head_gets_one_normalised_block_per_extractor(tmp_path, heads):
    res = ab.run(_spec(tmp_path))
    assert len(heads) == 2  # one fit per fold
    (eg, tf) = heads[0]
    assert eg[0] == "egemaps" and eg[1][1] == 88 and not eg[3]
    assert tf[0] == "tfidf" and tf[1][0] == eg[1][0] and tf[1][1] <= 300
    assert res.metrics["pooled"]["uar"] > 0.5
    info = json.loads((res.folder / "run.json").read_text())
    assert info["protocol"]["folds"][0]["head"] == {"hidden": 4}
    assert res.metrics["tested"]["missing_modality"] == {"egemaps": 0}


def test_head_options_are_checked_against_the_head(tmp_path, heads):
    with pytest.raises(SpecError, match="'head.options.rank' is not an option of head 'rec'"):
        _spec(tmp_path, head={"options": {"rank": 2}})


def test_frame_head_needs_frames_before_any_extraction(tmp_path, heads):
    with pytest.raises(SpecError, match="works on frame sequences: set features.options.egemaps.frames = true"):
        ab.run(_spec(tmp_path, head={"kind": "frames"}, features={"extractors": ["egemaps"], "options": {}}))
    with pytest.raises(SpecError, match="'tfidf' gives no frame sequences"):
        ab.run(_spec(tmp_path, head={"kind": "frames"},
                     features={"extractors": ["egemaps", "tfidf"], "options": {"egemaps": {"frames": True},
                                                                             "tfidf": {}}}))


def test_frame_head_gets_padded_sequences_with_lengths(tmp_path, heads):
    spec = _spec(tmp_path, head={"kind": "frames"},
                  features={"extractors": ["egemaps", "minilm"],
                           "options": {"egemaps": {"frames": True, "max_frames": 20},
                                       "minilm": {"frames": True}}})
    res = ab.run(spec)
    (eg, lm) = heads[0]
    assert eg[3] and lm[3]  # sequences
    assert eg[1][1] == 20 and eg[1][2] == 25  # eGeMAPS: 25 low-level descriptors, chunked to 20 frames
    assert lm[1][2] == 384 and lm[1][1] >= 3  # MiniLM token embeddings
    assert res.metrics["pooled"]["uar"] > 0.4
