"""The catalogue adapters of helper corpora-b on miniature copies in their native layouts.

One case per corpus: how to build the tiny copy, what it must yield, how to break it.
Every case is checked for counts, protocol folds (speaker-disjoint where claimed), the
shared-label mapping, a wrong root, a partial copy, a malformed annotation (named by file
and line), and macOS ``._*`` files being ignored.
"""
from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

import affectbench as ab
from affectbench.corpora import get_corpus
from affectbench.errors import CorpusError
from affectbench.protocol import make_folds
from fixtures import (caers_fixture, chsims2_fixture, dailydialog_fixture, eav_fixture, emogator_fixture,
                      emotionlines_fixture, ferv39k_fixture, mead_fixture, rafdb_fixture, semeval2018_fixture,
                      veatic_fixture)

SHARED = {"neutral", "happy", "sad", "angry", "fear", "disgust", "surprise", "contempt", "calm", "boredom",
          "excited", "frustrated"}


def _rewrite(path: Path, lineno: int, new: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[lineno - 1] = new
    path.write_text("\n".join(lines), encoding="utf-8")


@dataclass
class Case:
    name: str
    build: Callable  # base -> root handed to prepare
    total: int
    splits: dict = field(default_factory=dict)  # expected split counts ({} = no official split)
    speakers: int = 0
    #: (root) -> (regex the error must match); breaks one annotation line or file name
    malformed: Callable | None = None
    #: (root) -> None; removes part of the copy
    partial: Callable | None = None


def _rafdb_bad(root):
    p = root / "basic/EmoLabel/list_patition_label.txt"
    _rewrite(p, 4, "train_00004.jpg 9")
    return rf"{p}:4: not 'train_NNNNN.jpg"


def _dd_bad(root):
    p = root / "test/dialogues_emotion_test.txt"
    _rewrite(p, 2, "0 0")
    return rf"{p}:2: 2 emotion codes and \d+ act codes for \d+ utterances"


def _ec_bad(root):
    p = root / "SemEval2018-Task1-all-data/English/E-c/2018-E-c-En-dev.txt"
    _rewrite(p, 3, "2018-En-99999\ttweet\t" + "\t".join(["0"] * 10 + ["x"]))
    return rf"{p}:3: emotion columns must be 0 or 1"


def _vreg_bad(root):
    p = root / "SemEval2018-Task1-all-data/English/V-reg/2018-Valence-reg-En-train.txt"
    _rewrite(p, 5, "2018-En-99999\ttweet\tvalence\t1.7")
    return rf"{p}:5: expected dimension 'valence' and a score in 0–1"


def _el_bad(root):
    p = root / "Friends/friends_dev.json"
    p.write_text(p.read_text(encoding="utf-8").replace('"emotion": "joy"', '"emotion": "glee"', 1), encoding="utf-8")
    return rf"{p}: dialogue 0, utterance 1: emotion 'glee' is not one of"


def _el_bad_json(root):
    p = root / "EmotionPush/emotionpush_test.json"
    p.write_text("[\n [\n  {\"speaker\": \"A\",,}\n ]\n]\n", encoding="utf-8")
    return rf"{p}:3: not valid JSON"


def _caers_bad(root):
    d = root / "train" / "Angry"
    d.mkdir()
    (d / "0001.png").write_bytes(b"x")
    return rf"{d / '0001.png'}: folder 'Angry' is not a CAER emotion"


def _ferv_bad(root):
    p = root / "4_setups/All_scenes/test_All.csv"
    _rewrite(p, 2, "Action/Happy/0001 Sad")
    return rf"{p}:2: not '<Scene>/<Emotion>/<clip> <Emotion>'"


def _mead_bad(root):
    p = root / "M003/audio/happy/level_2/001.wav"
    p.write_bytes(b"RIFF")
    return rf"{p}: not a MEAD audio take"


def _emogator_bad(root):
    p = root / "data/mp3/000001-31-1.mp3"
    p.write_bytes(b"ID3")
    return rf"{p}: not NNNNNN-EE-I.mp3 with category 01-30"


def _eav_bad(root):
    p = root / "subject2/Audio/004_Trial_01_Speaking_Joy_aud.wav"
    p.write_bytes(b"RIFF")
    return rf"{p}: not an EAV audio trial"


def _sims_bad(root):
    p = root / "meta.csv"
    lines = p.read_text(encoding="utf-8").split("\n")
    f = lines[6].split(",")
    f[4] = "1.5"  # label_T
    lines[6] = ",".join(f)
    p.write_text("\n".join(lines), encoding="utf-8")
    return rf"{p}:7: malformed row \(label_T = '1.5' is outside \[-1, 1\]\)"


def _veatic_bad(root):
    p = root / "rating_averaged/3_arousal.csv"
    _rewrite(p, 17, "n/a")
    return rf"{p}:17: rating 'n/a' is not a number in \[-1, 1\]"


def _rm(rel):
    def f(root):
        p = root / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return f


CASES = [
    Case("rafdb", lambda b: rafdb_fixture.build(b), 28, {"train": 19, "dev": 2, "test": 7}, 0, _rafdb_bad,
         _rm("basic/Image/original")),
    Case("dailydialog", lambda b: dailydialog_fixture.build(b, zipped=("validation",)), 27,
         {"train": 14, "dev": 6, "test": 7}, 16, _dd_bad, _rm("test")),
    Case("semeval2018_ec", lambda b: (semeval2018_fixture.build(b), b)[1], 22, {"train": 12, "dev": 4, "test": 6},
         0, _ec_bad, _rm("SemEval2018-Task1-all-data/English/E-c/2018-E-c-En-test-gold.txt")),
    Case("semeval2018_vreg", lambda b: (semeval2018_fixture.build(b), b)[1], 15, {"train": 8, "dev": 3, "test": 4},
         0, _vreg_bad, _rm("SemEval2018-Task1-all-data/English/V-reg/2018-Valence-reg-En-dev.txt")),
    Case("emotionlines", lambda b: emotionlines_fixture.build(b), 31, {"train": 16, "dev": 5, "test": 10}, 13,
         _el_bad, _rm("EmotionPush")),
    Case("caers", lambda b: caers_fixture.build(b), 84, {"train": 63, "dev": 7, "test": 14}, 0, _caers_bad,
         _rm("test")),
    Case("ferv39k", lambda b: ferv39k_fixture.build(b, header=True), 49, {"train": 28, "dev": 14, "test": 7}, 0,
         _ferv_bad, _rm("4_setups/All_scenes/test_All.csv")),
    Case("mead", lambda b: mead_fixture.build(b), 138, {}, 6, _mead_bad, _rm("W016")),
    Case("emogator", lambda b: emogator_fixture.build(b), 120, {}, 10, _emogator_bad,
         _rm("data/mp3/000004-03-2.mp3")),
    Case("eav", lambda b: eav_fixture.build(b), 60, {}, 6, _eav_bad, _rm("subject6")),
    Case("chsims2", lambda b: chsims2_fixture.build(b), 15, {"train": 8, "dev": 3, "test": 4}, 0, _sims_bad,
         None),
    Case("veatic", lambda b: veatic_fixture.build(b), 5, {}, 0, _veatic_bad, _rm("videos/4.mp4")),
]
IDS = [c.name for c in CASES]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each corpus's tiny copy and its manifest, built once for the module."""
    out = {}
    for c in CASES:
        root = Path(c.build(tmp_path_factory.mktemp(c.name)))
        out[c.name] = (root, ab.prepare(c.name, root))
    return out


def _copy(built, case, tmp_path) -> Path:
    src = built[case.name][0]
    dst = tmp_path / "copy" / src.name
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_counts_and_attributes(case, built):
    p = built[case.name][1]
    df, corpus = p.manifest, p.corpus
    assert len(df) == case.total
    assert dict(Counter(df["split"].dropna())) == case.splits
    assert df["speaker"].nunique() == case.speakers
    assert df["id"].is_unique and (df["corpus"] == case.name).all()
    # hidden macOS files are never read as content
    paths = pd.concat([df[c].dropna() for c in ("audio", "video", "image")])
    assert not any(Path(x).name.startswith("._") for x in paths)
    # the attributes helper "catalogue" reads
    assert isinstance(corpus.licence, str) and corpus.licence
    assert set(corpus.canonical.values()) - {None} <= SHARED
    if corpus.labelset.labels:
        assert set(corpus.canonical) == set(corpus.labelset.labels)
        labels = set(df["label"].dropna()) | {x for ls in df["labels"].dropna() for x in ls}
        assert labels <= set(corpus.canonical)
    assert corpus.layout_hint and corpus.modalities and set(corpus.unverified) <= {
        "total", "split", "label", "session", "speaker"}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_default_protocol(case, built):
    p = built[case.name][1]
    corpus = p.corpus
    view = corpus.labelset.view()
    df = view.apply(p.manifest)
    proto = dict(corpus.default_protocol)
    folds = make_folds(df, proto.pop("kind"), **proto)
    ids = df["id"].to_numpy()
    for f in folds:
        assert not set(ids[f.test]) & set(ids[np.concatenate([f.train, f.valid])])
        assert len(f.valid)  # validation never comes from the test fold, and it exists
        if f.speaker_independent:
            spk = df["speaker"].astype(object)
            assert set(spk.iloc[f.test]).isdisjoint(spk.iloc[np.concatenate([f.train, f.valid])])
    if case.splits:
        assert corpus.default_protocol["kind"] == "official" and len(folds) == 1
    else:
        assert len(folds) >= 5 and all(f.test_groups[0].startswith("fold") for f in folds)
        claim = corpus.default_protocol.get("speaker_independent", True)
        assert all(f.speaker_independent == claim for f in folds)
        assert claim == (case.speakers > 0)


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in ("semeval2018_vreg", "veatic")],
                         ids=[c for c in IDS if c not in ("semeval2018_vreg", "veatic")])
