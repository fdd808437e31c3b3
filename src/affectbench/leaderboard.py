"""``affectbench leaderboard``: a static site ranking runs that may honestly be ranked together.

One table per corpus × view × protocol (and data / test-fold identity: two copies of a
corpus, or two fold layouts, never share a table). Rows carry WAR / UAR / macro-F1 with
their CIs drawn as error bars, per-class recall, a "≈ best" group (runs whose UAR is not
distinguishable from the best one's by a paired randomisation test, Holm-corrected) and
the caveats a reader needs. Each run gets a detail page with its confusion matrix and
provenance. Everything is rendered by Jinja2 templates shipped in the package; the page
uses one small vendored script, opens from disk and makes no network request.
"""
from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from importlib import metadata
from importlib.resources import files
from pathlib import Path

import numpy as np

from . import stats
from .compare import METRICS, across_corpora, paper_table, protocol_text
from .html_report import PROTOCOLS, environment, render_run
from .runfolders import Run, load_runs

ALPHA = 0.05


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_") or "x"


def tied_with_best(runs: list[Run], n_boot: int, seed: int = 0) -> tuple[list[float | None], int]:
    """Holm-corrected p of each run's UAR against the best run's (None for the best).

    A paired bootstrap over the same resampling unit as the runs' CIs (speakers when the
    protocol is speaker independent), every run on the same resamples, tested with the
    normal approximation so that Holm over hundreds of runs still has room to reject.
    Runs in one table share their test items (same test key), so predictions align by id.
    """
    from .compare import _unit

    best = int(np.argmax([r.pooled["uar"] for r in runs]))
    classes = runs[best].classes
    ref = runs[best]
    y = ref.y[ref.by_id]
    P = np.stack([r.p[r.by_id] for r in runs])
    unit = _unit(runs, None)
    groups = ref.preds[unit].astype(str).to_numpy()[ref.by_id] if unit in ref.preds.columns else None
    boot = stats.bootstrap_metrics(y, P, len(classes), groups=groups, n_boot=n_boot, seed=seed, only=("uar",))["uar"]
    point = stats._point(y, P, len(classes))["uar"]
    others = [i for i in range(len(runs)) if i != best]
    raw = stats.bootstrap_test(point[best] - point[others], boot[best][None, :] - boot[others])
    adj = iter(stats.holm(raw))
    return [None if i == best else float(next(adj)) for i in range(len(runs))], best


def _table(key, runs: list[Run], n_boot: int, rel_runs: dict[str, str]) -> dict:
    corpus, view, classes, (kind, group, nfolds), data_fp, test_key = key
    p, _ = tied_with_best(runs, n_boot) if len(runs) > 1 else ([None], 0)
    rows = []
    for r, pv in zip(runs, p):
        pooled = r.pooled
        ci = {m: pooled.get("ci", {}).get(m) for m in METRICS}
        cav = r.caveats()
        rows.append({"label": r.label, "slug": rel_runs[r.label], "system": r.system,
                     **{m: float(pooled[m]) for m in METRICS}, "ci": ci, "p": pv,
                     "p_text": "best" if pv is None else (f"{pv:.2g}" if pv >= 0.001 else f"{pv:.0e}"),
                     "tied": pv is None or pv >= ALPHA,
                     "recall": {c: pooled.get("per_class_recall", {}).get(c) for c in classes},
                     "caveats": cav,
                     "search": " ".join([r.label, r.system, r.spec.get("description", ""), *cav]).lower()})
    rows.sort(key=lambda x: -x["uar"])
    lows = [v[0] for r in rows for v in r["ci"].values() if v] + [r[m] for r in rows for m in METRICS]
    highs = [v[1] for r in rows for v in r["ci"].values() if v] + [r[m] for r in rows for m in METRICS]
    lo, hi = max(0.0, np.floor(min(lows) * 10) / 10), min(1.0, np.ceil(max(highs) * 10) / 10)
    return {"corpus": corpus, "view": view, "classes": list(classes),
            "protocol_name": PROTOCOLS.get(kind, kind), "protocol": protocol_text(runs[0], _ci_unit(runs)),
            "axis": (lo, hi if hi > lo else lo + 0.1), "rows": rows, "data_fingerprint": data_fp,
            "slug": slug(f"{corpus}-{view}-{kind}-{data_fp[:8]}-{test_key[:6]}"), "suffix": ""}


def _ci_unit(runs):
    """The unit the runs' own CIs resampled (what the table's error bars show)."""
    units = {r.ci_unit for r in runs}
    return units.pop() if len(units) == 1 else "utterance or speaker (differs between runs)"


