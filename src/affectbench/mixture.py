"""Training mixtures: several corpora in the shared label space, weighted and balanced, written
as chat-format JSON Lines (supervised fine-tuning of a language model) and as a Hugging Face
``datasets`` folder (Parquet shards + a dataset card).

Why it is shaped this way:
- the seed catalogue's advice: one format across corpora, balanced emotions, test sets kept
  apart. Held-out sets are named in the mixture; any utterance or media file they share with
  the training side refuses the whole mixture (a leak is never written);
- a mixture is planned first from the label column alone (which rows, how many times), then
  written in one streaming pass per corpus: a ``manifest = "x.parquet"`` entry is read in
  record batches and every output is written in chunks, so memory stays flat in the mixture's
  size (benchmarks/bench_export.py measures it). A ``root`` entry is prepared by its adapter,
  whose manifest (metadata, never media) is held while that corpus is written;
- every record carries its corpus's licence: a mixture inherits the most restrictive one.
"""
from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import labelspace
from .errors import SpecError

BALANCE = ("none", "class", "corpus")
ANSWERS = ("label", "vad")
MEDIA = ("audio", "start", "end", "video", "video_start", "video_end", "image")
NEEDED = ("id", "label", "labels", "split", "speaker", "dialogue", "audio", "video", "image",
          "valence", "arousal", "dominance")
READ = ("id", "speaker", "dialogue", "turn", "split", "audio", "start", "end", "video", "video_start",
        "video_end", "image", "text", "language", "label", "labels", "valence", "arousal", "dominance")


@dataclass
class Entry:
    name: str
    root: str | None = None
    manifest: str | None = None
    weight: float = 1.0
    splits: list | None = None
    vad_scale: list | None = None  # [low, high] of the corpus's own V/A/D annotation
    options: dict = field(default_factory=dict)


@dataclass
class Mixture:
    name: str
    corpora: list[Entry]
    heldout: list[Entry] = field(default_factory=list)
    labels: list | None = None
    answer: str = "label"
    balance: str = "none"
    size: int = 0
    seed: int = 0
    instruction: str = ""
    context_turns: int = 0
    shard_rows: int = 50000
    source: str = "mixture"


_TOP = {"name", "corpus", "heldout", "labels", "answer", "balance", "size", "seed", "instruction",
        "context_turns", "shard_rows"}
_ENTRY = {"name", "root", "manifest", "weight", "splits", "vad_scale", "options"}


def load_mixture(path) -> Mixture:
    """A mixture spec (TOML); relative roots/manifests are relative to the file."""
    from .spec import read_spec_file

    path = Path(path)
    data = read_spec_file(path, "mixture")
    return parse(data, str(path), path.resolve().parent)


def parse(data: dict, source: str = "mixture", base: Path | None = None) -> Mixture:
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise SpecError(f"{source}: unknown key(s) {unknown}. Valid: {', '.join(sorted(_TOP))}")
    if not data.get("name"):
        raise SpecError(f"{source}: 'name' is required")
    corpora = [_entry(e, source, "corpus", i, base) for i, e in enumerate(data.get("corpus") or [])]
    if not corpora:
        raise SpecError(f"{source}: no [[corpus]] entries; a mixture needs at least one training corpus")
    heldout = [_entry(e, source, "heldout", i, base) for i, e in enumerate(data.get("heldout") or [])]
    mix = Mixture(str(data["name"]), corpora, heldout, data.get("labels"), data.get("answer", "label"),
                  data.get("balance", "none"), int(data.get("size", 0)), int(data.get("seed", 0)),
                  data.get("instruction", ""), int(data.get("context_turns", 0)),
                  int(data.get("shard_rows", 50000)), source)
    for key, allowed in (("answer", ANSWERS), ("balance", BALANCE)):
        if getattr(mix, key) not in allowed:
            raise SpecError(f"{source}: '{key}' = {getattr(mix, key)!r} is not one of {', '.join(allowed)}")
    if mix.size < 0 or mix.context_turns < 0 or mix.shard_rows < 1:
        raise SpecError(f"{source}: size and context_turns must be >= 0, shard_rows >= 1")
    if mix.labels is not None:
        bad = [c for c in mix.labels if c not in labelspace.VOCABULARY]
        if bad or not mix.labels:
            raise SpecError(f"{source}: labels {bad or '[]'} are not shared classes. Valid: "
                            f"{', '.join(labelspace.VOCABULARY)}")
    return mix


