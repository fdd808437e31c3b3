"""Every head's pooled UAR on the three-modality demo corpus (docs/benchmarks.md's fusion table).

    python benchmarks/demo_av_heads.py                 # the utterance-level heads
    python benchmarks/demo_av_heads.py --frames        # the frame-level heads (minutes each on 2 cores)

eGeMAPS + MiniLM + FER (fps 10), leave-one-speaker-out, seed 0, each head's defaults, through
`affectbench.run`; the 32 utterances without video are kept and masked by the fusion heads.
Single-modality and pair baselines: benchmarks/demo_av_check.py.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import affectbench as ab

UTTERANCE = ["concat", "late", "tfn", "lmf", "misa", "mmin", "attention"]
FRAME = ["mult", "mfn", "graph_mfn", "mfm", "mctn"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", action="store_true", help="the frame-level heads instead")
    ap.add_argument("--output-dir", default=None)
    a = ap.parse_args()
    out = a.output_dir or tempfile.mkdtemp(prefix="demo_av_heads-")
    opts = {"fer": {"fps": 10}}
    if a.frames:
        opts = {"egemaps": {"frames": True}, "minilm": {"frames": True}, "fer": {"fps": 10, "frames": True}}
    print("| head | pooled UAR | missing video (masked) | seconds |\n|---|---|---|---|")
    for head in FRAME if a.frames else UTTERANCE:
        t = time.perf_counter()
        spec = ab.load_spec(data={"name": f"demo_av-{head}", "output_dir": out, "corpus": {"name": "demo_av"},
                                  "features": {"extractors": ["egemaps", "minilm", "fer"], "options": opts},
                                  "metrics": {"bootstrap": 50}, "head": {"kind": head}})
        m = ab.run(spec).metrics
        print(f"| {head} | {m['pooled']['uar']:.3f} | {m['tested']['missing_modality']['fer']} | "
              f"{time.perf_counter() - t:.1f} |", flush=True)


if __name__ == "__main__":
    main()
