"""Training mixtures: planned in the shared label space, balanced, held-out sets kept apart,
written as chat JSON Lines and a datasets folder that the `datasets` library loads back."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from affectbench.errors import AffectbenchError, SpecError
from affectbench.export import export_mixture
from affectbench.mixture import load_mixture, parse
from fixtures.manifest_fixture import write_manifest

FOUR = ["neutral", "happy", "sad", "angry"]


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    d = tmp_path_factory.mktemp("manifests")
    cremad = write_manifest(d / "cremad.parquet", "cremad", 600,
                            ["angry", "disgust", "fear", "happy", "neutral", "sad"], seed=1)
    meld = write_manifest(d / "meld.parquet", "meld", 900, ["neutral", "neutral", "happy", "angry", "sad",
                                                            "surprise"], seed=2, dialogues=30)
    return {"cremad": str(cremad), "meld": str(meld)}


def _mix(manifests, **kw):
    data = {"name": "m", "labels": FOUR, "seed": 3, "corpus": [
        {"name": "cremad", "manifest": manifests["cremad"]},
        {"name": "meld", "manifest": manifests["meld"], "splits": ["train", "dev"], "weight": 2.0}],
        "heldout": [{"name": "meld", "manifest": manifests["meld"], "splits": ["test"]}]}
    data.update(kw)
    return parse(data)


def _load(out, tmp_path):
    import datasets

    datasets.disable_progress_bars()
    cache = str(tmp_path / "hf-cache")
    hf = datasets.load_dataset(str(out / "hf"), cache_dir=cache)
    js = datasets.load_dataset("json", data_files={"train": str(out / "train.jsonl"),
                                                   "test": str(out / "test.jsonl")}, cache_dir=cache)
    return hf, js


def test_class_balanced_mixture_round_trips_through_datasets(manifests, tmp_path):
    s = export_mixture(_mix(manifests, balance="class", size=800, context_turns=2), tmp_path / "out")
    hf, js = _load(tmp_path / "out", tmp_path)
    assert hf["train"].num_rows == js["train"].num_rows == s["splits"]["train"]["records"] == 800
    assert Counter(hf["train"]["label"]) == {c: 200 for c in FOUR}  # balanced over the mixture
    test_ids = set(hf["test"]["id"])
    assert len(test_ids) == hf["test"].num_rows == 300 - s["splits"]["test"]["label_space"][0]["outside"]["surprise"]
    assert not test_ids & {i.split("#")[0] for i in hf["train"]["id"]}
    rec = next(r for r in js["train"] if r["corpus"] == "meld" and r["context"])
    assert rec["licence"] == "GPL-3.0 (the MELD repository)"
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant"]
    assert rec["messages"][2]["content"] == rec["label"] in FOUR
    assert "Earlier in the conversation:" in rec["messages"][1]["content"] and len(rec["context"]) <= 2
    assert f"<audio:{rec['media']['audio']}>" in rec["messages"][1]["content"]
    assert set(r["licence"] for r in hf["train"] if r["corpus"] == "cremad") == {
        "ODbL 1.0 (Open Database License) + Database Contents License"}
    card = (tmp_path / "out" / "hf" / "README.md").read_text()
    assert "path: data/train-*.parquet" in card and "| train | meld |" in card
    rep = s["splits"]["train"]["label_space"][0]
    assert rep["corpus"] == "cremad" and set(rep["outside"]) == {"disgust", "fear"}


def test_same_seed_same_bytes_and_weights_scale_corpora(manifests, tmp_path):
    for k in ("a", "b"):
        export_mixture(_mix(manifests, shard_rows=100), tmp_path / k, formats=("jsonl",))
    a, b = ((tmp_path / k / "train.jsonl").read_bytes() for k in ("a", "b"))
    assert a == b
    per = json.loads((tmp_path / "a" / "summary.json").read_text())["splits"]["train"]["per_corpus"]
    import pandas as pd

    cre, mel = (pd.read_parquet(manifests[k]) for k in ("cremad", "meld"))
    mel = mel[mel["split"].isin(["train", "dev"])]
    # no size, no balance: every kept row once per unit of weight (cremad 1, meld 2)
    assert per["cremad"] == cre["label"][cre["label"].isin(FOUR)].value_counts().to_dict()
    assert per["meld"] == (2 * mel["label"][mel["label"].isin(FOUR)].value_counts()).to_dict()
    s = export_mixture(_mix(manifests, balance="corpus", size=1000, shard_rows=300), tmp_path / "c")
    per = s["splits"]["train"]["per_corpus"]
    assert sum(per["cremad"].values()) == 333 and sum(per["meld"].values()) == 667  # weights 1:2
    assert s["splits"]["train"]["shards"] == 4  # 300-row shards


def test_vad_answers_use_the_lexicon_coordinates(manifests, tmp_path):
    export_mixture(_mix(manifests, answer="vad", heldout=[]), tmp_path / "v", formats=("jsonl",))
    rec = json.loads((tmp_path / "v" / "train.jsonl").open().readline())
    from affectbench.labelspace import coordinates

    assert json.loads(rec["messages"][2]["content"]) == coordinates(rec["label"]) == rec["vad"]
    assert rec["vad_source"] == "lexicon" and "valence" in rec["messages"][0]["content"]


def test_a_test_set_that_overlaps_training_is_refused(manifests, tmp_path):
    mix = _mix(manifests)
    mix.corpora[1].splits = None  # training takes every MELD split, test included
    with pytest.raises(AffectbenchError, match="held-out set 'meld'.*overlaps the training data"):
        export_mixture(mix, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    from typer.testing import CliRunner

    from affectbench.cli import app

    spec = tmp_path / "mix.toml"
    spec.write_text(f'name = "x"\nlabels = ["happy", "sad"]\n[[corpus]]\nname = "meld"\n'
                    f'manifest = "{manifests["meld"]}"\n[[heldout]]\nname = "meld"\nmanifest = "{manifests["meld"]}"\n'
                    'splits = ["test"]\n')
    r = CliRunner().invoke(app, ["corpora", "export", "--mixture", str(spec), "--out", str(tmp_path / "y")])
    assert r.exit_code != 0 and "overlaps the training data" in str(r.exception)


def test_bad_mixture_specs_are_named(manifests, tmp_path):
    with pytest.raises(SpecError, match="unknown key"):
        parse({"name": "m", "corpus": [{"name": "cremad", "manifest": "x"}], "balanse": "class"})
    with pytest.raises(SpecError, match="not shared classes"):
        _mix(manifests, labels=["joy"])
    with pytest.raises(SpecError, match="weight must be a number > 0"):
        parse({"name": "m", "corpus": [{"name": "cremad", "manifest": "x", "weight": 0}]})
    with pytest.raises(SpecError, match="needs 'root'"):
        parse({"name": "m", "corpus": [{"name": "cremad"}]})
    with pytest.raises(SpecError, match="balance"):
        _mix(manifests, balance="emotion")
    (tmp_path / "bad.toml").write_text("name = [", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_mixture(tmp_path / "bad.toml")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(SpecError, match="not a Parquet manifest"):
        export_mixture(parse({"name": "m", "labels": FOUR, "corpus": [{"name": "cremad", "manifest": str(broken)}]}),
                       tmp_path / "z")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(AffectbenchError, match="not empty"):
        export_mixture(_mix(manifests), tmp_path / "full")


def test_root_entries_read_the_corpus_through_its_adapter(tmp_path):
    from fixtures.ravdess_fixture import build_ravdess

    root = build_ravdess(tmp_path / "rav", actors=[1, 2], emotions=[1, 3, 5], seconds=0.02)
    s = export_mixture(parse({"name": "r", "corpus": [{"name": "ravdess", "root": str(root)}]}),
                       tmp_path / "o", formats=("jsonl",))
    assert s["classes"] == ["neutral", "happy", "sad", "angry", "fear", "disgust", "surprise", "calm"]
    assert s["splits"]["train"]["per_corpus"]["ravdess"] == {"angry": 16, "happy": 16, "neutral": 8}
    assert "a complete copy has 1440" in s["splits"]["train"]["label_space"][0]["partial_copy"][0]


def test_annotated_vad_rows_are_rescaled_from_their_scale(tmp_path):
    from fixtures.emobank_fixture import build_emobank

    root = build_emobank(tmp_path / "eb")
    s = export_mixture(parse({"name": "eb", "answer": "vad", "corpus": [
        {"name": "emobank", "root": str(root), "vad_scale": [1, 5]}]}), tmp_path / "o", formats=("jsonl",))
    recs = [json.loads(x) for x in (tmp_path / "o" / "train.jsonl").open()]
    assert len(recs) == s["splits"]["train"]["records"] == 24
    r = recs[0]
    assert r["vad_source"] == "annotated" and r["label"] is None
    assert r["vad"] == {d: pytest.approx((r["native"][d] - 1) / 2 - 1) for d in ("valence", "arousal", "dominance")}
    assert json.loads(r["messages"][2]["content"]) == r["vad"]