def test_shared_view(case, built):
    p = built[case.name][1]
    corpus = p.corpus
    if "shared" not in corpus.labelset.views:
        assert not any(corpus.canonical.values())  # CH-SIMS: sentiment, nothing maps
        return
    out = corpus.labelset.view("shared").apply(p.manifest)
    ys = out["y"].explode() if corpus.labelset.view("shared").multilabel else out["y"]
    assert set(ys) <= SHARED and len(out) > 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_wrong_root_names_layout(case, tmp_path):
    (tmp_path / "something_else").mkdir()
    corpus = get_corpus(case.name)
    with pytest.raises(CorpusError, match=rf"not an? {corpus.title}|not an? .*root") as e:
        ab.prepare(case.name, tmp_path)
    assert "Expected" in str(e.value) and str(tmp_path) in str(e.value)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_malformed_names_file_and_line(case, built, tmp_path):
    root = _copy(built, case, tmp_path)
    pattern = case.malformed(root)
    with pytest.raises(CorpusError, match=pattern):
        ab.prepare(case.name, root)
    p = ab.prepare(case.name, root, on_error="skip")
    assert p.issues.skipped and len(p.manifest) <= case.total


@pytest.mark.parametrize("case", [c for c in CASES if c.partial], ids=[c.name for c in CASES if c.partial])
def test_partial_copy_is_reported(case, built, tmp_path):
    root = _copy(built, case, tmp_path)
    full = ab.prepare(case.name, root)
    case.partial(root)
    if case.name == "rafdb":  # the original images are optional; the aligned ones are required
        assert len(ab.prepare(case.name, root).manifest) == case.total
        (root / "basic/Image/aligned/test_0003_aligned.jpg").unlink()
        with pytest.raises(CorpusError, match=r"test_0003_aligned\.jpg: missing"):
            ab.prepare(case.name, root)
        return
    p = ab.prepare(case.name, root)
    assert len(p.manifest) < len(full.manifest)
    assert p.problems + p.warnings != full.problems + full.warnings


