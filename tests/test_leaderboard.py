"""The leaderboard site and the HTML run report, built from real and synthetic run folders,
and checked in a real browser (Playwright driving headless chromium)."""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

import affectbench as ab
from affectbench.cli import app
from affectbench.html_report import rebuild, write_html_report
from affectbench.leaderboard import build
from runfolder_factory import make_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CHROMIUM = Path(os.environ.get("AFFECTBENCH_CHROMIUM", "/usr/bin/chromium"))  # Debian/Ubuntu: chromium
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory):
    """Two real demo runs (the real pipeline, 100 bootstrap resamples) and synthetic ones beside them."""
    root = tmp_path_factory.mktemp("lb_runs")
    for over in ([], ["head.kind=logreg"]):
        ab.run(ab.load_spec(EXAMPLES / "demo.toml", [f"output_dir={root / 'real'}", "metrics.bootstrap=100",
                                                      "features.extractors=['tfidf']", *over]))
    syn = root / "synthetic"
    for s, acc in (("a", 0.75), ("b", 0.6), ("c", 0.58)):
        make_run(syn, f"emo_{s}-0000000{s}", acc, corpus="emodb", view="all", extractors=(s,))
    # a partial copy of the same corpus: its own table, never ranked with the complete one
    make_run(syn, "emo_partial-00000001", 0.9, corpus="emodb", view="all", data_fingerprint="partialcopy", drop=30,
             extra_info={"transductive": True})
    # another class set under the same view name (e.g. an older label mapping): its own table too
    make_run(syn, "emo_3class-00000001", 0.7, corpus="emodb", view="all", classes=["neutral", "happy", "sad"],
             data_fingerprint="threeclass")
    bad = make_run(syn, "edited-00000001", 0.6, corpus="emodb", view="all")
    m = json.loads((bad / "metrics.json").read_text())
    m["pooled"]["war"] = 0.99
    (bad / "metrics.json").write_text(json.dumps(m))
    return root


@pytest.fixture(scope="session")
def site(runs_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    lines = []
    index = build([runs_dir], out, n_boot=500, log=lines.append)
    return index, lines


def test_site_structure(site, runs_dir):
    index, lines = site
    html = index.read_text()
    assert any("edited-00000001" in x and "hand" in x for x in lines)
    assert "edited-00000001" in html  # named in the notes panel, not ranked
    assert html.count('<section class="board"') == 4  # demo, emodb, its partial copy, its 3-class view
    assert html.count("not comparable with the other table") == 3 and "classes neutral, happy, sad" in html
    assert "transductive normalisation" in html
    site_dir = index.parent
    assert len(list((site_dir / "runs").glob("*.html"))) == 7
    assert len(list((site_dir / "tables").glob("*.tex"))) == 4
    md = next(p for p in (site_dir / "tables").glob("emodb-all-loso-data0000*.md")).read_text()
    assert "**" in md and "leave-one-speaker-out" in md
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing fetched from anywhere


def test_html_report_for_a_real_run(runs_dir, tmp_path):
    run = next((runs_dir / "real").iterdir())
    m = json.loads((run / "metrics.json").read_text())
    info = json.loads((run / "run.json").read_text())
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    out = write_html_report(copy, m, info)
    html = out.read_text()
    assert out == copy / "report.html" and f"{m['pooled']['uar']:.3f}" in html
    assert "confusion.png" in html and "affectbench leaderboard RUNS_DIR" in html
    r = CliRunner().invoke(app, ["html-report", str(copy), "--leaderboard", str(tmp_path / "site")])
    assert r.exit_code == 0, r.output
    assert 'href="../site/index.html"' in (copy / "report.html").read_text()
    with pytest.raises(ValueError, match="no metrics.json"):
        rebuild(tmp_path)


def test_cli_leaderboard(runs_dir, tmp_path):
    r = CliRunner().invoke(app, ["leaderboard", str(runs_dir), "-o", str(tmp_path / "s"), "--bootstrap", "200"])
    assert r.exit_code == 0 and (tmp_path / "s" / "index.html").exists()
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "empty"), "-o", str(tmp_path / "s2")])
    assert r.exit_code == 2 and "empty folder" in r.output and not (tmp_path / "s2").exists()


def _browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not CHROMIUM.exists():
        why = "playwright is not installed" if sync_playwright is None else f"{CHROMIUM} is missing"
        if os.environ.get("AFFECTBENCH_REQUIRE_BROWSER"):
            pytest.fail(f"the browser test must run here but {why} (.ci/run installs both)")
        pytest.skip(f"{why}: install the test extra and Debian's chromium (see .ci/run)")
    return sync_playwright


