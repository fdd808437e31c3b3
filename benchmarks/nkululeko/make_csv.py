#!/usr/bin/env python3
"""Write an nkululeko-style data CSV (file,speaker,emotion) for EmoDB.

Usage: make_csv.py OUT_DIR [--emodb ../shared/data/emodb]

EmoDB file names look like 03a01Fa.wav: speaker 03, text a01, emotion
letter F, version a. Paths in the CSV are absolute, so the INI must use
`emodb.absolute_path = True`. Only OUT_DIR/emodb.csv is written; the
EmoDB copy itself is only read.
"""
import argparse
import csv
import os
import sys
from pathlib import Path

EMOTIONS = {
    "W": "anger",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happiness",
    "T": "sadness",
    "N": "neutral",
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", help="folder to write emodb.csv into")
    ap.add_argument("--emodb", default=str(Path(__file__).resolve().parents[3] / "shared" / "data" / "emodb"),
                    help="EmoDB root (with wav/ inside)")
    args = ap.parse_args(argv)

    wav_dir = os.path.join(os.path.abspath(args.emodb), "wav")
    names = sorted(n for n in os.listdir(wav_dir) if n.endswith(".wav"))
    rows = []
    for name in names:
        stem = name[:-4]
        if len(stem) != 7 or stem[5] not in EMOTIONS:
            sys.exit(f"unexpected EmoDB file name: {name}")
        rows.append((os.path.join(wav_dir, name), stem[:2], EMOTIONS[stem[5]]))

    os.makedirs(args.out_dir, exist_ok=True)
    out = os.path.join(os.path.abspath(args.out_dir), "emodb.csv")
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "speaker", "emotion"])
        w.writerows(rows)
    print(f"wrote {out}: {len(rows)} files, "
          f"{len({r[1] for r in rows})} speakers, "
          f"{len({r[2] for r in rows})} emotions")
    return out


if __name__ == "__main__":
    main()
