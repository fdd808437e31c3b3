"""The embedded default job: the synthetic demo corpus, eGeMAPS + TF-IDF, linear adapter, LOSO."""
from __future__ import annotations

from .spec import load_spec

DEMO_SPEC = {
    "name": "demo",
    "description": "Built-in synthetic demo corpus (audio + text); a smoke test of the pipeline, "
                   "not a benchmark.",
    "corpus": {"name": "demo"},
    "protocol": {"kind": "loso", "valid_groups": 1},
    "features": {"extractors": ["egemaps", "tfidf"], "normalization": "fold", "jobs": 2},
    "head": {"kind": "linear"},
}


def demo_spec(output_dir: str = "runs"):
    return load_spec(data={**DEMO_SPEC, "output_dir": output_dir})
