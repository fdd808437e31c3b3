"""M3ED adapter on a miniature copy (annotation.json, splitInfo/, modality_speech/)."""
import json

import pytest

import affectbench as ab
from affectbench.errors import CorpusError
from corpus_a_checks import check_appledouble, check_attributes, check_partial, check_wrong_root, folds
from fixtures import m3ed_fixture


def test_prepare_dialogues_and_series_split(tmp_path):
    check_attributes("m3ed")
    p = ab.prepare("m3ed", m3ed_fixture.build(tmp_path / "m"))
    df = p.manifest
    assert len(df) == 4 * 2 * 7 and df["split"].value_counts().to_dict() == {"train": 28, "dev": 14, "test": 14}
    d = df[df["dialogue"] == "baoli/baoli_2"]
    assert list(d["turn"]) == list(range(7)) and set(d["speaker"]) == {"baoli_baoli-hero", "baoli_baoli-friend"}
    row = df.set_index("id").loc["anjia_1_2"]
    assert (row["label"], row["text"], row["audio"].split("/")[-1]) == ("disgust", "第2句", "A_anjia_1_2.wav")
    check_partial(p, None, "56 utterances, a complete copy has 24449")
    f, = folds(p)
    assert f.speaker_independent and f.test_speakers_seen_in_training == 0
    assert p.caveats == []  # the fixture's series are in their official sets
    moved = ab.prepare("m3ed", m3ed_fixture.build(tmp_path / "x", {"train": ["anjia"], "val": ["fendou"],
                                                                   "test": ["huanlesong"]}, dialogues=1, turns=2))
    assert any("1 series in another set than the official lists (fendou)" in c for c in moved.caveats)


def test_bad_input(tmp_path):
    root = m3ed_fixture.build(tmp_path / "m", dialogues=1, turns=2)
    check_wrong_root("m3ed", tmp_path, "annotation.json")
    ann = root / "annotation.json"
    meta = json.loads(ann.read_text(encoding="utf-8"))
    meta["anjia"]["anjia_1"]["Dialog"]["anjia_1_1"]["EmoAnnotation"]["final_main_emo"] = "Bored"
    ann.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"annotation.json: anjia/anjia_1/anjia_1_1: malformed utterance \(final_main_emo 'Bored'"):
        ab.prepare("m3ed", root)
    assert len(ab.prepare("m3ed", root, on_error="skip").manifest) == 7
    ann.write_text('{"anjia": {\n  "x": }', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"annotation.json:2: not valid JSON"):
        ab.prepare("m3ed", root)
    root2 = m3ed_fixture.build(tmp_path / "m2", dialogues=1, turns=2)
    (root2 / "splitInfo" / "movie_list_val.txt").unlink()
    with pytest.raises(CorpusError, match="movie_list_val.txt: missing"):
        ab.prepare("m3ed", root2)
    root3 = m3ed_fixture.build(tmp_path / "m3", dialogues=1, turns=2)
    check_appledouble("m3ed", root3)
