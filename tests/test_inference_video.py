"""Video mode: faces per frame (tracked Haar + FER), tone and words per speech segment, aligned
and fused; videos without audio or without pictures; the fusion arithmetic itself."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from affectbench.errors import MediaError, SpecError
from affectbench.inference_video import (DecodeTimeout, face_frames, late_fuse, predict_video,
                                         shared_classes)
from conftest import shared_data
from fixtures.av_clips import face_image, frames, write_av
from serve_models import tiny_models


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """EmoDB speech (~2 s) under 25-fps frames whose happy CK+ face leaves after 1.2 s."""
    out = tmp_path_factory.mktemp("video_mode")
    speech, sr = sf.read(str(shared_data("emodb") / "wav" / "03a01Fa.wav"), dtype="float32")
    face = face_image(shared_data("ckplus48"), "happy")
    secs = len(speech) / sr
    return {"both": write_av(out / "both.mp4", frames(secs, 25, face=face, face_until=1.2), audio=speech, sr=sr),
            "mute": write_av(out / "mute.mp4", frames(3, 25, face=face)),
            "voice": write_av(out / "voice.mp4", None, audio=speech, sr=sr), "secs": secs}


def test_faces_per_frame_tracked_and_counted(clip):
    ff = face_frames(clip["both"], fps=5)
    n = len(ff.times)
    assert n == int(np.ceil(clip["secs"] * 5 - 1e-6)) and np.allclose(np.diff(ff.times), 0.2, atol=1e-3)
    with_face = ~np.isnan(ff.probs[:, 0])
    assert with_face[ff.times < 1.15].all() and not with_face[ff.times >= 1.25].any()
    assert ff.without_face == n - with_face.sum()
    assert ff.labels[int(np.nanmean(ff.probs, 0).argmax())] == "happy"
    p, frames_in, faces_in = ff.mean(1.0, 2.0)  # frames at 1.0 (face) ... 1.8 (no face)
    assert (frames_in, faces_in) == (5, 1) and np.allclose(p, ff.probs[ff.times.searchsorted(1.0 - 1e-6)])
    assert ff.mean(1.3, 1.9)[0] is None


def test_late_fusion_arithmetic():
    classes = shared_classes({"video": ["angry", "happy", "neutral", "surprise"],
                              "audio": ["anger", "happiness", "neutral", "boredom"]})
    assert classes == ["angry", "happy", "neutral"]  # canonical names; surprise/boredom not shared
    fused = late_fuse({"video": {"angry": 0.1, "happy": 0.6, "neutral": 0.1, "surprise": 0.2},
                       "audio": {"anger": 0.5, "happiness": 0.2, "neutral": 0.1, "boredom": 0.2}},
                      classes, {"video": 3.0, "audio": 1.0})
    v, a = np.array([.1, .6, .1]) / .8, np.array([.5, .2, .1]) / .8
    assert list(fused.values()) == pytest.approx(list((3 * v + a) / 4))
    with pytest.raises(SpecError, match="share"):
        shared_classes({"video": ["angry", "happy"], "text": ["positive", "negative"]})


def test_video_mode_fuses_face_and_tone_per_speech_segment(clip):
    m = tiny_models()
    tl = predict_video({"tone": m["tone"]}, clip["both"], fusion_weights={"face": 2, "tone": 1})
    assert tl.modalities_present == ["audio", "video"] and "fer" in tl.models_used["video"]
    assert tl.segments and any("frames without a face" in x for x in tl.messages)
    classes = shared_classes({"audio": m["tone"].labels, "video": ["angry", "disgust", "fear", "happy", "sad",
                                                                    "surprise", "neutral"]})
    for s in tl.segments:
        assert 0 <= s.start < s.end <= clip["secs"] + 0.05 and "audio" in s.modalities
        per = {k: e["probs"] for k, e in s.modalities.items()}
        want = late_fuse(per, classes, {"video": 2.0, "audio": 1.0}) if "video" in per else per["audio"]
        assert s.probs == pytest.approx(want) and s.label == max(s.probs, key=s.probs.get)
    assert any("video" in s.modalities and s.modalities["video"]["label"] == "happy" for s in tl.segments)


def test_video_without_audio_or_pictures(clip):
    m = tiny_models()
    tl = predict_video({"tone": m["tone"]}, clip["mute"], window=1.0)
    assert [(s.start, s.end) for s in tl.segments] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    assert all(s.label == "happy" and list(s.modalities) == ["video"] for s in tl.segments)
    assert any("no audio stream" in x for x in tl.messages)
    tl = predict_video({"tone": m["tone"]}, clip["voice"])
    assert tl.segments and "video" not in tl.modalities_present and "no video stream" in tl.messages[0]
    with pytest.raises(MediaError, match="no tone or text model"):
        predict_video({}, clip["voice"])
    with pytest.raises(DecodeTimeout, match="longer than 0 s"):
        predict_video({"tone": m["tone"]}, clip["mute"], limits={"decode_timeout_s": 0})


def test_an_unreadable_video_is_named_and_the_others_are_predicted(clip, tmp_path):
    from affectbench.inference import predict

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    tl = predict({"face": "default:face"}, [str(bad), str(clip["mute"])], window=1.0)
    assert str(bad) in tl.failed and "cannot open" in tl.failed[str(bad)]
    assert any(m.startswith(f"{bad}: ") for m in tl.messages)
    assert [s.file for s in tl.segments] == [str(clip["mute"])] * 3