def _entry(e, source, kind, i, base) -> Entry:
    where = f"{source}: [[{kind}]] #{i + 1}"
    if not isinstance(e, dict):
        raise SpecError(f"{where} must be a table")
    unknown = sorted(set(e) - _ENTRY)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}. Valid: {', '.join(sorted(_ENTRY))}")
    from .corpora import get_corpus

    if "name" not in e:
        raise SpecError(f"{where}: 'name' (the corpus) is required")
    c = get_corpus(e["name"], **e.get("options", {}))
    if e.get("root") and e.get("manifest"):
        raise SpecError(f"{where}: give 'root' or 'manifest', not both")
    if c.needs_root and not (e.get("root") or e.get("manifest")):
        raise SpecError(f"{where}: corpus '{e['name']}' needs 'root' (its folder) or 'manifest' "
                        "(a prepared manifest, `affectbench corpora prepare … --out x.parquet`)")
    ent = Entry(**e)
    for k in ("root", "manifest"):
        v = getattr(ent, k)
        if v and base is not None and not Path(v).expanduser().is_absolute():
            setattr(ent, k, str((base / v).resolve()))
    if not (isinstance(ent.weight, (int, float)) and ent.weight > 0):
        raise SpecError(f"{where}: weight must be a number > 0, got {ent.weight!r}")
    if ent.vad_scale is not None and (len(ent.vad_scale) != 2 or ent.vad_scale[0] >= ent.vad_scale[1]):
        raise SpecError(f"{where}: vad_scale must be [low, high] with low < high")
    return ent


# ------------------------------------------------------------------------------- sources
class Source:
    """One corpus's manifest, read by columns (planning) and in batches (writing)."""

    def __init__(self, entry: Entry):
        from .corpora import get_corpus

        self.entry = entry
        self.corpus = get_corpus(entry.name, **entry.options)
        self._df = None
        self.problems: list[str] = []  # a partial copy is used as it is; the summary says so
        if entry.manifest:
            import pyarrow.parquet as pq

            p = Path(entry.manifest)
            if not p.is_file():
                raise SpecError(f"{p}: manifest file not found (corpus '{entry.name}')")
            try:
                self._pf = pq.ParquetFile(p)
            except Exception as e:  # pyarrow's errors for a file that is not Parquet
                raise SpecError(f"{p}: not a Parquet manifest ({e})") from None
            self.n = self._pf.metadata.num_rows
        else:
            prepared = self.corpus.prepare(entry.root)
            self._df, self.problems = prepared.manifest, prepared.problems
            self.n = len(self._df)

    def columns(self, cols) -> pd.DataFrame:
        if self._df is not None:
            return self._df[[c for c in cols if c in self._df.columns]]
        have = set(self._pf.schema_arrow.names)
        return self._pf.read(columns=[c for c in cols if c in have]).to_pandas()

    def batches(self, size: int = 8192):
        if self._df is not None:
            for i in range(0, self.n, size):
                yield self._df.iloc[i:i + size]
            return
        have = set(self._pf.schema_arrow.names)
        for b in self._pf.iter_batches(batch_size=size, columns=[c for c in READ if c in have]):
            yield b.to_pandas()


# ------------------------------------------------------------------------------- planning
@dataclass
class Part:
    """One entry's share of the mixture: how often each manifest row is written."""

    entry: Entry
    source: Source
    counts: np.ndarray  # [n rows] repeats per row (0 = not taken)
    y: np.ndarray  # [n rows] shared class or None
    report: dict


def _light(src: Source, mix: Mixture, classes) -> tuple[pd.DataFrame, dict]:
    """Rows of the entry's chosen splits with their shared class (``y``) and original position."""
    df = src.columns(NEEDED).copy()
    for c in NEEDED:
        if c not in df.columns:
            df[c] = None
    df["_pos"] = np.arange(len(df))
    if src.entry.splits:
        df = df[df["split"].astype(object).isin(src.entry.splits)]
    mapped, applied = labelspace.apply(df, src.corpus, classes)
    rep = applied.as_dict()
    if src.problems:
        rep["partial_copy"] = src.problems[:5] + ([f"… {len(src.problems) - 5} more"] if len(src.problems) > 5 else [])
    if mix.answer == "vad" and src.entry.vad_scale:  # annotated rows without a class are kept too
        extra = df[~df["_pos"].isin(mapped["_pos"]) & df[list(labelspace.DIMENSIONS)].notna().all(axis=1)]
        mapped = pd.concat([mapped, extra.assign(y=None)], ignore_index=True)
        rep["annotated_vad_only"] = len(extra)
    return mapped, rep


