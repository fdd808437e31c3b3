"""`affectbench serve` under load, next to the same work done by `inference.predict` in one process.

    python benchmarks/bench_serve.py [--tone MODEL_DIR --text MODEL_DIR] [--audio-dir DIR]

1. 8 concurrent clients each send 5-second clips (EmoDB utterances joined to 5 s) to a real
   `affectbench serve` process on a loopback port: throughput (clips/s) and p50/p95 latency,
   next to `predict(model, [clip])` per clip and `predict(model, clips)` in one call, in one
   process. The service must reach 80 % of the one-process throughput (exit status 1 if not).
2. Text: 8 clients send single sentences: requests per second (the server batches them).
3. A bounded load test (loopback only, a fixed number of requests and a time limit): every
   request answered, none lost; server RSS printed at start and end (it must stay flat).

Without --tone/--text, two models are fitted first: tone on EmoDB (eGeMAPS + linear head, the
folder above --audio-dir) and text on the demo corpus's sentences (TF-IDF + linear).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_AUDIO = ROOT.parent / "shared" / "data" / "emodb" / "wav"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def train_small(out: Path, emodb: Path) -> tuple[Path, Path]:
    """A real tone model (EmoDB, eGeMAPS + linear) and a small text model (demo sentences, TF-IDF)."""
    from affectbench import load_spec
    from affectbench.fit import fit_final
    from affectbench.model import save_model

    specs = {"tone": (ROOT / "examples" / "emodb_egemaps_linear.toml", [f"corpus.root={emodb}"]),
             "text": (ROOT / "examples" / "demo.toml", ["features.extractors=['tfidf']"])}
    paths = []
    for name, (spec_file, over) in specs.items():
        spec = load_spec(spec_file, [f"name=bench_{name}", f"output_dir={out / 'runs'}", *over])
        paths.append(save_model(fit_final(spec), out / name))
    return paths[0], paths[1]


def make_clips(audio_dir: Path, n: int, out: Path, seconds: float = 5.0) -> list[Path]:
    files = sorted(audio_dir.glob("*.wav"))
    if not files:
        sys.exit(f"no .wav files in {audio_dir}: pass --audio-dir")
    clips, k = [], 0
    for i in range(n):
        parts, total = [], 0
        while total < seconds * 16000:
            x, sr = sf.read(str(files[k % len(files)]), dtype="float32")
            k += 1
            parts.append(x)
            total += len(x)
        p = out / f"clip{i:03d}.wav"
        sf.write(str(p), np.concatenate(parts)[:int(seconds * 16000)], 16000)
        clips.append(p)
    return clips


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tone: Path, text: Path, tmp: Path, *extra: str):
    import httpx

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "affectbench.cli", "serve", f"tone={tone}", f"text={text}",
                             "--port", str(port), "--tmp-dir", str(tmp), *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            sys.exit(f"server exited: {proc.stderr.read()}")
        time.sleep(0.1)
    proc.kill()
    sys.exit("server did not start in 60 s")


def post_clip(client, base: str, clip: Path) -> tuple[int, float]:
    t = time.perf_counter()
    r = client.post(f"{base}/v1/predict", files={"file": (clip.name, clip.read_bytes(), "audio/wav")}, timeout=300)
    return r.status_code, time.perf_counter() - t


def concurrent(fn, jobs: list, clients: int):
    import httpx

    with httpx.Client() as c, ThreadPoolExecutor(clients) as ex:
        t = time.perf_counter()
        res = list(ex.map(lambda j: fn(c, j), jobs))
        return res, time.perf_counter() - t


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tone", type=Path)
    ap.add_argument("--text", type=Path)
    ap.add_argument("--audio-dir", type=Path, default=DEFAULT_AUDIO)
    ap.add_argument("--clips", type=int, default=24, help="5-second clips sent to the service")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3, help="alternating one-process / service rounds")
    ap.add_argument("--max-jobs", type=int, default=2, help="the server's --max-jobs")
    ap.add_argument("--texts", type=int, default=400)
    ap.add_argument("--load-requests", type=int, default=600)
    ap.add_argument("--load-seconds", type=float, default=180, help="the load test's time limit")
    a = ap.parse_args()
    from affectbench.features.store import memory_only
    from affectbench.inference import predict, predict_texts
    from affectbench.model import load_model

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        tone, text = (a.tone, a.text) if a.tone and a.text else train_small(td / "models", a.audio_dir.parent)
        clips = make_clips(a.audio_dir, a.clips, td)
        model = load_model(tone)
        with memory_only():  # as in the service: no feature cache (it would serve the second pass)
            predict(model, [clips[0]])  # warm-up: first-call costs are not throughput
            t = time.perf_counter()
            for c in clips:
                predict(model, [c])
            per_file = len(clips) / (time.perf_counter() - t)
        tm = load_model(text)
        sentences = [f"sentence {i}: I am {'so happy' if i % 3 else 'really angry'} about this" for i in range(a.texts)]
        t = time.perf_counter()
        for s in sentences[:100]:
            predict_texts(tm, [s])
        text_inproc = 100 / (time.perf_counter() - t)

        proc, base = start_server(tone, text, td, "--max-jobs", str(a.max_jobs))
        try:
            rss0 = rss_mb(proc.pid)
            concurrent(lambda c, j: post_clip(c, base, j), clips[:2], 2)  # warm-up
            # the machine's load drifts: one-process and service runs alternate, medians compared
            one_calls, serveds, codes, lat = [], [], [], []
            for _ in range(a.rounds):
                with memory_only():
                    t = time.perf_counter()
                    predict(model, clips)
                    one_calls.append(len(clips) / (time.perf_counter() - t))
                res, wall = concurrent(lambda c, j: post_clip(c, base, j), clips, a.clients)
                codes += [r[0] for r in res]
                lat += [r[1] for r in res]
                serveds.append(len(clips) / wall)
            one_call, served = statistics.median(one_calls), statistics.median(serveds)
            res_t, wall_t = concurrent(lambda c, s: (c.post(f"{base}/v1/predict", json={"text": s}, timeout=60)
                                                     .status_code, 0), sentences, a.clients)
            rss1 = rss_mb(proc.pid)
            load = load_test(base, clips, sentences, a.load_requests, a.load_seconds)
            rss2 = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    ratio = served / max(per_file, one_call)
    print(f"rounds (clips/s): one process in one call {[round(x, 2) for x in one_calls]}, "
          f"service {[round(x, 2) for x in serveds]}")
    print(f"audio, {a.clients} clients x 5-s clips ({len(clips)} clips, median of {a.rounds} rounds): "
          f"service {served:.2f} clips/s "
          f"(p50 {pct(lat, 50):.2f} s, p95 {pct(lat, 95):.2f} s, statuses {sorted(set(codes))}); "
          f"one process: predict per clip {per_file:.2f} clips/s, predict on all clips in one call "
          f"{one_call:.2f} clips/s -> service/best one-process = {ratio:.0%} (target >= 80 %)")
    print(f"text, {a.clients} clients: {len(sentences) / wall_t:.0f} requests/s "
          f"(statuses {sorted({r[0] for r in res_t})}); one process, one sentence per call: {text_inproc:.0f}/s")
    print(f"load test: {load['sent']} requests in {load['wall']:.1f} s (limit {a.load_seconds:g} s), "
          f"answered {load['answered']}, lost {load['lost']}, statuses {load['codes']}")
    print(f"server RSS: {rss0:.0f} MB at start, {rss1:.0f} MB after the throughput runs, {rss2:.0f} MB after "
          f"the load test ({rss2 - rss1:+.0f} MB)")
    ok = ratio >= 0.8 and load["lost"] == 0 and set(codes) == {200}
    sys.exit(0 if ok else 1)


def load_test(base, clips, sentences, n: int, limit_s: float) -> dict:
    """n requests (3 texts : 1 clip), 16 clients, stopped at limit_s; a lost request is one with no answer."""
    import httpx

    deadline = time.monotonic() + limit_s

    def one(c, i):
        if time.monotonic() > deadline:
            return "not sent"
        try:
            if i % 4 == 0:
                return post_clip(c, base, clips[i % len(clips)])[0]
            return c.post(f"{base}/v1/predict", json={"text": sentences[i % len(sentences)]}, timeout=120).status_code
        except httpx.HTTPError as e:
            return f"lost: {type(e).__name__}"

    res, wall = concurrent(one, list(range(n)), 16)
    codes = {}
    for r in res:
        codes[r] = codes.get(r, 0) + 1
    lost = sum(v for k, v in codes.items() if isinstance(k, str) and k.startswith("lost"))
    sent = n - codes.get("not sent", 0)
    return {"sent": sent, "answered": sent - lost, "lost": lost, "codes": codes, "wall": wall}


if __name__ == "__main__":
    main()
