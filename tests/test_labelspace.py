"""The shared label space: every adapter's mapping is valid, the docs table is current, losses
are counted, and a corpus added later joins the table without an edit to labelspace.py."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from affectbench import labelspace
from affectbench.corpora import base, corpus_names, get_corpus
from affectbench.errors import LabelError
from affectbench.labels import LabelSet
from affectbench.manifest import normalize

ROOT = Path(__file__).resolve().parents[1]


def test_docs_table_is_current():
    doc = (ROOT / "docs" / "labelspace.md").read_text(encoding="utf-8")
    assert doc == labelspace.markdown(), "docs/labelspace.md is stale: run python scripts/gen_labelspace_doc.py"


def test_every_adapter_maps_into_the_vocabulary_and_states_a_licence():
    for n in corpus_names():
        c = get_corpus(n)
        m = labelspace.mapping(c)  # raises for a target outside the vocabulary
        stray = set(c.canonical) - set(c.labelset.labels)
        assert not stray, f"{n}: canonical keys {stray} are not labels the adapter writes (labelset.labels)"
        assert set(m) >= set(c.labelset.labels), n
        assert all(v is None or v in labelspace.VOCABULARY for v in m.values()), n
        assert c.licence, f"{n}: no licence"


def test_coordinates_sit_in_russells_quadrants():
    q = {c: (labelspace.coordinates(c)["valence"] > 0, labelspace.coordinates(c)["arousal"] > 0)
         for c in labelspace.VOCABULARY}
    for c in ("happy", "excited", "surprise"):
        assert q[c] == (True, True), c
    for c in ("angry", "fear", "disgust", "frustrated"):
        assert q[c] == (False, True), c
    for c in ("sad", "boredom"):
        assert q[c] == (False, False), c
    assert q["calm"] == (True, False)
    assert labelspace.coordinates("happy", signed=False)["valence"] == 1.0
    with pytest.raises(LabelError, match="not a class of the shared vocabulary"):
        labelspace.coordinates("joyful")


def test_apply_counts_dropped_outside_and_ambiguous():
    iem = get_corpus("iemocap")
    df = normalize([{"id": str(i), "label": lab} for i, lab in
                    enumerate(["neutral", "excited", "xxx", "xxx", "other", "happy", "frustrated"])], "iemocap")
    kept, rep = labelspace.apply(df, iem, ["neutral", "happy", "sad", "angry"])
    assert list(kept["y"]) == ["neutral", "happy"]
    assert rep.dropped == {"xxx": 2, "other": 1}
    assert rep.outside == {"excited": 1, "frustrated": 1}
    go = get_corpus("goemotions")
    df = normalize([{"id": "a", "labels": ["joy", "amusement"]}, {"id": "b", "labels": ["joy", "anger"]},
                    {"id": "c", "labels": ["grief"]}, {"id": "d", "labels": ["fear"]}], "goemotions")
    kept, rep = labelspace.apply(df, go, ["happy", "sad", "angry"])
    assert dict(zip(kept["id"], kept["y"])) == {"a": "happy", "c": "sad"}
    assert rep.ambiguous == 1 and rep.outside == {"fear": 1}
    bad = normalize([{"id": "z", "label": "bogus"}], "iemocap")
    with pytest.raises(LabelError, match="label 'bogus'"):
        labelspace.apply(bad, iem)


def test_a_new_adapter_joins_the_table_and_a_bad_mapping_is_named(monkeypatch):
    class Toy(base.Corpus):
        name = "toy_corpus"
        language = "fr"
        licence = "CC0"
        labelset = LabelSet(("joie", "colère", "neutral", "autre"))
        canonical = {"joie": "happy", "colère": "angry", "autre": None}

    monkeypatch.setitem(base._REGISTRY, "toy_corpus", Toy)
    row = next(r for r in labelspace.table() if r["corpus"] == "toy_corpus")
    assert row["mapping"] == {"joie": "happy", "colère": "angry", "neutral": "neutral"}
    assert row["dropped"] == ["autre"] and row["unlisted"] == ["neutral"]
    assert "| toy_corpus | fr | 3 | neutral, joie→happy, colère→angry | autre | neutral | – |" in labelspace.markdown()
    Toy.canonical = {"joie": "joyful"}
    with pytest.raises(LabelError, match="toy_corpus.*'joie' to 'joyful'"):
        labelspace.mapping(Toy())


def test_cli_labelspace_and_list(capsys):
    from typer.testing import CliRunner

    from affectbench.cli import app

    r = CliRunner().invoke(app, ["corpora", "labelspace", "--json"])
    rows = json.loads(r.output)
    iem = next(x for x in rows if x["corpus"] == "iemocap")
    assert iem["dropped"] == ["other", "xxx"] and iem["dimensions"] == ["valence", "arousal", "dominance"]
    r = CliRunner().invoke(app, ["corpora", "list", "--json"])
    rows = {x["name"]: x for x in json.loads(r.output)}
    assert rows["cremad"]["size"] == 7442 and rows["cremad"]["language"] == "en"
    assert rows["ravdess"]["licence"] == "CC BY-NC-SA 4.0" and rows["iemocap"]["protocol"] == "logo (session)"
    assert set(rows) == set(corpus_names())


def test_stats_all_tabulates_good_missing_and_broken_copies(tmp_path):
    from typer.testing import CliRunner

    from affectbench.cli import app
    from fixtures.ravdess_fixture import build_ravdess

    build_ravdess(tmp_path / "rav", actors=[1, 2], emotions=[1, 5], seconds=0.02)
    (tmp_path / "go").mkdir()
    (tmp_path / "roots.toml").write_text('ravdess = "rav"\ncremad = "nowhere"\ngoemotions = "go"\n'
                                         'nosuch = "rav"\n', encoding="utf-8")
    r = CliRunner().invoke(app, ["corpora", "stats", "--all", str(tmp_path / "roots.toml"), "--json"])
    assert r.exit_code == 0, r.output
    rows = {x["corpus"]: x for x in json.loads(r.output)}
    assert rows["ravdess"]["status"] == "partial" and rows["ravdess"]["utterances"] == 2 * (4 + 8)  # neutral has no strong take
    assert rows["ravdess"]["expected"] == 1440 and rows["ravdess"]["speakers"] == 2
    assert rows["cremad"]["status"].startswith("missing")
    assert rows["goemotions"]["status"] == "broken" and "emotions.txt" in rows["goemotions"]["problems"][0]
    assert rows["nosuch"]["status"] == "unknown corpus"
