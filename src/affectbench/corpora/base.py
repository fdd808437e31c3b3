"""The corpus adapter contract and the registry of adapters.

An adapter reads one corpus in the layout its users downloaded (see
docs/corpora.md) and returns a manifest. It knows nothing about features or
heads. It also says what a complete copy must contain, so that `validate` can
tell a user at once when their copy is incomplete.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import pandas as pd

from ..errors import CorpusError, UnknownNameError
from ..labels import LabelSet

_REGISTRY: dict[str, type["Corpus"]] = {}


def register(cls: type["Corpus"]) -> type["Corpus"]:
    _REGISTRY[cls.name] = cls
    return cls


def get_corpus(name: str, **options) -> "Corpus":
    if name not in _REGISTRY:
        raise UnknownNameError("corpus", name, _REGISTRY)
    cls = _REGISTRY[name]
    if options:
        import inspect

        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        unknown = sorted(set(options) - set(accepted))
        if unknown or not accepted:
            from ..errors import SpecError

            raise SpecError(f"corpus '{name}': unknown option(s) {unknown or sorted(options)}. "
                            f"Valid: {', '.join(a for a in accepted if a not in ('args', 'kwargs')) or 'none'}")
    return cls(**options)


def corpus_names() -> list[str]:
    return sorted(_REGISTRY)


SKIP_HINT = "; set on_error='skip' to leave such items out"

#: folders that macOS zips add beside the content (they hold ._* copies of every file)
_MAC_FOLDERS = ("__MACOSX",)


def is_hidden(name: str | Path) -> bool:
    """Whether a file or folder name is metadata, not corpus content: macOS AppleDouble
    ``._*`` files (a copy made on a Mac, or unzipped from a zip made on one, has one beside
    every real file, with the same name and suffix), ``.DS_Store`` and other dot-files, and
    ``__MACOSX/``. Every adapter skips these silently, the same way."""
    n = Path(str(name)).name
    return n.startswith(".") or n in _MAC_FOLDERS


def is_hidden_path(rel: str) -> bool:
    """:func:`is_hidden` for any component of a path *relative to the corpus root* (tar member
    names, walked sub-paths); never pass an absolute path, whose parents are the user's."""
    return any(p not in ("", ".", "..") and is_hidden(p) for p in rel.replace("\\", "/").split("/"))


@dataclass
class Issues:
    """What went wrong while reading a corpus: raised at once under ``on_error='raise'``,
    recorded (and later listed and counted) under ``on_error='skip'``."""

    on_error: str = "raise"
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path/id, problem)

    def add(self, where, problem: str) -> None:
        self.skipped.append((str(where), problem))

    def problem(self, where, problem: str, message: str | None = None) -> None:
        """Raise ``message`` (default ``where: problem``) or record ``(where, problem)``."""
        if self.on_error == "raise":
            raise CorpusError(message or f"{where}: {problem}")
        self.add(where, problem)

    def bad_files(self, bad: list[tuple], expected: str, what: str = "") -> None:
        """Files that do not belong to the layout: raise naming the first (and the count) or
        record them all."""
        if not bad:
            return
        p, why = bad[0]
        more = f" ({len(bad)} files in all)" if len(bad) > 1 else ""
        self.problem(p, why, f"{p}: {what}{why}{more}. Expected {expected}{SKIP_HINT}")
        for p, why in bad[1:]:
            self.add(p, why)