def plan(mix: Mixture) -> tuple[list[Part], list[Part], dict]:
    """Which rows go where, and how often; refuses a held-out set that overlaps training."""
    classes = mix.labels or _shared_classes(mix)
    train_src = [Source(e) for e in mix.corpora]
    held_src = [Source(e) for e in mix.heldout]
    light = [_light(s, mix, classes) for s in train_src]
    held = [_light(s, mix, classes) for s in held_src]
    _refuse_overlap(mix, train_src, light, held_src, held)
    counts = _quotas(mix, [lt for lt, _ in light], classes)
    parts = [Part(s.entry, s, c, _y(s.n, lt), rep) for s, (lt, rep), c in zip(train_src, light, counts)]
    hparts = [Part(s.entry, s, _ones(s.n, lt), _y(s.n, lt), rep) for s, (lt, rep) in zip(held_src, held)]
    return parts, hparts, {"classes": list(classes)}


def _shared_classes(mix: Mixture) -> list[str]:
    """Without ``labels``: the classes every training corpus maps to (the intersection)."""
    from .corpora import get_corpus

    sets = [set(labelspace.classes_of(get_corpus(e.name, **e.options))) for e in mix.corpora]
    common = set.intersection(*sets) if sets else set()
    if not common and mix.answer == "label":
        raise SpecError(f"{mix.source}: the training corpora share no class of the label space; "
                        "name the classes with labels = [...]")
    return [c for c in labelspace.VOCABULARY if c in common]


def _y(n, lt: pd.DataFrame) -> np.ndarray:
    y = np.full(n, None, object)
    y[lt["_pos"].to_numpy()] = lt["y"].to_numpy()
    return y


def _ones(n, lt) -> np.ndarray:
    c = np.zeros(n, np.int32)
    c[lt["_pos"].to_numpy()] = 1
    return c


def _keys(src: Source, lt: pd.DataFrame) -> tuple[set, set]:
    ids = set(f"{src.entry.name}:{i}" for i in lt["id"].astype(str))
    media = set()
    for col in ("audio", "video", "image"):
        media |= set(lt[col].dropna().astype(str))
    return ids, media


def _refuse_overlap(mix, train_src, light, held_src, held) -> None:
    from .errors import AffectbenchError

    tr_ids, tr_media = set(), set()
    for s, (lt, _) in zip(train_src, light):
        i, m = _keys(s, lt)
        tr_ids |= i
        tr_media |= m
    for s, (lt, _) in zip(held_src, held):
        ids, media = _keys(s, lt)
        both = sorted(ids & tr_ids)
        shared_media = sorted(media & tr_media)
        if both or shared_media:
            what = (f"{len(both)} utterance(s), e.g. {both[0]}" if both else
                    f"{len(shared_media)} media file(s), e.g. {shared_media[0]}")
            raise AffectbenchError(
                f"{mix.source}: held-out set '{s.entry.name}'"
                f"{' splits ' + str(s.entry.splits) if s.entry.splits else ''} overlaps the training "
                f"data: {what}. Keep test sets apart: give the training entry other splits "
                "(splits = [\"train\", \"dev\"]) or drop the corpus from one side")


