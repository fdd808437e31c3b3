"""`train` → model folder → `predict` on real EmoDB speech: timelines, VAD, bad inputs, outputs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from affectbench.errors import SpecError
from affectbench.inference import (Timeline, plot_timeline, predict, predict_texts, read_text_file,
                                   write_timeline)
from affectbench.model import load_model
from conftest import shared_data
from model_fixtures import emodb_spec, emodb_subset, speech_file


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real model: `affectbench train` on 32 EmoDB files (4 speakers, LOSO, eGeMAPS, linear)."""
    from affectbench.fit import train

    base = tmp_path_factory.mktemp("emodb")
    root = emodb_subset(base / "emodb")
    spec = emodb_spec(root, base / "runs")
    folder, result = train(spec, base / "model")
    return folder, result, spec, root


@pytest.fixture(scope="module")
def model(trained):
    return load_model(trained[0])


def test_model_card_vouches_with_the_cv_run_and_predicts_like_the_final_fit(trained, model):
    folder, result, spec, root = trained
    card = json.loads((folder / "model.json").read_text())["card"]
    assert card["run"] == result.folder.name
    assert card["cv_metrics"]["uar"] == pytest.approx(result.metrics["pooled"]["uar"])
    assert card["protocol"] == "loso" and card["trained_on"]["rows"] + card["trained_on"]["validation_rows"] == 32
    assert len(card["trained_on"]["validation_groups"]) == 1  # one speaker held out for validation
    assert model.labels == ["neutral", "happy", "sad", "angry"] and model.modalities == ["audio"]
    # predicting the training files is far better than chance (the final fit saw them)
    files = sorted(str(p) for p in (root / "wav").iterdir())
    tl = predict(model, files, vad=False)
    truth = [{"N": "neutral", "F": "happy", "T": "sad", "W": "angry"}[f.split("/")[-1][5]] for f in files]
    acc = np.mean([s.label == t for s, t in zip(tl.segments, truth)])
    assert len(tl.segments) == 32 and acc > 0.6


def test_train_reuses_the_finished_run(trained, tmp_path):
    from affectbench.fit import train

    _, result, spec, _ = trained
    folder, again = train(spec, tmp_path / "m2")
    assert again.reused and again.folder == result.folder
    assert (tmp_path / "m2" / "weights.safetensors").read_bytes() == (trained[0] / "weights.safetensors").read_bytes()


def test_vad_segments_a_long_recording_at_the_right_times(model, tmp_path):
    wav = shared_data("emodb") / "wav"
    a, b = wav / "03a01Wa.wav", wav / "08a01Fd.wav"
    long = speech_file(tmp_path / "long.wav", [1.5, a, 2.0, b, 1.0])
    tl = predict(model, [str(long)])
    assert [s.file for s in tl.segments] == [str(long)] * 2, tl.messages
    (s1, s2) = tl.segments
    assert 1.3 <= s1.start < s1.end <= 3.7 and 5.3 <= s2.start < s2.end <= 7.7
    assert abs(sum(s1.probs.values()) - 1) < 1e-5 and tl.modalities_present == ["audio"]


def test_fixed_windows(model, tmp_path):
    f = speech_file(tmp_path / "w.wav", [shared_data("emodb") / "wav" / "03a01Wa.wav", 0.5,
                                         shared_data("emodb") / "wav" / "03a01Wa.wav"])
    tl = predict(model, [str(f)], window=1.0)
    assert [(s.start, s.end) for s in tl.segments] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 4.5)]


def test_no_speech_is_an_empty_timeline_with_a_message(model, tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, (np.random.default_rng(0).standard_normal(48000) * 1e-4).astype(np.float32), 16000)
    tl = predict(model, [str(quiet)])
    assert tl.segments == [] and not tl.failed
    assert tl.messages == [f"{quiet}: no speech found in 3.0 s of audio; nothing to predict"]