class Corpus:
    """Base class for corpus adapters. Subclasses set the class attributes and ``read``."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ()
    language: ClassVar[str] = ""
    needs_root: ClassVar[bool] = True
    #: how the protocol section of a spec defaults for this corpus
    default_protocol: ClassVar[dict] = {"kind": "loso"}
    #: expected counts of a complete copy: {"total": n, "label": {..}, "split": {..}, "speaker": {..}}
    expected: ClassVar[dict] = {}
    #: the same per label view, counted after the view is applied (e.g. IEMOCAP "four" = 5531):
    #: {"four": {"total": 5531, "y": {...}, "session": {...}}}
    expected_views: ClassVar[dict] = {}
    #: expected counts that no public source we could find confirms, as paths into
    #: ``expected`` ("total", "label", "session/Ses01") or ``expected_views``
    #: ("views/four/session"); a path covers everything below it. A copy that differs on one
    #: of these gets a warning, never a refusal: a wrong number must not block a complete copy
    #: (docs/corpora.md lists what was verified, and where).
    unverified: ClassVar[frozenset] = frozenset()
    #: what a valid root looks like, shown when the root is wrong
    layout_hint: ClassVar[str] = ""
    #: the licence the corpus is released under (SPDX id or the release's own words); "" = not
    #: stated. Every exported training record carries it (docs/catalogue.md)
    licence: ClassVar[str] = ""
    #: manifest label (the value this adapter writes in ``label`` / ``labels``) -> a name of the
    #: shared vocabulary (:data:`affectbench.labelspace.VOCABULARY`), or None to drop it on
    #: purpose. A label left out maps to itself when it is a vocabulary name, else it is dropped
    #: (and reported as unlisted): docs/labelspace.md is generated from these mappings
    canonical: ClassVar[dict] = {}

    labelset: LabelSet

    def read(self, root: Path | None, on_error: str, issues: Issues) -> pd.DataFrame:
        raise NotImplementedError

    def text_for_features(self, text):
        """The text an encoder should see (EmotionTalk strips transcript markup); default: as is."""
        return text

    def caveats(self, df: pd.DataFrame) -> list[str]:
        """Facts about this copy that a report must state (e.g. cropped audio)."""
        return []

    def prepare(self, root: str | Path | None = None, on_error: str = "raise") -> "Prepared":
        if on_error not in ("raise", "skip"):
            raise CorpusError(f"on_error must be 'raise' or 'skip', not '{on_error}'")
        if self.needs_root:
            if root is None:
                raise CorpusError(f"corpus '{self.name}' needs a root folder. Expected: {self.layout_hint}")
            root = Path(root).expanduser().resolve()
            if not root.is_dir():
                raise CorpusError(f"{root}: not a folder. Expected a {self.title or self.name} root: "
                                  f"{self.layout_hint}")
        issues = Issues(on_error)
        try:
            df = self.read(root, on_error, issues)
        except OSError as e:  # a folder or annotation file the adapter must read and cannot
            where = e.filename or root
            raise CorpusError(f"{where}: cannot read it ({e.strerror or e}); check that it is the "
                              "folder or file of the release and that its permissions let you "
                              "read it") from None
        return Prepared(self, df, issues, self.caveats(df), None if root is None else str(root))

    def mismatches(self, df: pd.DataFrame) -> list[tuple[str, str]]:
        """(path, message) for every count that differs from a complete copy; the path says
        which expected count it is (see :attr:`unverified`)."""
        out = _compare(df, self.expected, "", "")
        for view, exp in self.expected_views.items():
            out += _compare(self.labelset.view(view).apply(df), exp, f"view '{view}': ", f"views/{view}/")
        return out

    def audit(self, df: pd.DataFrame) -> tuple[list[str], list[str]]:
        """(problems, warnings): mismatches on verified counts, and on unverified ones."""
        problems, warnings = [], []
        for path, msg in self.mismatches(df):
            (warnings if _covered(path, self.unverified) else problems).append(msg)
        return problems, warnings

    def check(self, df: pd.DataFrame) -> list[str]:
        """Differences from a complete copy on the counts that public sources confirm."""
        return self.audit(df)[0]


@dataclass
class Prepared:
    """A prepared corpus: the manifest plus what was skipped and what a report must say."""

    corpus: Corpus
    manifest: pd.DataFrame
    issues: Issues
    caveats: list[str]
    root: str | None

    @property
    def problems(self) -> list[str]:
        """Mismatches on verified counts: the copy is partial (``run`` refuses it unless
        ``corpus.allow_partial``)."""
        return list(self._audit[0])

    @property
    def warnings(self) -> list[str]:
        """Mismatches on counts no public source confirms: reported, never a refusal."""
        return list(self._audit[1])

    @cached_property
    def _audit(self) -> tuple[list[str], list[str]]:  # views are applied once, not per property read
        return self.corpus.audit(self.manifest)


def _covered(path: str, unverified) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:i]) in unverified for i in range(1, len(parts) + 1))


def _compare(df: pd.DataFrame, exp: dict, prefix: str, path: str) -> list[tuple[str, str]]:
    out = []
    if "total" in exp and len(df) != exp["total"]:
        out.append((f"{path}total", f"{prefix}{len(df)} utterances, a complete copy has {exp['total']}"))
    for col, want in exp.items():
        if col == "total" or not want:
            continue
        got = df[col].astype(object).value_counts().to_dict()
        for k, v in want.items():
            if got.get(k, 0) != v:
                out.append((f"{path}{col}/{k}", f"{prefix}{col} '{k}': {got.get(k, 0)}, expected {v}"))
    return out
