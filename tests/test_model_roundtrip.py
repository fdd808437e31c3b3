"""Every head kind saved and loaded gives the probabilities of the fold model that made it.

The fold is the runner's own (``fold_matrix`` / ``fold_blocks`` collecting their BlockFits,
``fit_fold``); the features are synthetic (two blocks with pooled rows and frame sequences,
some rows missing a modality) so that twelve heads fit in seconds.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from affectbench import runner as R
from affectbench.errors import ModelError
from affectbench.features import get_extractor
from affectbench.model import Model, load_model, save_model
from affectbench.protocol import make_folds
from affectbench.spec import load_spec

N, T = 72, 6
CLASSES = ["neutral", "happy", "sad"]


def _featureset(kind: str, seed: int = 0, speakers=None):
    rng = np.random.default_rng(seed)
    y = np.arange(N) % 3
    blocks = []
    widths = {"weighted": [(4 * 3, "audio")]}.get(kind, [(6, "audio"), (5, "text")])
    for j, (d, mod) in enumerate(widths):
        ex = get_extractor("egemaps" if mod == "audio" else "minilm", frames=kind in ("mult", "mfn", "mctn"))
        X = rng.standard_normal((N, d)).astype(np.float32) * 3 + 5
        X[:, 0] += 2.0 * y  # learnable signal
        present = np.ones(N, bool)
        if j == 1 and kind in ("late", "mmin"):
            present[::7] = False
            X[~present] = 0.0
        b = R.FeatureBlock(ex.name, mod, ex, X, True, present=present)
        if kind in ("mult", "mfn", "mctn"):
            lengths = rng.integers(2, T + 1, N)
            seq = rng.standard_normal((N, T, d)).astype(np.float32)
            seq[:, :, 0] += 2.0 * y[:, None]
            seq[np.arange(T)[None, :] >= lengths[:, None]] = 0.0
            b.seq, b.lengths = seq, lengths
        blocks.append(b)
    return R.FeatureSet(blocks, np.ones(N, bool)), y


def _spec(kind: str, normalization: str = "fold"):
    opts = {"hidden": 8} if kind not in ("linear", "logreg", "weighted") else {}
    if kind in ("mult", "mfn", "mctn"):
        opts.update(steps=4) if kind != "mult" else opts.update(heads=2)
    if kind == "late":
        opts["late_mode"] = "stacked"
    return load_spec(data={"name": f"rt_{kind}", "corpus": {"name": "demo"},
                           "features": {"extractors": ["egemaps"], "normalization": normalization},
                           "head": {"kind": kind, "epochs": 100 if kind in ("linear", "logreg") else 4,
                                    **({"l2": 0.01} if kind == "linear" else {}),
                                    "options": opts}})


def _fold_model(kind: str, normalization: str = "fold"):
    spec = _spec(kind, normalization)
    fs, y = _featureset(kind)
    import pandas as pd

    speakers = np.array([f"s{i % 4}" for i in range(N)], object)
    df = pd.DataFrame({"id": [f"u{i}" for i in range(N)], "speaker": speakers})
    fold = make_folds(df, "loso", valid_groups=1, seed=0)[0]
    ids = df["id"].to_numpy()
    fitted: list = []
    head_cls = R.HEADS[kind] if hasattr(R, "HEADS") else None
    from affectbench.heads import HEADS

    block_head = getattr(HEADS[kind], "takes_blocks", False)
    X = (R.fold_blocks if block_head else R.fold_matrix)(spec, fs, fold, speakers, [""] * N, ids, fitted)
    n_layers = 3 if kind == "weighted" else None
    head, P, _, _ = R.fit_fold(spec, X, y, fold, CLASSES, "single_label", n_layers)
    model = Model(name=kind, labels=CLASSES, task="classification", extractors=[b.extractor for b in fs.blocks],
                  blocks=fitted, head=head, head_kind=kind,
                  head_options={k: v for k, v in R.head_options(spec, "single_label", n_layers).items()
                                if k in __import__("inspect").signature(HEADS[kind].__init__).parameters},
                  card={"test": True})
    del head_cls
    return model, fs, fold, P


def _reapply(model: Model, fs, fold):
    """The fold's test rows through the loaded model's normalisers and head."""
    from affectbench.heads.blocks import Block
    from affectbench.normalize import early_fusion

    parts = []
    for b, bf in zip(fs.blocks, model.blocks):
        if b.seq is not None:
            Z = bf.zscore.apply(b.seq[fold.test])
            Z[np.arange(b.seq.shape[1])[None, :] >= b.lengths[fold.test][:, None]] = 0.0
            parts.append(Block(b.name, b.modality, Z, b.present[fold.test], b.lengths[fold.test]))
        else:
            Z = np.where(b.present[fold.test][:, None], bf.zscore.apply(b.X[fold.test]), 0.0).astype(np.float32)
            parts.append(Block(b.name, b.modality, Z, b.present[fold.test]))
    if model.takes_blocks:
        return model.head.predict_proba(parts)
    return model.head.predict_proba(early_fusion([p.X for p in parts]))


@pytest.mark.parametrize("kind", ["linear", "logreg", "weighted", "concat", "late", "mmin", "tfn",
                                  "mult", "mfn", "mctn"])
def test_round_trip_gives_the_fold_models_probabilities(tmp_path, kind):
    model, fs, fold, P = _fold_model(kind)
    folder = save_model(model, tmp_path / kind)
    loaded = load_model(folder)
    assert loaded.labels == CLASSES and loaded.head_kind == kind
    assert [b.name for b in loaded.blocks] == [b.name for b in fs.blocks]
    P2 = _reapply(loaded, fs, fold)
    assert P.shape == P2.shape == (len(fold.test), 3)
    np.testing.assert_allclose(P2, P, rtol=0, atol=1e-6)
    assert np.isfinite(P).all() and not np.allclose(P, 1 / 3)  # a fitted head, not a uniform guess


def test_adamw_linear_and_multilabel_logreg_round_trip(tmp_path):
    from affectbench.heads import make_head

    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 5))
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0.5, np.zeros(80, bool)], 1)  # the last label never positive
    for kind, opts in (("linear", {"solver": "adamw", "epochs": 5, "multilabel": True}),
                       ("logreg", {"multilabel": True})):
        h = make_head(kind, **opts).fit(X[:60], Y[:60], X[60:], Y[60:], n_classes=3)
        from affectbench.normalize import BlockFit

        m = Model(name=kind, labels=["a", "b", "c"], task="multilabel", extractors=[get_extractor("egemaps")],
                  blocks=[BlockFit("egemaps", "audio", "none")], head=h, head_kind=kind, head_options=opts)
        back = load_model(save_model(m, tmp_path / kind))
        np.testing.assert_allclose(back.head.predict_proba(X), h.predict_proba(X), atol=1e-7)
        assert (back.head.decide(back.head.predict_proba(X)) == h.decide(h.predict_proba(X))).all()


@pytest.fixture
def saved(tmp_path):
    model, *_ = _fold_model("linear")
    return save_model(model, tmp_path / "m")


def test_changed_weight_file_is_refused(saved):
    w = saved / "weights.safetensors"
    data = bytearray(w.read_bytes())
    data[-3] ^= 0x01
    w.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"weights\.safetensors: changed after the model was written"):
        load_model(saved)


def test_other_format_version_and_edited_card_are_refused(saved):
    card = saved / "model.json"
    doc = json.loads(card.read_text())
    doc["labels"] = ["x", "y", "z"]
    card.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match=r"model\.json: changed after it was written"):
        load_model(saved)
    doc["format_version"] = 99
    card.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match=r"model format version 99; this affectbench reads version 1"):
        load_model(saved)
    card.write_text("{not json")
    with pytest.raises(ModelError, match="not JSON"):
        load_model(saved)
    with pytest.raises(ModelError, match="no such model folder"):
        load_model(saved.parent / "nothing")


def _rewrite(card, doc):
    from affectbench.model import _content_hash

    doc["content_sha256"] = _content_hash(doc)
    card.write_text(json.dumps(doc))


def test_other_training_recipe_loads_and_other_weight_layout_is_refused(saved):
    """A recipe fix (the head's VERSION) must not strand saved models: their weights predict as
    before. Weights this code cannot read (SAVED_VERSION) are refused."""
    from affectbench.heads import LinearAdapter

    card = saved / "model.json"
    doc = json.loads(card.read_text())
    assert doc["head"]["version"] == LinearAdapter.VERSION and doc["head"]["saved_version"] == "1"
    before = load_model(saved)
    doc["head"]["version"] = "0"  # trained by an older recipe
    del doc["head"]["saved_version"]  # folders written before the key existed read as layout 1
    _rewrite(card, doc)
    older = load_model(saved)
    assert not older.warnings
    np.testing.assert_array_equal(older.head.w_, before.head.w_)
    doc["head"]["saved_version"] = "99"
    _rewrite(card, doc)
    with pytest.raises(ModelError, match=r"model\.json: head 'linear' weights are saved in layout version 99"):
        load_model(saved)


def test_no_pickle_and_every_file_hashed(saved):
    doc = json.loads((saved / "model.json").read_text())
    assert set(doc["files"]) == {"weights.safetensors"} and sorted(p.name for p in saved.iterdir()) == [
        "model.json", "weights.safetensors"]
    assert b"pickle" not in (saved / "weights.safetensors").read_bytes()[:4096]
    assert doc["blocks"][0]["normalisation"]["kind"] == "zscore"


def test_speaker_normalised_model_uses_training_statistics_and_says_so(tmp_path):
    model, *_ = _fold_model("linear", normalization="speaker")
    with pytest.warns(UserWarning, match="speaker of new media is unknown"):
        loaded = load_model(save_model(model, tmp_path / "spk"))
    assert any("training rows' statistics" in w for w in loaded.warnings)
    doc = json.loads((tmp_path / "spk" / "model.json").read_text())
    assert "speaker is unknown" in doc["blocks"][0]["normalisation"]["statistics"]


def test_frame_level_fusion_model_predicts_new_media_through_its_extractors(tmp_path):
    """Audio + words, eGeMAPS frames + MiniLM token frames, MulT: a saved model's predict_items
    (extraction, frame z-scores, the head) gives what the head gave on the same frames."""
    from affectbench.heads import make_head
    from affectbench.heads.blocks import Block
    from affectbench.model import _block_features
    from affectbench.normalize import BlockFit, ZScore
    from conftest import shared_data
    from model_fixtures import TEXTS

    files = sorted((shared_data("emodb") / "wav").glob("03*.wav"))[:8]
    texts = [t for c in TEXTS for t in TEXTS[c][:2]]
    items = [{"id": str(i), "audio": str(f), "text": texts[i]} for i, f in enumerate(files)]
    exs = [get_extractor("egemaps", frames=True), get_extractor("minilm", frames=True)]
    blocks, fits = [], []
    for ex in exs:
        seq, pres, lengths, _ = _block_features(ex, BlockFit(ex.name, ex.modality, "fold", sequence=True), items, 1)
        valid = np.arange(seq.shape[1])[None] < lengths[:, None]
        z = ZScore.fit(seq[valid])
        Z = z.apply(seq)
        Z[~valid] = 0.0
        blocks.append(Block(ex.name, ex.modality, Z, pres, lengths))
        fits.append(BlockFit(ex.name, ex.modality, "fold", zscore=z, sequence=True))
    opts = {"epochs": 3, "hidden": 8, "heads": 2}
    head = make_head("mult", **opts).fit(blocks, np.arange(8) % 4, n_classes=4)
    m = Model(name="av", labels=["neutral", "happy", "sad", "angry"], task="classification", extractors=exs,
              blocks=fits, head=head, head_kind="mult", head_options=opts)
    out = load_model(save_model(m, tmp_path / "av")).predict_items(items + [{"id": "x", "audio": str(files[0])}])
    np.testing.assert_allclose(out.probs[:8], head.predict_proba(blocks), atol=1e-6)
    assert np.isfinite(out.probs[8]).all() and not out.failed  # no words: the head masks the text block
