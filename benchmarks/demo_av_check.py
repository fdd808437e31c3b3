"""UAR of every block, every pair and all three on the ``demo_av`` corpus, per head and seed.

A script, not a test: the numbers behind docs/corpora.md (``demo_av``) and the margins of
tests/test_demo_av.py, through the real runner (leave-one-speaker-out, rows without video
skipped wherever the fer block is used). A fusion head is worth its keep on this corpus when
it clears the "all three" row by a margin over the best pair (~0.73) and single (~0.51).

Usage::

    AFFECTBENCH_HOME=/tmp/ab python benchmarks/demo_av_check.py [--heads logreg,linear]
        [--seeds 0,1,2,3] [--text minilm] [--normalization fold] [--out runs/demo_av_check]
"""
from __future__ import annotations

import argparse
import itertools
import time

import affectbench as ab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heads", default="logreg")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--text", default="minilm", help="text extractor (minilm, tfidf, ...)")
    ap.add_argument("--normalization", default="fold")
    ap.add_argument("--out", default="runs/demo_av_check")
    a = ap.parse_args()
    blocks = {"audio": "egemaps", "text": a.text, "video": "fer"}
    combos = [c for k in (1, 2, 3) for c in itertools.combinations(blocks, k)]
    print(f"{'head':8s} {'seed':>4s}  {'blocks':18s} {'UAR':>6s} {'n':>4s} {'s':>6s}")
    for head, seed in itertools.product(a.heads.split(","), map(int, a.seeds.split(","))):
        for combo in combos:
            spec = ab.load_spec(data={
                "name": f"demo_av-{'+'.join(combo)}-{head}", "seed": seed, "output_dir": a.out,
                "corpus": {"name": "demo_av", "on_error": "skip"},
                "features": {"extractors": [blocks[m] for m in combo], "normalization": a.normalization,
                             "jobs": 2},
                "head": {"kind": head}, "metrics": {"bootstrap": 0}})
            t = time.perf_counter()
            r = ab.run(spec)
            print(f"{head:8s} {seed:4d}  {'+'.join(combo):18s} {r.metrics['pooled']['uar']:6.3f} "
                  f"{r.metrics['tested']['n_tested']:4d} {time.perf_counter() - t:6.1f}", flush=True)


if __name__ == "__main__":
    main()