def test_bad_inputs_are_named_and_the_others_still_predicted(model, tmp_path):
    good = shared_data("emodb") / "wav" / "03a01Wa.wav"
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("this is not audio at all " * 20)
    trunc = tmp_path / "cut.wav"
    trunc.write_bytes(good.read_bytes()[:20000])
    tl = predict(model, [str(good), str(tmp_path / "empty.wav"), str(tmp_path / "notes.wav"), str(trunc),
                         str(tmp_path / "missing.wav")], vad=False)
    assert [s.file for s in tl.segments] == [str(good)]
    assert set(tl.failed) == {str(tmp_path / n) for n in ("empty.wav", "notes.wav", "cut.wav", "missing.wav")}
    assert "empty" in tl.failed[str(tmp_path / "empty.wav")]
    assert "truncated" in tl.failed[str(trunc)]
    assert "cannot decode" in tl.failed[str(tmp_path / "notes.wav")]
    assert all(any(name in m for m in tl.messages) for name in tl.failed)
    from affectbench.video import write_video

    silent = write_video(tmp_path / "silent.mp4", [np.zeros((32, 32, 3), np.uint8)] * 4)
    tl = predict(model, [str(silent)], vad=False)  # a video for a tone model: its audio track
    assert tl.failed == {str(silent): "no audio stream in this video file"}
    capped = predict(model, [str(good)], vad=False, limits={"max_duration_s": 1.5})
    assert capped.segments == [] and capped.failed == {str(good): "2 s of media, over the limit of 2 s"}


def test_folder_and_glob_inputs(model, trained):
    root = trained[3]
    a = predict(model, [str(root / "wav")], vad=False)
    b = predict(model, [str(root / "wav" / "03*.wav")], vad=False)
    assert len(a.segments) == 32 and len(b.segments) == 8
    assert {s.file for s in b.segments} <= {s.file for s in a.segments}


def test_late_fusion_is_the_weighted_mean_of_each_models_own_prediction(trained, model):
    other = load_model(trained[0])
    other.head.w_ = other.head.w_ * 0.3  # a second, different (flatter) model over the same features
    files = [str(shared_data("emodb") / "wav" / "11a01Wc.wav")]
    tl = predict({"tone": model, "tone2": other}, files, vad=False, fusion_weights={"tone": 0.75, "tone2": 0.25})
    s = tl.segments[0]
    assert set(s.modalities) == {"tone", "tone2"} and set(tl.models_used) == {"tone", "tone2"}
    for c in model.labels:
        want = 0.75 * s.modalities["tone"]["probs"][c] + 0.25 * s.modalities["tone2"]["probs"][c]
        assert s.probs[c] == pytest.approx(want, abs=1e-5)
    with pytest.raises(SpecError, match="not models"):
        predict({"tone": model}, files, fusion_weights={"text": 1.0})


def test_outputs_round_trip(model, tmp_path):
    files = [str(shared_data("emodb") / "wav" / n) for n in ("03a01Wa.wav", "08a01Fd.wav")]
    tl = predict(model, files, vad=False)
    recs = [json.loads(x) for x in write_timeline(tl, tmp_path / "t.jsonl").read_text().splitlines()]
    assert recs == tl.to_records()
    frame = tl.to_frame()
    back = pd.read_csv(write_timeline(tl, tmp_path / "t.csv"))
    assert back["text"].isna().all() and frame["text"].isna().all()  # audio only: no words
    pd.testing.assert_frame_equal(back.drop(columns="text"), frame.drop(columns="text"), check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(write_timeline(tl, tmp_path / "t.parquet")), frame)
    doc = json.loads(write_timeline(tl, tmp_path / "t.json").read_text())
    assert doc["models_used"] == tl.models_used and len(doc["segments"]) == 2
    png = plot_timeline(tl, tmp_path / "t.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SpecError, match="unknown output type"):
        write_timeline(tl, tmp_path / "t.xlsx")


def test_audio_model_refuses_texts_and_text_file_errors_name_the_file(model, tmp_path):
    with pytest.raises(SpecError, match="texts alone cannot feed it"):
        predict_texts(model, ["hello"])
    (tmp_path / "e.txt").write_text("\n \n")
    with pytest.raises(Exception, match=r"e\.txt: empty text file"):
        read_text_file(tmp_path / "e.txt")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(Exception, match=r"b\.txt: not UTF-8"):
        read_text_file(tmp_path / "b.txt")
    assert isinstance(Timeline([], [], [], {}), Timeline)


# ---- the command line ----------------------------------------------------------------------------
def _cli(*args):
    from typer.testing import CliRunner

    from affectbench.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_cli_train_then_predict(trained, tmp_path):
    from affectbench.spec import dump_toml

    _, result, spec, root = trained
    toml = tmp_path / "small.toml"
    toml.write_text(dump_toml(spec.to_dict()))
    r = _cli("train", toml, "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert "model:" in r.output and "finished earlier" in r.output  # the CV run was reused
    good = shared_data("emodb") / "wav" / "03a01Wa.wav"
    r = _cli("predict", tmp_path / "m", good, "--no-vad", "-o", tmp_path / "t.jsonl", "--plot", tmp_path / "t.png")
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "t.jsonl").read_text())
    assert rec["file"] == str(good) and rec["label"] in spec_labels(trained) and (tmp_path / "t.png").exists()
    assert "03a01Wa.wav" in r.output  # the table
    r = _cli("run", toml, "--save-model", tmp_path / "m3")
    assert r.exit_code == 0 and (tmp_path / "m3" / "weights.safetensors").read_bytes() == \
        (tmp_path / "m" / "weights.safetensors").read_bytes()  # the same final fit, from the same run


