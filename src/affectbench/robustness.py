"""Robustness protocol: the same test folds, scored again with their test media perturbed.

Training, validation and normalisation statistics stay clean: each fold's fitted head scores
its own test rows after a perturbation (test time only), so the drop from the clean score is
the perturbation's effect alone (MERBench's noise runs, extended to codecs, rooms, typos and
faces). A spec lists perturbations under ``[robustness]``; each parameter value is one run::

    [robustness]
    perturbations = [
      {kind = "noise", snr = [20, 10, 0], noise = "pink"},   # white | pink | babble | a folder of WAVs
      {kind = "codec", codec = "mp3", bitrate = [32, 16]},    # mp3 | opus, kbit/s (PyAV's libmp3lame/libopus)
      {kind = "resample", rate = [8000]},                      # down and back up (soxr)
      {kind = "clip", level = [0.3]},                          # clip at this fraction of the peak
      {kind = "reverb", rt60 = [0.6]},                         # generated exponential-decay impulse response
      {kind = "typo", rate = [0.05]},                          # per-character edits of the transcript
      {kind = "occlude", fraction = [0.25]},                   # grey box over this share of each frame
      {kind = "blur", sigma = [3.0]},                          # Gaussian blur (pixels)
    ]

Deterministic: a row's random draws come from (seed, perturbation, the source media's content
key), so the same seed gives the same files. Perturbed media are cached under
``$AFFECTBENCH_HOME/perturbed/`` by that identity, and their features through the ordinary
feature cache (keyed by the perturbed file's content): a re-run computes nothing.

Hand-written, and why: the signal operations are a few lines each on numpy/scipy/soxr/PyAV;
audiomentations/torch-audiomentations would add a dependency tree for the same arithmetic and
do not cover typos or faces. Babble-like noise is *generated* (several speech-band noise
streams, each amplitude-modulated at a syllable rate), not recorded babble: point ``noise``
at a folder of real recordings (e.g. MUSAN babble) for that.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MediaError, SpecError

SR = 16000
#: kind -> (modality, the parameter swept, other parameters with defaults)
KINDS = {
    "noise": ("audio", "snr", {"noise": "white"}),
    "codec": ("audio", "bitrate", {"codec": "mp3"}),
    "resample": ("audio", "rate", {}),
    "clip": ("audio", "level", {}),
    "reverb": ("audio", "rt60", {}),
    "typo": ("text", "rate", {}),
    "occlude": ("visual", "fraction", {}),
    "blur": ("visual", "sigma", {}),
}
ALGO_VERSION = "1"  # bump when a perturbation's arithmetic changes: part of every cache key


@dataclass(frozen=True)
class Perturbation:
    kind: str
    value: float
    options: dict = field(default_factory=dict, hash=False)
    seed: int = 0

    @property
    def modality(self) -> str:
        return KINDS[self.kind][0]

    @property
    def name(self) -> str:
        param = KINDS[self.kind][1]
        extra = "".join(f" {v}" for v in self.options.values())
        return f"{self.kind}{extra} {param}={self.value:g}"

    def identity(self) -> dict:
        ident = {"kind": self.kind, "value": self.value, "seed": self.seed, "algo": ALGO_VERSION, **self.options}
        noise = self.options.get("noise", "")
        if self.kind == "noise" and noise not in ("white", "pink", "babble"):
            from .features.store import folder_fingerprint

            ident["noise_files"] = folder_fingerprint(Path(noise))
        return ident


def parse_perturbations(items, source: str = "spec", seed: int = 0) -> list[Perturbation]:
    """The spec's ``robustness.perturbations``, one :class:`Perturbation` per swept value."""
    out = []
    for i, it in enumerate(items or []):
        where = f"{source}: robustness.perturbations[{i}]"
        if not isinstance(it, dict) or it.get("kind") not in KINDS:
            raise SpecError(f"{where}: needs kind = one of {', '.join(KINDS)}")
        _, param, defaults = KINDS[it["kind"]]
        allowed = {"kind", param, "seed", *defaults}
        bad = sorted(set(it) - allowed)
        if bad or param not in it:
            raise SpecError(f"{where}: {'unknown key(s) ' + str(bad) if bad else 'missing ' + repr(param)}; "
                            f"a '{it['kind']}' perturbation takes {', '.join(sorted(allowed - {'kind'}))}")
        values = it[param] if isinstance(it[param], list) else [it[param]]
        opts = {k: it.get(k, v) for k, v in defaults.items()}
        _check_options(it["kind"], opts, values, where)
        out += [Perturbation(it["kind"], float(v), opts, int(it.get("seed", seed))) for v in values]
    return out


