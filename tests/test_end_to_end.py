"""The embedded default and real runs, through the real command line."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import affectbench as ab
from affectbench.errors import CorpusError, LabelError, MediaError
from conftest import shared_data

EXE = [sys.executable, "-m", "affectbench.cli"]


def cli(*args, cwd=None, check=True):
    r = subprocess.run(EXE + list(args), capture_output=True, text=True, cwd=cwd, env=os.environ.copy())
    if check and r.returncode != 0:
        raise AssertionError(f"exit {r.returncode}\nstdout:{r.stdout}\nstderr:{r.stderr}")
    return r


def test_demo_end_to_end(tmp_path):
    r = cli("demo", "--output-dir", str(tmp_path))
    assert "pooled" in r.stdout and "report:" in r.stdout
    (run,) = list(tmp_path.iterdir())
    for f in ("spec.toml", "run.json", "metrics.json", "predictions.parquet", "confusion.png", "report.md"):
        assert (run / f).is_file(), f
    m = json.loads((run / "metrics.json").read_text())
    assert len(m["folds"]) == 8 and m["pooled"]["n"] == 256
    # synthetic but learnable: well above the 0.25 chance level, and not trivially perfect
    assert 0.5 < m["pooled"]["uar"] < 0.99
    info = json.loads((run / "run.json").read_text())
    assert info["protocol"]["speaker_independent"] is True
    assert all(f["test_speakers_seen_in_training"] == 0 for f in info["protocol"]["folds"])
    assert info["versions"]["affectbench"] and info["data_fingerprint"]
    report = (run / "report.md").read_text()
    assert "UAR" in report and "not a benchmark" in report and "training fold" in report
    # a finished run returns at once, unchanged
    r2 = cli("demo", "--output-dir", str(tmp_path))
    assert "finished earlier" in r2.stdout
    assert json.loads((run / "metrics.json").read_text()) == m


def test_demo_is_reproducible_per_seed(tmp_path):
    spec = ab.load_spec(data={"name": "d", "output_dir": str(tmp_path), "corpus": {"name": "demo"},
                              "features": {"extractors": ["egemaps"]}, "metrics": {"bootstrap": 100}})
    a = ab.run(spec).metrics
    b = ab.run(spec, force=True).metrics
    assert a["pooled"]["uar"] == b["pooled"]["uar"] and a["pooled"]["ci"] == b["pooled"]["ci"]
    c = ab.run(ab.load_spec(data={**spec.to_dict(), "seed": 1})).metrics
    assert c["run"] != a["run"]


def test_run_json_set_and_stats(tmp_path):
    spec = Path(__file__).parents[1] / "examples" / "demo.toml"
    r = cli("run", str(spec), "--json", "--set", f"output_dir={tmp_path}", "--set", "head.kind=logreg",
            "--set", "features.extractors=['tfidf']", "--set", "metrics.bootstrap=200")
    m = json.loads(r.stdout)
    assert set(m) >= {"pooled", "folds"}
    for part in [m["pooled"]] + m["folds"]:
        assert {"war", "uar", "macro_f1"} <= set(part)
    assert len(m["pooled"]["ci"]["uar"]) == 2
    s = json.loads(cli("corpora", "stats", "demo", "--json").stdout)
    assert s["total"] == 256 and s["label"] == {"angry": 64, "happy": 64, "neutral": 64, "sad": 64}
    assert len(s["speaker"]) == 8


def test_cli_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[corpus]\nname = "demo"\n[head]\nkindd = "linear"\n')
    r = cli("run", str(bad), check=False)
    assert r.returncode == 2 and "unknown key 'head.kindd'" in r.stderr and "Traceback" not in r.stderr
    r = cli("run", str(bad), "--set", "head.kindd=1", "--set", "corpus.name=nope", check=False)
    assert r.returncode == 2


def test_emodb_subset_run_with_a_broken_file(tmp_path):
    src = shared_data("emodb") / "wav"
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    for p in sorted(src.glob("0[389]*.wav")):  # speakers 03, 08, 09
        shutil.copy(p, root / "wav")
    victim = root / "wav" / "03a01Fa.wav"
    victim.write_bytes(victim.read_bytes()[:1000])
    base = {"name": "sub", "output_dir": str(tmp_path / "runs"),
            "corpus": {"name": "emodb", "root": str(root)}, "metrics": {"bootstrap": 100}}
    # 3 of 10 speakers: not the official protocol, refused unless asked for
    with pytest.raises(CorpusError, match=r"copy is incomplete.*150 utterances, a complete copy has 535"):
        ab.run(ab.load_spec(data=base))
    base["corpus"]["allow_partial"] = True
    with pytest.raises(MediaError, match=r"03a01Fa\.wav: truncated WAV"):
        ab.run(ab.load_spec(data=base))
    res = ab.run(ab.load_spec(data={**base, "corpus": {**base["corpus"], "on_error": "skip"}}))
    info = json.loads((res.folder / "run.json").read_text())
    assert res.metrics["n_skipped"] == 1 and info["failures"][0]["path"].endswith("03a01Fa.wav")
    assert len(res.metrics["folds"]) == 3
    report = res.report.read_text()
    assert "dropped 1 utterance" in report and "cropped" in report and "incomplete copy" in report


def test_label_outside_view_is_an_error(tmp_path):
    # EmoDB's "four" view drops boredom/disgust/fear on purpose; a view that does not know a
    # label must refuse it: simulate with a manifest row carrying an unexpected label.
    p = ab.prepare("demo")
    df = p.manifest.copy()
    df.loc[0, "label"] = "contempt"
    with pytest.raises(LabelError, match="'contempt' is not known to view 'four'"):
        p.corpus.labelset.view("four").apply(df)


def test_export_cards_and_score_round_trip(tmp_path):
    out = tmp_path / "cards.jsonl"
    cli("corpora", "export", "demo", "--view", "four", "--format", "card", "--out", str(out))
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 256 and set(recs[0]) == {"id", "sentence", "label"}
    assert {r["label"] for r in recs} == {"neu", "hap", "sad", "ang"}
    # a perfect predictions file scores 1.0; flipping 64 "ang" to "neu" costs exactly that class
    pred = tmp_path / "pred.jsonl"
    pred.write_text("\n".join(json.dumps({"id": r["id"], "label": "neu" if r["label"] == "ang" else r["label"]})
                              for r in recs))
    m = json.loads(cli("score", str(pred), "--corpus", "demo", "--json").stdout)
    assert m["war"] == 0.75 and m["uar"] == 0.75 and m["per_class_recall"]["angry"] == 0.0
    pred.write_text('{"id": "nope", "label": "neu"}\n')
    r = cli("score", str(pred), "--corpus", "demo", check=False)
    assert r.returncode == 2 and "not in the corpus view" in r.stderr
