"""`affectbench serve`: a real uvicorn server on a loopback port, real models, real uploads,
and every refusal the limits promise (docs/serve.md), with the server still answering after each."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from affectbench.serve import Limits, create_app
from conftest import shared_data
from fixtures.av_clips import face_image, frames, long_silence, write_av
from fixtures.synth_audio import tone
from serve_helpers import read_response, stalled_upload, uvicorn_server
from serve_models import tiny_models

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def models():
    return tiny_models()


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve_tmp")
    limits = Limits(max_upload_bytes=4_000_000, max_duration_s=60, read_timeout_s=1.5, max_jobs=2, max_queue=64)
    app = create_app(models, limits, tmp_dir=tmp)
    with uvicorn_server(app) as base:
        yield base, app, tmp


def _alive(base):
    r = httpx.get(f"{base}/healthz", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    return r.json()


def _no_uploads_left(tmp: Path):
    left = [p for p in tmp.rglob("*") if p.is_file()]
    assert not left, left


def _wav(seconds=1.0, seed=0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, seed=seed), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _post_file(base, name, data, ctype="application/octet-stream", **fields):
    return httpx.post(f"{base}/v1/predict", files={"file": (name, data, ctype)}, data=fields, timeout=60)


def test_text_requests_batched_across_clients(server, models):
    base, app, _ = server
    before = _alive(base)["text_batches"]["text"]
    texts = [f"sentence number {i} is {'great' if i % 2 else 'awful'}" for i in range(24)]
    with ThreadPoolExecutor(12) as ex:
        rs = list(ex.map(lambda t: httpx.post(f"{base}/v1/predict", json={"text": t}, timeout=30), texts))
    assert [r.status_code for r in rs] == [200] * 24
    labels = set(models["text"].labels)
    for t, r in zip(texts, rs):
        body = r.json()
        (seg,) = body["segments"]
        assert seg["text"] == t and seg["label"] in labels
        assert abs(sum(seg["probs"].values()) - 1) < 1e-4 and seg["label"] == max(seg["probs"], key=seg["probs"].get)
    # the same texts in one process give the same probabilities
    from affectbench.inference import predict_texts

    ref = predict_texts(models["text"], texts)
    for s, r in zip(ref.segments, rs):
        assert r.json()["segments"][0]["probs"] == pytest.approx(dict(s.probs), abs=1e-6)
    stats = _alive(base)["text_batches"]["text"]
    batches = stats["batches"] - before["batches"]
    assert stats["items"] - before["items"] == 24 and batches < 24 and stats["largest"] > 1


def test_audio_upload_timeline_and_temp_cleanup(server, models):
    base, app, tmp = server
    wav = shared_data("emodb") / "wav" / "03a01Fa.wav"
    r = _post_file(base, "../../etc/03a01Fa.wav", wav.read_bytes(), "audio/wav")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["file"] == "03a01Fa.wav" and body["segments"], body
    dur = sf.info(str(wav)).duration
    for s in body["segments"]:
        assert s["file"] == "03a01Fa.wav" and 0 <= s["start"] < s["end"] <= dur + 0.05
        assert s["label"] in models["tone"].labels and abs(sum(s["probs"].values()) - 1) < 1e-4
    assert "audio" in body["modalities_present"] and "tone" in json.dumps(body["models_used"])
    assert str(tmp) not in r.text  # temp paths never reach the client
    # a raw body (curl --data-binary) gives the same answer
    r2 = httpx.post(f"{base}/v1/predict?filename=03a01Fa.wav", content=wav.read_bytes(),
                    headers={"Content-Type": "audio/wav"}, timeout=60)
    assert r2.status_code == 200 and r2.json()["segments"] == body["segments"]
    # with its words: tone and text fused late, each model's own prediction kept
    r3 = _post_file(base, "03a01Fa.wav", wav.read_bytes(), "audio/wav", text="I am so happy about this")
    assert r3.status_code == 200, r3.text
    b3 = r3.json()
    assert b3["models_used"] == {"tone": "tone", "text": "text"} and b3["modalities_present"] == ["audio", "text"]
    for s in b3["segments"]:
        assert set(s["modalities"]) == {"tone", "text"} and s["text"] == "I am so happy about this"
    _no_uploads_left(tmp)


BAD = [  # (upload name, bytes, status, error code)
    ("empty.wav", b"", 422, "empty_upload"),
    ("corrupt.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8, 415, "unsupported_media"),
    ("notes.txt", b"just some words, not audio\n" * 40, 415, "unsupported_media"),
    ("picture.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, 415, "unsupported_media"),
]


@pytest.mark.parametrize("name,data,status,code", BAD, ids=[b[0] for b in BAD])
def test_bad_uploads_refused_and_server_keeps_serving(server, name, data, status, code):
    base, _, tmp = server
    r = _post_file(base, name, data)
    assert r.status_code == status and r.json()["error"] == code, r.text
    assert name in r.json()["detail"]
    _alive(base)
    _no_uploads_left(tmp)


def test_truncated_and_oversized_and_long(server, tmp_path):
    base, _, tmp = server
    whole = _wav(3.0)
    r = _post_file(base, "cut.wav", whole[:len(whole) // 3])
    assert r.status_code == 415 and "truncated" in r.json()["detail"], r.text
    r = _post_file(base, "big.wav", b"\0" * 4_100_000)  # over the 4 MB limit: refused while streaming
    assert r.status_code == 413 and r.json()["error"] == "upload_too_large"
    three_hours = long_silence(tmp_path / "3h.flac")
    t = time.perf_counter()
    r = _post_file(base, "3h.flac", three_hours.read_bytes())
    assert r.status_code == 413 and r.json()["error"] == "too_long" and "10800.0 s" in r.json()["detail"]
    assert time.perf_counter() - t < 2.0  # the header said so: nothing was decoded
    _alive(base)
    _no_uploads_left(tmp)


def test_bad_requests(server):
    base, _, _ = server
    cases = [({"json": {"text": "   "}}, 422, "empty_text"), ({"json": {"texts": []}}, 422, "empty_text"),
             ({"json": ["not", "an", "object"]}, 422, "bad_request"),
             ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, "bad_json"),
             ({"json": {"text": "x" * 6000}}, 413, "text_too_long"),
             ({"json": {"text": "hello", "model": "nope"}}, 422, "unknown_model"),
             ({"json": {"text": "hello", "model": "tone"}}, 422, "wrong_modality"),
             ({"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
             ({"data": {"model": "tone"}}, 415, "unsupported_media_type"),  # a urlencoded form
             ({"files": {"model": (None, "tone")}}, 422, "bad_request")]  # multipart without a file
    for kw, status, code in cases:
        r = httpx.post(f"{base}/v1/predict", timeout=30, **kw)
        assert (r.status_code, r.json()["error"]) == (status, code), (kw, r.text)
    r = httpx.get(f"{base}/v1/nothing-here", timeout=10)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    _alive(base)


def test_no_speech_is_an_empty_timeline(server):
    base, _, tmp = server
    buf = io.BytesIO()
    sf.write(buf, np.zeros(32000, np.float32), 16000, format="WAV")
    r = _post_file(base, "silence.wav", buf.getvalue())
    assert r.status_code == 200 and r.json()["segments"] == [] and r.json()["messages"], r.text
    _no_uploads_left(tmp)


def test_models_docs_and_page(server, models):
    base, _, _ = server
    m = httpx.get(f"{base}/v1/models", timeout=10).json()
    assert {x["name"] for x in m["models"]} == {"tone", "text"}
    assert next(x for x in m["models"] if x["name"] == "text")["labels"] == list(models["text"].labels)
    assert m["limits"]["max_duration_s"] == 60
    assert "swagger" in httpx.get(f"{base}/docs", timeout=10).text.lower()
    assert "/v1/predict" in httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]
    page = httpx.get(f"{base}/", timeout=10).text
    assert 'id="predict-form"' in page and "static/serve.js" in page
    assert httpx.get(f"{base}/static/serve.js", timeout=10).status_code == 200


def test_slow_client_and_busy_server(models, tmp_path):
    """One job slot, no queue: a client that stalls mid-upload holds it; the next media request
    gets 503 + Retry-After (text still works); the stalled one gets 408 after read_timeout_s."""
    limits = Limits(read_timeout_s=1.0, max_jobs=1, max_queue=0, retry_after_s=3)
    with uvicorn_server(create_app(models, limits, tmp_dir=tmp_path)) as base:
        s = stalled_upload(base)
        time.sleep(0.3)
        r = _post_file(base, "a.wav", _wav(0.5))
        assert r.status_code == 503 and r.headers["Retry-After"] == "3" and r.json()["error"] == "busy"
        assert httpx.post(f"{base}/v1/predict", json={"text": "still here"}, timeout=30).status_code == 200
        t = time.perf_counter()
        status, raw = read_response(s)
        s.close()
        assert status == 408 and b"slow_client" in raw and time.perf_counter() - t < 3
        assert _post_file(base, "a.wav", _wav(0.5)).status_code == 200
        _no_uploads_left(tmp_path)


def test_decode_time_limit(models, tmp_path):
    """A zero decode-time limit: video frames and audio decoded through FFmpeg both stop at once."""
    face = face_image(shared_data("ckplus48"), "happy")
    mute = write_av(tmp_path / "mute.mp4", frames(1, 25, face=face))
    voice = write_av(tmp_path / "voice.m4a", None, audio=tone(1.0))
    with uvicorn_server(create_app(models, Limits(decode_timeout_s=0), tmp_dir=tmp_path / "up")) as base:
        for clip in (mute, voice):
            r = _post_file(base, clip.name, clip.read_bytes())
            assert r.status_code == 422 and r.json()["error"] == "decode_timeout", r.text
            assert clip.name in r.json()["detail"] and "longer than 0 s" in r.json()["detail"]
        _alive(base)


def test_fifty_concurrent_clients(server):
    base, _, tmp = server
    wav = _wav(1.0)

    def one(i):
        if i % 2:
            return httpx.post(f"{base}/v1/predict", json={"text": f"client {i}"}, timeout=120)
        return _post_file(base, f"c{i}.wav", wav)

    with ThreadPoolExecutor(50) as ex:
        rs = list(ex.map(one, range(50)))
    assert [r.status_code for r in rs] == [200] * 50  # 25 media jobs < max_jobs + max_queue
    assert all(r.json()["file"] == (f"c{i}.wav" if i % 2 == 0 else None) for i, r in enumerate(rs))
    # the same clip answered alone or inside a batch of other clients' clips: the same timeline
    timelines = {json.dumps([{k: v for k, v in s.items() if k != "file"} for s in r.json()["segments"]])
                 for r in rs[::2]}
    assert len(timelines) == 1, timelines
    audio = _alive(base)["audio_batches"]
    assert sum(v["items"] for v in audio.values()) >= 25 and max(v["largest"] for v in audio.values()) > 1
    _no_uploads_left(tmp)


def test_video_uploads(server, tmp_path):
    base, _, tmp = server
    face = face_image(shared_data("ckplus48"), "happy")
    speech, sr = sf.read(str(shared_data("emodb") / "wav" / "03a01Fa.wav"), dtype="float32")
    secs = len(speech) / sr
    av_clip = write_av(tmp_path / "both.mp4", frames(secs, 25, face=face), audio=speech, sr=sr)
    r = _post_file(base, "both.mp4", av_clip.read_bytes(), "video/mp4")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["modalities_present"]) >= {"audio", "video"} and body["segments"]
    assert any("video" in s["modalities"] for s in body["segments"])
    silent = write_av(tmp_path / "mute.mp4", frames(2, 25, face=face))
    body = _post_file(base, "mute.mp4", silent.read_bytes(), "video/mp4").json()
    assert body["modalities_present"] == ["video"] and any("no audio" in m for m in body["messages"])
    assert body["segments"] and all(s["label"] == "happy" for s in body["segments"])
    voice = write_av(tmp_path / "voice.mp4", None, audio=speech, sr=sr)
    r = _post_file(base, "voice.mp4", voice.read_bytes(), "video/mp4")
    assert r.status_code == 200 and any("no video stream" in m for m in r.json()["messages"]), r.text
    _no_uploads_left(tmp)


def _flip_last_weight_byte(folder: Path) -> str:
    weights = next(folder.rglob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    return weights.name


def _other_version(folder: Path) -> str:
    card = folder / "model.json"
    card.write_text(card.read_text().replace('"format_version": 1', '"format_version": 99'))
    return "format version 99"


@pytest.mark.parametrize("spoil", [_flip_last_weight_byte, _other_version], ids=["changed_weights", "other_version"])
def test_serve_refuses_a_bad_model_folder_at_start(models, tmp_path, spoil):
    folder = tmp_path / "tone"
    shutil.copytree(models["tone"].path, folder)
    expect = spoil(folder)
    r = subprocess.run([sys.executable, "-m", "affectbench.cli", "serve", f"tone={folder}", "--port", "9"],
                       capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin"})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and expect in r.stderr, r.stderr
    assert "serving" not in r.stdout  # refused before anything listens
