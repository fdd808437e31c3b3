"""Progress reporting that the library can call without knowing about the terminal.

The CLI installs a rich progress display (on stderr, so ``--json`` output stays
clean); Python callers get silence unless they pass their own reporter.
"""
from __future__ import annotations

import contextlib
from typing import Callable


class Reporter:
    """No-op base: ``task(name, total)`` returns an ``update(done, total)`` callable.

    The callable may also have a ``cached(n)`` attribute: feature extraction calls it with the
    number of items read back from the cache, so that a bar of 3 items says that 532 others
    were already there instead of looking like the whole corpus."""

    def task(self, description: str, total: int | None = None) -> Callable[[int, int], None]:
        return lambda done, total=None: None

    def log(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def running(self):
        yield self


class RichReporter(Reporter):
    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress = None

    @contextlib.contextmanager
    def running(self):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                      transient=False) as p:
            self._progress = p
            try:
                yield self
            finally:
                self._progress = None

    def task(self, description, total=None):
        if self._progress is None:
            return super().task(description, total)
        tid = self._progress.add_task(description, total=total)
        done_so_far = {"n": 0}

        def update(done, total_=None):
            if total_ is not None and done == 0:
                self._progress.update(tid, total=total_, completed=0)
                done_so_far["n"] = 0
                return
            done_so_far["n"] += done
            self._progress.update(tid, completed=done_so_far["n"])

        def cached(n: int) -> None:
            if n:
                self._progress.update(tid, description=f"{description} ({n} cached)")

        update.cached = cached
        return update

    def log(self, message):
        self.console.print(message)
