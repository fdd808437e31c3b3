"""Synthetic "demo" corpus: the embedded default corpus of affectbench.

This is a **demo, not a benchmark**.  It exists so that the toolkit can be
installed and exercised end to end (loading, feature extraction, speaker-
independent splits, classifiers, UAR/WAR reporting) without downloading or
licensing any real emotional-speech corpus.  Numbers obtained on it say
nothing about how a method performs on human emotional speech and must never
be reported as results.

Everything here is generated at run time by this module's own code; no audio,
text, or statistics are copied from any existing corpus, so the data carry no
third-party licence (they fall under the toolkit's own licence).

What is generated
-----------------
``n_speakers`` synthetic speakers (alternating ``spk01`` = f, ``spk02`` = m,
..., so half female and half male for an even count) each produce
``per_class`` utterances for each of the four classes in
:data:`DEMO_EMOTIONS`.  Every utterance has

* audio: a 16-bit PCM mono WAV (1.2-2.0 s) of a crude speech-like signal:
  a Rosenberg-type glottal pulse train following an F0 contour (declination,
  per-syllable pitch accents, slow drift, jitter), a syllabic amplitude
  envelope (4-7 syllables/s), a cascade of formant resonators whose targets
  change from syllable to syllable (vowel-like), fricative-like noise bursts
  at some syllable onsets, aspiration/breath noise, and a first-order spectral
  tilt filter.  Speakers differ in base F0 (female ~190-230 Hz, male
  ~100-130 Hz), vocal-tract (formant) scaling, loudness, speaking rate, tilt
  and breathiness.
* text: an English sentence built from this module's own templates.

Emotions act on prosody roughly in the directions reported in the
vocal-affect literature (relative to the speaker's neutral baseline):

* neutral -- baseline;
* happy   -- higher F0, wide F0 range, faster, somewhat louder;
* angry   -- higher F0, louder, flatter spectral tilt (pressed phonation),
  faster, raised F1;
* sad     -- lower F0, narrow F0 range, slower, quieter, steeper tilt,
  breathier.

Each effect is drawn per utterance with substantial random spread, so class
distributions overlap and the task is deliberately *not* trivial: eGeMAPSv02
functionals + standardisation + logistic regression under leave-one-speaker-
out land well below perfect (see ``benchmarks/demo_check.py``).  Likewise,
about 30 % of the sentences of each emotional class (40 % of the neutral
class) come from a shared pool of emotionally neutral/ambiguous sentences,
so text alone is informative but imperfect, and audio + text is better than
either.

Typical figures for the default set (8 speakers x 4 classes x 8 = 256
utterances, seeds 0-5): audio UAR ~0.66-0.81 (per-speaker z-normalisation
adds ~0.05-0.1), text ~0.70-0.76, audio + text ~0.82-0.87; generation takes
~1.3 s of CPU time and ~13 MB of WAV (16 kHz, 16 bit).

Layout of ``out_dir``::

    wav/<id>.wav            one file per utterance, e.g. wav/spk03_happy_05.wav
    metadata.json           the returned rows, audio paths relative to out_dir
    demo_complete.json      marker (corpus, DEMO_VERSION, parameters), written last

Generation is deterministic for a given ``seed`` (identical WAV bytes; each
utterance is seeded from (seed, speaker, emotion, index), so it does not
depend on how many others are generated) and idempotent: a completed set is
recognised by the marker file and re-used without rewriting.  Bump
:data:`DEMO_VERSION` whenever the generated data change, since it keys caches.
"""

from __future__ import annotations

import json
import os
import pathlib
import wave

import numpy as np

__all__ = ["DEMO_EMOTIONS", "DEMO_VERSION", "synthesize_demo"]

DEMO_EMOTIONS = ("neutral", "happy", "sad", "angry")
DEMO_VERSION = "1"  # bump when the generated data changes (it keys caches)

_MARKER = "demo_complete.json"
_METADATA = "metadata.json"
_EMOTION_CODE = {e: i for i, e in enumerate(DEMO_EMOTIONS)}

