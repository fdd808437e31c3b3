"""compare: run-folder checks, comparability, paired tests on real folders, paper tables, CLI."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from affectbench import stats
from affectbench.cli import app
from affectbench.compare import compare, compare_group, group_tables, paper_table, NotComparable
from affectbench.runfolders import load_runs
from runfolder_factory import make_run


@pytest.fixture
def three(tmp_path):
    root = tmp_path / "runs"
    for i, acc in enumerate((0.8, 0.6, 0.58)):
        make_run(root, f"sys{i}-0000000{i}", acc, extractors=(f"feat{i}",))
    return root


def test_compare_three_runs_holm_and_reference_tests(three):
    runs, notes = load_runs([three])
    assert notes == [] and len(runs) == 3
    res = compare(runs, n_boot=500, n_perm=2000)
    g = res["groups"][0]
    assert g["unit"] == "speaker" and g["n"] == 240 and len(g["pairs"]) == 3
    y, preds = None, {}
    for r in runs:
        f = r.preds.sort_values("id")
        y = f["true"].map({c: i for i, c in enumerate(r.classes)}).to_numpy()
        preds[r.label] = f["pred"].map({c: i for i, c in enumerate(r.classes)}).to_numpy()
    war_p = [p["metrics"]["war"]["p"] for p in g["pairs"]]
    for p in g["pairs"]:  # McNemar on the aligned predictions of the folders
        assert p["metrics"]["war"]["p"] == pytest.approx(stats.mcnemar_exact(y, preds[p["a"]], preds[p["b"]])["p"])
        assert p["metrics"]["uar"]["diff"] == pytest.approx(
            runs[[r.label for r in runs].index(p["a"])].pooled["uar"]
            - runs[[r.label for r in runs].index(p["b"])].pooled["uar"])
    assert [p["metrics"]["war"]["p_holm"] for p in g["pairs"]] == pytest.approx(list(stats.holm(war_p)))
    best = g["pairs"][0]
    assert best["a"] == "sys0-00000000" and best["metrics"]["uar"]["p_holm"] < 0.01
    assert best["metrics"]["war"]["ci"][0] > 0


def test_different_data_is_refused_or_intersected(tmp_path):
    make_run(tmp_path, "a-1", 0.7)
    make_run(tmp_path, "b-2", 0.6, data_fingerprint="otherdata", drop=40)
    runs, _ = load_runs([tmp_path])
    with pytest.raises(NotComparable, match="different data"):
        compare_group(runs, n_boot=100, n_perm=100)
    res = compare_group(runs, intersection=True, n_boot=100, n_perm=100)
    assert res["intersection"]["n_common"] == 200
    assert res["notes"][0].startswith("COMPARED ON THE INTERSECTION ONLY")
    assert "share" in group_tables(res, "markdown")


def test_different_class_sets_never_compared(tmp_path):
    make_run(tmp_path, "a-1", 0.7)
    make_run(tmp_path, "b-2", 0.7, classes=["neutral", "happy", "sad"])
    runs, _ = load_runs([tmp_path])
    res = compare(runs, intersection=True, n_boot=100, n_perm=100)
    assert not res["groups"] and "different class sets" in res["refused"][0]["reason"]


def test_bad_folders_each_get_a_line_and_the_rest_is_processed(tmp_path):
    good = [make_run(tmp_path, f"ok{i}-1", 0.7) for i in range(2)]
    inc = make_run(tmp_path, "incomplete-1", 0.7)
    (inc / "DONE").unlink()
    nopred = make_run(tmp_path, "nopred-1", 0.7)
    (nopred / "predictions.parquet").unlink()
    edited = make_run(tmp_path, "edited-1", 0.7)
    m = json.loads((edited / "metrics.json").read_text())
    m["pooled"]["uar"] += 0.05
    (edited / "metrics.json").write_text(json.dumps(m))
    old = make_run(tmp_path, "old-1", 0.7, version="0.0.9")
    (tmp_path / "empty").mkdir()
    broken = make_run(tmp_path, "broken-1", 0.7)
    (broken / "run.json").write_text("{not json")
    # the same run copied into another folder, and a different run with a clashing name
    shutil.copytree(good[0], tmp_path / "copy" / good[0].name)
    make_run(tmp_path / "other", "ok1-1", 0.5, seed=3)
    runs, notes = load_runs([tmp_path])
    text = "\n".join(notes)
    assert sorted(r.name for r in runs) == ["ok0-1", "ok1-1", "ok1-1", "old-1"]
    assert f"{inc}: incomplete run folder: no DONE marker" in text
    assert f"{nopred}: incomplete run folder: no predictions.parquet" in text
    assert f"{edited}: metrics.json says uar" in text and "hand" in text
    assert f"{old}: made by affectbench 0.0.9" in text
    assert f"{tmp_path / 'empty'}: empty folder" in text
    assert f"{broken}: unreadable JSON" in text
    assert "counted once" in text and "2 different runs are named ok1-1" in text
    labels = sorted(r.label for r in runs)
    assert len(set(labels)) == 4 and "ok1-1 (other)" in labels
    assert any("made by affectbench 0.0.9" in c for r in runs if r.name == "old-1" for c in r.caveats())


def test_empty_runs_dir(tmp_path):
    runs, notes = load_runs([tmp_path])
    assert runs == [] and notes == [f"{tmp_path}: empty folder: no run folders in it"]


def test_friedman_across_corpora_and_cd_plot(tmp_path):
    for c, shift in (("demo", 0.0), ("emodb", 0.05), ("ravdess", -0.05)):
        for s, acc in (("a", 0.8), ("b", 0.65), ("c", 0.6)):
            make_run(tmp_path / c, f"{c}_{s}-1", acc + shift, corpus=c, extractors=(s,))
    runs, _ = load_runs([tmp_path])
    res = compare(runs, n_boot=100, n_perm=200, cd_plot=tmp_path / "cd.png")
    f = res["friedman"]
    assert f["systems"] == ["a/linear", "b/linear", "c/linear"] and f["n_datasets"] == 3
    from scipy.stats import friedmanchisquare

    S = np.array(f["scores"])
    assert f["chi2"] == pytest.approx(friedmanchisquare(*S.T).statistic)
    assert f["cd"] == pytest.approx(stats.nemenyi_cd(3, 3))
    assert (tmp_path / "cd.png").stat().st_size > 1000
    assert len(res["groups"]) == 3


def test_paper_tables_bold_best_and_footnote():
    rows = [{"run": "a_b", "war": 0.71, "uar": 0.65, "macro_f1": 0.6, "ci": {"uar": [0.6, 0.7]}},
            {"run": "c", "war": 0.70, "uar": 0.6501, "macro_f1": 0.62, "ci": {}}]
    md = paper_table(rows, footnote="Protocol: LOSO", fmt="markdown")
    assert "| a_b | **71.0** | **65.0** [60.0, 70.0] | 60.0 |" in md
    assert "| c | 70.0 | **65.0** | **62.0** |" in md and "Protocol: LOSO" in md
    tex = paper_table(rows, footnote="Protocol: 100% LOSO", fmt="latex")
    for s in (r"\toprule", r"\midrule", r"\bottomrule", r"a\_b", r"\textbf{71.0}", r"100\% LOSO"):
        assert s in tex


def test_cli_compare_json_and_tables(three, tmp_path):
    r = CliRunner().invoke(app, ["compare", str(three), "--json", "--bootstrap", "300", "--permutations", "300",
                                 "--latex", str(tmp_path / "t.tex"), "--markdown", str(tmp_path / "t.md")])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert len(res["groups"][0]["pairs"]) == 3
    assert r"\textbf" in (tmp_path / "t.tex").read_text() and "feat0/linear" in (tmp_path / "t.md").read_text()
    r = CliRunner().invoke(app, ["compare", str(tmp_path / "nothing")])
    assert r.exit_code == 2


def test_compare_of_10_runs_with_10000_resamples_is_fast(tmp_path):
    import time

    for i in range(10):
        make_run(tmp_path, f"s{i}-1", 0.5 + 0.03 * i, n_speakers=10, per_speaker=50, n_boot=0)
    runs, _ = load_runs([tmp_path])
    t = time.perf_counter()
    res = compare(runs, n_boot=10000, n_perm=10000)
    dt = time.perf_counter() - t
    assert len(res["groups"][0]["pairs"]) == 45
    assert dt < 5.0 * 3, dt  # the 5 s target on an idle 2-core machine; slack for a loaded CI box


def test_two_views_of_one_corpus_are_refused_not_friedman(tmp_path):
    make_run(tmp_path, "all-1", 0.7, corpus="emodb", view="all")
    make_run(tmp_path, "four-1", 0.7, corpus="emodb", view="four")
    runs, _ = load_runs([tmp_path])
    res = compare(runs, n_boot=100, n_perm=100)
    assert not res["groups"] and len(res["refused"]) == 1 and "is on emodb/" in res["refused"][0]["reason"]
    assert "more than one view" in res["friedman"]["skipped"]


def test_latex_marks_are_math():
    tex = paper_table([{"run": "a", "war": 0.5, "uar": 0.5, "macro_f1": 0.5}], footnote="†: tied", fmt="latex",
                      marks={"a": "†"})
    assert r"a$^{\dagger}$ &" in tex and r"$^\dagger$: tied" in tex and "†" not in tex
