"""`affectbench serve`: saved models behind HTTP (FastAPI + uvicorn) with a web page.

``create_app(models, limits)`` builds the app from loaded models; ``load_models``
turns the command line's ``NAME=DIR`` words into them, refusing a bad folder
before the server starts. docs/serve.md has the endpoints, limits and codes.
"""
from __future__ import annotations

from .app import create_app
from .limits import Limits, ServeError

__all__ = ["create_app", "Limits", "ServeError", "load_models", "parse_model_args"]


def parse_model_args(args: list[str]) -> dict[str, str]:
    """``tone=DIR``, ``DIR`` (named after the folder) or ``default:text`` -> {name: source}."""
    from pathlib import Path

    from ..errors import SpecError

    out: dict[str, str] = {}
    for a in args:
        if "=" in a:
            name, src = a.split("=", 1)
        elif a.startswith("default:"):
            name, src = a.split(":", 1)[1], a
        else:
            name, src = Path(a).name, a
        if not name or not src:
            raise SpecError(f"model argument '{a}': use NAME=DIR, DIR or default:KIND")
        if name in out:
            raise SpecError(f"two models named '{name}': name them, e.g. tone=DIR text=DIR")
        out[name] = src
    if not out:
        raise SpecError("serve needs at least one model: affectbench serve tone=DIR text=DIR")
    return out


def load_models(args: list[str]) -> dict:
    """Load every model once; a tampered or incompatible folder stops here with the loader's message."""
    from ..model import load_model

    return {name: load_model(src) for name, src in parse_model_args(args).items()}
