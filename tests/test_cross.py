"""Cross-corpus protocol: train on one corpus, test on another through the shared label space;
speaker-disjoint by construction, validation from the training side, per-corpus + pooled
results in one report. Runs the example spec on miniature native-layout copies."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from affectbench import load_spec, run
from affectbench.errors import SpecError
from fixtures.cremad_fixture import build_cremad
from fixtures.ravdess_fixture import build_ravdess

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    d = tmp_path_factory.mktemp("cross")
    build_cremad(d / "cremad", actors=range(1001, 1007), sentences=("DFA",), seconds=0.3)
    build_ravdess(d / "ravdess", actors=[1, 2, 3], emotions=[1, 3, 4, 5], intensities=(1,),
                  statements=(1,), seconds=0.3)
    return d


def test_example_spec_runs_cross_corpus_with_robustness(copies):
    spec_path = copies / "cross.toml"
    shutil.copy(EXAMPLES / "cross_corpus_fixture.toml", spec_path)
    spec = load_spec(spec_path, [f"output_dir={copies / 'runs'}",  # one perturbation: test time
                                 'robustness.perturbations=[{kind = "noise", snr = [10], noise = "pink"}]'])
    assert spec.corpus.name == "ravdess"  # the test corpus stands in for [corpus]
    res = run(spec)
    m = res.metrics
    assert m["pooled"]["n"] == 24 and set(m["per_corpus"]) == {"ravdess"}
    assert m["per_corpus"]["ravdess"]["war"] == pytest.approx(m["pooled"]["war"])
    info = json.loads((res.folder / "run.json").read_text())
    fold = info["protocol"]["folds"][0]
    assert info["protocol"]["kind"] == "cross" and info["protocol"]["speaker_independent"]
    assert fold["n_test"] == 24 and fold["n_train"] + fold["n_valid"] == 24  # 6 actors × 4 classes
    assert fold["n_valid"] == 4 and fold["valid_groups"][0].startswith("cremad/")
    tr = info["cross"]["train"][0]
    assert tr["outside"] == {"fear": 6, "disgust": 6} and tr["language"] == "en"
    report = res.report.read_text()
    assert "## Cross-corpus" in report and "| train | cremad | en | 24 |" in report
    assert "| **pooled** | 24 |" in report and "## Robustness" in report
    runs = m["robustness"]["runs"]
    assert [r["name"] for r in runs] == ["noise pink snr=10"]
    assert all(r["n"] == 24 and r["drop_uar"] == pytest.approx(m["pooled"]["uar"] - r["uar"]) for r in runs)
    from affectbench.spec import tomllib  # tomli on Python 3.10

    written = tomllib.loads((res.folder / "spec.toml").read_text())["protocol"]
    assert written["train"][0]["name"] == "cremad" and written["test"]["name"] == "ravdess"
    assert run(spec).reused  # same identity: the finished run is reused


def _spec(copies, **proto):
    base = {"kind": "cross", "train": [{"name": "cremad", "root": str(copies / "cremad")}],
            "test": {"name": "ravdess", "root": str(copies / "ravdess")}}
    base.update(proto)
    return {"name": "x", "protocol": base}


def test_bad_cross_specs_are_refused_before_reading(copies, monkeypatch):
    with pytest.raises(SpecError, match="on both the training and the test side"):
        load_spec(data=_spec(copies, test={"name": "cremad"}))
    with pytest.raises(SpecError, match="needs protocol.train"):
        load_spec(data={"name": "x", "protocol": {"kind": "cross", "test": {"name": "cremad"}}})
    with pytest.raises(SpecError, match="share 0 class"):
        load_spec(data=_spec(copies, train=[{"name": "emobank", "root": "x"}]))
    with pytest.raises(SpecError, match="at least two shared classes"):
        load_spec(data=_spec(copies, labels=["happy", "joy"]))
    with pytest.raises(SpecError, match="unknown key"):
        load_spec(data=_spec(copies, test={"name": "ravdess", "rot": "x"}))
    with pytest.raises(SpecError, match="belong to protocol.kind = \"cross\""):
        load_spec(data={"name": "x", "corpus": {"name": "demo"}, "protocol": {"labels": ["happy", "sad"]}})
    from affectbench import crosscorpus

    monkeypatch.setattr(crosscorpus, "SHARED_SOURCES", {frozenset({"cremad", "ravdess"})})
    with pytest.raises(SpecError, match="share source recordings"):
        load_spec(data=_spec(copies))


def test_intersection_of_classes_and_deciding_spec_ignores_roots(copies):
    s = load_spec(data=_spec(copies))
    from affectbench.crosscorpus import classes

    assert classes(s) == ["neutral", "happy", "sad", "angry", "fear", "disgust"]
    d = s.deciding()
    assert "root" not in d["protocol"]["train"][0] and "root" not in d["protocol"]["test"]
    assert load_spec("examples/cross_corpus_emobox.toml" if Path("examples").is_dir()
                     else EXAMPLES / "cross_corpus_emobox.toml").protocol.labels == ["neutral", "happy", "sad", "angry"]
