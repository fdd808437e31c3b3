"""`corpora validate` must open every media file, and expected counts must not refuse a complete copy."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from affectbench.corpora import get_corpus
from conftest import shared_data
from fixtures.meld_fixture import make_clip

EXE = [sys.executable, "-m", "affectbench.cli"]


def _cli(*args):
    return subprocess.run(EXE + list(args), capture_output=True, text=True, env=os.environ.copy())


@pytest.fixture(scope="module")
def broken_emodb(tmp_path_factory):
    """A copy of EmoDB with the right number of files, some of them broken in each way."""
    root = tmp_path_factory.mktemp("emodb_broken")
    shutil.copytree(shared_data("emodb") / "wav", root / "wav")
    wavs = sorted((root / "wav").iterdir())
    damage = {}
    data = wavs[0].read_bytes()
    wavs[0].write_bytes(data[: len(data) // 2])
    damage[wavs[0].name] = "truncated WAV"
    wavs[1].write_bytes(b"")
    damage[wavs[1].name] = "empty file"
    wavs[2].write_bytes(b"<html>404 not found</html>" * 50)
    damage[wavs[2].name] = "not readable audio"
    sf.write(wavs[3], np.zeros(int(0.05 * 16000), np.float32), 16000)
    damage[wavs[3].name] = "too short"
    wavs[4].unlink()
    wavs[4].mkdir()  # unreadable as a file (chmod 000 would not stop root, which runs the tests)
    damage[wavs[4].name] = "is a folder"
    x = np.full(16000, 0.1, np.float32)
    x[100] = np.nan
    sf.write(wavs[5], x, 16000, subtype="FLOAT")  # a valid header: only decoding finds it
    return root, damage, wavs[5].name


def test_validate_names_every_broken_file(broken_emodb):
    root, damage, nan_name = broken_emodb
    r = _cli("corpora", "validate", "emodb", str(root))
    assert r.returncode == 1, r.stdout + r.stderr
    out = " ".join(r.stdout.split())  # rich wraps long lines
    for name, why in damage.items():
        assert f"{name}: {why}" in out, (name, out)
    assert nan_name not in out  # headers only: NaN samples need --deep
    assert "complete" not in out.replace("incomplete", "") and "5 bad media file(s)" in out
    assert "Traceback" not in r.stderr


def test_validate_deep_decodes_and_finds_nan(broken_emodb):
    root, damage, nan_name = broken_emodb
    r = _cli("corpora", "validate", "emodb", str(root), "--deep")
    out = " ".join(r.stdout.split())
    assert r.returncode == 1 and f"{nan_name}: audio contains NaN" in out
    assert "6 bad media file(s)" in out


def test_validate_passes_a_good_copy():
    r = _cli("corpora", "validate", "emodb", str(shared_data("emodb")))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "complete" in r.stdout and "bad file" not in r.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_validate_reports_a_permission_denied_file(tmp_path):
    from affectbench.validate import MIN_DURATION, check_media

    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    wav.chmod(0)
    try:
        bad = check_media(pd.DataFrame({"audio": [str(wav)]}))
    finally:
        wav.chmod(0o644)
    assert bad and "permission" in bad[0][1]


def test_check_media_video_and_segments(tmp_path):
    from affectbench.validate import MIN_DURATION, check_media

    good = tmp_path / "good.mp4"
    good.write_bytes(make_clip(0.5))
    short = tmp_path / "short.mp4"
    short.write_bytes(make_clip(0.05))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4000)
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)  # opening it would block forever: must be refused from stat alone
    wav = tmp_path / "long.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    df = pd.DataFrame({"audio": [str(good), str(wav), str(wav), str(fifo)],
                       "start": [np.nan, 0.0, 0.5, np.nan], "end": [np.nan, 0.5, 0.55, np.nan],
                       "video": [str(good), str(short), str(junk), None]})
    bad = dict(check_media(df))
    assert str(good) not in bad
    assert str(short) in bad and "not a readable video" in bad[str(junk)]  # 0.05 s: no frame at all
    assert "not a regular file" in bad[str(fifo)]
    # a 0.05 s segment of a long file is as unusable as a 0.05 s file
    assert "segment" in bad[str(wav)] and f"{MIN_DURATION} s" in bad[str(wav)]


def test_complete_iemocap_session_counts_are_accepted():
    """A copy with the public per-session totals (1811 in Session 2, 2170 in Session 5) is complete."""
    c = get_corpus("iemocap")
    labels = [lab for lab, n in c.expected["label"].items() for _ in range(n)]
    public = {"Ses01": 1819, "Ses02": 1811, "Ses03": 2136, "Ses04": 2103, "Ses05": 2170}
    sessions = [s for s, n in public.items() for _ in range(n)]
    assert len(labels) == len(sessions) == 10039
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": [f"u{i}" for i in range(10039)], "label": labels,
                       "session": list(rng.permutation(sessions)),
                       "labels": None, "valence": np.nan, "arousal": np.nan, "dominance": np.nan})
    problems, warnings = c.audit(df)
    assert problems == []  # the four-class per-session split is unconfirmed: warnings only
    assert all("view 'four': session" in w for w in warnings)
    df.loc[df["session"] == "Ses05", "session"] = "Ses02"  # a copy without Session 5 is partial
    assert "session 'Ses05': 0, expected 2170" in c.audit(df)[0]


def test_every_unverified_path_names_an_expected_count():
    """A typo in `unverified` would silently keep a count blocking: every path must exist."""
    from affectbench.corpora import corpus_names

    for name in corpus_names():
        c = get_corpus(name)
        for path in c.unverified:
            head, *rest = path.split("/")
            if head == "views":
                node = c.expected_views
                for part in rest:
                    assert part in node, (name, path)
                    node = node[part]
            elif hasattr(c, f"expected_{head}") or head in ("by_split",):
                continue  # EmotionTalk's own checks (speakers, dialogues, the per-split table)
            else:
                assert head in c.expected, (name, path)
                if rest:
                    assert rest[0] in c.expected[head], (name, path)


def test_check_media_reads_tar_members(tmp_path):
    from affectbench.validate import MIN_DURATION, check_media

    """EmotionTalk's audio stays inside its shards: validate opens the members in place."""
    import affectbench as ab
    from fixtures import emotiontalk_fixture as et

    et.build(tmp_path / "et", layout="shards")
    df = ab.prepare("emotiontalk", tmp_path / "et").manifest
    assert df["audio"].str.startswith("tar://").all()
    assert check_media(df) == []
    gone = df["audio"].iloc[0].rsplit("#", 1)[0] + "#G99999/nothing.wav"
    bad = check_media(pd.DataFrame({"audio": [gone]}))
    assert bad and bad[0][0] == gone and "no member" in bad[0][1]