# --------------------------------------------------------------------------
# Text templates (written for this module; not taken from any data set).
# Slots in braces are filled from _SLOTS.
# --------------------------------------------------------------------------

_SLOTS = {
    "thing": ["report", "car", "garden", "kitchen", "laptop", "bicycle",
              "letter", "project", "ticket", "jacket", "photo album", "plan"],
    "person": ["my brother", "the neighbour", "our manager", "my sister",
               "the driver", "your friend", "the landlord", "my cousin"],
    "place": ["the station", "the office", "the market", "the park",
              "the library", "the harbour", "the museum", "the school"],
    "day": ["Monday", "Tuesday", "Thursday", "Friday", "the weekend",
            "tomorrow", "next week", "this evening"],
}

_TEMPLATES = {
    "neutral": [
        "The {thing} is on the table next to the window.",
        "Please send the {thing} to {place} before noon.",
        "I usually take the bus to {place} on {day}.",
        "{person} said the delivery will arrive around four.",
        "The forms are in the second drawer of the desk.",
        "We need two more chairs for the meeting room.",
        "The {thing} was moved to {place} last week.",
        "Turn left at the corner and walk past {place}.",
        "The printer on the third floor uses the blue cartridges.",
        "I will check the schedule for {day} and let you know.",
        "The shop closes at six on weekdays.",
        "{person} parked the car behind {place}.",
    ],
    "happy": [
        "This is wonderful, I love the new {thing}!",
        "We won, I am so thrilled and proud of everyone!",
        "What a lovely surprise, thank you so much!",
        "I am delighted that {person} is coming on {day}!",
        "Hooray, the {thing} finally works, how fantastic!",
        "I feel great today, everything is going perfectly.",
        "That was the best day ever, I had so much fun!",
        "Congratulations, you absolutely deserve this joy!",
        "I can't stop smiling, the news is amazing!",
        "Yay, we are going to {place} together, how exciting!",
        "Your {thing} looks gorgeous, I am so happy for you!",
        "Brilliant, what a cheerful and sunny morning!",
    ],
    "sad": [
        "I miss her so much, the house feels empty now.",
        "Nobody came to see me, I feel so lonely.",
        "I lost the {thing} and I am heartbroken about it.",
        "It hurts to know that {person} is gone forever.",
        "I tried my best, but I failed again and I feel hopeless.",
        "Everything seems grey and sorrowful lately.",
        "I cried all night after the bad news about {person}.",
        "We said goodbye at {place} and I was in tears.",
        "I feel so alone, nothing will ever be the same.",
        "It is a miserable, gloomy day and I am so unhappy.",
        "I wish things had turned out differently, I am sorry.",
        "My heart aches whenever I think about {day}.",
    ],
    "angry": [
        "This is outrageous, who broke my {thing}?",
        "Stop lying to me, I am furious with you!",
        "How dare {person} take my {thing} without asking!",
        "I am sick and tired of your stupid excuses!",
        "Get out of here right now, I hate this!",
        "You ruined everything, I am so mad at you!",
        "That is absolutely unacceptable, fix it immediately!",
        "Why do you never listen, this is infuriating!",
        "I told you a hundred times, shut the door!",
        "Damn it, {person} wrecked the {thing} again!",
        "Don't you dare shout at me, I am livid!",
        "I am fed up with waiting at {place} for nothing!",
    ],
}

# Emotionally neutral / ambiguous sentences shared by every class.
_SHARED = [
    "I can't believe it happened on {day}.",
    "So that is what {person} decided to do.",
    "We are going to {place} after lunch.",
    "Did you see the {thing} this morning?",
    "It was exactly what I expected.",
    "Well, that is the way it is now.",
    "I really did not see that coming.",
    "Tell {person} to call me back.",
    "The {thing} is still at {place}.",
    "Oh, it is you again.",
]

# Fraction of sentences drawn from _SHARED, per class.
_SHARED_FRACTION = {"neutral": 0.40, "happy": 0.30, "sad": 0.30, "angry": 0.30}

