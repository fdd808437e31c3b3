"""Where affectbench keeps its caches (features, prepared manifests, the demo corpus)."""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """``$AFFECTBENCH_HOME`` or ``~/.cache/affectbench``: safe to delete, everything is rebuilt.

    Checked here, once, so that an unusable cache folder is one clear error naming the variable
    instead of a traceback from whichever cache (features, file hashes, manifests) is written first.
    """
    from .errors import AffectbenchError

    env = os.environ.get("AFFECTBENCH_HOME")
    p = Path(env) if env else Path.home() / ".cache" / "affectbench"
    how = ("set AFFECTBENCH_HOME to a writable folder" if env else
           "set AFFECTBENCH_HOME to a writable folder, or make ~/.cache writable")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise AffectbenchError(f"{p}: the affectbench cache folder is a file; {how}") from None
    except OSError as e:
        raise AffectbenchError(f"{e.filename or p}: cannot create the affectbench cache folder "
                               f"({e.strerror}); {how}") from None
    if not p.is_dir():
        raise AffectbenchError(f"{p}: the affectbench cache folder is not a folder; {how}")
    if not os.access(p, os.W_OK | os.X_OK):
        raise AffectbenchError(f"{p}: the affectbench cache folder is not writable; {how}")
    return p
