"""Experiment grids: a base spec times axes, run as cells, summarised as one table.

A grid file is TOML::

    base = "emotiontalk_base.toml"        # a spec file (relative to the grid file), or a [base] table
    seeds = [0, 1, 2]                     # every cell runs once per seed; tables show mean ± sd

    [[axis]]
    name = "encoder"                      # the column/row title in tables
    values = [                            # each value sets one or more spec keys
      { label = "HuBERT-Base", set = { "features.extractors" = ["hf-audio"],
                                       "features.options.hf-audio.model" = "models/hubert-base" } },
      { label = "eGeMAPS", set = { "features.extractors" = ["egemaps"] } },
    ]

    [[axis]]
    name = "head"
    key = "head.kind"                     # shorthand: plain values for one key
    values = ["linear", "logreg"]

    [table]                               # the summary layout (the EmotionTalk tables' shape)
    rows = "encoder"
    columns = ["head"]                    # one or more axes; their labels are joined
    metric = "war"                        # accuracy, as the EmotionTalk paper reports
    mean = true                           # a "Mean" column over the columns

Every cell is an ordinary run (its own folder, identity and reuse): a finished cell is not
run again. Features are extracted once per distinct extractor configuration before cells
start, so parallel cells only read the cache. Every cell's spec is validated before any
feature is extracted: an unknown key names the axis and the key.
"""
from __future__ import annotations

import itertools
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AffectbenchError, SpecError
from .spec import Spec, load_spec, parse_override, read_spec_file, resolve_root


@dataclass
class Cell:
    labels: dict[str, str]  # axis name -> value label
    seed: int
    spec: Spec


@dataclass
class Grid:
    source: str
    cells: list[Cell]
    axes: list[str]
    table: dict = field(default_factory=dict)


def _axis_values(axis: dict, i: int, source: str) -> list[tuple[str, dict]]:
    name = axis.get("name") or f"axis{i + 1}"
    vals = axis.get("values")
    if not isinstance(vals, list) or not vals:
        raise SpecError(f"{source}: axis '{name}' needs a non-empty list 'values'")
    unknown = sorted(set(axis) - {"name", "key", "values"})
    if unknown:
        raise SpecError(f"{source}: axis '{name}': unknown key(s) {unknown}. Valid: name, key, values")
    out = []
    for v in vals:
        if isinstance(v, dict):
            bad = sorted(set(v) - {"label", "set"})
            if bad or not isinstance(v.get("set"), dict):
                raise SpecError(f"{source}: axis '{name}': a value table needs 'set' (and optionally "
                                f"'label'); got keys {sorted(v)}")
            out.append((str(v.get("label") or json.dumps(v["set"], sort_keys=True)), dict(v["set"])))
        else:
            if not axis.get("key"):
                raise SpecError(f"{source}: axis '{name}' has plain values, so it needs 'key' "
                                "(the spec key they set, e.g. key = \"head.kind\")")
            label = "+".join(map(str, v)) if isinstance(v, list) else str(v)
            out.append((label, {axis["key"]: v}))
    return out


def load_grid(path: str | Path, overrides: list[str] | None = None) -> Grid:
    path = Path(path)
    data = read_spec_file(path, "grid")
    source = str(path)
    unknown = sorted(set(data) - {"base", "seeds", "axis", "table", "name"})
    if unknown:
        raise SpecError(f"{source}: unknown key(s) {unknown}. Valid: base, seeds, axis, table, name")
    base = data.get("base")
    if isinstance(base, str):
        base_spec = read_spec_file((path.parent / base).resolve(), "base spec")
    elif isinstance(base, dict):
        base_spec = base
        resolve_root(base_spec, path.resolve().parent)
    else:
        raise SpecError(f"{source}: 'base' must be a spec file name or a [base] table")
    axes = [(a.get("name") or f"axis{i + 1}", _axis_values(a, i, source))
            for i, a in enumerate(data.get("axis", []))]
    seeds = data.get("seeds", [base_spec.get("seed", 0)])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds) or not seeds:
        raise SpecError(f"{source}: 'seeds' must be a non-empty list of integers")
    extra = dict(parse_override(o) for o in overrides or [])
    cells = []
    for combo in itertools.product(*[vals for _, vals in axes]):
        sets: dict = {}
        for _, s in combo:
            sets.update(s)
        labels = {name: lab for (name, _), (lab, _) in zip(axes, combo)}
        for seed in seeds:
            try:
                spec = load_spec(data=json.loads(json.dumps(base_spec)),
                                 overrides={**_resolve_paths(sets, path.parent), "seed": seed, **extra})
            except AffectbenchError as e:  # unknown keys, names, views: named with the cell
                where = ", ".join(f"{k} = {v}" for k, v in labels.items()) or "the base spec"
                raise SpecError(f"{source}: cell ({where}): {e}") from None
            cells.append(Cell(labels, seed, spec))
    table = data.get("table", {})
    bad = sorted(set(table) - {"rows", "columns", "metric", "mean"})
    if bad:
        raise SpecError(f"{source}: [table]: unknown key(s) {bad}. Valid: rows, columns, metric, mean")
    names = [n for n, _ in axes]
    for k in ("rows", "columns"):
        for a in _as_list(table.get(k)):
            if a not in names:
                raise SpecError(f"{source}: [table] {k} = '{a}' is not an axis. Axes: {', '.join(names)}")
    return Grid(source, cells, names, table)


def _resolve_paths(sets: dict, base: Path) -> dict:
    """Model folders and corpus roots in a grid are relative to the grid file."""
    out = {}
    for k, v in sets.items():
        if isinstance(v, str) and (k == "corpus.root" or k.endswith(".model")) and v and \
                not Path(v).expanduser().is_absolute():
            v = str((base / v).resolve())
        out[k] = v
    return out