def test_emotionlines_invalid_json_names_line(built, tmp_path):
    case = CASES[IDS.index("emotionlines")]
    root = _copy(built, case, tmp_path)
    with pytest.raises(CorpusError, match=_el_bad_json(root)):
        ab.prepare("emotionlines", root)


# -- corpus-specific behaviour --------------------------------------------------------------
def test_dailydialog_rows_and_zip(built):
    df = built["dailydialog"][1].manifest.set_index("id")
    r = df.loc["dev_00001_01"]  # from validation.zip
    assert r["speaker"] == "dev_00001_B" and r["text"].endswith("question ?") and json.loads(r["meta"])["act"]
    assert set(df["label"]) <= set(get_corpus("dailydialog").canonical)
    assert get_corpus("dailydialog").labelset.view("shared").apply(df.reset_index())["y"].iloc[0] == "neutral"


def test_semeval_ec_multilabel_and_no_emotion(built):
    df = built["semeval2018_ec"][1].manifest.set_index("id")
    assert df.at["2018-En-00007", "labels"] == ["no_emotion"]  # every 7th tweet has no emotion
    assert df.at["2018-En-00003", "labels"] == ["fear", "pessimism"] and pd.isna(df.at["2018-En-00003", "label"])
    view = get_corpus("semeval2018_ec").labelset.view()
    assert view.multilabel and len(view.apply(df.reset_index())) == 22 - 3  # tweets 7, 14, 21 dropped
    v = built["semeval2018_vreg"][1].manifest
    assert v["valence"].between(0, 1).all() and v["label"].isna().all()


