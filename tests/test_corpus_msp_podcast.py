"""MSP-Podcast adapter on a miniature release (Labels/labels_consensus.csv, Audios/, Transcripts/)."""
import pytest

import affectbench as ab
from affectbench.errors import CorpusError
from corpus_a_checks import check_appledouble, check_attributes, check_partial, check_wrong_root, folds
from fixtures import msp_podcast_fixture


def test_prepare_sets_dimensions_and_official_split(tmp_path):
    check_attributes("msp_podcast")
    p = ab.prepare("msp_podcast", msp_podcast_fixture.build(tmp_path / "m"))
    df = p.manifest
    assert len(df) == 80 and df["split"].value_counts().to_dict() == {"train": 20, "dev": 20, "test": 20, "test2": 20}
    row = df.set_index("id").loc["MSP-PODCAST_0001_0002"]
    assert (row["label"], row["arousal"], row["valence"], row["dominance"], row["text"]) == ("sad", 2.0, 4.0, 6.0, "segment 1 words")
    assert df["speaker"].isna().sum() == 11 and any("11 of 80 segments" in c for c in p.caveats)
    check_partial(p, None, "split 'train': 20, expected 84030")
    f, = folds(p)
    assert f.test_speakers_seen_in_training == 0  # the sets are speaker-disjoint where speakers are known
    assert len(p.corpus.labelset.view("vad").apply(df)) == 80


def test_bad_input(tmp_path):
    root = msp_podcast_fixture.build(tmp_path / "m", per_split={"Train": 3, "Development": 3, "Test1": 3})
    check_wrong_root("msp_podcast", tmp_path, "Labels/labels_consensus.csv")
    csv = root / "Labels" / "labels_consensus.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    for bad, why in ((lines[2].replace(",Train", ",Training"), "Split_Set 'Training'"),
                     (lines[2].split(",", 2)[0] + ",Q," + lines[2].split(",", 2)[2], "EmoClass 'Q'")):
        csv.write_text("\n".join(lines[:2] + [bad] + lines[3:]) + "\n", encoding="utf-8")
        with pytest.raises(CorpusError, match=rf"labels_consensus.csv:3: malformed row \({why}"):
            ab.prepare("msp_podcast", root)
    csv.write_text("\n".join(lines + ["MSP-PODCAST_0099_0001.wav,,,,,Unknown,Male,Test3"]) + "\n", encoding="utf-8")
    p = ab.prepare("msp_podcast", root)  # the unlabelled Test3 set is left out, not an error
    assert len(p.manifest) == 9 and "Test3" in p.issues.skipped[0][1]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wav = sorted((root / "Audios").iterdir())[0]
    wav.rename(wav.with_suffix(".bak"))
    with pytest.raises(CorpusError, match="1 audio file.*missing"):
        ab.prepare("msp_podcast", root)
    assert len(ab.prepare("msp_podcast", root, on_error="skip").manifest) == 8
    wav.with_suffix(".bak").rename(wav)
    check_appledouble("msp_podcast", root)