# --------------------------------------------------------------------------
# Acoustic parameters.
# --------------------------------------------------------------------------

# (F1, F2, F3) of a few vowel-like targets, adult-male-ish reference in Hz.
_VOWELS = np.array([
    [730.0, 1090.0, 2440.0],   # a
    [270.0, 2290.0, 3010.0],   # i
    [300.0, 870.0, 2240.0],    # u
    [530.0, 1840.0, 2480.0],   # e
    [570.0, 840.0, 2410.0],    # o
    [660.0, 1720.0, 2410.0],   # ae
    [490.0, 1350.0, 1690.0],   # er
    [640.0, 1190.0, 2390.0],   # schwa-ish
])
_BANDWIDTHS = np.array([80.0, 110.0, 160.0])

# Emotion effects: (mean, sd) per utterance, relative to the speaker baseline.
#   f0_st     : F0 shift in semitones
#   range     : multiplier on pitch-accent / declination magnitude
#   rate      : multiplier on syllable rate
#   gain_db   : loudness change
#   tilt      : one-pole low-pass coefficient added to the speaker's base
#               (higher = steeper spectral tilt)
#   oq        : glottal open quotient (lower = pressed / flatter spectrum)
#   breath    : multiplier on aspiration noise
#   f1        : multiplier on F1 (vocal effort raises F1)
_EMO = {
    "neutral": dict(f0_st=(0.0, 1.0), range=(1.0, 0.25), rate=(1.0, 0.08),
                    gain_db=(0.0, 1.7), tilt=(0.0, 0.04), oq=(0.62, 0.05),
                    breath=(1.0, 0.3), f1=(1.0, 0.04)),
    "happy": dict(f0_st=(2.5, 1.0), range=(1.8, 0.35), rate=(1.1, 0.08),
                  gain_db=(2.0, 1.7), tilt=(-0.02, 0.04), oq=(0.58, 0.05),
                  breath=(0.9, 0.3), f1=(1.04, 0.04)),
    "sad": dict(f0_st=(-1.5, 1.0), range=(0.55, 0.2), rate=(0.85, 0.07),
                gain_db=(-3.5, 1.7), tilt=(0.1, 0.04), oq=(0.68, 0.05),
                breath=(1.25, 0.3), f1=(0.97, 0.04)),
    "angry": dict(f0_st=(2.5, 1.0), range=(1.1, 0.3), rate=(1.12, 0.08),
                  gain_db=(5.0, 1.7), tilt=(-0.12, 0.04), oq=(0.48, 0.05),
                  breath=(0.8, 0.3), f1=(1.1, 0.04)),
}

_REF_RMS = 0.05  # RMS of the voiced part at 0 dB speaker + emotion gain