def identities(spec) -> list[dict]:
    """What decides the perturbed media of a run (for the run identity)."""
    return [p.identity() for p in parse_perturbations(spec.robustness.perturbations, seed=spec.seed)]


def _check_options(kind, opts, values, where) -> None:
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise SpecError(f"{where}: the swept values must be numbers, got {values!r}")
    if kind == "codec" and opts["codec"] not in ("mp3", "opus"):
        raise SpecError(f"{where}: codec = {opts['codec']!r} is not one of mp3, opus")
    if kind == "noise" and opts["noise"] not in ("white", "pink", "babble"):
        d = Path(str(opts["noise"])).expanduser()
        if not d.is_dir() or not _noise_files(d):
            raise SpecError(f"{where}: noise = {opts['noise']!r} is neither white, pink, babble nor a folder "
                            "holding .wav/.flac files")
    positive = {"codec", "resample", "reverb", "blur"}
    if kind in positive and min(values) <= 0:
        raise SpecError(f"{where}: values must be > 0")
    if kind in ("clip", "occlude", "typo") and not all(0 < v <= 1 for v in values):
        raise SpecError(f"{where}: values must be in (0, 1]")


def _noise_files(d: Path) -> list[Path]:
    return list(_noise_list(str(d)))


@functools.lru_cache(maxsize=16)
def _noise_list(d: str) -> tuple[Path, ...]:
    """Listed once per folder and process: every perturbed row draws from it."""
    return tuple(sorted(p for p in Path(d).rglob("*")
                        if p.suffix.lower() in (".wav", ".flac") and not p.name.startswith(".")))


@functools.lru_cache(maxsize=64)
def _identity_json(p: Perturbation) -> str:
    """``p.identity()`` once per perturbation (a noise folder's fingerprint walks the folder),
    not once per row and use."""
    return json.dumps(p.identity(), sort_keys=True)


def _row_digest(p: Perturbation, key: str) -> bytes:
    """What a row's noise and cache file follow from: the perturbation's identity and the row."""
    return hashlib.sha256(f"[{_identity_json(p)}, {json.dumps(key)}]".encode()).digest()


def rng_for(p: Perturbation, key: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(_row_digest(p, key)[:8], "little"))


# -------------------------------------------------------------------------------- audio
def generated_noise(kind: str, n: int, rng) -> np.ndarray:
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return _pink(n, rng)
    # babble-like: 6 speech-band streams, each modulated by a 2-6 Hz syllable-rate envelope
    from scipy.signal import butter, sosfilt

    sos = butter(4, [300, 3400], btype="band", fs=SR, output="sos")
    t = np.arange(n) / SR
    out = np.zeros(n)
    for _ in range(6):
        env = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(2, 6) * t + rng.uniform(0, 2 * np.pi)))
        out += sosfilt(sos, _pink(n, rng)) * env ** 2
    return out


def _pink(n: int, rng) -> np.ndarray:
    """1/f noise: white noise shaped by 1/sqrt(f) in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    return np.fft.irfft(spec, n)


def _noise(p: Perturbation, n: int, rng) -> np.ndarray:
    src = p.options["noise"]
    if src in ("white", "pink", "babble"):
        return generated_noise(src, n, rng)
    from .audio import load

    files = _noise_files(Path(src))
    x = load(files[int(rng.integers(len(files)))], SR)
    reps = int(math.ceil(n / len(x)))
    x = np.tile(x, reps + 1)
    off = int(rng.integers(len(x) - n + 1))
    return x[off:off + n]


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``x + g·noise`` with ``g`` chosen so that 10·log10(P_x / P_gnoise) = ``snr_db``."""
    px, pn = float(np.mean(x ** 2)), float(np.mean(noise ** 2))
    if pn == 0 or px == 0:
        return x.copy()
    g = math.sqrt(px / (pn * 10 ** (snr_db / 10)))
    return x + g * noise


