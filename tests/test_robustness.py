"""Test-time perturbations: each operation does what it says (SNR, codec, band limit, clipping,
room decay, typos, occlusion, blur), deterministic per seed, cached like features; a run
reports the drop from clean per perturbation (the audio path is covered by test_cross.py)."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from affectbench import robustness as R
from affectbench.errors import SpecError

SR = R.SR


def tone(f=440.0, s=1.0, amp=0.3):
    t = np.arange(int(SR * s)) / SR
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


def one(kind, value, **opt):
    return R.parse_perturbations([{"kind": kind, KINDS_PARAM[kind]: [value], **opt}])[0]


KINDS_PARAM = {k: v[1] for k, v in R.KINDS.items()}


def test_noise_is_mixed_at_the_asked_snr_and_pink_is_pink():
    x = tone()
    for kind in ("white", "pink", "babble"):
        n = R.generated_noise(kind, len(x), np.random.default_rng(0))
        y = R.add_noise(x, n, 5.0)
        snr = 10 * np.log10(np.mean(x ** 2) / np.mean((y - x) ** 2))
        assert snr == pytest.approx(5.0, abs=1e-6), kind
    p = np.abs(np.fft.rfft(R.generated_noise("pink", 2 ** 16, np.random.default_rng(1)))) ** 2
    f = np.fft.rfftfreq(2 ** 16, 1 / SR)
    low, high = p[(f > 100) & (f < 200)].mean(), p[(f > 3200) & (f < 6400)].mean()
    assert 10 < low / high < 60  # 1/f: 32x frequency ratio ≈ 32x power ratio


def test_codecs_resample_clip_and_reverb():
    x = tone(440, 1.0)
    for codec, kbps in (("mp3", 64), ("opus", 32)):
        y = R.perturb_audio(one("codec", kbps, codec=codec), x, None)
        assert len(y) == len(x) and not np.allclose(y, x)
        lag = int(np.argmax(np.correlate(y[2000:6000], x[2000:4000], "valid")))  # codec delay
        assert np.corrcoef(y[2000 + lag:4000 + lag], x[2000:4000])[0, 1] > 0.9, codec
    hi = R.perturb_audio(one("resample", 4000), tone(3000), None)
    lo = R.perturb_audio(one("resample", 4000), tone(500), None)
    assert np.mean(hi ** 2) < 1e-3 * np.mean(tone(3000) ** 2) and np.mean(lo ** 2) > 0.8 * np.mean(tone(500) ** 2)
    y = R.perturb_audio(one("clip", 0.25), x, None)
    assert np.max(np.abs(y)) == pytest.approx(0.25 * np.max(np.abs(x)), rel=1e-5)
    h = R.impulse_response(0.5, np.random.default_rng(0))
    e = h[1:] ** 2
    first, last = e[:800].mean(), e[-800:].mean()  # 0.5 s decay: ~60 dB from start to end
    assert 40 < 10 * np.log10(first / last) < 70
    rev = R.perturb_audio(one("reverb", 0.5), x, np.random.default_rng(0))
    assert np.mean(rev ** 2) == pytest.approx(np.mean(x ** 2), rel=1e-3)  # loudness kept


def test_typos_occlusion_and_blur():
    s = "The quick brown fox, 42 times!"
    a = R.typos(s, 0.3, np.random.default_rng(7))
    assert a == R.typos(s, 0.3, np.random.default_rng(7)) and a != s
    assert "42" in a and "," in a and "!" in a  # only letters are edited
    img = np.random.default_rng(0).integers(0, 255, (40, 60, 3)).astype(np.uint8)
    occ = R.perturb_image(one("occlude", 0.25), img, np.random.default_rng(0))
    grey = np.all(occ == 128, axis=2) & ~np.all(img == 128, axis=2)
    assert grey.sum() == 20 * 30  # a quarter of the area, one box
    blur = R.perturb_image(one("blur", 2.0), img, None)
    assert blur.shape == img.shape and blur.std() < 0.5 * img.std()


def test_perturbed_media_are_deterministic_cached_and_keyed_by_seed(tmp_path, fresh_home):
    paths = []
    for i, f in enumerate((300.0, 500.0)):
        paths.append(tmp_path / f"a{i}.wav")
        sf.write(paths[-1], tone(f, 0.5), SR)
    df = pd.DataFrame({"id": ["a", "b"], "audio": [str(p) for p in paths], "start": [0.1, np.nan],
                       "end": [0.3, np.nan]})
    p = R.parse_perturbations([{"kind": "noise", "snr": [10], "noise": "pink"}], seed=1)[0]
    out, fails = R.perturbed_frame(p, df, "audio")
    assert not fails and out["start"].isna().all()
    x0 = sf.read(out["audio"][0])[0]
    assert len(x0) == int(0.2 * SR)  # the segment only
    mtime = os.stat(out["audio"][0]).st_mtime_ns
    again, _ = R.perturbed_frame(p, df, "audio")
    assert list(again["audio"]) == list(out["audio"]) and os.stat(out["audio"][0]).st_mtime_ns == mtime
    other, _ = R.perturbed_frame(R.parse_perturbations([{"kind": "noise", "snr": [10], "noise": "pink"}],
                                                       seed=2)[0], df, "audio")
    assert other["audio"][0] != out["audio"][0] and not np.allclose(sf.read(other["audio"][0])[0], x0)
    (tmp_path / "noise").mkdir()
    sf.write(tmp_path / "noise" / "n.wav", np.random.default_rng(0).standard_normal(SR // 4) * 0.1, SR)
    pf = R.parse_perturbations([{"kind": "noise", "snr": [0], "noise": str(tmp_path / "noise")}])[0]
    assert "noise_files" in pf.identity()
    before = pf.identity()["noise_files"]
    sf.write(tmp_path / "noise" / "m.wav", np.zeros(100), SR)
    assert R.parse_perturbations([{"kind": "noise", "snr": [0], "noise": str(tmp_path / "noise")}])[0] \
        .identity()["noise_files"] != before  # other noise files: another run identity and cache key
    (tmp_path / "noise" / "m.wav").unlink()
    y, _ = R.perturbed_frame(pf, df, "audio")
    z = sf.read(y["audio"][1])[0]
    assert 10 * np.log10(np.mean(tone(500, 0.5) ** 2) / np.mean((z - tone(500, 0.5)) ** 2)) == pytest.approx(0, abs=0.01)
    bad = df.assign(audio=[str(tmp_path / "gone.wav"), str(paths[1])])
    _, fails = R.perturbed_frame(p, bad, "audio")
    assert len(fails) == 1 and "gone.wav" in fails[0][0]


def test_video_occlusion_keeps_one_box_for_the_clip(tmp_path, fresh_home):
    from affectbench.video import iter_frames, write_video

    frames = [np.full((32, 48, 3), 30 + 10 * i, np.uint8) for i in range(6)]
    src = write_video(tmp_path / "v.mp4", frames, fps=10, options={"threads": "1"})
    df = pd.DataFrame({"id": ["v"], "video": [str(src)], "video_start": [np.nan], "video_end": [np.nan]})
    out, fails = R.perturbed_frame(one("occlude", 0.25), df, "video")
    got = [f for _, f in iter_frames(out["video"][0], None)]
    assert not fails and len(got) == 6
    boxes = [np.argwhere(np.abs(f.astype(int) - 128).max(axis=2) < 6) for f in got]
    assert all(b.min(0).tolist() == boxes[0].min(0).tolist() for b in boxes)


def test_bad_perturbations_are_named(tmp_path):
    cases = [({"kind": "echo", "x": [1]}, "kind = one of"), ({"kind": "noise", "level": [1]}, "unknown key"),
             ({"kind": "noise"}, "missing 'snr'"), ({"kind": "codec", "bitrate": [8], "codec": "aac"}, "not one of mp3"),
             ({"kind": "noise", "snr": [5], "noise": str(tmp_path)}, "neither white"),
             ({"kind": "clip", "level": [2]}, r"in \(0, 1\]"), ({"kind": "blur", "sigma": ["x"]}, "numbers")]
    for item, msg in cases:
        with pytest.raises(SpecError, match=msg):
            R.parse_perturbations([item])
    from affectbench import load_spec

    with pytest.raises(SpecError, match="robustness.perturbations"):
        load_spec(data={"name": "x", "corpus": {"name": "demo"},
                        "robustness": {"perturbations": [{"kind": "typo", "rate": [0]}]}})


def test_text_typos_in_a_run_report_the_drop(tmp_path):
    import affectbench as ab
    from fixtures import meld_fixture

    built = meld_fixture.build(tmp_path / "meld", clips=False)
    spec = ab.load_spec(data={
        "name": "meld-typos", "output_dir": str(tmp_path / "runs"),
        "corpus": {"name": "meld", "root": str(built.root), "on_error": "skip", "allow_partial": True},
        "features": {"extractors": ["tfidf"]}, "head": {"kind": "logreg"}, "metrics": {"bootstrap": 0},
        "robustness": {"perturbations": [{"kind": "typo", "rate": [0.5]}, {"kind": "blur", "sigma": [2]}]}})
    res = ab.run(spec)
    rob = res.metrics["robustness"]
    typo, blur = rob["runs"]
    assert typo["n"] == res.metrics["pooled"]["n"] == 12
    assert typo["drop_war"] == pytest.approx(rob["clean"]["war"] - typo["war"])
    assert "skipped" in blur and "visual" in blur["skipped"]
    text = res.report.read_text()
    assert "| typo rate=0.5 | 12 |" in text and "skipped: no feature block reads visual" in text


def test_a_row_that_cannot_be_perturbed_is_left_out_of_both_scores(tmp_path, monkeypatch):
    import affectbench as ab
    from affectbench.errors import MediaError
    from fixtures.cremad_fixture import build_cremad

    root = build_cremad(tmp_path / "cremad", actors=range(1001, 1005), sentences=("DFA",),
                        emotions=("ANG", "HAP", "NEU", "SAD"), seconds=0.3)
    real = R._materialise

    def flaky(p, r, modality, key):
        if r["audio"].endswith("1002_DFA_HAP_XX.wav"):
            raise MediaError(r["audio"], "cannot be perturbed (test)")
        return real(p, r, modality, key)

    monkeypatch.setattr(R, "_materialise", flaky)
    spec = ab.load_spec(data={
        "name": "flaky", "output_dir": str(tmp_path / "runs"), "metrics": {"bootstrap": 0},
        "corpus": {"name": "cremad", "root": str(root), "allow_partial": True, "view": "four"},
        "protocol": {"kind": "loso"}, "features": {"extractors": ["egemaps"]},
        "robustness": {"perturbations": [{"kind": "clip", "level": [0.05]}]}})
    res = ab.run(spec)
    m = res.metrics
    r = m["robustness"]["runs"][0]
    assert m["pooled"]["n"] == 16 and r["n"] == 15 and r["failed"] == 1
    preds = pd.read_parquet(res.folder / "predictions.parquet")
    same_rows = preds[preds["id"] != "1002_DFA_HAP_XX"]
    assert r["clean_war"] == pytest.approx((same_rows["true"] == same_rows["pred"]).mean())
    assert r["drop_war"] == pytest.approx(r["clean_war"] - r["war"])