def _speaker_params(seed: int, index: int) -> dict:
    """Per-speaker baseline, deterministic in (seed, index)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, index]))
    gender = "f" if index % 2 == 0 else "m"
    if gender == "f":
        f0 = rng.uniform(190.0, 230.0)
        formant_scale = rng.uniform(1.10, 1.20)
    else:
        f0 = rng.uniform(100.0, 130.0)
        formant_scale = rng.uniform(0.95, 1.05)
    return dict(
        gender=gender,
        f0=f0,
        formant_scale=formant_scale,
        gain_db=rng.uniform(-2.5, 2.5),
        rate=rng.uniform(4.8, 5.4),          # neutral syllables per second
        tilt=rng.uniform(0.6, 0.7),         # base one-pole coefficient
        breath=rng.uniform(0.03, 0.05),      # aspiration level re. voicing
        accent_st=rng.uniform(1.8, 2.6),     # typical pitch-accent size
        oq_offset=rng.uniform(-0.03, 0.03),
    )


def _fill(template: str, rng: np.random.Generator) -> str:
    out = template
    for key, values in _SLOTS.items():
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, values[int(rng.integers(len(values)))], 1)
    return out[0].upper() + out[1:]


def _sentence(label: str, rng: np.random.Generator) -> str:
    if rng.random() < _SHARED_FRACTION[label]:
        pool = _SHARED
    else:
        pool = _TEMPLATES[label]
    return _fill(pool[int(rng.integers(len(pool)))], rng)


def _resonator_sos(freqs: np.ndarray, bws: np.ndarray, sr: int) -> np.ndarray:
    """Cascade of 2nd-order all-pole resonators (unity gain at DC)."""
    r = np.exp(-np.pi * bws / sr)
    theta = 2.0 * np.pi * freqs / sr
    a1 = -2.0 * r * np.cos(theta)
    a2 = r * r
    gain = 1.0 + a1 + a2
    sos = np.zeros((len(freqs), 6))
    sos[:, 0] = gain
    sos[:, 3] = 1.0
    sos[:, 4] = a1
    sos[:, 5] = a2
    return sos


def _glottal_pulse(phase: np.ndarray, oq: float) -> np.ndarray:
    """Rosenberg-type glottal flow evaluated at fractional phase in [0, 1)."""
    tp = 0.62 * oq          # opening part
    tn = oq - tp            # closing part
    g = np.zeros_like(phase)
    m1 = phase < tp
    g[m1] = 0.5 * (1.0 - np.cos(np.pi * phase[m1] / tp))
    m2 = (~m1) & (phase < tp + tn)
    g[m2] = np.cos(0.5 * np.pi * (phase[m2] - tp) / tn)
    return g


def _fricative_bank(sr: int) -> list[np.ndarray]:
    from scipy import signal  # lazy: importing scipy.signal costs ~1 s at startup
    nyq = sr / 2.0
    bands = [(3500.0, 7000.0), (2200.0, 4500.0), (1200.0, 6500.0), (4500.0, 7600.0)]
    out = []
    for lo, hi in bands:
        hi = min(hi, 0.95 * nyq)
        lo = min(lo, 0.5 * hi)
        out.append(signal.butter(2, [lo / nyq, hi / nyq], btype="band", output="sos"))
    return out


def _synth_utterance(spk: dict, label: str, rng: np.random.Generator, sr: int,
                     fric_bank: list[np.ndarray]) -> np.ndarray:
    from scipy import signal  # lazy: importing scipy.signal costs ~1 s at startup
    emo = {k: rng.normal(m, s) for k, (m, s) in _EMO[label].items()}

    duration = rng.uniform(1.2, 2.0)
    n = int(round(duration * sr))
    lead = int(rng.uniform(0.05, 0.12) * sr)
    trail = int(rng.uniform(0.05, 0.12) * sr)
    n_speech = n - lead - trail

    # --- syllables -------------------------------------------------------
    rate = float(np.clip(spk["rate"] * max(emo["rate"], 0.6), 3.8, 7.2))
    n_syl = max(3, int(round(n_speech / sr * rate)))
    w = rng.gamma(8.0, 1.0, n_syl)
    bounds = lead + np.concatenate([[0.0], np.cumsum(w) / w.sum()]) * n_speech
    bounds = np.round(bounds).astype(int)

    t = np.arange(n) / sr
    env = np.zeros(n)
    voiced = np.zeros(n, dtype=bool)
    fric = np.zeros(n)
    accent_range = spk["accent_st"] * max(emo["range"], 0.15)
    syl_st = np.zeros(n_syl)
    syl_centre = np.full(n_syl, np.nan)
    syl_formants = np.empty((n_syl, 3))
    f1_mult = float(np.clip(emo["f1"], 0.85, 1.2))
    for k in range(n_syl):
        a, b = bounds[k], bounds[k + 1]
        length = b - a
        onset = 0
        if rng.random() < 0.6:  # fricative / burst onset
            onset = int(length * rng.uniform(0.15, 0.35))
            band = fric_bank[int(rng.integers(len(fric_bank)))]
            burst = signal.sosfilt(band, rng.standard_normal(onset))
            burst *= np.hanning(onset) * rng.uniform(0.1, 0.35)
            fric[a:a + onset] = burst
        va, vb = a + onset, b
        vlen = vb - va
        if vlen < 8:
            continue
        # vowel nucleus envelope: fast attack, slower decay, per-syllable stress
        x = np.linspace(0.0, 1.0, vlen)
        shape = np.sin(np.pi * x ** 0.7) ** 0.8
        stress = rng.uniform(0.55, 1.0)
        env[va:vb] = np.maximum(env[va:vb], shape * stress)
        voiced[va:vb] = True
        syl_st[k] = accent_range * (rng.uniform(-0.6, 1.0) * (0.5 + stress))
        syl_centre[k] = (va + vb) / 2.0 / sr
        v = _VOWELS[int(rng.integers(len(_VOWELS)))]
        f = v * spk["formant_scale"] * rng.normal(1.0, 0.04, 3)
        f[0] *= f1_mult
        syl_formants[k] = f

    # --- F0 contour (semitones re. speaker base) -------------------------
    t0, t1 = lead / sr, (lead + n_speech) / sr
    decl = -accent_range * 0.8 * (t - t0) / max(t1 - t0, 1e-3)
    valid = np.isfinite(syl_centre)
    accents = np.interp(t, syl_centre[valid], syl_st[valid])
    drift = np.cumsum(rng.standard_normal(n // 160 + 2))[: n // 160 + 2]
    drift = np.interp(np.arange(n), np.arange(len(drift)) * 160, drift) * 0.08
    st = emo["f0_st"] + decl + accents + drift
    st = signal.sosfiltfilt(signal.butter(2, 12.0 / (sr / 2), output="sos"), st)
    f0 = spk["f0"] * 2.0 ** (st / 12.0)
    f0 *= 1.0 + 0.006 * rng.standard_normal(n)  # jitter-ish
    f0 = np.clip(f0, 60.0, 500.0)

    # --- glottal source ----------------------------------------------------
    phase = np.cumsum(f0) / sr + rng.random()
    oq = float(np.clip(emo["oq"] + spk["oq_offset"], 0.35, 0.85))
    flow = _glottal_pulse(np.mod(phase, 1.0), oq)
    source = np.diff(flow, prepend=flow[0]) * sr / spk["f0"]  # lip radiation
    tilt = float(np.clip(spk["tilt"] + emo["tilt"], 0.3, 0.93))
    source = signal.lfilter([1.0 - tilt], [1.0, -tilt], source)
    source = source / (np.sqrt(np.mean(source ** 2)) + 1e-12)
    breath = spk["breath"] * max(emo["breath"], 0.2)
    source = source * env + breath * 6.0 * rng.standard_normal(n) * env

    # --- time-varying formant filter (state carried across syllables) ------
    out = np.zeros(n)
    zi = np.zeros((4, 2))
    edges = [0] + [int(bounds[k]) for k in range(1, n_syl)] + [n]
    last_f = syl_formants[valid][0]
    for k in range(n_syl):
        if valid[k]:
            last_f = syl_formants[k]
        freqs = np.append(np.minimum(last_f, 0.45 * sr), 3500.0 * spk["formant_scale"])
        bws = np.append(_BANDWIDTHS * rng.uniform(0.85, 1.2), 250.0)
        sos = _resonator_sos(freqs, bws, sr)
        seg = slice(edges[k], edges[k + 1])
        out[seg], zi = signal.sosfilt(sos, source[seg], zi=zi)

    vrms = np.sqrt(np.mean(out[voiced] ** 2)) if voiced.any() else 1.0
    gain = _REF_RMS * 10.0 ** ((spk["gain_db"] + emo["gain_db"]) / 20.0) / (vrms + 1e-12)
    y = out * gain + fric * _REF_RMS * 10.0 ** (spk["gain_db"] / 20.0)
    y += 1e-4 * rng.standard_normal(n)  # faint noise floor
    peak = np.max(np.abs(y))
    if peak > 0.97:
        y *= 0.97 / peak
    return y


def _write_wav(path: pathlib.Path, pcm: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono RIFF/WAVE (stdlib writer: byte-exact, no fsync)."""
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(sample_rate)
        fh.writeframes(pcm.tobytes())


