"""Every utterance-level fusion head, through the real runner, on the three-modality demo corpus.

demo_av splits the evidence: anger only in the voice, sadness only in the words, happiness only
on the face (tests/test_demo_av.py measures each block alone at 0.47-0.51 UAR and asserts < 0.60).
A head that fuses all three blocks is far above that; one that drops a block is capped near 0.75.
Measured here (seed 0, eGeMAPS + TF-IDF + FER, leave-one-speaker-out, 224 rows with video and 32
without): concat 0.78, late 0.77, TFN 0.84, LMF 0.91, MISA 0.88, MMIN 0.86, attention 0.84.
"""
from __future__ import annotations

import json

import pytest

import affectbench as ab

pytest.importorskip("av")
pytest.importorskip("ai_edge_litert")

HEADS = ["concat", "late", "tfn", "lmf", "misa", "mmin", "attention"]
#: the best single block is below 0.60 (asserted in test_demo_av); 0.70 leaves 0.07 under the
#: weakest head measured and is out of reach of any head that ignores a block (<= ~0.75 is a
#: pair, and pairs measured 0.68-0.73)
FLOOR = 0.70


def _spec(tmp_path, head):
    return ab.load_spec(data={
        "name": f"fuse-{head}", "output_dir": str(tmp_path), "corpus": {"name": "demo_av"},
        "features": {"extractors": ["egemaps", "tfidf", "fer"],
                     "options": {"fer": {"fps": 10}, "tfidf": {"max_features": 300}}},
        "metrics": {"bootstrap": 20}, "head": {"kind": head}})


@pytest.mark.parametrize("head", HEADS)
def test_fusion_head_beats_every_single_modality(tmp_path, head):
    try:
        res = ab.run(_spec(tmp_path, head))
    except ab.errors.SpecError as e:  # pragma: no cover
        if "fer" in str(e):
            pytest.skip(str(e))
        raise
    m = res.metrics
    assert m["pooled"]["uar"] >= FLOOR, (head, m["pooled"]["uar"])
    # rows without a video file are kept and masked, not dropped, and the report says so
    assert m["tested"]["n_tested"] == 256 and m["tested"]["missing_modality"]["fer"] == 32
    assert "lacked `fer`" in res.report.read_text()
    state = json.loads((res.folder / "run.json").read_text())["protocol"]["folds"][0]["head"]
    assert state  # the head's own account (epochs, validation) is recorded per fold