def codec_roundtrip(x: np.ndarray, codec: str, kbps: float) -> np.ndarray:
    """Encode with libmp3lame/libopus in memory (PyAV), decode, back at 16 kHz mono."""
    import io

    import av
    import soxr

    rate = 48000 if codec == "opus" else 16000
    y = soxr.resample(x, SR, rate).astype(np.float32) if rate != SR else x.astype(np.float32)
    buf = io.BytesIO()
    fmt, name = ("ogg", "libopus") if codec == "opus" else ("mp3", "libmp3lame")
    with av.open(buf, "w", format=fmt) as out:
        st = out.add_stream(name, rate=rate)
        st.bit_rate = int(kbps * 1000)
        st.layout = "mono"
        fs = st.codec_context.frame_size or 1152
        for i in range(0, len(y), fs):
            frame = av.AudioFrame.from_ndarray(y[None, i:i + fs], format="flt", layout="mono")
            frame.sample_rate = rate
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    buf.seek(0)
    chunks = []
    with av.open(buf) as inp:
        res = av.AudioResampler(format="flt", layout="mono", rate=SR)
        for frame in inp.decode(audio=0):
            for f in res.resample(frame):
                chunks.append(f.to_ndarray()[0])
    z = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return _fit(z, len(x))


def _fit(z: np.ndarray, n: int) -> np.ndarray:
    return z[:n] if len(z) >= n else np.pad(z, (0, n - len(z)))


def impulse_response(rt60: float, rng, sr: int = SR) -> np.ndarray:
    """Exponentially decaying noise (60 dB down after ``rt60`` s) after a direct-path impulse."""
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    h = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60) * 0.3
    h[0] = 1.0
    return h / np.sqrt(np.sum(h ** 2))


def perturb_audio(p: Perturbation, x: np.ndarray, rng) -> np.ndarray:
    if p.kind == "noise":
        y = add_noise(x, _noise(p, len(x), rng), p.value)
    elif p.kind == "codec":
        y = codec_roundtrip(x, p.options["codec"], p.value)
    elif p.kind == "resample":
        import soxr

        y = _fit(soxr.resample(soxr.resample(x, SR, int(p.value)), int(p.value), SR), len(x))
    elif p.kind == "clip":
        lim = p.value * float(np.max(np.abs(x)) or 1.0)
        y = np.clip(x, -lim, lim)
    else:  # reverb
        from scipy.signal import fftconvolve

        y = fftconvolve(x, impulse_response(p.value, rng))[:len(x)]
        y *= math.sqrt(np.mean(x ** 2) / max(np.mean(y ** 2), 1e-12))
    # no peak normalisation: the cached file is float WAV, so a sum above full scale is kept
    # exactly (rescaling would change loudness, which is itself a feature)
    return y.astype(np.float32)


# --------------------------------------------------------------------------- text, faces
_KEYS = "abcdefghijklmnopqrstuvwxyz"


def typos(text: str, rate: float, rng) -> str:
    """Each letter, with probability ``rate``: dropped, doubled, swapped with the next, or replaced."""
    out, chars, i = [], list(text), 0
    while i < len(chars):
        c = chars[i]
        if c.isalpha() and rng.random() < rate:
            op = int(rng.integers(4))
            if op == 1:
                out += [c, c]
            elif op == 2 and i + 1 < len(chars):
                out += [chars[i + 1], c]
                i += 1
            elif op == 3:
                out.append(_KEYS[int(rng.integers(26))] if c.isascii() else c)
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def perturb_image(p: Perturbation, img: np.ndarray, rng) -> np.ndarray:
    """Occlusion: a mid-grey box of ``fraction`` of the area at a seeded place; blur: Gaussian."""
    if p.kind == "blur":
        import cv2

        return cv2.GaussianBlur(img, (0, 0), p.value)
    h, w = img.shape[:2]
    side_h, side_w = max(1, int(round(h * math.sqrt(p.value)))), max(1, int(round(w * math.sqrt(p.value))))
    y0, x0 = int(rng.integers(h - side_h + 1)), int(rng.integers(w - side_w + 1))
    out = img.copy()
    out[y0:y0 + side_h, x0:x0 + side_w] = 128
    return out


# ------------------------------------------------------------------------------- media
def _cache_path(p: Perturbation, key: str, suffix: str) -> Path:
    from .paths import home

    h = _row_digest(p, key).hex()
    d = home() / "perturbed" / p.kind / h[:2]
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{h[2:26]}{suffix}"


