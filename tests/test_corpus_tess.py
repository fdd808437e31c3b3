"""TESS adapter on copies in the native layout (tests/fixtures/tess_fixture.py)."""
import pytest

import affectbench as ab
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import tess_fixture


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return tess_fixture.build(tmp_path_factory.mktemp("tess"), n_words=200, nest="TESS Toronto emotional speech set data")


def test_complete_copy_and_folds(full):
    check_attributes("tess")
    p = ab.prepare("tess", full)
    df = p.manifest
    assert len(df) == 2800 and p.problems == [] and p.warnings == []
    assert df["label"].value_counts().to_dict() == {c: 400 for c in ("angry", "disgust", "fear", "happy",
                                                                     "neutral", "surprise", "sad")}
    row = df.set_index("id").loc["YAF_back_ps"]
    assert (row["label"], row["speaker"], row["dialogue"], row["text"]) == ("surprise", "YAF", "back", "Say the word back")
    fs = folds(p)
    assert len(fs) == 2 and [f.test_groups[0][:3] for f in fs] == ["OAF", "YAF"]
    for f in fs:  # validation is a word block of the training speaker
        assert set(df["speaker"].iloc[f.valid]) == set(df["speaker"].iloc[f.train]) != set(df["speaker"].iloc[f.test])


def test_partial_and_bad_input(tmp_path):
    root = tess_fixture.build(tmp_path / "t", n_words=3)
    check_partial(ab.prepare("tess", root), "42 utterances, a complete copy has 2800", None)
    check_wrong_root("tess", tmp_path, "OAF_back_angry.wav")
    good = root / "OAF_angry" / "OAF_back_angry.wav"
    check_bad_file("tess", root, good, "OAF_back_furious.wav", "emotion 'furious'")
    check_bad_file("tess", root, good, "OAF-back-angry.wav", "not SPEAKER_WORD_EMOTION.wav")
    check_appledouble("tess", root)


def test_runner_takes_the_corpus_valid_unit():
    from affectbench.corpora import get_corpus
    from affectbench.runner import resolve_protocol

    spec = ab.load_spec(data={"name": "t", "corpus": {"name": "tess", "root": "."}})
    assert resolve_protocol(spec, get_corpus("tess"))["valid_unit"] == "group"
    spec = ab.load_spec(data={"name": "t", "corpus": {"name": "tess", "root": "."},
                              "protocol": {"kind": "loso", "valid_groups": 0}})
    assert resolve_protocol(spec, get_corpus("tess"))["valid_unit"] == ""


def test_default_protocol_runs_end_to_end(tmp_path):
    """Two speakers: the run validates on a word block of the training speaker (valid_unit group)."""
    root = tess_fixture.build(tmp_path / "t", n_words=8, seconds=0.3)
    res = ab.run(ab.load_spec(data={
        "name": "tess-e2e", "output_dir": str(tmp_path / "runs"),
        "corpus": {"name": "tess", "root": str(root), "allow_partial": True},
        "features": {"extractors": ["egemaps"], "jobs": 1}, "metrics": {"bootstrap": 50}}))
    m = res.metrics
    assert len(m["folds"]) == 2 and m["pooled"]["n"] == 8 * 14 and m["n_skipped"] == 0
    assert 0.0 <= m["pooled"]["uar"] <= 1.0
