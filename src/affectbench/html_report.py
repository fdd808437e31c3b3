"""The HTML side of a run: ``report.html`` beside ``report.md``, and the leaderboard's run pages.

One template (``templates/run.html.j2``) serves both, so a run looks the same in its
own folder and on the leaderboard. The page is self-contained (CSS inlined, confusion
matrix drawn as a table) so it opens from disk and fetches nothing.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

METRIC_ROWS = (("war", "WAR"), ("uar", "UAR"), ("macro_f1", "macro-F1"), ("weighted_f1", "weighted-F1"),
               ("micro_f1", "micro-F1"), ("samples_f1", "samples-F1"), ("exact_match", "exact match"),
               ("ccc", "CCC"), ("pearson", "Pearson r"), ("mae", "MAE"))
PROTOCOLS = {"loso": "leave-one-speaker-out", "logo": "leave-one-group-out", "official": "official split",
             "kfold": "speaker-disjoint folds", "fixed": "fixed folds"}


@lru_cache(maxsize=1)
def environment():
    """One Jinja environment per process: templates compile once, which matters for 500 pages."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("affectbench", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env


@lru_cache(maxsize=1)
def css() -> str:
    from importlib.resources import files

    return (files("affectbench") / "static" / "affectbench.css").read_text(encoding="utf-8")


def protocol_line(info: dict) -> str:
    p = info.get("protocol", {})
    kind = p.get("kind", "?")
    folds = len(p.get("folds", []))
    if kind == "official":
        return "official split (train / dev for validation / test)"
    return f"{PROTOCOLS.get(kind, kind)} over {p.get('group', '?')}, {folds} fold(s)"


def transductive(info: dict) -> bool:
    """Older folders have no "transductive" flag: per-speaker normalisation saw test speakers."""
    return bool(info.get("transductive", info.get("normalization", {}).get("mode") == "speaker"))


def caveats(metrics: dict, info: dict) -> list[str]:
    """What a reader must know before trusting the numbers (also shown on the leaderboard)."""
    c = info.get("corpus", {})
    out = list(c.get("caveats", [])) + list(c.get("warnings", []))
    out += [f"incomplete copy: {p}" for p in c.get("problems", [])]
    if transductive(info):
        out.append("transductive normalisation: statistics fitted on test data too (no labels)")
    p = info.get("protocol", {})
    if p and not p.get("speaker_independent", True):
        seen = sum(f.get("test_speakers_seen_in_training", 0) for f in p.get("folds", []))
        out.append(f"not speaker independent ({seen} test speaker(s) also seen in training)")
    t = info.get("tested") or metrics.get("tested") or {}
    tested = t.get("n_tested", p.get("n_tested"))
    n = t.get("n_view", c.get("n"))
    if tested is not None and n is not None and tested < n:
        out.append(f"only {tested} of {n} utterances of the view were tested")
    if metrics.get("n_skipped"):
        out.append(f"{metrics['n_skipped']} utterance(s) skipped (could not be read)")
    return out


def _identity_rows(ident) -> dict:
    """The run identity in a few lines: its hash (the run folder's suffix) and what is not
    already on the page (the spec has its own panel)."""
    if not isinstance(ident, dict) or not ident:
        return {}
    import hashlib

    rows = {"identity hash": hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:8]}
    for k, v in ident.items():
        if k in ("spec", "data_fingerprint"):
            continue
        if isinstance(v, (str, int, float, bool)) or v is None:
            rows[k] = str(v)
        elif k == "features" and isinstance(v, list):
            for f in v:
                name = (f.get("identity") or {}).get("name", "?") if isinstance(f, dict) else "?"
                rows[f"features: {name}"] = (f.get("content") or "")[:16] if isinstance(f, dict) else ""
        else:
            text = json.dumps(v, sort_keys=True, default=str)
            rows[k] = text if len(text) <= 120 else text[:117] + "…"
    return rows


