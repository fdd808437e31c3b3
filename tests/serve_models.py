"""Two small real models for the service and video-mode tests, saved and loaded back like any
model folder: tone (eGeMAPS + linear on a miniature RAVDESS: 8 emotions, 64 short takes) and
text (TF-IDF + linear on the built-in demo corpus's sentences; no audio is decoded for it).
Built once per test session (the test files that need them share one copy)."""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from fixtures.ravdess_fixture import build_ravdess

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_BUILT: dict = {}


def tiny_models() -> dict:
    if _BUILT:
        return dict(_BUILT)
    from affectbench import load_spec
    from affectbench.fit import fit_final
    from affectbench.model import load_model, save_model

    out = Path(tempfile.mkdtemp(prefix="serve_models_"))
    atexit.register(shutil.rmtree, out, True)
    root = build_ravdess(out / "ravdess", actors=range(1, 5), intensities=(1,), statements=(1,), seconds=0.5)
    specs = {"tone": ["corpus.name=ravdess", f"corpus.root={root}", "corpus.allow_partial=true", "features.extractors=['egemaps']"],
             "text": ["features.extractors=['tfidf']"]}
    for name, over in specs.items():
        spec = load_spec(EXAMPLES / "demo.toml", [f"name=serve_{name}", f"output_dir={out / 'runs'}", *over])
        _BUILT[name] = load_model(save_model(fit_final(spec), out / name))
    return dict(_BUILT)