def perturbed_frame(p: Perturbation, df: pd.DataFrame, modality: str) -> tuple[pd.DataFrame, list]:
    """A copy of ``df`` whose ``modality`` media (or text) are perturbed; failures as (path, problem)."""
    from .features.extract import item_records
    from .features.store import FileHashes, content_key

    out, fails = df.copy(), []
    if modality == "text":
        out["text"] = [None if t is None or t is pd.NA else typos(str(t), p.value, rng_for(p, "t" + str(t)))
                       for t in df["text"].astype(object)]
        return out, fails
    hashes = FileHashes()
    try:
        paths = []
        for r in item_records(df, modality):
            src = r.get(modality)
            if not src:
                paths.append(None)
                continue
            try:
                key = content_key(r, modality, hashes)
                paths.append(str(_materialise(p, r, modality, key)))
            except MediaError as e:
                fails.append((e.path, e.problem))
                paths.append(None)
    finally:
        hashes.close()
    out[modality] = paths
    seg = {"audio": ("start", "end"), "video": ("video_start", "video_end")}.get(modality, ())
    for c in seg:
        out[c] = np.nan  # the perturbed file holds the segment only
    return out, fails


def _materialise(p: Perturbation, r: dict, modality: str, key: str) -> Path:
    suffix = {"audio": ".wav", "image": ".png", "video": ".mp4"}[modality]
    dest = _cache_path(p, key, suffix)
    if dest.exists() and dest.stat().st_size:
        return dest
    tmp = dest.with_name(f".{dest.name}.tmp{suffix}")
    rng = rng_for(p, key)
    if modality == "audio":
        import soundfile as sf

        from .audio import load

        sf.write(tmp, perturb_audio(p, load(r["audio"], SR, r.get("start"), r.get("end")), rng), SR,
                 subtype="FLOAT", format="WAV")
    elif modality == "image":
        import cv2

        from .features.face import read_image

        cv2.imwrite(str(tmp), cv2.cvtColor(perturb_image(p, read_image(r["image"]), rng), cv2.COLOR_RGB2BGR))
    else:
        _perturb_video(p, r, tmp, rng)
    tmp.replace(dest)
    return dest


def _perturb_video(p: Perturbation, r: dict, tmp: Path, rng) -> None:
    from .video import iter_frames, write_video

    times, frames = [], []
    clip_seed = int(rng.integers(2 ** 63))  # one occluder position for the whole clip
    for t, f in iter_frames(r["video"], None, r.get("start"), r.get("end")):
        times.append(t)
        frames.append(perturb_image(p, f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2],
                                    np.random.default_rng(clip_seed)))
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 25.0
    write_video(tmp, frames, fps=fps, options={"threads": "1"})


# ------------------------------------------------------------------------------- scoring
def evaluate(spec, df, fs, plans, folds, heads, Y, classes, task, rep, block_head, pooled) -> dict:
    """Every perturbation: each fold's head on its perturbed test rows; WAR/UAR and the drop
    from clean (on the same rows when some perturbed files failed)."""
    from .features import extract

    if task != "single_label":
        raise SpecError("[robustness] reports WAR/UAR: it needs a single-label view")
    out = {"clean": {"war": pooled["war"], "uar": pooled["uar"], "n": pooled["n"]}, "runs": []}
    need = np.unique(np.concatenate([f.test for f in folds]))
    ctx = (spec, fs, folds, heads, Y, block_head, df["speaker"].astype(object).to_numpy(),
           df["id"].astype(str).to_numpy(), df["text"].astype(object).fillna("").tolist())
    for p in parse_perturbations(spec.robustness.perturbations, seed=spec.seed):
        mods = [b.modality for b in fs.blocks]
        target = {m for m in mods if m == p.modality or (p.modality == "visual" and m in ("image", "video"))}
        if not target:
            out["runs"].append({"name": p.name, "skipped": f"no feature block reads {p.modality}"})
            continue
        upd = rep.task(f"robustness: {p.name}", None)
        Xp, ok, texts_p, fails = _perturbed_blocks(spec, p, df, fs, target, extract, need)
        upd(1, 1)
        row = _score(ctx, Xp, ok, texts_p, classes, out["clean"], not ok[need].all())
        out["runs"].append({"name": p.name, "kind": p.kind, "value": p.value, "failed": len(fails), **row})
        rep.log(f"robustness {p.name}: WAR {row['war']:.3f} UAR {row['uar']:.3f} "
                f"(clean {out['clean']['war']:.3f} / {out['clean']['uar']:.3f})")
    return out