def run_context(metrics: dict, info: dict, spec_text: str | None = None, extra_caveats=()) -> dict:
    """Everything the run template shows, from the two JSON files alone."""
    pooled = metrics["pooled"]
    classes = list(pooled.get("classes") or info["corpus"]["classes"])
    cm = []
    for row in pooled.get("confusion") or []:  # single-label runs only
        tot = max(sum(row), 1)
        cm.append([{"n": int(v), "frac": v / tot} for v in row])
    task = metrics.get("task", "single_label")
    if task == "regression":
        per_class = {"title": "Per target", "cols": ["CCC", "Pearson r", "MAE"], "rows": [
            (t, [v.get("ccc"), v.get("pearson")], v.get("mae")) for t, v in pooled.get("per_target", {}).items()]}
    elif task == "multilabel":
        per_class = {"title": "Per-class F1", "cols": ["support", "F1"], "rows": [
            (c, [pooled.get("support", {}).get(c)], pooled.get("per_class_f1", {}).get(c)) for c in classes]}
    else:
        per_class = {"title": "Per-class recall", "cols": ["support", "recall"], "rows": [
            (c, [pooled.get("support", {}).get(c)], pooled.get("per_class_recall", {}).get(c)) for c in classes]}
    spec = info.get("spec", {})
    if spec_text is None:
        from .spec import dump_toml

        spec_text = dump_toml(spec) if spec else ""
    identity = _identity_rows(info.get("identity"))
    from .runfolders import ci_unit_of

    unit = ci_unit_of(metrics, info)
    level = pooled.get("ci_level", 0.95)
    cav = caveats(metrics, info) + [c for c in extra_caveats if c not in caveats(metrics, info)]
    cis = [v for k, v in (pooled.get("ci") or {}).items() if v and k in dict(METRIC_ROWS) and k != "mae"]
    axis = (max(0.0, min(v[0] for v in cis) - 0.05), min(1.0, max(v[1] for v in cis) + 0.05)) if cis else (0.0, 1.0)
    folds_info = {f.get("name"): f for f in info.get("protocol", {}).get("folds", [])}
    return {
        "name": metrics.get("run") or spec.get("name", "run"),
        "description": spec.get("description", ""),
        "corpus": info["corpus"]["name"], "view": info["corpus"].get("view", ""),
        "n_corpus": info["corpus"].get("n", ""), "root": info["corpus"].get("root") or "",
        "classes": classes, "pooled": {**pooled, "ci": pooled.get("ci") or {}},
        "n": pooled.get("n", ""), "ci_pct": int(round(100 * level)),
        "ci_note": (f"{pooled['n_boot']} bootstrap resamples over {unit or 'utterance'}s"
                    if pooled.get("n_boot") else ""),
        "metric_rows": [(k, lab) for k, lab in METRIC_ROWS if k in pooled],
        "cm": cm, "axis": axis, "per_class": per_class, "task": task,
        "folds": [{**f, "test_groups": folds_info.get(f.get("fold"), {}).get("test_groups", []),
                   "fingerprint": folds_info.get(f.get("fold"), {}).get("fingerprint", "")}
                  for f in metrics.get("folds", [])],
        "fold_mean": metrics.get("fold_mean") or {},
        "protocol": protocol_line(info),
        "speaker_independent": info.get("protocol", {}).get("speaker_independent", False),
        "normalization": info.get("normalization", {}).get("description", ""),
        "transductive": transductive(info),
        "features": [f.get("extractor", "?") for f in info.get("features", [])],
        "head": spec.get("head", {}).get("kind", "?") + f"; seed {spec.get('seed', '?')}",
        "data_fingerprint": info.get("data_fingerprint", ""),
        "identity": identity,
        "versions": {k: v for k, v in info.get("versions", {}).items()},
        "caveats": cav,
        "spec_text": spec_text,
    }


def render_run(metrics: dict, info: dict, *, links: dict | None = None, spec_text: str | None = None,
               extra_caveats=()) -> str:
    links = {"leaderboard": None, "report": None, "confusion_png": None, **(links or {})}
    return environment().get_template("run.html.j2").render(
        r=run_context(metrics, info, spec_text, extra_caveats), links=links, css=css())


def write_html_report(folder: Path, metrics: dict, info: dict, *, leaderboard: str | Path | None = None) -> Path:
    """Write ``report.html`` beside ``report.md`` (the runner calls this after ``write_report``).

    ``leaderboard``: a leaderboard page to link to (made relative to the run folder).
    """
    folder = Path(folder)
    link = None
    plot = next((p for p in ("confusion.png", "per_class_f1.png") if (folder / p).exists()), None)
    if leaderboard is not None:
        link = os.path.relpath(Path(leaderboard), folder) if not str(leaderboard).startswith(("http:", "https:")) \
            else str(leaderboard)
    spec_file = folder / "spec.toml"
    html = render_run(metrics, info, spec_text=spec_file.read_text(encoding="utf-8") if spec_file.exists() else None,
                      links={"leaderboard": link,
                             "report": "report.md" if (folder / "report.md").exists() else None,
                             "confusion_png": plot})
    out = folder / "report.html"
    out.write_text(html, encoding="utf-8")
    return out


def rebuild(folder: Path, leaderboard: Path | None = None) -> Path:
    """``report.html`` for a run folder that already exists (made before HTML reports)."""
    folder = Path(folder)
    for f in ("metrics.json", "run.json"):
        if not (folder / f).exists():
            raise ValueError(f"not a finished run folder: no {f}")
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    if leaderboard is not None and Path(leaderboard).suffix != ".html":  # a site folder
        leaderboard = Path(leaderboard) / "index.html"
    return write_html_report(folder, metrics, info, leaderboard=leaderboard)