def spec_labels(trained):
    return json.loads((trained[0] / "model.json").read_text())["labels"]


def test_cli_predict_names_a_bad_file_and_keeps_the_rest(trained, tmp_path):
    import os
    import subprocess
    import sys

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEnot really")
    good = shared_data("emodb") / "wav" / "03a01Wa.wav"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run([sys.executable, "-m", "affectbench.cli", "predict", str(trained[0]), str(good), str(bad),
                        "--no-vad", "-q", "-o", str(tmp_path / "t.csv")], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 1
    assert f"{bad}: cannot decode audio" in p.stderr and "Traceback" not in p.stderr
    assert len(pd.read_csv(tmp_path / "t.csv")) == 1


# ---- audio/text mode -------------------------------------------------------------------------------
def test_text_model_on_strings_a_text_file_and_the_command_line(tmp_path):
    from model_fixtures import text_model

    folder = text_model(tmp_path / "text")
    m = load_model(folder)
    tl = predict_texts(m, ["I love this so much", "the bus leaves at nine", "   "])
    assert [s.label for s in tl.segments] == ["happy", "neutral"]
    assert tl.failed == {"utterance text 3": "no text for this item"} and tl.modalities_present == ["text"]
    assert tl.messages == ["utterance text 3: no text for this item"]
    (tmp_path / "lines.txt").write_text("I hate you for this\n\nwhat a wonderful day\n")
    r = _cli("predict", folder, "--text-file", tmp_path / "lines.txt", "-o", tmp_path / "t.jsonl")
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["label"] for x in (tmp_path / "t.jsonl").read_text().splitlines()] == ["angry", "happy"]
    r = _cli("predict", folder, "I miss her terribly", "-o", tmp_path / "s.json")
    assert r.exit_code == 0 and json.loads((tmp_path / "s.json").read_text())["segments"][0]["label"] == "sad"


def test_tone_and_words_fused_late_with_a_sidecar_transcript(model, tmp_path):
    from model_fixtures import text_model

    text = load_model(text_model(tmp_path / "text"))
    wav = shared_data("emodb") / "wav"
    rec = speech_file(tmp_path / "talk.wav", [1.0, wav / "03a01Wa.wav", 2.0, wav / "08a01Fd.wav", 1.0])
    (tmp_path / "talk.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nI hate you for this\n\n"
                                       "2\n00:00:05,000 --> 00:00:07,000\nwhat a wonderful day\n")
    tl = predict({"tone": model, "text": text}, [str(rec)], fusion_weights={"tone": 0.5, "text": 0.5})
    assert [s.text for s in tl.segments] == ["I hate you for this", "what a wonderful day"]
    assert tl.modalities_present == ["audio", "text"] and set(tl.models_used) == {"tone", "text"}
    for s in tl.segments:
        assert set(s.modalities) == {"tone", "text"}
        for c in model.labels:
            assert s.probs[c] == pytest.approx(0.5 * s.modalities["tone"]["probs"][c]
                                               + 0.5 * s.modalities["text"]["probs"][c], abs=1e-5)
    assert [s.modalities["text"]["label"] for s in tl.segments] == ["angry", "happy"]


def test_words_from_a_local_speech_recognition_folder(model, tmp_path):
    from model_fixtures import tiny_whisper

    asr = tiny_whisper(tmp_path / "whisper")
    tl = predict(model, [str(shared_data("emodb") / "wav" / "03a01Wa.wav")], vad=False, asr_model=asr)
    assert len(tl.segments) == 1 and isinstance(tl.segments[0].text, str)
    assert "<|" not in tl.segments[0].text  # special tokens are not words


def test_default_text_model_works_with_no_training(tmp_path):
    from affectbench.model import default_models

    if "text" not in default_models():
        pytest.skip("default text model not built (scripts/build_default_models.py)")
    r = _cli("predict", "default:text", "I love this so much, thank you!", "-o", tmp_path / "t.json")
    assert r.exit_code == 0, r.output
    seg = json.loads((tmp_path / "t.json").read_text())["segments"][0]
    assert "love" in seg["label"].split(";") or "gratitude" in seg["label"].split(";")
    card = load_model("default:text").card
    assert card["cv_metrics"]["macro_f1"] > 0.3 and "CC BY 4.0" in card["licence"]

