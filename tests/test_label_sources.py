"""Labels per modality (train on one source, score on another) and EmotionTalk's continuous task."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import affectbench as ab
from affectbench.errors import SpecError
from fixtures import emotiontalk_fixture as fx


@pytest.fixture(scope="module")
def et(tmp_path_factory):
    root = tmp_path_factory.mktemp("et_labels") / "et"
    fx.build(root)
    return root


def _spec(et, out, **corpus):
    return ab.load_spec(data={"name": "ls", "output_dir": str(out), "metrics": {"bootstrap": 20},
                              "corpus": {"name": "emotiontalk", "root": str(et), "allow_partial": True,
                                         **corpus},
                              "features": {"extractors": ["egemaps"]}, "head": {"epochs": 5}})


def test_train_on_audio_labels_score_on_multimodal(et, tmp_path):
    from affectbench.runner import Reporter, load_data

    spec = _spec(et, tmp_path, view="all", train_view="audio_all")
    data = load_data(spec, Reporter())
    m = ab.prepare("emotiontalk", et).manifest.set_index("id")
    # the scored target is the multimodal consensus, the training target the audio annotators'
    assert (data.df["y"].to_numpy() == m.loc[data.df["id"], "label"].to_numpy()).all()
    assert (data.df["y_train"].to_numpy() == m.loc[data.df["id"], "label_audio"].to_numpy()).all()
    assert (data.df["y"] != data.df["y_train"]).any()  # the fixture's sources disagree somewhere
    res = ab.run(spec)
    ls = res.metrics["tested"]["label_source"]
    assert ls["train"] == "audio_all" and ls["score"] == "all"
    plain = ab.run(_spec(et, tmp_path, view="all"))
    assert plain.folder != res.folder  # a different label source is a different run
    assert "trained on `audio_all`, scored on `all`" in res.report.read_text()


def test_label_sources_must_share_classes(et, tmp_path):
    with pytest.raises(SpecError, match="must match"):
        ab.run(_spec(et, tmp_path, view="four", train_view="audio_all"))
    with pytest.raises(Exception, match="unknown label view 'audio_seven'"):
        _spec(et, tmp_path, view="four", train_view="audio_seven")


def test_continuous_task_binary_and_regression_views(et):
    p = ab.prepare("emotiontalk", et)
    sent = pd.to_numeric(p.manifest["sentiment"], errors="coerce")
    binary = p.corpus.labelset.view("binary").apply(p.manifest)
    # zeros dropped, sign decides, as in the paper
    assert len(binary) == int(((sent != 0) & sent.notna()).sum())
    s = sent[p.manifest["id"].isin(binary["id"])].to_numpy()
    assert ((s > 0) == (binary["y"].to_numpy() == "positive")).all()
    reg = p.corpus.labelset.view("sentiment")
    assert reg.task == "regression"
    r = reg.apply(p.manifest)
    assert np.allclose(np.stack(r["y"].to_list())[:, 0], sent.dropna().to_numpy())
