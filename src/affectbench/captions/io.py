"""Caption files users bring: JSONL (``{"id", "caption"}`` per line) or CSV (``id,caption``).

A reference file may hold several captions per id: repeated rows, or a list in
``caption`` / ``captions`` / ``references``. A hypothesis file holds exactly one per id.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from .errors import CaptionError

_LIST_KEYS = ("caption", "captions", "references")


def _rows(path: Path):
    """(line, id, caption or list) from a JSONL or CSV file; one clear error per bad line."""
    if not path.is_file():
        raise CaptionError(f"{path}: caption file not found")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CaptionError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    if path.suffix.lower() in (".csv", ".tsv"):
        reader = csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        if not reader.fieldnames or "id" not in reader.fieldnames or "caption" not in reader.fieldnames:
            raise CaptionError(f"{path}: a caption CSV needs the columns id and caption "
                               f"(found {', '.join(reader.fieldnames or []) or 'none'})")
        for n, r in enumerate(reader, 2):
            yield n, r["id"], r["caption"]
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            rid = rec["id"]
            cap = next(rec[k] for k in _LIST_KEYS if k in rec)
        except (json.JSONDecodeError, KeyError, TypeError, StopIteration) as e:
            raise CaptionError(f"{path}:{n}: expected a JSON object with 'id' and 'caption' "
                               f"({type(e).__name__})") from None
        yield n, rid, cap


def _check(path, n, rid, cap) -> list[str]:
    if rid is None or str(rid).strip() == "":
        raise CaptionError(f"{path}:{n}: empty id")
    caps = cap if isinstance(cap, list) else [cap]
    if any(c is not None and not isinstance(c, str) for c in caps):
        raise CaptionError(f"{path}:{n}: caption of {rid} is not text")
    return ["" if c is None else c.strip() for c in caps]


def read_references(path) -> dict[str, list[str]]:
    path = Path(path)
    out: dict[str, list[str]] = {}
    for n, rid, cap in _rows(path):
        caps = _check(path, n, rid, cap)
        if not any(caps):
            raise CaptionError(f"{path}:{n}: empty reference caption for {rid}")
        out.setdefault(str(rid), []).extend(c for c in caps if c)
    if not out:
        raise CaptionError(f"{path}: no reference captions")
    return out


def read_hypotheses(path) -> tuple[dict[str, str], list[str]]:
    """Captions by id, and warnings (empty captions)."""
    path = Path(path)
    out: dict[str, str] = {}
    empty = []
    for n, rid, cap in _rows(path):
        caps = _check(path, n, rid, cap)
        if len(caps) != 1:
            raise CaptionError(f"{path}:{n}: {len(caps)} captions for {rid}; a hypothesis file has one per id")
        if str(rid) in out:
            raise CaptionError(f"{path}:{n}: duplicate id {rid}")
        out[str(rid)] = caps[0]
        if not caps[0]:
            empty.append(str(rid))
    if not out:
        raise CaptionError(f"{path}: no captions")
    warn = [f"{path}: {len(empty)} empty caption(s) (e.g. {empty[:3]}) score 0 on the lexical metrics"] if empty else []
    return out, warn


def align(refs: dict, hyps: dict, *, allow_missing: bool, source: str):
    """(ids, hypotheses, references) in reference order; a missing id is refused unless
    ``allow_missing`` (then it scores as an empty caption)."""
    unknown = [i for i in hyps if i not in refs]
    if unknown:
        raise CaptionError(f"{source}: {len(unknown)} id(s) are not in the references (e.g. {unknown[:3]})")
    missing = [i for i in refs if i not in hyps]
    if missing and not allow_missing:
        raise CaptionError(f"{source}: {len(missing)} of {len(refs)} ids have no caption (e.g. {missing[:3]}); "
                           "scoring the rest would overstate the result. Caption every id, or pass "
                           "--allow-missing to score the missing ones as empty captions")
    ids = list(refs)
    return ids, [hyps.get(i, "") for i in ids], [refs[i] for i in ids], len(missing)
