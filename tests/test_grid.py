"""Grids: axes expanded into ordinary runs, reused when finished, summarised in the paper's shape."""
from __future__ import annotations

import subprocess
import sys

import pytest

from affectbench.errors import SpecError
from affectbench.grid import load_grid, run_grid, summary_markdown

BASE = '''
seeds = [0, 1]
[base]
name = "g"
output_dir = "{out}"
corpus = {{ name = "demo" }}
features = {{ extractors = ["egemaps"] }}
metrics = {{ bootstrap = 20 }}
head = {{ epochs = 5 }}

[[axis]]
name = "head"
key = "head.kind"
values = ["linear", "logreg"]

[[axis]]
name = "labels"
values = [{{ label = "Four", set = {{ "corpus.view" = "four" }} }}]

[table]
rows = "head"
columns = ["labels"]
metric = "war"
'''


def _grid(tmp_path, text=BASE):
    p = tmp_path / "g.toml"
    p.write_text(text.format(out=tmp_path / "runs"))
    return p


def test_grid_runs_cells_reuses_them_and_prints_the_table(tmp_path):
    g = load_grid(_grid(tmp_path))
    assert len(g.cells) == 4 and {c.spec.head.kind for c in g.cells} == {"linear", "logreg"}
    df = run_grid(g, output=tmp_path / "out")
    assert len(df) == 4 and not df["reused"].any() and df["war"].between(0.25, 1).all()
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| head | Four |" in md and "± " in md and "2 seed(s)" in md
    # the table's numbers are the runs' pooled WAR, averaged over seeds
    lin = df[df["head"] == "linear"]["war"].mean() * 100
    assert f"{lin:.2f}" in md
    again = run_grid(load_grid(_grid(tmp_path)))
    assert again["reused"].all() and list(again["war"]) == list(df["war"])


@pytest.mark.parametrize("edit, match", [
    (('key = "head.kind"', 'key = "head.kindd"'), r"cell \(head = linear, labels = Four\).*unknown key 'head.kindd'"),
    (('rows = "head"', 'rows = "encoder"'), r"\[table\] rows = 'encoder' is not an axis"),
    (('name = "labels"', 'name = "labels"\nkeyy = 1'), r"axis 'labels': unknown key"),
    (('"corpus.view" = "four"', '"corpus.view" = "four", "corpus.train_view" = "nope"'), r"unknown label view 'nope'"),
])
def test_bad_grids_fail_before_any_work(tmp_path, edit, match):
    with pytest.raises(SpecError, match=match):
        load_grid(_grid(tmp_path, BASE.replace(*edit)))
    assert not (tmp_path / "runs").exists()


def test_grid_command_in_parallel_processes(tmp_path):
    p = _grid(tmp_path, BASE.replace("seeds = [0, 1]", "seeds = [0]"))
    r = subprocess.run([sys.executable, "-m", "affectbench.cli", "grid", str(p), "-j", "2", "-o",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| head | Four |" in r.stdout and (tmp_path / "o" / "results.parquet").is_file()


def test_summary_rejects_an_unknown_metric(tmp_path):
    g = load_grid(_grid(tmp_path, BASE.replace('metric = "war"', 'metric = "accuracy"')))
    import pandas as pd

    with pytest.raises(SpecError, match="metric 'accuracy' is not a pooled metric"):
        summary_markdown(g, pd.DataFrame({"head": ["linear"], "labels": ["Four"], "seed": [0], "war": [0.5]}))


def test_the_example_grids_validate_every_cell():
    """The shipped grids (EmotionTalk Tables 2-4, IEMOCAP, MELD) expand into valid specs."""
    from pathlib import Path

    ex = Path(__file__).parents[1] / "examples"
    sizes = {"emotiontalk_table2.toml": 5 * 4 * 3, "emotiontalk_table3.toml": 12 * 2 * 3,
             "emotiontalk_table4.toml": 2 * 3 * 3, "iemocap_fusion_grid.toml": 7 * 3,
             "meld_fusion_grid.toml": 6 * 3}
    for name, n in sizes.items():
        g = load_grid(ex / name, ["corpus.root=/path/to/corpus"])
        assert len(g.cells) == n, name
        assert g.table.get("rows") in g.axes
    t3 = load_grid(ex / "emotiontalk_table3.toml", ["corpus.root=/path/to/corpus"])
    assert {c.spec.head.kind for c in t3.cells} >= {"tfn", "lmf", "mult", "mctn"}
    assert all(c.spec.features.options["hf-text"]["frames"] for c in t3.cells)


def test_grid_cells_on_ray_equal_local(tmp_path):
    pytest.importorskip("ray")
    import ray

    text = BASE.replace("seeds = [0, 1]", "seeds = [0]")
    local = run_grid(load_grid(_grid(tmp_path, text)))
    import shutil

    shutil.rmtree(tmp_path / "runs")
    try:
        remote = run_grid(load_grid(_grid(tmp_path, text)), jobs=2, executor="ray")
    finally:
        ray.shutdown()
    assert not remote["reused"].any()
    assert list(remote["war"]) == list(local["war"]) and list(remote["uar"]) == list(local["uar"])
