"""Small helpers shared by the catalogue adapters (MEAD, CH-SIMS v2, EmotionLines, DailyDialog,
SemEval-2018, CAER-S, FERV39k, VEATIC, EAV, EmoGator, RAF-DB). Not an adapter: the package
skips modules whose name starts with ``_``.

Written here rather than taken from a library because each is a few lines tied to the
manifest and error conventions of :mod:`affectbench.corpora.base`.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import CorpusError
from ..labels import LabelView
from .base import SKIP_HINT, is_hidden


def find_dir(root: Path, *names: str, depth: int = 2) -> Path | None:
    """The first of ``names`` found as a folder in ``root`` or up to ``depth`` levels below
    (archives often add a level: ``CAER-S/CAER-S/train``). Hidden folders are never searched."""
    level = [root]
    for _ in range(depth + 1):
        for d in level:
            for n in names:
                if (d / n).is_dir():
                    return d / n
        level = [p for d in level for p in _subdirs(d)]
    return None


def find_file(root: Path, *names: str, depth: int = 3) -> Path | None:
    """Like :func:`find_dir` for a file."""
    level = [root]
    for _ in range(depth + 1):
        for d in level:
            for n in names:
                if (d / n).is_file():
                    return d / n
        level = [p for d in level for p in _subdirs(d)]
    return None


def _subdirs(d: Path) -> list[Path]:
    try:
        return [d / e.name for e in sorted(os.scandir(d), key=lambda e: e.name)
                if e.is_dir() and not is_hidden(e.name)]
    except OSError:
        return []


def visible(d: Path) -> list[str]:
    """Names in folder ``d`` without macOS/dot metadata, sorted."""
    return sorted(n for n in os.listdir(d) if not is_hidden(n))


def fold_name(number: int, k: int) -> str:
    """The documented fold rule of the adapters that build speaker-disjoint folds from a
    numeric speaker id: ``fold{(number - 1) % k + 1}``. It depends on the id alone, so a
    partial copy puts every speaker in the same fold as a complete one."""
    return f"fold{(int(number) - 1) % k + 1}"


def shared_view(canonical: dict[str, str | None], name: str = "shared",
                multilabel: bool = False) -> LabelView:
    """The corpus's labels in the shared vocabulary (``canonical``); ``None`` drops a label."""
    classes = tuple(dict.fromkeys(v for v in canonical.values() if v is not None))
    dropped = sorted(k for k, v in canonical.items() if v is None)
    desc = "mapped to the shared label space" + (f"; dropped: {', '.join(dropped)}" if dropped else "")
    return LabelView(name, classes, dict(canonical), multilabel, desc)


def read_text(path: Path) -> str:
    """A text annotation file as str: UTF-8 (BOM allowed), else Windows-1252 (copies re-saved on
    Windows), never a UnicodeDecodeError traceback."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def line_problem(issues, path, lineno: int, why: str) -> None:
    """One malformed line: raise naming file and line, or record it under ``on_error='skip'``."""
    where = f"{path}:{lineno}"
    issues.problem(where, why, f"{where}: {why}{SKIP_HINT}")


def not_root(root: Path, title: str, what: str, hint: str) -> CorpusError:
    return CorpusError(f"{root}: not a {title} root: {what}. Expected {hint}")