def _score(ctx, Xp, ok, texts_p, classes, clean: dict, partial: bool) -> dict:
    """Each fold's head on its test rows, perturbed (and clean again on the same rows when
    ``partial``: some rows could not be perturbed)."""
    from . import metrics as M
    from .heads.blocks import rows
    from .runner import fold_blocks, fold_matrix

    spec, fs, folds, heads, Y, block_head, speakers, ids, texts = ctx
    make = fold_blocks if block_head else fold_matrix
    true, pert, base = [], [], []
    for fold, head in zip(folds, heads):
        test = fold.test[ok[fold.test]]
        if not len(test):
            continue
        X = make(spec, _swap(fs, Xp, test), fold, speakers, _swap_texts(texts, texts_p, test), ids)
        pert.append(head.decide(head.predict_proba(rows(X, test) if block_head else X[test])))
        true.append(Y[test])
        if partial:
            X = make(spec, fs, fold, speakers, texts, ids)
            base.append(head.decide(head.predict_proba(rows(X, test) if block_head else X[test])))
    t = np.concatenate(true)
    m = M.classification(t, np.concatenate(pert), classes, n_boot=0, seed=spec.seed)
    ref = M.classification(t, np.concatenate(base), classes, n_boot=0) if partial else clean
    return {"n": int(len(t)), "war": m["war"], "uar": m["uar"], "clean_war": ref["war"],
            "clean_uar": ref["uar"], "drop_war": ref["war"] - m["war"], "drop_uar": ref["uar"] - m["uar"]}


def _perturbed_blocks(spec, p, df, fs, target, extract, need: np.ndarray):
    """Perturbed features of the rows some fold tests (``need``), for the blocks that read the
    perturbed modality; rows of other blocks, and rows never tested, are not touched."""
    ok = np.ones(len(df), bool)
    Xp, texts_p, fails = {}, None, []
    sub = df.iloc[need].reset_index(drop=True)
    for bi, b in enumerate(fs.blocks):
        if b.modality not in target:
            continue
        pdf, f = perturbed_frame(p, sub, b.modality)
        fails += f
        if b.per_fold:
            texts_p = df["text"].astype(object).fillna("").tolist()
            for i, t in zip(need, pdf["text"].astype(object).fillna("")):
                texts_p[i] = t
            continue
        has = pdf[b.modality].notna().to_numpy() if b.modality != "text" else np.ones(len(sub), bool)
        had = sub[b.modality].notna().to_numpy() if b.modality != "text" else has
        res = extract(b.extractor, pdf[has], jobs=spec.features.jobs, on_error="skip",
                      executor=spec.features.executor, address=spec.features.address)
        X, _ = b.extractor.split_stats(res.X)
        full = np.zeros_like(b.X)
        rows = need[np.flatnonzero(has)[res.ok]]
        full[rows] = X
        good = np.zeros(len(df), bool)
        good[rows] = True
        absent = np.ones(len(df), bool)
        absent[need[had]] = False  # rows that had this modality must have been perturbed
        ok &= good | absent
        fails += res.failures
        Xp[bi] = full
    return Xp, ok, texts_p, fails


def _swap(fs, Xp: dict, test: np.ndarray):
    """A shallow copy of the feature set whose perturbed blocks carry perturbed test rows."""
    import copy

    new = copy.copy(fs)
    new.blocks = []
    for bi, b in enumerate(fs.blocks):
        if bi in Xp:
            b = copy.copy(b)
            X = b.X.copy()
            X[test] = Xp[bi][test]
            b.X = X
        new.blocks.append(b)
    return new


def _swap_texts(texts, texts_p, test):
    if texts_p is None:
        return texts
    out = list(texts)
    for i in test:
        out[i] = texts_p[i]
    return out


def report_lines(rob: dict) -> list[str]:
    c = rob["clean"]
    lines = ["", "## Robustness (test-time perturbations)", "",
             "Each fold's head, trained and normalised on clean data, scores its test rows again "
             "with the perturbation applied (test time only). Drop = clean − perturbed.", "",
             "| perturbation | n | WAR | UAR | WAR drop | UAR drop |", "|---|---|---|---|---|---|",
             f"| clean | {c['n']} | {c['war']:.3f} | {c['uar']:.3f} | – | – |"]
    for r in rob["runs"]:
        if "skipped" in r:
            lines.append(f"| {r['name']} | – | – | – | – | skipped: {r['skipped']} |")
            continue
        failed = f" ({r['failed']} failed)" if r["failed"] else ""
        lines.append(f"| {r['name']} | {r['n']}{failed} | {r['war']:.3f} | {r['uar']:.3f} | {r['drop_war']:+.3f} | {r['drop_uar']:+.3f} |")
    return lines
