"""The feature cache, resumption, parallel workers and broken files, on real openSMILE."""
import shutil

import numpy as np
import pytest
import soundfile as sf

from affectbench.errors import MediaError
from affectbench.features import extract, get_extractor
from affectbench.manifest import normalize


def wavs(tmp_path, n=8):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        p = tmp_path / f"u{i}.wav"
        sr = [16000, 22050, 48000][i % 3]
        x = (0.1 * rng.standard_normal(int(sr * 0.6))).astype(np.float32)
        sf.write(p, np.stack([x, x], 1) if i % 4 == 0 else x, sr)
        rows.append({"id": f"u{i}", "speaker": f"s{i % 2}", "audio": str(p), "label": "neutral"})
    return normalize(rows, "t")


def test_cache_second_run_reads_and_never_recomputes(tmp_path, fresh_home):
    df = wavs(tmp_path)
    ex = get_extractor("egemaps")
    a = extract(ex, df)
    assert a.computed == 8 and a.cached == 0 and a.X.shape == (8, 88)
    b = extract(get_extractor("egemaps"), df)
    assert b.computed == 0 and b.cached == 8
    np.testing.assert_array_equal(a.X, b.X)
    # content-addressed: the same files elsewhere hit the cache
    moved = tmp_path / "moved"
    moved.mkdir()
    df2 = df.copy()
    for i, p in enumerate(df["audio"]):
        df2.loc[i, "audio"] = str(shutil.copy(p, moved))
    assert extract(get_extractor("egemaps"), df2).computed == 0
    # a changed config is a different identity: recomputed
    assert extract(get_extractor("egemaps", sample_rate=8000), df).computed == 8


def test_interrupted_extraction_resumes(tmp_path, fresh_home):
    df = wavs(tmp_path)
    first = extract(get_extractor("egemaps"), df.iloc[:3])
    assert first.computed == 3
    rest = extract(get_extractor("egemaps"), df)
    assert rest.computed == 5 and rest.cached == 3


def test_two_jobs_equal_one_job(tmp_path, fresh_home):
    df = wavs(tmp_path)
    a = extract(get_extractor("egemaps"), df, jobs=1)
    shutil.rmtree(fresh_home / "features")
    b = extract(get_extractor("egemaps"), df, jobs=2)
    assert b.computed == 8
    np.testing.assert_allclose(a.X, b.X, rtol=1e-6)


def _damage(df, tmp_path):
    df = df.copy()
    cut = tmp_path / "u2.wav"
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # truncated
    df.loc[5, "audio"] = str(tmp_path / "gone.wav")  # missing
    return df


def test_broken_files_skip_counts_and_keeps_the_rest(tmp_path, fresh_home):
    df = _damage(wavs(tmp_path), tmp_path)
    res = extract(get_extractor("egemaps"), df, on_error="skip")
    assert res.ok.sum() == 6 and not res.ok[2] and not res.ok[5]
    assert res.X.shape == (6, 88)
    problems = dict(res.failures)
    assert "truncated WAV" in problems[str(tmp_path / "u2.wav")]
    assert problems[str(tmp_path / "gone.wav")] == "file not found"


def test_broken_file_raise_keeps_what_was_extracted(tmp_path, fresh_home):
    df = _damage(wavs(tmp_path), tmp_path)
    with pytest.raises(MediaError, match=r"u2\.wav: truncated WAV.*and 1 more.*cached"):
        extract(get_extractor("egemaps"), df, on_error="raise", jobs=1)
    # everything that did decode is in the cache: only the two broken files remain to do
    again = extract(get_extractor("egemaps"), df, on_error="skip")
    assert again.computed == 0 and again.cached == 6 and len(again.failures) == 2


def test_empty_text_is_reported(tmp_path, fresh_home):
    df = normalize([{"id": "a", "text": "I am glad"}, {"id": "b", "text": "   "}], "t")
    res = extract(get_extractor("minilm"), df, on_error="skip")
    assert res.ok.tolist() == [True, False]
    assert res.failures == [("utterance b", "empty text")]
    assert res.X.shape == (1, 384)
    assert np.isclose(np.linalg.norm(res.X[0]), 1.0, atol=1e-4)


def test_ray_executor_equals_local(tmp_path, fresh_home):
    pytest.importorskip("ray")
    df = wavs(tmp_path, n=6)
    local = extract(get_extractor("egemaps"), df, jobs=1)
    shutil.rmtree(fresh_home / "features")
    import ray

    try:
        remote = extract(get_extractor("egemaps"), df, jobs=2, executor="ray")
    finally:
        ray.shutdown()
    assert remote.computed == 6
    np.testing.assert_allclose(local.X, remote.X, rtol=1e-6)


def test_killed_extraction_resumes_from_its_shards(tmp_path, fresh_home):
    """SIGKILL an extraction mid-way: every finished shard survives, the next run does the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import affectbench as ab

    df = ab.prepare("demo").manifest  # generates the demo WAVs into fresh_home first
    env = {**os.environ, "AFFECTBENCH_HOME": str(fresh_home)}
    proc = subprocess.Popen([sys.executable, "-m", "affectbench.cli", "extract", "demo", "-e", "egemaps"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shards = lambda: list((fresh_home / "features").glob("egemaps-*/shards/*.npz"))
    deadline = time.time() + 120
    while len(shards()) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(shards())
    if done_before * 16 >= len(df):
        pytest.skip("extraction finished before it could be interrupted")
    assert done_before >= 2
    res = extract(get_extractor("egemaps"), df)
    assert res.cached >= done_before * 16 and res.computed > 0
    assert res.cached + res.computed == len(df) and res.X.shape == (len(df), 88)
