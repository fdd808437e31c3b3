"""Shared reading for corpora whose label and speaker live in the media file names.

TESS, SAVEE, CASIA, SUBESCO, ShEMO, EmoV-DB and ESD differ only in how a name is
parsed and where the files sit; the walk, the AppleDouble rule, the collection of
misnamed files (one error naming the first, or each recorded under ``skip``) and
the "no files at all" message are the same, so they live here once. Not an adapter
(the leading underscore keeps it out of the registry).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..manifest import normalize
from .base import Corpus, is_hidden

#: how deep below the root media files are looked for (root/<copy folder>/<speaker>/<emotion>/x.wav)
MAX_DEPTH = 4


def walk_files(base: Path, suffixes: tuple[str, ...], max_depth: int = MAX_DEPTH) -> list[Path]:
    """Media files under ``base`` (sorted, hidden files and folders skipped, ``max_depth`` levels)."""
    out: list[Path] = []
    base_depth = len(base.parts)
    for d, dirs, files in os.walk(base):
        dirs[:] = sorted(x for x in dirs if not is_hidden(x))
        if len(Path(d).parts) - base_depth >= max_depth:
            dirs[:] = []
        out += [Path(d) / f for f in files if f.lower().endswith(suffixes) and not is_hidden(f)]
    return sorted(out)


class FileNamedCorpus(Corpus):
    """An adapter whose rows come from parsing file paths.

    Subclasses set :attr:`suffixes` and implement :meth:`parse` (path -> row dict; raise
    ``ValueError`` for a file that looks like the corpus's but is misnamed; return ``None``
    for a file that is not part of the corpus, e.g. a README).
    """

    suffixes: tuple[str, ...] = (".wav",)
    #: what a bad name is called in the error ("not a valid TESS file name: ")
    bad_what: str = ""

    def base(self, root: Path) -> Path:
        return root

    def parse(self, path: Path, base: Path) -> dict | None:
        raise NotImplementedError

    def extra(self, base: Path, rows: list[dict], issues) -> None:
        """Hook for annotation files read after the walk (ShEMO's transcripts, ESD's lists)."""

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        base = self.base(root)
        files = walk_files(base, self.suffixes)
        if not files:
            raise CorpusError(f"{root}: not a {self.title} root: no {'/'.join(self.suffixes)} files "
                              f"in it or {MAX_DEPTH} levels down. Expected {self.layout_hint}")
        rows, bad = [], []
        for p in files:
            try:
                row = self.parse(p, base)
            except ValueError as e:
                bad.append((p, str(e)))
                continue
            if row is not None:
                rows.append(row)
        issues.bad_files(bad, self.layout_hint, what=self.bad_what)
        if not rows:
            raise CorpusError(f"{root}: no {self.title} files among the {len(files)} found. "
                              f"Expected {self.layout_hint}")
        self.extra(base, rows, issues)
        return normalize(rows, self.name)


def one_of(field: str, value: str, valid) -> str:
    """``value`` if it is one of ``valid``; else the ValueError that names the field."""
    if value not in valid:
        raise ValueError(f"{field} '{value}' is not one of {', '.join(sorted(valid))}")
    return value