def _as_list(v) -> list:
    return [] if v is None else [v] if isinstance(v, str) else list(v)


# ------------------------------------------------------------------------------------ running
def _run_cell(spec_dict: dict, threads: int) -> dict:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    from .runner import run

    res = run(load_spec(data=spec_dict))
    return {"folder": str(res.folder), "reused": res.reused, "metrics": res.metrics}


def _distinct_features(cells: list[Cell]) -> list[Spec]:
    """One spec per distinct (corpus, extractor configuration): extracting through these first
    means parallel cells only read the cache."""
    seen, out = set(), []
    for c in cells:
        s = c.spec
        key = json.dumps([s.corpus.name, s.corpus.root, s.corpus.options, s.corpus.view, s.corpus.train_view,
                          s.features.extractors, s.features.options, s.features.normalization], sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def run_grid(grid: Grid, *, jobs: int = 1, executor: str = "local", reporter=None,
             output: Path | None = None) -> pd.DataFrame:
    from .runner import Reporter, extract_features, load_data, plan_features

    rep = reporter or Reporter()
    for s in _distinct_features(grid.cells):  # extraction once, with the spec's own workers
        data = load_data(s, rep)
        extract_features(s, data, plan_features(s, data), rep)
    upd = rep.task("grid cells", len(grid.cells))
    upd(0, len(grid.cells))
    results: list[dict | None] = [None] * len(grid.cells)
    threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    t0 = time.perf_counter()
    if executor == "ray":
        results = _ray_cells(grid, jobs, threads, upd)
    elif jobs <= 1:
        for i, c in enumerate(grid.cells):
            results[i] = _run_cell(c.spec.to_dict(), threads)
            upd(1)
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futs = {pool.submit(_run_cell, c.spec.to_dict(), threads): i for i, c in enumerate(grid.cells)}
            for f in as_completed(futs):
                results[futs[f]] = f.result()
                upd(1)
    rows = []
    for c, r in zip(grid.cells, results):
        p = r["metrics"]["pooled"]
        row = {**c.labels, "seed": c.seed, "run": r["folder"], "reused": r["reused"]}
        for k, v in p.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                row[k] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["seconds"] = round(time.perf_counter() - t0, 2)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        df.to_parquet(output / "results.parquet", index=False)
        (output / "results.md").write_text(summary_markdown(grid, df), encoding="utf-8")
    return df


def _ray_cells(grid: Grid, jobs: int, threads: int, upd) -> list[dict]:
    try:
        import ray
    except ImportError:  # pragma: no cover
        raise AffectbenchError("executor 'ray' needs Ray: pip install 'affectbench[ray]'") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, num_cpus=max(jobs, 1))
    task = ray.remote(num_cpus=1)(_run_cell)
    refs = [task.remote(c.spec.to_dict(), threads) for c in grid.cells]
    out = []
    for r in refs:
        out.append(ray.get(r))
        upd(1)
    return out


# ------------------------------------------------------------------------------------ tables
def summary(grid: Grid, df: pd.DataFrame) -> pd.DataFrame:
    """mean ± sd over seeds for every cell and metric."""
    metrics = [c for c in df.columns if c not in set(grid.axes) | {"seed", "run", "reused"}]
    by = grid.axes or ["_all"]
    d = df.assign(_all="all")
    g = d.groupby(by, sort=False)
    out = g[metrics].mean().add_suffix("_mean").join(g[metrics].std(ddof=0).add_suffix("_sd"))
    out["n_seeds"] = g.size()
    return out.reset_index()


def summary_markdown(grid: Grid, df: pd.DataFrame) -> str:
    t = grid.table
    metric = t.get("metric", "uar")
    if metric not in df.columns:
        raise SpecError(f"{grid.source}: [table] metric '{metric}' is not a pooled metric of these runs "
                        f"(have: {', '.join(c for c in df.columns if c not in grid.axes)})")
    s = summary(grid, df)
    rows, cols = _as_list(t.get("rows")), _as_list(t.get("columns"))
    if not rows:
        rows = [a for a in grid.axes if a not in cols][:1]
    cols = cols or [a for a in grid.axes if a not in rows]
    scale = 100.0  # the EmotionTalk tables print percentages
    lines = [f"# {Path(grid.source).stem}", "",
             f"{metric.upper() if metric in ('war', 'uar') else metric} × 100, mean ± sd over "
             f"{int(s['n_seeds'].max())} seed(s); {len(df)} run(s).", ""]
    s["_row"] = s[rows].astype(str).agg(" / ".join, axis=1) if rows else "all"
    s["_col"] = s[cols].astype(str).agg(" / ".join, axis=1) if cols else metric
    col_order = list(dict.fromkeys(s["_col"]))
    head = [" / ".join(rows) or ""] + col_order + (["Mean"] if t.get("mean", True) and len(col_order) > 1 else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in dict.fromkeys(s["_row"]):
        part = s[s["_row"] == r].set_index("_col")
        cells, means = [r], []
        for c in col_order:
            if c in part.index:
                m, d = part.loc[c, f"{metric}_mean"] * scale, part.loc[c, f"{metric}_sd"] * scale
                means.append(m)
                cells.append(f"{m:.2f} ± {d:.2f}" if part.loc[c, "n_seeds"] > 1 else f"{m:.2f}")
            else:
                cells.append("–")
        if len(head) > len(col_order) + 1:
            cells.append(f"{np.mean(means):.2f}" if means else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
