"""Build the models shipped inside the package (``default:<name>``), so ``predict`` works with no training.

- ``text`` / ``text-ekman``: the packaged all-MiniLM-L6-v2 (Apache-2.0) + the linear adapter of
  ``examples/goemotions_minilm_linear.toml``, trained with ``affectbench train`` on GoEmotions
  (CC BY 4.0: shipping a model trained on it is allowed with attribution, which the card and
  docs/models.md give); the 28-label multi-label view and the Ekman view. Each card carries the
  official-split run's test metrics.
- ``face``: no training of ours. The FER2013 mini-Xception that ships inside the ``fer`` package
  (MIT code; see docs/models.md for the FER2013 data's situation), read through the ``fer``
  extractor (per-frame logits averaged over a segment's face frames); the head is the identity
  on those logits, so the model's probabilities are FER's own softmax. The folder holds no FER
  weights: it names the extractor and the fingerprint of the ``fer`` file it was checked against.

    python scripts/build_default_models.py --goemotions path/to/goemotions [--only text,face]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "affectbench" / "models"
EXAMPLE = ROOT / "examples" / "goemotions_minilm_linear.toml"
GOEMOTIONS_LICENCE = ("GoEmotions (Demszky et al., ACL 2020), CC BY 4.0, "
                      "https://github.com/google-research/google-research/tree/master/goemotions; "
                      "encoder all-MiniLM-L6-v2, Apache-2.0")
FER_LICENCE = ("fer package (Justin Shenk), MIT; its mini-Xception was trained on FER2013 (Goodfellow et al. "
               "2013, Kaggle challenge data of web images, no explicit licence): see docs/models.md")


TEXT_MODELS = {"text": "all", "text-ekman": "ekman"}


def build_text(goemotions: Path, runs: Path, names=tuple(TEXT_MODELS)) -> None:
    from affectbench import load_spec
    from affectbench.fit import train
    from affectbench.model import load_model, save_model

    for name in names:
        view = TEXT_MODELS[name]
        spec = load_spec(EXAMPLE, [f"corpus.root={goemotions}", f"corpus.view={view}", f"output_dir={runs}",
                                   f"name=goemotions_minilm_{view}"])
        folder, result = train(spec, OUT / name)
        m = load_model(folder)  # checked as users will load it; then the licence goes on the card
        m.card["licence"] = GOEMOTIONS_LICENCE
        m.card["description"] = (f"English text emotion, GoEmotions '{view}' view "
                                 f"({len(m.labels)} labels, multi-label, per-class thresholds chosen on dev)")
        save_model(m, folder)
        p = result.metrics["pooled"]
        print(f"{name}: {folder}  test macro-F1 {p['macro_f1']:.3f}  micro-F1 {p['micro_f1']:.3f}")


def build_face() -> None:
    from affectbench.features import get_extractor
    from affectbench.heads import make_head
    from affectbench.model import Model, save_model
    from affectbench.normalize import BlockFit

    labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # FER2013's order
    ex = get_extractor("fer", outputs="logits", pool="mean")
    k = len(labels)
    opts = {"solver": "lbfgs", "l2": 0.0}
    head = make_head("linear", **opts)
    head.k, head.solver_, head._scale = k, "lbfgs", 1.0
    head.w_ = np.concatenate([np.eye(k).ravel(), np.zeros(k)])  # softmax(logits): FER's own probabilities
    head.l2_, head.l2_source, head.iterations, head.history, head.refitted, head.best_valid = 0.0, "fixed", 0, [], False, None
    card = {"description": "face emotion per segment: FER2013 mini-Xception (fer package) on Haar face crops, "
                           "per-frame logits averaged over the segment's face frames; no training of ours",
            "licence": FER_LICENCE, "trained_on": None, "cv_metrics": None}
    model = Model(name="fer2013", labels=labels, task="classification", extractors=[ex],
                  blocks=[BlockFit("fer", "video", "none")], head=head, head_kind="linear", head_options=opts,
                  card=card)
    print(f"face: {save_model(model, OUT / 'face')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--goemotions", type=Path, help="GoEmotions folder (train/dev/test.tsv + emotions.txt)")
    ap.add_argument("--only", default="text,face", help="comma-separated: text, face, or one text model "
                                                         "(text-ekman)")
    a = ap.parse_args()
    only = set(a.only.split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "__init__.py").write_text('"""Models shipped with affectbench (``default:<name>``); built by '
                                     'scripts/build_default_models.py."""\n')
    if "face" in only:
        build_face()
    names = tuple(TEXT_MODELS) if "text" in only else tuple(n for n in TEXT_MODELS if n in only)
    if names:
        if not a.goemotions:
            ap.error("--goemotions is needed to build the text models")
        with tempfile.TemporaryDirectory() as runs:
            build_text(a.goemotions.resolve(), Path(runs), names)


if __name__ == "__main__":
    main()
