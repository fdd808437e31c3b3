"""IEMOCAP adapter on a miniature copy in the native layout (tests/fixtures/iemocap_fixture.py)."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import affectbench as ab
from affectbench.corpora import get_corpus
from affectbench.errors import CorpusError, LabelError
from affectbench.protocol import make_folds
from fixtures import iemocap_fixture as fx

CANON = {"neu": "neutral", "hap": "happy", "exc": "excited", "ang": "angry", "sad": "sad",
         "fru": "frustrated", "sur": "surprise", "xxx": "xxx"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("iemocap"))


@pytest.fixture(scope="module")
def prepared(built):
    return ab.prepare("iemocap", built.root)


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_counts_labels_and_sessions(built, prepared):
    df = prepared.manifest
    # 3 sessions x 2 dialogs x 8 turns; the Categorical/Attribute/Self-evaluation copies and the
    # ._ resource forks are not read (they would add turns or fail to parse)
    assert len(df) == 48 == len(built.turns)
    assert Counter(df["label"]) == Counter(CANON[t.label] for t in built.turns)
    assert set(df["session"]) == {"Ses01", "Ses02", "Ses03"}
    assert set(df["dialogue"]) == {f"Ses0{k}{g}" for k in (1, 2, 3) for g in ("F_impro01", "M_script01_1")}
    assert (df["corpus"] == "iemocap").all() and (df["language"] == "en").all()
    assert prepared.issues.skipped == []


def test_speaker_is_session_plus_last_field(prepared):
    df = prepared.manifest.set_index("id")
    assert df.at["Ses01F_impro01_M000", "speaker"] == "Ses01M"  # an M turn in an F-prefixed dialog
    assert df.at["Ses01M_script01_1_F000", "speaker"] == "Ses01F"  # and the other way round
    assert df.at["Ses02F_impro01_F001", "speaker"] == "Ses02F"
    assert sorted(df["speaker"].unique()) == ["Ses01F", "Ses01M", "Ses02F", "Ses02M", "Ses03F", "Ses03M"]


def test_vad_votes_text_and_media(built, prepared):
    df = prepared.manifest.set_index("id")
    t = next(t for t in built.turns if t.id == "Ses02M_script01_1_F001")
    r = df.loc[t.id]
    assert (r["valence"], r["arousal"], r["dominance"]) == pytest.approx(t.vad)
    votes = json.loads(r["votes"])
    assert [v["rater"] for v in votes["categorical"]] == ["E2", "E3", "F1"]
    assert votes["categorical"][2]["note"] == "self"
    assert [v["rater"] for v in votes["dimensional"]] == ["E3", "E4"]
    assert votes["dimensional"][1] == {"rater": "E4", "valence": 3.0, "arousal": 2.0, "dominance": 2.0,
                                       "note": "calm, attitude"}
    # a two-category vote keeps both categories
    odd = json.loads(df.at["Ses01F_impro01_M000", "votes"])["categorical"][1]
    assert odd["labels"] == ["Anger", "Frustration"] and odd["note"] == "a bit anger, mostly"
    assert r["text"] == t.text
    # an id with no time in the transcription is not an utterance: that turn has no text
    assert df["text"].isna().sum() == 1 and pd.isna(df.at["Ses01F_impro01_M001", "text"])
    # audio is the per-turn WAV, read whole; video the dialog AVI
    assert r["audio"].endswith("Session2/sentences/wav/Ses02M_script01_1/Ses02M_script01_1_F001.wav")
    assert Path(r["audio"]).is_file()
    assert r["video"].endswith("Session2/dialog/avi/DivX/Ses02M_script01_1.avi")
    assert math.isnan(r["start"]) and math.isnan(r["end"])
    # the turn's place inside the dialog AVI
    assert (r["video_start"], r["video_end"]) == pytest.approx((t.start, t.end))
    assert not any("one AVI per dialog" in c for c in prepared.caveats)


def test_turn_order_follows_start_time(built, prepared):
    df = prepared.manifest
    for dialog, g in df.groupby("dialogue"):
        starts = {t.id: t.start for t in built.turns if t.dialog == dialog}
        assert list(g.sort_values("turn")["id"]) == sorted(starts, key=starts.get)
        assert sorted(g["turn"]) == list(range(len(g)))


def test_views(prepared):
    c = get_corpus("iemocap")
    df = prepared.manifest
    four = c.labelset.view("four").apply(df)
    raw = Counter(df["label"])
    assert Counter(four["y"]) == {"neutral": raw["neutral"], "happy": raw["happy"] + raw["excited"],
                                  "sad": raw["sad"], "angry": raw["angry"]}
    assert c.labelset.view().name == "four"
    every = c.labelset.view("all").apply(df)
    assert len(every) == len(df) - raw["xxx"] and "xxx" not in set(every["y"])
    vad = c.labelset.view("vad").apply(df)  # regression on the consensus V/A/D, every turn
    assert len(vad) == len(df) and vad["y"][0] == pytest.approx(df.loc[0, ["valence", "arousal", "dominance"]])
    bad = df.copy()
    bad.loc[3, "label"] = "contempt"
    with pytest.raises(LabelError, match="contempt.*four"):
        c.labelset.view("four").apply(bad)


def test_session_folds_are_speaker_independent(prepared):
    view = get_corpus("iemocap").labelset.view("four").apply(prepared.manifest)
    folds = make_folds(view, "logo", group="session")
    assert [f.name for f in folds] == ["Ses01", "Ses02", "Ses03"]
    for f in folds:
        parts = [set(view["id"].iloc[idx]) for idx in (f.train, f.valid, f.test)]
        assert not (parts[0] & parts[2]) and not (parts[1] & parts[2]) and not (parts[0] & parts[1])
        test_spk = set(view["speaker"].iloc[f.test])
        seen = set(view["speaker"].iloc[np.concatenate([f.train, f.valid])])
        assert not test_spk & seen and f.speaker_independent
        assert f.test_groups[0] not in f.valid_groups
    assert sorted(np.concatenate([f.test for f in folds])) == list(range(len(view)))


def test_missing_wav(tmp_path):
    b = fx.build(tmp_path)
    wav = b.root / "Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_M001.wav"
    wav.unlink()
    with pytest.raises(CorpusError) as e:
        ab.prepare("iemocap", b.root)
    ev = b.root / "Session2/dialog/EmoEvaluation/Ses02F_impro01.txt"
    assert str(wav) in str(e.value)
    assert f"{ev}:{_line_of(ev, 'Ses02F_impro01_M001')}" in str(e.value)
    p = ab.prepare("iemocap", b.root, on_error="skip")
    assert len(p.manifest) == 47 and "Ses02F_impro01_M001" not in set(p.manifest["id"])
    assert [w for w, _ in p.issues.skipped] == [str(wav)]


def test_malformed_lines_name_file_and_line(tmp_path):
    b = fx.build(tmp_path)
    ev = b.root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    lines = ev.read_text().splitlines()
    head = _line_of(ev, "Ses01F_impro01_F002")
    lines[head - 1] = lines[head - 1].replace("[", "(", 1)  # a broken head line
    lines.insert(3, "garbage without a prefix")  # inside the first block
    ev.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match=rf"{ev}:4: malformed line"):
        ab.prepare("iemocap", b.root)
    p = ab.prepare("iemocap", b.root, on_error="skip")
    where = [w for w, _ in p.issues.skipped]
    assert where == [f"{ev}:4", f"{ev}:{head + 1}"]
    # the broken head drops its turn (and its rater lines with it); every other turn is kept
    assert len(p.manifest) == 47 and "Ses01F_impro01_F002" not in set(p.manifest["id"])


def test_label_code_outside_the_set(tmp_path):
    b = fx.build(tmp_path, sessions=(1,))
    ev = b.root / "Session1/dialog/EmoEvaluation/Ses01M_script01_1.txt"
    ev.write_text(ev.read_text().replace("_M000\tang\t", "_M000\tjoy\t"))
    with pytest.raises(CorpusError, match=r"Ses01M_script01_1.txt:\d+: .*label 'joy' is not an IEMOCAP label"):
        ab.prepare("iemocap", b.root)


def test_not_an_iemocap_root(tmp_path):
    (tmp_path / "wav").mkdir()
    (tmp_path / "README.txt").write_text("hello")
    with pytest.raises(CorpusError, match=r"not an IEMOCAP root.*Session1\.\.Session5"):
        ab.prepare("iemocap", tmp_path)
    with pytest.raises(CorpusError, match="not a folder"):
        ab.prepare("iemocap", tmp_path / "nope")


def test_partial_copy_prepares_what_is_there(tmp_path):
    b = fx.build(tmp_path, sessions=(1,))
    p = ab.prepare("iemocap", tmp_path)  # the parent of IEMOCAP_full_release/ works too
    assert set(p.manifest["session"]) == {"Ses01"} and len(p.manifest) == 16
    problems, warnings = get_corpus("iemocap").audit(p.manifest)
    assert "16 utterances, a complete copy has 10039" in problems
    assert "session 'Ses05': 0, expected 2170" in problems
    assert "session 'Ses04': 0, expected 2103" in warnings
    assert "view 'four': session 'Ses02': 0, expected 1023" in warnings
    assert "view 'four': 12 utterances, a complete copy has 5531" in problems
    assert p.problems == problems and p.warnings == warnings and b.root.name == "IEMOCAP_full_release"


def test_end_to_end_egemaps(built, tmp_path):
    spec = ab.load_spec(data={
        "name": "iemocap-fixture", "output_dir": str(tmp_path),
        "corpus": {"name": "iemocap", "root": str(built.root), "allow_partial": True},
        "features": {"extractors": ["egemaps"]}, "head": {"kind": "logreg"},
        "metrics": {"bootstrap": 20}})
    res = ab.run(spec)
    m = res.metrics
    assert len(m["folds"]) == 3 and m["pooled"]["n"] == 36
    assert 0.0 <= m["pooled"]["uar"] <= 1.0 and "war" in m["pooled"]
    info = json.loads((res.folder / "run.json").read_text())
    assert info["protocol"]["kind"] == "logo" and info["protocol"]["group"] == "session"
    assert info["protocol"]["speaker_independent"] is True
    assert all(f["test_speakers_seen_in_training"] == 0 for f in info["protocol"]["folds"])