def _quotas(mix: Mixture, lights: list[pd.DataFrame], classes) -> list[np.ndarray]:
    """Repeats per row for each entry (see docs/catalogue.md, "Balancing")."""
    rng = np.random.default_rng(mix.seed)
    avail = [len(lt) for lt in lights]
    w = [e.weight for e in mix.corpora]
    total = mix.size or sum(round(a * wi) for a, wi in zip(avail, w))
    cells: dict[tuple[int, object], float] = {}
    if mix.balance == "class":
        labs = [c for c in classes] + ([None] if any(lt["y"].isna().any() for lt in lights) else [])
        for c in labs:
            have = [(i, int(((lt["y"] == c) if c is not None else lt["y"].isna()).sum()) * w[i])
                    for i, lt in enumerate(lights)]
            mass = sum(h for _, h in have)
            for i, h in have:
                if h:
                    cells[(i, c)] = total / len(labs) * h / mass
    else:
        if mix.balance == "corpus":
            share = [wi / sum(w) if a else 0 for a, wi in zip(avail, w)]
        else:
            mass = sum(a * wi for a, wi in zip(avail, w))
            share = [a * wi / mass if mass else 0 for a, wi in zip(avail, w)]
        for i, sh in enumerate(share):
            cells[(i, "*")] = total * sh
    out = [np.zeros(int(lt["_pos"].max()) + 1 if len(lt) else 0, np.int32) for lt in lights]
    for (i, c), q in sorted(cells.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        lt = lights[i]
        rows = lt["_pos"].to_numpy() if c == "*" else lt["_pos"][(lt["y"] == c) if c is not None
                                                              else lt["y"].isna()].to_numpy()
        _draw(out[i], rows, int(round(q)), rng)
    return out


def _draw(counts: np.ndarray, rows: np.ndarray, q: int, rng) -> None:
    """``q`` rows of ``rows``: every row ``q // m`` times plus a seeded sample of the rest."""
    m = len(rows)
    if m == 0 or q <= 0:
        return
    full, rest = divmod(q, m)
    counts[rows] += full
    if rest:
        counts[np.sort(rng.choice(rows, size=rest, replace=False))] += 1


# ------------------------------------------------------------------------------- records
def default_instruction(mix: Mixture, classes) -> str:
    if mix.answer == "vad":
        return ("Rate the emotion expressed in the utterance as valence, arousal and dominance, each "
                "from -1 to 1. Answer with JSON: {\"valence\": v, \"arousal\": a, \"dominance\": d}.")
    return ("Which emotion does the speaker express in this utterance? Answer with exactly one of: "
            f"{', '.join(classes)}.")


def _val(v):
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def _answer_vad(row, y, entry: Entry):
    if y is not None:
        return labelspace.coordinates(y), "lexicon"
    lo, hi = entry.vad_scale
    return {d: round(2 * (float(row[d]) - lo) / (hi - lo) - 1, 4) for d in labelspace.DIMENSIONS}, "annotated"


def _user_turn(row, context) -> str:
    lines = []
    if context:
        lines.append("Earlier in the conversation:")
        lines += [f"{c['speaker'] or 'speaker'}: {c['text']}" for c in context]
    text = _val(row.get("text"))
    lines.append(f"Utterance: {text}" if text else "Utterance: (no transcript)")
    for m in ("audio", "video", "image"):
        p = _val(row.get(m))
        if p:
            lines.append(f"{m.capitalize()}: <{m}:{p}>")
    return "\n".join(lines)


def record(row: dict, y, part: Part, mix: Mixture, instruction: str, context, k: int) -> dict:
    """One chat-format training record (the same fields go to JSON Lines and Parquet)."""
    if mix.answer == "vad":
        vad, vad_source = _answer_vad(row, y, part.entry)
        answer = json.dumps(vad)
    else:
        vad, vad_source, answer = None, None, y
    c = part.source.corpus
    rid = f"{part.entry.name}:{row['id']}" + (f"#{k}" if k else "")
    return {
        "id": rid, "corpus": part.entry.name, "licence": c.licence or "not stated",
        "language": _val(row.get("language")) or c.language or None, "split": _val(row.get("split")),
        "speaker": _val(row.get("speaker")), "text": _val(row.get("text")),
        "label": y, "vad": vad, "vad_source": vad_source,
        "native": {d: _val(row.get(d)) for d in labelspace.DIMENSIONS},
        "media": {m: _val(row.get(m)) for m in MEDIA},
        "context": list(context),
        "messages": [{"role": "system", "content": instruction},
                     {"role": "user", "content": _user_turn(row, context)},
                     {"role": "assistant", "content": answer}],
    }


def iter_records(part: Part, mix: Mixture, instruction: str, batch: int = 8192):
    """The part's records in manifest order, streamed batch by batch."""
    buffers: dict = {}
    pos = 0
    for df in part.source.batches(batch):
        for row in df.to_dict("records"):
            i, pos = pos, pos + 1
            dlg = _val(row.get("dialogue"))
            buf = buffers.setdefault(dlg, deque(maxlen=mix.context_turns)) if dlg and mix.context_turns else None
            n = int(part.counts[i]) if i < len(part.counts) else 0
            ctx = list(buf) if buf is not None else []
            for k in range(n):
                yield record(row, part.y[i], part, mix, instruction, ctx, k)
            if buf is not None and _val(row.get("text")):
                buf.append({"speaker": _val(row.get("speaker")), "text": _val(row.get("text"))})
