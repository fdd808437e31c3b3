"""Context heads on a MELD-sized synthetic set: seconds to train one fold, per head.

MELD has 13,708 utterances in 1,433 dialogues (train 9,989 / dev 1,109 / test 2,610); the
target is one fold (train with early stopping on dev, predict test) in under 60 s on two
cores, with one 384-dimensional block (a sentence-embedding size, e.g. all-MiniLM-L6-v2).
Dialogue lengths follow a geometric-like spread from 1 to 24 turns with 2-6 speakers, and
labels depend on the same speaker's earlier turns (as in the demo_dialog corpus), so early
stopping behaves as on real data rather than stopping at once.

    python benchmarks/bench_context.py [--heads ctx_window,ctx_gru,dialoguernn,dialoguegcn]
                                      [--context past|past+future] [--epochs N] [--threads 1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from affectbench.heads import make_head
from affectbench.heads.blocks import Block, rows
from affectbench.heads.context import DialogueOrder

SPLITS = {"train": (1039, 9989), "dev": (114, 1109), "test": (280, 2610)}


def _lengths(n_dia: int, n_utt: int, rng) -> np.ndarray:
    """``n_dia`` dialogue lengths in 1..24 that sum to ``n_utt``."""
    L = np.clip(rng.geometric(1 / (n_utt / n_dia), n_dia), 1, 24)
    while L.sum() != n_utt:
        i = rng.integers(n_dia)
        step = 1 if L.sum() < n_utt else -1
        if 1 <= L[i] + step <= 24:
            L[i] += step
    return L


def meld_sized(seed: int = 0, dim: int = 384, k: int = 7):
    """Blocks, labels, dialogue order and split positions of a MELD-sized conversation set."""
    rng = np.random.default_rng(seed)
    dia, turn, spk, split, y, explicit = [], [], [], [], [], []
    for name, (n_dia, n_utt) in SPLITS.items():
        for d, n in enumerate(_lengths(n_dia, n_utt, rng)):
            speakers = [f"{name}{d}_{s}" for s in range(rng.integers(2, 7))]
            mood = {s: int(rng.integers(k)) for s in speakers}
            for t in range(n):
                s = speakers[rng.integers(len(speakers))]
                if rng.random() < 0.15:
                    mood[s] = int(rng.integers(k))
                dia.append(f"{name}_dia{d}"), turn.append(t), spk.append(s), split.append(name)
                y.append(mood[s]), explicit.append(rng.random() < 0.55)
    y, explicit = np.array(y), np.array(explicit)
    X = rng.normal(0, 1, (len(y), dim)).astype(np.float32)
    X[explicit, :k] += 2.5 * np.eye(k, dtype=np.float32)[y[explicit]]
    order = DialogueOrder(np.array(dia, object), np.array(turn), np.array(spk, object))
    split = np.array(split)
    idx = {s: np.flatnonzero(split == s) for s in SPLITS}
    return [Block("minilm", "text", X, np.ones(len(y), bool))], y, order, idx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--heads", default="ctx_window,ctx_gru,dialoguernn,dialoguegcn")
    ap.add_argument("--context", default="past", choices=("past", "past+future"))
    ap.add_argument("--epochs", type=int, default=None, help="default: the head's own")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    blocks, y, order, idx = meld_sized()
    tr, va, te = idx["train"], idx["dev"], idx["test"]
    print(f"{len(y)} utterances, {len(set(order.dialogue))} dialogues, one {blocks[0].dim}-dim block; "
          f"context={a.context}, threads={a.threads}")
    for kind in a.heads.split(","):
        opts = {"context": a.context, "threads": a.threads, "seed": 0}
        if a.epochs:
            opts["epochs"] = a.epochs
        head = make_head(kind, **opts)
        t0, c0 = time.perf_counter(), time.process_time()
        head.fit(rows(blocks, tr), y[tr], rows(blocks, va), y[va], n_classes=7,
                 dialogue=order.rows(tr), valid_dialogue=order.rows(va))
        pred = head.predict(rows(blocks, te), dialogue=order.rows(te))
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        uar = np.mean([np.mean(pred[y[te] == c] == c) for c in range(7)])
        print(f"{kind:12s} wall {sec:6.1f} s  cpu {cpu:6.1f} s  {head.epochs_run:3d} epochs  "
              f"{cpu / head.epochs_run:5.2f} cpu-s/epoch  test UAR {uar:.3f}", flush=True)


if __name__ == "__main__":
    main()
