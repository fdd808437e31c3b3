"""Where affectbench keeps its caches (features, prepared manifests, the demo corpus)."""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """``$AFFECTBENCH_HOME`` or ``~/.cache/affectbench``: safe to delete, everything is rebuilt."""
    env = os.environ.get("AFFECTBENCH_HOME")
    p = Path(env) if env else Path.home() / ".cache" / "affectbench"
    p.mkdir(parents=True, exist_ok=True)
    return p
