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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--refs", type=int, default=5)
    ap.add_argument("--tokenize", default="jieba")
    a = ap.parse_args()
    from affectbench.captions.metrics import LEXICAL, score_captions

    hyps, refs = pairs(a.pairs, a.refs)
    print(f"| call | pairs | tokenize | seconds (since process start) | {' | '.join(LEXICAL)} |")
    print("|---|---|---|---|" + "---|" * len(LEXICAL))
    for call in ("cold (imports + Java start-up)", "warm (jar reused)"):
        t = time.perf_counter()
        out = score_captions(hyps, refs, how=a.tokenize, metrics=LEXICAL)
        took = time.perf_counter() - (T0 if call.startswith("cold") else t)
        print(f"| {call} | {a.pairs} | {a.tokenize} | {took:.1f} | "
              + " | ".join(f"{out['corpus'][m]:.4f}" for m in LEXICAL) + " |")


if __name__ == "__main__":
    main()