def test_emotionlines_speakers(built):
    df = built["emotionlines"][1].manifest
    push = df[df["session"] == "emotionpush"]
    assert push["speaker"].str.contains(":").all() and set(df[df["session"] == "friends"]["speaker"]) <= set(
        emotionlines_fixture.FRIENDS)
    assert df.set_index("id").at["friends_train_0000_01", "text"] == "Joey says ’1’, really?"
    only = get_corpus("emotionlines", source="friends").prepare(built["emotionlines"][0])
    assert len(only.manifest) == 19 and only.manifest["session"].eq("friends").all()


def test_ferv39k_middle_frame_and_scene(built):
    df = built["ferv39k"][1].manifest.set_index("id")
    r = df.loc["Action_Happy_0001"]
    assert r["image"].endswith("Action/Happy/0001/0002.jpg") and r["session"] == "Action"
    assert json.loads(r["meta"])["n_frames"] == 3
    assert df.loc["Action_Angry_0003", "split"] == "dev"  # last of the cell's 3 training clips


def test_mead_audio_decodes_and_tar_refused(built, tmp_path):
    from affectbench import audio

    df = built["mead"][1].manifest.set_index("id")
    r = df.loc["W011_disgusted_level_3_001"]
    assert r["video"].endswith("W011/video/front/disgusted/level_3/001.mp4") and r["session"] == "fold1"
    assert json.loads(r["meta"])["intensity"] == 3
    x = audio.load(r["audio"], 16000)  # AAC in .m4a through PyAV
    assert x.ndim == 1 and 3000 < len(x) < 6000
    packed = tmp_path / "MEAD" / "M007"
    packed.mkdir(parents=True)
    (packed / "video.tar").write_bytes(b"\x00" * 512)
    with pytest.raises(CorpusError, match=r"video\.tar: still packed; extract it"):
        ab.prepare("mead", tmp_path / "MEAD")


def test_eav_listening_and_eeg_path(built):
    root = built["eav"][0]
    p = get_corpus("eav", include_listening=True).prepare(root)
    df = p.manifest
    assert len(df) == 120 and df["audio"].isna().sum() == 60 and df["video"].notna().all()
    meta = json.loads(df.set_index("id").at["s03_004", "meta"])
    assert meta["task"] == "speaking" and meta["eeg"].endswith("subject3/EEG/subject3_eeg.mat")


def test_chsims_missing_clip(built, tmp_path):
    case = CASES[IDS.index("chsims2")]
    root = _copy(built, case, tmp_path)
    (root / "Raw/video_0001/0002.mp4").unlink()
    with pytest.raises(CorpusError, match=r"1 CH-SIMS v2 clip\(s\) named in meta.csv are missing"):
        ab.prepare("chsims2", root)
    p = ab.prepare("chsims2", root, on_error="skip")
    r = p.manifest.set_index("id").loc["video_0001_0002"]
    assert pd.isna(r["video"]) and r["text"] and any("1 of 15 clips are missing" in c for c in p.caveats)
    full = built["chsims2"][1].manifest.set_index("id")
    assert full.at["video_0001_0001", "sentiment"] == -1.0 and full.at["video_0001_0001", "label_audio"] == "negative"
    assert get_corpus("chsims2").labelset.view("sentiment").apply(full.reset_index())["y"].map(len).eq(1).all()


