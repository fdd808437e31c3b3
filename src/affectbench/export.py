"""Write a planned mixture (:mod:`affectbench.mixture`) as chat JSON Lines and as a Hugging Face
``datasets`` folder, streaming: records go to disk in chunks as they are made.

Layout of the output folder (written beside it under a temporary name and moved into place
when complete, so an interrupted export never looks finished)::

    train.jsonl  test.jsonl          one chat record per line (test: the held-out sets)
    hf/README.md                     dataset card (YAML ``configs`` so load_dataset finds splits)
    hf/data/train-00000.parquet …    Parquet shards of the same records
    summary.json                     the plan: counts per corpus and class, what was dropped, licences
"""
from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import AffectbenchError
from .mixture import Mixture, default_instruction, iter_records, plan

FORMATS = ("jsonl", "hf")
_STR = pa.string()
_F = pa.float64()
SCHEMA = pa.schema([
    ("id", _STR), ("corpus", _STR), ("licence", _STR), ("language", _STR), ("split", _STR),
    ("speaker", _STR), ("text", _STR), ("label", _STR),
    ("vad", pa.struct([("valence", _F), ("arousal", _F), ("dominance", _F)])), ("vad_source", _STR),
    ("native", pa.struct([("valence", _F), ("arousal", _F), ("dominance", _F)])),
    ("media", pa.struct([("audio", _STR), ("start", _F), ("end", _F), ("video", _STR),
                         ("video_start", _F), ("video_end", _F), ("image", _STR)])),
    ("context", pa.list_(pa.struct([("speaker", _STR), ("text", _STR)]))),
    ("messages", pa.list_(pa.struct([("role", _STR), ("content", _STR)]))),
])


class _Shards:
    """Parquet shards of at most ``rows`` records, written ``chunk`` records at a time."""

    def __init__(self, folder: Path, split: str, rows: int, chunk: int = 4096):
        self.folder, self.split, self.rows, self.chunk = folder, split, rows, chunk
        self.buf, self.writer, self.in_shard, self.shards = [], None, 0, 0

    def add(self, rec: dict) -> None:
        self.buf.append(rec)
        if len(self.buf) >= self.chunk or self.in_shard + len(self.buf) >= self.rows:
            self.flush()

    def flush(self) -> None:
        while self.buf:
            if self.writer is None:
                path = self.folder / f"{self.split}-{self.shards:05d}.parquet"
                self.writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
                self.shards += 1
            take = min(len(self.buf), self.rows - self.in_shard)
            self.writer.write_table(pa.Table.from_pylist(self.buf[:take], schema=SCHEMA))
            self.buf, self.in_shard = self.buf[take:], self.in_shard + take
            if self.in_shard >= self.rows:
                self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer, self.in_shard = None, 0


def export_mixture(mix: Mixture, out, formats=FORMATS, overwrite: bool = False, progress=None) -> dict:
    """Plan and write ``mix`` to the folder ``out``; returns the summary (also summary.json)."""
    out = Path(out).expanduser()
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise AffectbenchError(f"unknown export format(s) {bad or '[]'}. Valid: {', '.join(FORMATS)}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise AffectbenchError(f"{out}: the output folder exists and is not empty; choose another "
                               "or pass --overwrite")
    t0 = time.perf_counter()
    parts, held, info = plan(mix)
    classes = info["classes"]
    instruction = mix.instruction or default_instruction(mix, classes)
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "hf" / "data").mkdir(parents=True)
    summary = {"name": mix.name, "classes": classes, "answer": mix.answer, "balance": mix.balance,
               "seed": mix.seed, "instruction": instruction, "splits": {}}
    for split, group in (("train", parts), ("test", held)):
        if group:
            summary["splits"][split] = _write_split(tmp, split, group, mix, instruction, formats, progress)
    if "hf" in formats:
        (tmp / "hf" / "README.md").write_text(dataset_card(mix, summary), encoding="utf-8")
    else:
        shutil.rmtree(tmp / "hf")
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return summary


def _write_split(tmp: Path, split: str, group, mix, instruction, formats, progress) -> dict:
    shards = _Shards(tmp / "hf" / "data", split, mix.shard_rows) if "hf" in formats else None
    jf = open(tmp / f"{split}.jsonl", "w", encoding="utf-8") if "jsonl" in formats else None
    per_corpus: dict[str, Counter] = {}
    licences, n = {}, 0
    try:
        for part in group:
            cnt = per_corpus.setdefault(part.entry.name, Counter())
            licences[part.entry.name] = part.source.corpus.licence or "not stated"
            lines = []
            for rec in iter_records(part, mix, instruction):
                cnt[rec["label"] or "(V/A/D only)"] += 1
                n += 1
                if jf is not None:
                    lines.append(json.dumps(rec, ensure_ascii=False))
                    if len(lines) >= 4096:
                        jf.write("\n".join(lines) + "\n")
                        lines = []
                if shards is not None:
                    shards.add(rec)
                if progress and n % 10000 == 0:
                    progress(split, n)
            if jf is not None and lines:
                jf.write("\n".join(lines) + "\n")
        if shards is not None:
            shards.flush()
            shards.close()
    finally:
        if jf is not None:
            jf.close()
    return {"records": n, "per_corpus": {k: dict(sorted(v.items())) for k, v in per_corpus.items()},
            "licences": licences, "label_space": [p.report for p in group],
            "shards": shards.shards if shards else 0}


def dataset_card(mix: Mixture, summary: dict) -> str:
    """README.md with the YAML header `datasets` reads (configs → splits) and what is inside."""
    splits = summary["splits"]
    lic = sorted({v for s in splits.values() for v in s["licences"].values()})
    head = ["---", f"pretty_name: {json.dumps(mix.name)}", "license: other",
            "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        head += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    body = ["---", "", f"# {mix.name}", "",
            "A training mixture written by `affectbench corpora export --mixture` from corpora read in "
            "their native layouts, labels mapped to the shared label space (docs/labelspace.md). "
            "Media are referenced by path, not embedded. Each record carries its corpus's licence: "
            "the most restrictive one governs the mixture.", "",
            f"- classes: {', '.join(summary['classes']) or '(V/A/D)'}; answer: {mix.answer}; "
            f"balance: {mix.balance}; seed: {mix.seed}",
            f"- licences: {'; '.join(lic)}", "", "| split | corpus | licence | records | per class |",
            "|---|---|---|---|---|"]
    for split, s in splits.items():
        for corpus, per in s["per_corpus"].items():
            cls = ", ".join(f"{k} {v}" for k, v in per.items())
            body.append(f"| {split} | {corpus} | {s['licences'][corpus]} | {sum(per.values())} | {cls} |")
    body += ["", "Instruction given to the model:", "", f"> {summary['instruction']}", ""]
    return "\n".join(head + body)