def build(paths, output: Path, *, n_boot: int = 2000, log=None, reports: bool = False) -> Path | None:
    """Write the site under ``output``; returns index.html, or None when no run could be used."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    runs, notes = load_runs(paths, log=log)
    if not runs:
        if log:
            log(f"no usable run folders under {', '.join(map(str, paths))}: nothing to rank")
        return None
    output = Path(output)
    (output / "runs").mkdir(parents=True, exist_ok=True)
    (output / "tables").mkdir(exist_ok=True)
    (output / "static").mkdir(exist_ok=True)
    for name in ("leaderboard.js", "affectbench.css"):
        (output / "static" / name).write_text((files("affectbench") / "static" / name).read_text(encoding="utf-8"),
                                              encoding="utf-8")
    rel_runs = {}
    used = set()
    for r in runs:
        s = slug(r.label)
        while s in used:
            s += "_"
        used.add(s)
        rel_runs[r.label] = s

    groups = defaultdict(list)
    for r in runs:
        groups[r.table_key].append(r)
    tables = [_table(k, rs, n_boot, rel_runs) for k, rs in groups.items()]
    # the same corpus/view/protocol in two tables: say what sets them apart
    names = defaultdict(list)
    for t, k in zip(tables, groups):
        names[(t["corpus"], t["view"], t["protocol_name"])].append((t, k))
    for same in names.values():
        if len(same) > 1:
            classes = {k[2] for _, k in same}
            fps = {k[4] for _, k in same}
            for t, k in same:
                if len(classes) > 1:
                    t["suffix"] = f"classes {', '.join(k[2])}"
                elif len(fps) > 1:
                    t["suffix"] = f"data {k[4][:8]}"
                else:
                    t["suffix"] = f"test folds {k[5][:8]}"
                t["suffix"] += ": not comparable with the other table of this corpus"
    tables.sort(key=lambda t: (t["corpus"], t["view"], t["protocol_name"], t["suffix"]))

    for t in tables:
        foot = (f"Protocol: {t['protocol']}. WAR = accuracy, UAR = unweighted average recall, in %, [95% CI]. "
                f"Bold: best per column. †: not distinguishable from the best UAR (paired bootstrap, "
                f"Holm-corrected, α = {ALPHA}).")
        systems = [r["system"] for r in t["rows"]]
        name = "system" if len(set(systems)) == len(systems) else "label"  # a paper names systems
        marks = {r[name]: "†" for r in t["rows"] if r["tied"] and r["p"] is not None}
        cap = f"{t['corpus']} ({t['view']}), {t['protocol_name']}"
        rows = [{**r, "run": r[name]} for r in t["rows"]]
        (output / "tables" / f"{t['slug']}.md").write_text(paper_table(rows, footnote=foot, fmt="markdown",
                                                                       caption=cap, marks=marks), encoding="utf-8")
        (output / "tables" / f"{t['slug']}.tex").write_text(paper_table(rows, footnote=foot, fmt="latex",
                                                                        caption=cap, marks=marks), encoding="utf-8")

    friedman = None
    by_cv = defaultdict(list)
    for r in runs:
        by_cv[(r.corpus, r.view)].append(r)
    if len(by_cv) > 1:
        friedman = across_corpora(by_cv, cd_plot=output / "cd.png")
        if "skipped" in friedman:
            friedman = None  # said nowhere prominent: most run collections simply are not that

    where = {row["label"]: t["slug"] for t in tables for row in t["rows"]}

    def page(r: Run) -> None:
        spec_file = r.folder / "spec.toml"
        report = r.folder / "report.html"
        out = output / "runs" / f"{rel_runs[r.label]}.html"
        target = report if report.exists() else r.folder / "report.md"
        links = {"leaderboard": f"../index.html#{where[r.label]}",
                 "report": os.path.relpath(target, out.parent) if target.exists() else None,
                 "confusion_png": None}
        out.write_text(render_run(r.metrics, r.info, links=links, extra_caveats=r.warnings,
                                  spec_text=spec_file.read_text(encoding="utf-8") if spec_file.exists() else None),
                       encoding="utf-8")
        if reports:
            from .html_report import write_html_report

            write_html_report(r.folder, r.metrics, r.info, leaderboard=out)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:  # file writes overlap; rendering is cheap
        list(pool.map(page, runs))

    try:
        version = metadata.version("affectbench")
    except metadata.PackageNotFoundError:
        version = "?"
    html = environment().get_template("leaderboard.html.j2").render(
        tables=tables, notes=notes, n_runs=len(runs), corpora=sorted({t["corpus"] for t in tables}),
        friedman=friedman, n_boot=n_boot, version=version, built=time.strftime("%Y-%m-%d %H:%M"))
    index = output / "index.html"
    index.write_text(html, encoding="utf-8")
    # a rebuilt site must not keep pages of runs that are gone: only our own file patterns
    keep = {f"{s}.html" for s in rel_runs.values()}
    for f in (output / "runs").glob("*.html"):
        if f.name not in keep:
            f.unlink()
    keep = {f"{t['slug']}{ext}" for t in tables for ext in (".md", ".tex")}
    for f in [*(output / "tables").glob("*.md"), *(output / "tables").glob("*.tex")]:
        if f.name not in keep:
            f.unlink()
    if friedman is None:
        (output / "cd.png").unlink(missing_ok=True)
    return index