def test_veatic_series_and_windows(built):
    root, p = built["veatic"]
    df = p.manifest.set_index("id")
    v, a = veatic_fixture.series(2, 100)
    assert df.at["2", "valence"] == pytest.approx(v.mean()) and df.at["2", "arousal"] == pytest.approx(a.mean())
    series = p.corpus.ratings(df.loc["2"])
    assert len(series) == 100 and series["valence"].to_numpy() == pytest.approx(v)
    w = get_corpus("veatic", window=2.0).prepare(root)
    wd = w.manifest
    one = wd[wd["dialogue"] == "2"]
    # 100 frames at 10 fps: train frames 0-58, dev 59-69, test 70-99; 2-s windows = 20 frames
    assert list(one["split"]) == ["train"] * 3 + ["dev"] + ["test"] * 2
    assert list(one["video_start"]) == [0.0, 2.0, 4.0, 5.9, 7.0, 9.0]
    assert one["valence"].iloc[0] == pytest.approx(v[:20].mean())
    assert get_corpus("veatic", window=2.0).default_protocol["kind"] == "official"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_media_of_the_fixture_validate(case, built):
    """`corpora validate` opens every file the manifest names: the tiny media are real."""
    from affectbench.validate import check_audio, check_media

    df = built[case.name][1].manifest
    assert check_media(df) == []
    if case.name in ("mead", "emogator"):  # AAC in .m4a through PyAV, MP3 through libsndfile
        check_audio(df["audio"].iloc[0], deep=True)


@pytest.mark.parametrize("member,why", [("../escape.txt", "escapes the archive"),
                                        ("/abs/dialogues_test.txt", "an absolute path"),
                                        ("test/big.txt", "bytes once decompressed")])
def test_dailydialog_hostile_zip_refused(built, tmp_path, monkeypatch, member, why):
    import zipfile

    from affectbench.corpora import dailydialog

    monkeypatch.setattr(dailydialog, "MAX_MEMBER", 10_000)
    root = _copy(built, CASES[IDS.index("dailydialog")], tmp_path)
    files = {p.name: p.read_text() for p in (root / "test").iterdir() if not p.name.startswith(".")}
    shutil.rmtree(root / "test")
    with zipfile.ZipFile(root / "test.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(f"test/{name}", text)
        z.writestr(member, "0" * 20_000)
    with pytest.raises(CorpusError, match=rf"test\.zip#{member}: refused: .*{why}"):
        ab.prepare("dailydialog", root)
    p = ab.prepare("dailydialog", root, on_error="skip")  # the benign members are still read
    assert Counter(p.manifest["split"])["test"] == 7 and p.issues.skipped[0][0].endswith(member)
    assert not (tmp_path / "escape.txt").exists()


def test_mp3_beside_its_appledouble_file_decodes(built):
    """libsndfile opened by path reads a macOS '._x.mp3' as x.mp3's resource fork and fails
    ('bad data offset'); audio.load and audio.duration open the file themselves."""
    from affectbench import audio

    root = built["emogator"][0]
    path = root / "data/mp3/000001-03-1.mp3"
    assert (path.parent / "._000001-03-1.mp3").is_file()
    x = audio.load(path, 16000)
    assert x.ndim == 1 and 4000 < len(x) < 5600 and audio.duration(path) == pytest.approx(0.3, abs=0.01)


def test_emotionlines_emotionx2019_copy_has_no_split(built, tmp_path):
    src = built["emotionlines"][0] / "Friends"
    d = tmp_path / "EmotionX" / "Friends"
    d.mkdir(parents=True)
    dialogues = sum((json.loads((src / f"friends_{s}.json").read_text(encoding="utf-8")) for s in
                     ("train", "dev", "test")), [])
    (d / "friends.json").write_text(json.dumps(dialogues), encoding="utf-8")
    (d / "friends_augmented.json").write_text("[]", encoding="utf-8")
    p = get_corpus("emotionlines", source="friends").prepare(tmp_path / "EmotionX")
    assert len(p.manifest) == 19 and p.manifest["split"].isna().all()
    assert p.manifest["dialogue"].nunique() == 6 and any("no official split" in c for c in p.caveats)
