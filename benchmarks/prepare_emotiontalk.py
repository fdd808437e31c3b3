"""Time and memory of preparing a full-size EmotionTalk straight from its tar shards.

Writes a synthetic release with the real shape (19 groups, 744 dialogues, 19250
utterances × 4 modality JSONs with five raters each, audio JSON with captions,
tiny 44.1 kHz WAVs, the README's per-split class counts) into a temporary folder,
then prepares it in a fresh child process and reports wall time and peak RSS of
that process (targets: < 30 s, < 1 GB on 2 cores). ``--tree`` also measures the
extracted-tree layout.

    python benchmarks/prepare_emotiontalk.py [--keep DIR] [--tree]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def measure(root: str) -> None:
    """Child process: prepare, check, agreement report; print one JSON line."""
    t0 = time.perf_counter()
    from affectbench.corpora import get_corpus

    corpus = get_corpus("emotiontalk")
    t_import = time.perf_counter() - t0
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])  # noqa: E731  user + system
    t1, c1 = time.perf_counter(), cpu()
    p = corpus.prepare(root)
    t_prepare, c_prepare = time.perf_counter() - t1, cpu() - c1
    rss_prepare = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t2 = time.perf_counter()
    problems = p.problems
    t_check = time.perf_counter() - t2
    t3 = time.perf_counter()
    rep = corpus.agreement_report(p.manifest, max_listed=0)
    t_report = time.perf_counter() - t3
    print(json.dumps({
        "utterances": len(p.manifest), "problems": problems, "issues": len(p.issues.skipped),
        "import_s": round(t_import, 2), "prepare_s": round(t_prepare, 2),
        "prepare_cpu_s": round(c_prepare, 2), "check_s": round(t_check, 2),
        "agreement_report_s": round(t_report, 2),
        "rss_after_import_mb": round(rss_import), "peak_rss_after_prepare_mb": round(rss_prepare),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "kappa": {m: round(e["fleiss_kappa"], 3) for m, e in rep["modalities"].items()},
        "weighted_agreement": {m: e["weighted"]["agreement"] for m, e in rep["modalities"].items()},
        "audio_uri_example": p.manifest["audio"].iloc[0],
    }))


def build(root: Path, layout: str) -> dict:
    from fixtures.emotiontalk_fixture import full_plan, write_release

    t0 = time.perf_counter()
    utts = full_plan()
    write_release(root, utts, layout=layout, shards={"audio": 4, "text": 1, "video": 1, "multimodal": 1},
                  wav_seconds=0.01, wav_cache={})
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"utterances": len(utts), "write_s": round(time.perf_counter() - t0, 1),
            "size_mb": round(size / 2 ** 20, 1),
            "files": sum(1 for p in root.rglob("*") if p.is_file())}


def run(root: Path, layout: str) -> dict:
    info = build(root, layout)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--measure", str(root)], capture_output=True,
                         text=True, check=True)
    wall = time.perf_counter() - t0
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return {"layout": layout, "release": info, "child_wall_s": round(wall, 2), **res}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--keep", type=Path, help="write the release here and keep it")
    ap.add_argument("--tree", action="store_true", help="also measure the extracted-tree layout")
    a = ap.parse_args()
    if a.measure:
        measure(a.measure)
        return
    layouts = ["shards"] + (["tree"] if a.tree else [])
    for layout in layouts:
        if a.keep:
            res = run(a.keep / layout, layout)
        else:
            with tempfile.TemporaryDirectory(prefix="emotiontalk_bench_") as t:
                res = run(Path(t), layout)
        print(json.dumps(res, indent=1, ensure_ascii=False))
        ok = res["prepare_s"] < 30 and res["peak_rss_mb"] < 1024 and not res["problems"]
        print(f"{layout}: prepare {res['prepare_s']} s wall ({res['prepare_cpu_s']} s CPU), "
              f"peak RSS {res['peak_rss_mb']} MB, "
              f"{res['utterances']} utterances, problems {len(res['problems'])} -> "
              f"{'OK' if ok else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