def _params(n_speakers: int, per_class: int, seed: int, sample_rate: int) -> dict:
    return {"n_speakers": int(n_speakers), "per_class": int(per_class),
            "seed": int(seed), "sample_rate": int(sample_rate)}


def _load_existing(out_dir: pathlib.Path, marker: dict) -> list[dict] | None:
    try:
        with open(out_dir / _MARKER, encoding="utf-8") as fh:
            found = json.load(fh)
        if found != marker:
            return None
        with open(out_dir / _METADATA, encoding="utf-8") as fh:
            rows = json.load(fh)
    except (OSError, ValueError):
        return None
    result = []
    for row in rows:
        path = out_dir / row["audio"]
        if not path.is_file():
            return None
        result.append({**row, "audio": str(path.resolve())})
    if len(result) != marker["n_utterances"]:
        return None
    return result


def synthesize_demo(out_dir: pathlib.Path, *, n_speakers: int = 8, per_class: int = 8,
                    seed: int = 0, sample_rate: int = 16000) -> list[dict]:
    """Writes WAV files (16-bit PCM mono) under out_dir/wav/ and returns one dict per utterance with keys:
    id (e.g. 'spk03_happy_05'), speaker (e.g. 'spk03'), gender ('f'/'m'), label (one of DEMO_EMOTIONS), text (English sentence), audio (absolute path str), duration (s).

    Deterministic for a given ``seed`` (same bytes).  If ``out_dir`` already
    holds a complete set written by the same :data:`DEMO_VERSION` and
    parameters (recognised by a marker JSON written last), the rows are
    returned without rewriting anything.  Speakers are numbered from 1 and
    alternate female/male; utterance indices are numbered from 1.
    """
    if n_speakers < 1 or per_class < 1:
        raise ValueError("n_speakers and per_class must be >= 1")
    if sample_rate < 8000:
        raise ValueError("sample_rate must be >= 8000")
    out_dir = pathlib.Path(out_dir)
    marker = {"corpus": "affectbench-demo", "version": DEMO_VERSION,
              "params": _params(n_speakers, per_class, seed, sample_rate),
              "n_utterances": n_speakers * per_class * len(DEMO_EMOTIONS)}
    existing = _load_existing(out_dir, marker)
    if existing is not None:
        return existing

    wav_dir = out_dir / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    try:
        (out_dir / _MARKER).unlink()  # an interrupted rewrite must not look complete
    except FileNotFoundError:
        pass

    fric_bank = _fricative_bank(sample_rate)
    s_width = max(2, len(str(n_speakers)))
    u_width = max(2, len(str(per_class)))
    rows: list[dict] = []
    for si in range(n_speakers):
        spk = _speaker_params(seed, si)
        speaker = f"spk{si + 1:0{s_width}d}"
        for label in DEMO_EMOTIONS:
            for ui in range(per_class):
                rng = np.random.default_rng(
                    np.random.SeedSequence([seed, 2, si, _EMOTION_CODE[label], ui]))
                text = _sentence(label, rng)
                y = _synth_utterance(spk, label, rng, sample_rate, fric_bank)
                uid = f"{speaker}_{label}_{ui + 1:0{u_width}d}"
                path = wav_dir / f"{uid}.wav"
                pcm = np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype("<i2")
                _write_wav(path, pcm, sample_rate)
                rows.append({
                    "id": uid,
                    "speaker": speaker,
                    "gender": spk["gender"],
                    "label": label,
                    "text": text,
                    "audio": str(path.resolve()),
                    "duration": round(len(pcm) / sample_rate, 4),
                })

    relative = [{**r, "audio": os.path.relpath(r["audio"], out_dir.resolve())} for r in rows]
    relative = [{**r, "audio": pathlib.Path(r["audio"]).as_posix()} for r in relative]
    tmp = out_dir / (_METADATA + ".tmp")
    tmp.write_text(json.dumps(relative, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out_dir / _METADATA)
    tmp = out_dir / (_MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=1), encoding="utf-8")
    os.replace(tmp, out_dir / _MARKER)
    return rows
