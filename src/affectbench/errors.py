"""Exceptions that carry what a user needs to fix the problem.

Every error raised for bad input names the offending thing (file, key, corpus)
and, where there is a closed set of valid values, lists them.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class AffectbenchError(Exception):
    """Base class: the CLI prints these without a traceback."""


class SpecError(AffectbenchError):
    """The experiment spec is invalid (unknown key, wrong type, bad value)."""


class CorpusError(AffectbenchError):
    """A corpus root is not what the adapter expects, or its annotations are broken."""


class MediaError(AffectbenchError):
    """A media file is missing, unreadable, corrupt or empty."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class LabelError(AffectbenchError):
    """A label is outside the label set of the requested view."""


class ProtocolError(AffectbenchError):
    """A fold violates what its protocol claims (e.g. speaker independence)."""


class UnknownNameError(AffectbenchError):
    """A registry lookup failed; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        valid = sorted(valid)
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(f"unknown {kind} '{name}'. Valid: {', '.join(valid)}.{hint}")


def os_error_message(e: OSError, what: str = "") -> str:
    """One line for an operating-system error: the file, what went wrong, what to do."""
    import errno

    where = e.filename or what or "(unknown file)"
    if e.errno == errno.ENOSPC:
        return (f"{where}: no space left on the device; free some space, or point "
                "AFFECTBENCH_HOME (caches) or output_dir (runs) at another disk")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: permission denied ({e.strerror}); make it writable/readable or choose another folder"
    if e.errno == errno.ENOTDIR:
        return f"{where}: a file stands where a folder is expected; move it away or choose another folder"
    if e.errno == errno.EISDIR:
        return f"{where}: a folder stands where a file is expected"
    return f"{where}: {e.strerror or e}"


class ModelError(AffectbenchError):
    """A saved model folder is missing, tampered with, or from an incompatible version."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
