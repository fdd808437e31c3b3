"""How long `prepare` takes on a full-size IEMOCAP layout, and how much memory it needs.

Builds a synthetic copy with the release's shape (5 sessions, 10039 turns, the
consensus-label and per-session counts of the real corpus, full EmoEvaluation
and transcription files, one WAV per turn) in a temporary folder, then times
``affectbench.prepare("iemocap", root)`` in a fresh process and reports its
peak memory two ways: the process's peak RSS (ru_maxrss, includes the Python
interpreter and imported libraries) and the peak of Python allocations during
``prepare`` alone (tracemalloc, a second pass). WAVs are 0.1 s: ``prepare``
checks that they exist, it does not decode them.

    python benchmarks/prepare_iemocap.py            # build, measure, clean up
    python benchmarks/prepare_iemocap.py --keep DIR  # build into DIR and keep it

Targets: < 30 s and < 1 GB.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the fixture writer is shared with the tests

# Real IEMOCAP: all turns per session, four-class (neu, hap+exc, ang, sad) turns per session,
# and the consensus-label totals.
SESSION_TOTAL = {1: 1819, 2: 1809, 3: 2136, 4: 2103, 5: 2172}
SESSION_FOUR = {1: 1085, 2: 1023, 3: 1151, 4: 1031, 5: 1241}
FOUR_LABELS = {"neu": 1708, "hap": 595, "exc": 1041, "ang": 1103, "sad": 1084}
OTHER_LABELS = {"xxx": 2507, "fru": 1849, "sur": 107, "fea": 40, "oth": 3, "dis": 2}
TURNS_PER_DIALOG = 60


def full_plan(seed: int = 0):
    from fixtures.iemocap_fixture import Turn, _raters

    rng = random.Random(seed)
    four = [c for c, n in FOUR_LABELS.items() for _ in range(n)]
    other = [c for c, n in OTHER_LABELS.items() for _ in range(n)]
    rng.shuffle(four)
    rng.shuffle(other)
    turns = []
    for k in SESSION_TOTAL:
        labels = [four.pop() for _ in range(SESSION_FOUR[k])]
        labels += [other.pop() for _ in range(SESSION_TOTAL[k] - SESSION_FOUR[k])]
        rng.shuffle(labels)
        for d in range(0, len(labels), TURNS_PER_DIALOG):
            j = d // TURNS_PER_DIALOG
            dialog = (f"Ses0{k}{'FM'[j % 2]}_impro{j // 2 + 1:02d}" if j % 3 else
                      f"Ses0{k}{'FM'[j % 2]}_script{j // 6 + 1:02d}_{j % 2 + 1}")
            count = {"F": 0, "M": 0}
            t = 3.0
            for i, code in enumerate(labels[d:d + TURNS_PER_DIALOG]):
                g = "FM"[rng.random() < 0.5]
                tid = f"{dialog}_{g}{count[g]:03d}"
                count[g] += 1
                dur = round(rng.uniform(1.0, 6.0), 4)
                vad = tuple(round(rng.uniform(1, 5), 4) for _ in range(3))
                turns.append(Turn(tid, dialog, k, code, round(t, 4), round(t + dur, 4), vad,
                                  f"Turn {i} of {dialog}: synthetic words for {code}.", _raters(code, i)))
                t += dur + rng.uniform(0.1, 2.0)
    assert not four and not other and len(turns) == 10039
    return turns


def measure(root: str) -> dict:
    """Run in a fresh process: time prepare, then its peak Python allocations."""
    import tracemalloc

    import affectbench as ab
    from affectbench.corpora import get_corpus  # imports every adapter (and what they import)

    get_corpus("iemocap")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    prepared = ab.prepare("iemocap", root)
    seconds = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t1 = time.perf_counter()
    problems = prepared.problems
    check_s = time.perf_counter() - t1
    tracemalloc.start()
    ab.prepare("iemocap", root)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"turns": len(prepared.manifest), "prepare_s": round(seconds, 2), "check_s": round(check_s, 3),
            "peak_rss_mb": round(rss1 / 1024, 1), "rss_before_prepare_mb": round(rss0 / 1024, 1),
            "tracemalloc_peak_mb": round(peak / 2**20, 1), "problems": problems,
            "four_view": int(len(prepared.corpus.labelset.view("four").apply(prepared.manifest)))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build into this folder and keep it")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    from fixtures.iemocap_fixture import wav_bytes, write

    base = args.keep or Path(tempfile.mkdtemp(prefix="iemocap_bench_"))
    try:
        t0 = time.perf_counter()
        turns = full_plan()
        root = write(base, turns, wav_data=wav_bytes(0.1))
        build_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        out = subprocess.run([sys.executable, __file__, "--measure", str(root)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"synthetic IEMOCAP: {len(turns)} turns, {size / 2**20:.0f} MB on disk, built in {build_s:.1f} s")
        print(f"prepare:            {r['prepare_s']:.2f} s for {r['turns']} turns "
              f"(four view: {r['four_view']}), check() {r['check_s']:.3f} s")
        print(f"peak RSS:           {r['peak_rss_mb']:.0f} MB (of which {r['rss_before_prepare_mb']:.0f} MB "
              f"interpreter + imported libraries before prepare)")
        print(f"tracemalloc peak:   {r['tracemalloc_peak_mb']:.1f} MB of Python allocations inside prepare")
        print(f"check() problems:   {r['problems'] or 'none (counts match a complete copy)'}")
        ok = r["prepare_s"] < 30 and r["peak_rss_mb"] < 1024
        print("targets (< 30 s, < 1 GB):", "met" if ok else "NOT met")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
