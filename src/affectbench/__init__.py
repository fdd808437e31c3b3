"""affectbench: emotion corpora in their native layouts → frozen features → linear adapters → WAR/UAR.

Python API (the CLI calls the same functions)::

    import affectbench as ab
    prepared = ab.prepare("emodb", "/data/emodb")      # manifest + caveats + problems
    spec = ab.load_spec("examples/emodb_egemaps_linear.toml", ["head.kind=logreg"])
    result = ab.run(spec)                               # run folder, metrics dict
"""
from __future__ import annotations

__version__ = "0.1.0"


def prepare(name: str, root=None, on_error: str = "raise"):
    from .corpora import get_corpus

    return get_corpus(name).prepare(root, on_error=on_error)


def load_spec(path=None, overrides=None, data=None):
    from .spec import load_spec as _load

    return _load(path, overrides, data)


def run(spec, *, force: bool = False, reporter=None, overrides=None):
    from .runner import run as _run
    from .spec import Spec

    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    return _run(spec, force=force, reporter=reporter)


def demo(output_dir: str = "runs", reporter=None, force: bool = False):
    from .demo import demo_spec

    return run(demo_spec(output_dir), force=force, reporter=reporter)


def load_model(path):
    """A saved model folder (``affectbench train``), checked: see :mod:`affectbench.model`."""
    from .model import load_model as _load

    return _load(path)