@pytest.mark.browser
def test_leaderboard_in_a_real_browser(site, runs_dir, tmp_path):
    sync_playwright = _browser()
    index, _ = site
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(index.as_uri())
        page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)

        # sort the demo table by UAR: first click best-first, second click worst-first
        demo = page.locator("section.board[data-corpus=demo]")
        uar_head = demo.locator("th[data-metric=uar]")
        cells = demo.locator("tbody tr td[data-metric=uar]")
        uar_head.click()
        values = [float(v) for v in cells.evaluate_all("cs => cs.map(c => c.dataset.sort)")]
        assert values == sorted(values, reverse=True) and uar_head.get_attribute("aria-sort") == "descending"
        uar_head.click()
        values = [float(v) for v in cells.evaluate_all("cs => cs.map(c => c.dataset.sort)")]
        assert values == sorted(values) and uar_head.get_attribute("aria-sort") == "ascending"
        run_head = demo.locator("th", has_text="run").first
        run_head.focus()
        page.keyboard.press("Enter")  # sortable from the keyboard too
        names = demo.locator("tbody tr").evaluate_all("rs => rs.map(r => r.dataset.run)")
        assert names == sorted(names)

        # filter by corpus: only the demo table stays
        page.select_option("#corpus-filter", "demo")
        assert page.locator("section.board[data-corpus=emodb]").first.is_hidden()
        assert demo.is_visible()
        page.select_option("#corpus-filter", "")
        page.fill("#text-filter", "emo_b")
        assert page.locator("tbody tr:visible").count() == 1

        # open a run's detail: the numbers shown are metrics.json's
        page.fill("#text-filter", "")
        link = demo.locator("tbody tr a").first
        label = link.text_content().strip()
        link.click()
        page.wait_for_load_state("load")
        assert page.locator("#run-name").inner_text() == label
        metrics = json.loads((runs_dir / "real" / label / "metrics.json").read_text())["pooled"]
        for k in ("war", "uar", "macro_f1", "weighted_f1"):
            cell = page.locator(f"#pooled tr[data-metric={k}] td.value")
            assert json.loads(cell.get_attribute("data-value")) == metrics[k]
            assert cell.inner_text() == f"{metrics[k]:.3f}"
        for c, v in metrics["per_class_recall"].items():
            assert page.locator(f"#per-class tr[data-class='{c}'] td.value").inner_text() == f"{v:.3f}"
        conf = page.locator("#confusion tbody tr").evaluate_all(
            "rs => rs.map(r => Array.from(r.querySelectorAll('td')).map(td => parseInt(td.firstChild.textContent)))")
        assert conf == metrics["confusion"]
        assert "data fingerprint" in page.locator("#provenance").inner_text()
        page.locator("#to-leaderboard").click()
        page.wait_for_load_state("load")
        assert page.url.startswith(index.as_uri())
        browser.close()
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), \
        [u for u in requests if not u.startswith(("file://", "data:"))]


@pytest.mark.browser
def test_sorting_500_rows_is_fast(tmp_path):
    sync_playwright = _browser()
    runs = tmp_path / "runs"
    for i in range(500):
        make_run(runs, f"s{i:03d}-{i:08x}", 0.4 + 0.5 * ((i * 37) % 500) / 500, seed=i, n_boot=0,
                 n_speakers=4, per_speaker=20)
    index = build([runs], tmp_path / "site", n_boot=200)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(index.as_uri())
        assert page.locator("tbody tr").count() == 500
        ms = page.evaluate("""() => {
            const th = document.querySelector('th[data-metric=macro_f1]');
            const ts = [];
            for (let i = 0; i < 7; i++) {
              const t0 = performance.now(); th.click(); document.body.offsetHeight; ts.push(performance.now() - t0);
            }
            return ts;
        }""")
        browser.close()
    assert statistics.median(ms) < 100, ms


def test_friedman_panel_across_corpora(tmp_path):
    for c, shift in (("demo", 0.0), ("emodb", 0.05), ("ravdess", -0.05)):
        for s, acc in (("a", 0.8), ("b", 0.65), ("c", 0.6)):
            make_run(tmp_path / "runs" / c, f"{c}_{s}-1", acc + shift, corpus=c, extractors=(s,), n_boot=0)
    index = build([tmp_path / "runs"], tmp_path / "site", n_boot=200)
    html = index.read_text()
    assert 'id="across-corpora"' in html and "Nemenyi critical difference" in html
    assert (index.parent / "cd.png").stat().st_size > 1000
    sync_playwright = _browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        page.goto(index.as_uri())
        assert page.locator("#across-corpora").is_visible()
        page.select_option("#corpus-filter", "emodb")
        assert page.locator("#across-corpora").is_hidden() and page.locator("tbody tr:visible").count() == 3
        browser.close()


@pytest.mark.parametrize("task", ["multilabel", "regression"])
def test_html_report_for_other_tasks(task, tmp_path):
    """The runner writes report.html for every run, so it must not fail on these tasks."""
    import numpy as np

    from affectbench import metrics as M

    rng = np.random.default_rng(0)
    if task == "multilabel":
        Y, P = rng.random((50, 3)) < 0.4, rng.random((50, 3)) < 0.4
        pooled = M.multilabel(Y, P, ["joy", "anger", "fear"], n_boot=50)
    else:
        Y = rng.random((50, 2))
        pooled = M.regression(Y, Y + rng.normal(0, 0.1, Y.shape), ["valence", "arousal"], n_boot=50)
    metrics = {"run": "r-1", "task": task, "pooled": pooled, "folds": [{**pooled, "fold": "test"}], "fold_mean": {}}
    info = {"spec": {"name": "r"}, "corpus": {"name": "x", "view": "v", "classes": pooled["classes"], "n": 50},
            "protocol": {"kind": "official", "folds": [{"name": "test", "fingerprint": "f"}]}}
    html = write_html_report(tmp_path, metrics, info).read_text()
    key = "macro_f1" if task == "multilabel" else "ccc"
    assert f"{pooled[key]:.3f}" in html and "Confusion matrix" not in html


def test_rebuilt_site_drops_pages_of_runs_that_are_gone(tmp_path):
    runs = tmp_path / "runs"
    for s in ("a", "b"):
        make_run(runs, f"{s}-1", 0.7, n_boot=0)
    build([runs], tmp_path / "site", n_boot=50)
    assert len(list((tmp_path / "site" / "runs").glob("*.html"))) == 2
    shutil.rmtree(runs / "b-1")
    make_run(runs, "c-1", 0.6, n_boot=0)
    build([runs], tmp_path / "site", n_boot=50)
    assert sorted(p.name for p in (tmp_path / "site" / "runs").glob("*.html")) == ["a-1.html", "c-1.html"]
