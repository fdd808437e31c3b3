"""Caption metrics over 2,000 hypothesis/reference pairs (issue 11: < 20 s, METEOR's Java
start-up included, the jar reused across calls).

    python benchmarks/bench_captions.py [--pairs 2000] [--refs 5] [--tokenize jieba]

Captions are Chinese sentences in EmotionTalk's wording (tests/fixtures: speaker gender,
voice, speaking style, emotion), five references per item like the release's overall
captions, hypotheses drawn from other items so that scores are neither 0 nor 1. It runs in
a fresh process so that imports, jieba's dictionary and the Java start-up are all counted,
and prints one Markdown row per call: the first (cold: Java starts) and a second one on the
same process (warm: the jar is reused).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def pairs(n: int, k: int, seed: int = 0):
    from fixtures.emotiontalk_fixture import EMO_ZH, STYLE, VOICE

    rng = random.Random(seed)
    labs = list(STYLE)

    def caption(g, v, lab, form):
        s, e = STYLE[lab], EMO_ZH[lab]
        return [f"一位{g}性说话人{v}，{s}，流露出{e}的情绪", f"{g}声{v[2:]}，{s}，听起来很{e}",
                f"这位{g}士{s}，语气中带着{e}", f"{s}的{g}性，{v}，表达{e}", f"说话人是{g}性，情绪{e}，{s}"][form]

    refs, hyps = [], []
    for _ in range(n):
        g, v, lab = rng.choice("男女"), rng.choice(VOICE), rng.choice(labs)
        refs.append([caption(g, v, lab, i % 5) for i in range(k)])
        hyps.append(caption(rng.choice("男女"), rng.choice(VOICE), rng.choice(labs), rng.randrange(5)))
    return hyps, refs


def java_cpu() -> float:
    """CPU seconds the METEOR jar has used so far (Linux /proc), 0 when it is not running."""
    from affectbench.captions.metrics import _METEOR

    total = 0.0
    for m in _METEOR.values():
        try:
            f = Path(f"/proc/{m.meteor_p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--refs", type=int, default=5)
    ap.add_argument("--tokenize", default="jieba")
    a = ap.parse_args()
    from affectbench.captions.metrics import LEXICAL, score_captions

    hyps, refs = pairs(a.pairs, a.refs)
    print(f"| call | pairs | tokenize | wall s | CPU s (Python + Java) | {' | '.join(LEXICAL)} |")
    print("|---|---|---|---|---|" + "---|" * len(LEXICAL))
    for call in ("cold (imports + Java start-up)", "warm (jar reused)"):
        t, c, j = time.perf_counter(), time.process_time(), java_cpu()
        out = score_captions(hyps, refs, how=a.tokenize, metrics=LEXICAL)
        cold = call.startswith("cold")
        took = time.perf_counter() - (T0 if cold else t)
        cpu = time.process_time() - (0 if cold else c) + java_cpu() - (0 if cold else j)
        print(f"| {call} | {a.pairs} | {a.tokenize} | {took:.1f} | {cpu:.1f} | "
              + " | ".join(f"{out['corpus'][m]:.4f}" for m in LEXICAL) + " |")
    print()
    print("| metric alone (warm) | wall s |")
    print("|---|---|")
    for m in LEXICAL:
        t = time.perf_counter()
        score_captions(hyps, refs, how=a.tokenize, metrics=[m])
        print(f"| {m} | {time.perf_counter() - t:.2f} |")


if __name__ == "__main__":
    main()
