"""``affectbench compare``: is system A really better than system B on the same test items?

Runs are compared only when they were tested on the same items with the same labels
(same corpus, view, class set, data fingerprint and fold fingerprints); anything else is
refused with the reason, or, when asked, compared on the test ids all of them share. For
each metric: the paired bootstrap difference (resampling speakers when the protocol is
speaker independent, as the runs' own CIs should), McNemar's exact test for WAR, an
approximate randomisation test for UAR and macro-F1, and Holm's correction across pairs.
Runs on several corpora are ranked per corpus and tested with Friedman + Nemenyi.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np

from . import stats
from .runfolders import Run

METRICS = ("war", "uar", "macro_f1")
NAMES = {"war": "WAR", "uar": "UAR", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"}
PROTOCOLS = {"loso": "leave-one-speaker-out", "logo": "leave-one-group-out", "official": "official split",
             "kfold": "speaker-disjoint folds", "fixed": "fixed folds"}


class NotComparable(Exception):
    """Runs that must not be ranked together; the message says what differs."""


def why_not_comparable(runs: list[Run]) -> list[str]:
    """What differs between runs that would make a paired comparison meaningless."""
    a = runs[0]
    out = []
    for r in runs[1:]:
        if (r.corpus, r.view) != (a.corpus, a.view):
            out.append(f"{r.label} is on {r.corpus}/{r.view}, {a.label} on {a.corpus}/{a.view}")
        elif r.classes != a.classes:
            out.append(f"different class sets: {a.label} has {a.classes}, {r.label} has {r.classes}")
        else:
            if r.data_fingerprint != a.data_fingerprint:
                out.append(f"different data: {a.label} has data fingerprint {a.data_fingerprint}, "
                           f"{r.label} {r.data_fingerprint} (another copy or a partial one?)")
            if r.fold_fingerprints != a.fold_fingerprints and r.test_key != a.test_key:
                out.append(f"different folds: {a.label} and {r.label} have different fold fingerprints "
                           f"and test folds ({a.protocol_key} vs {r.protocol_key})")
    return out


def soft_differences(runs: list[Run]) -> list[str]:
    """Differences that leave the test items and training pool equal: said, not refused."""
    a = runs[0]
    return [f"{r.label} and {a.label} test the same folds but carve validation differently (another seed?)"
            for r in runs[1:] if r.fold_fingerprints != a.fold_fingerprints and r.test_key == a.test_key]


def protocol_text(run: Run, unit: str | None = None) -> str:
    p = run.protocol
    kind = p.get("kind", "?")
    folds = len(p.get("folds", []))
    s = (f"{run.corpus} (view {run.view}: {', '.join(run.classes)}); "
         f"{PROTOCOLS.get(kind, kind)}" + (f" over {p.get('group')}" if kind != "official" else "")
         + f", {folds} fold(s), {len(run.preds)} test utterances pooled over folds; "
         f"{'speaker independent' if run.speaker_independent else 'NOT speaker independent'}")
    if unit:
        s += f"; 95% CIs by bootstrap over {unit}s"
    return s


def _unit(runs: list[Run], override: str | None) -> str:
    """Resample what the runs' own CIs resampled; speakers when speaker independent."""
    if override:
        return override
    units = {r.stated_ci_unit for r in runs}
    if len(units) == 1 and None not in units:
        return units.pop()
    return "speaker" if all(r.speaker_independent for r in runs) else "utterance"


def _aligned(runs: list[Run], intersection: bool):
    ids = [set(r.preds["id"]) for r in runs]
    common = set.intersection(*ids)
    info = None
    if any(len(s) != len(common) for s in ids):
        if not intersection:
            raise NotComparable("the runs were tested on different utterances "
                                f"({', '.join(f'{r.label}: {len(s)}' for r, s in zip(runs, ids))}; "
                                f"{len(common)} in common); use --intersection to compare on those")
        info = {"n_common": len(common), "n_per_run": {r.label: len(s) for r, s in zip(runs, ids)}}
    if not common:
        raise NotComparable("the runs share no test utterance")
    order = sorted(common)
    frames = [r.preds.set_index("id").loc[order] for r in runs]
    return order, frames, info


def compare_group(runs: list[Run], *, intersection: bool = False, n_boot: int = 10000,
                  n_perm: int = 10000, seed: int = 0, unit: str | None = None, ci: float = 0.95) -> dict:
    """All pairwise comparisons among runs on one test set."""
    if len(runs) < 2:
        raise NotComparable("need at least two runs to compare")
    problems = why_not_comparable(runs)
    hard = [p for p in problems if not p.startswith(("different data", "different folds"))]
    if hard or (problems and not intersection):
        raise NotComparable("; ".join(problems) + ("" if hard else "; use --intersection to compare "
                                                   "only on the test utterances they share"))
    order, frames, inter = _aligned(runs, intersection or bool(problems))
    classes = runs[0].classes
    k = len(classes)
    cidx = {c: i for i, c in enumerate(classes)}
    y = frames[0]["true"].map(cidx).to_numpy(np.int64)
    for r, f in zip(runs[1:], frames[1:]):
        if not np.array_equal(f["true"].map(cidx).to_numpy(np.int64), y):
            raise NotComparable(f"{r.label} and {runs[0].label} disagree on the true labels of the same ids")
    P = np.stack([f["pred"].map(cidx).to_numpy(np.int64) for f in frames])
    u = _unit(runs, unit)
    notes = soft_differences(runs)
    col = {"speaker": "speaker", "dialogue": "dialogue", "session": "session"}.get(u)
    if u != "utterance" and (col is None or col not in frames[0].columns):
        fallback = "speaker" if "speaker" in frames[0].columns else "utterance"
        notes.append(f"predictions have no '{u}' column; resampling {fallback}s instead")
        u, col = fallback, (fallback if fallback != "utterance" else None)
    groups = frames[0][col].astype(str).to_numpy() if col else None
    boot = stats.bootstrap_metrics(y, P, k, groups=groups, n_boot=n_boot, seed=seed)
    point = stats._point(y, P, k)
    per_run = []
    lo, hi = (1 - ci) / 2 * 100, (1 + ci) / 2 * 100
    for i, r in enumerate(runs):
        per_run.append({"run": r.label, "folder": str(r.folder), "system": r.system,
                        **{m: float(point[m][i]) for m in METRICS},
                        "ci": {m: [float(np.nanpercentile(boot[m][i], lo)), float(np.nanpercentile(boot[m][i], hi))]
                               for m in METRICS},
                        "caveats": r.caveats()})
    pairs = []
    for i, j in combinations(range(len(runs)), 2):
        res = {"a": runs[i].label, "b": runs[j].label, "metrics": {}}
        for m in METRICS:
            res["metrics"][m] = stats.diff_summary(point[m][i] - point[m][j], boot[m][i] - boot[m][j], ci)
        res["metrics"]["war"]["test"] = "mcnemar_exact"
        res["metrics"]["war"]["p"] = stats.mcnemar_exact(y, P[i], P[j])["p"]
        ar = stats.approximate_randomisation(y, P[i], P[j], k, metrics=("uar", "macro_f1"), n_perm=n_perm,
                                             seed=seed)
        for m in ("uar", "macro_f1"):
            res["metrics"][m]["test"] = "approximate_randomisation"
            res["metrics"][m]["p"] = ar[m]["p"]
        pairs.append(res)
    for m in METRICS:
        adj = stats.holm([p["metrics"][m]["p"] for p in pairs])
        for p, a in zip(pairs, adj):
            p["metrics"][m]["p_holm"] = float(a)
    if inter:
        notes.insert(0, f"COMPARED ON THE INTERSECTION ONLY: {inter['n_common']} shared test utterances "
                        f"(per run: {inter['n_per_run']}); these are not the runs' reported numbers")
    return {"corpus": runs[0].corpus, "view": runs[0].view, "classes": classes,
            "protocol": protocol_text(runs[0], u), "unit": u, "n": len(y), "n_boot": n_boot, "n_perm": n_perm,
            "ci_level": ci, "intersection": inter, "mismatch": problems, "notes": notes,
            "runs": per_run, "pairs": pairs}


def across_corpora(groups: dict[tuple, list[Run]], metric: str = "uar", cd_plot: Path | None = None) -> dict:
    """Friedman over corpora (rows) × systems present on every corpus (columns)."""
    per = []
    for key, runs in groups.items():
        by_sys = defaultdict(list)
        for r in runs:
            by_sys[r.system].append(float(r.pooled[metric]))
        per.append((key, {s: float(np.mean(v)) for s, v in by_sys.items()}))
    systems = sorted(set.intersection(*(set(d) for _, d in per))) if per else []
    out = {"metric": metric, "datasets": [f"{k[0]}/{k[1]}" for k, _ in per], "systems": systems}
    corpora = [k[0] for k, _ in per]
    if len(set(corpora)) < len(corpora):  # two views of one corpus are one data set, not two
        twice = sorted({c for c in corpora if corpora.count(c) > 1})
        out["skipped"] = (f"{', '.join(twice)} appear(s) with more than one view: a Friedman test needs "
                          "independent data sets, one table per corpus; compare the views' runs separately")
        return out
    if len(per) < 2 or len(systems) < 3:
        out["skipped"] = (f"a Friedman test needs at least 3 systems run on every one of at least 2 corpora; "
                          f"found {len(systems)} system(s) common to {len(per)} corpus/view table(s)")
        return out
    S = np.array([[d[s] for s in systems] for _, d in per])
    out.update(stats.friedman(S))
    out["scores"] = S.tolist()
    out["cd"] = stats.nemenyi_cd(len(systems), len(per))
    out["cliques"] = [[systems[i] for i in c] for c in stats.cd_cliques(out["ranks"], out["cd"])]
    if cd_plot:
        stats.plot_cd(out["ranks"], systems, out["cd"], Path(cd_plot),
                      title=f"{NAMES.get(metric, metric)} average ranks over {len(per)} corpora "
                            f"(Friedman p = {out['p']:.3g})")
        out["cd_plot"] = str(cd_plot)
    return out


def compare(runs: list[Run], *, intersection: bool = False, n_boot: int = 10000, n_perm: int = 10000,
            seed: int = 0, unit: str | None = None, metric: str = "uar", cd_plot: Path | None = None) -> dict:
    """Pairwise tests within each corpus/view, Friedman across corpora when there are several."""
    by_cv = defaultdict(list)
    for r in runs:
        by_cv[(r.corpus, r.view)].append(r)
    result = {"groups": [], "refused": [], "friedman": None}
    for (c, v), rs in by_cv.items():
        if len(rs) < 2:
            others = [r for (c2, v2), rr in by_cv.items() if c2 == c and v2 != v for r in rr]
            said = any(set(x["runs"]) == {rs[0].label, others[0].label} for x in result["refused"]) if others else True
            if not said:  # the confusing case: same corpus, another view or class set
                result["refused"].append({"corpus": c, "view": v, "runs": [rs[0].label, others[0].label],
                                          "reason": "; ".join(why_not_comparable([rs[0], others[0]]))})
            continue
        try:
            result["groups"].append(compare_group(rs, intersection=intersection, n_boot=n_boot, n_perm=n_perm,
                                                  seed=seed, unit=unit))
        except NotComparable as e:
            result["refused"].append({"corpus": c, "view": v, "runs": [r.label for r in rs], "reason": str(e)})
    if len(by_cv) > 1:
        result["friedman"] = across_corpora(by_cv, metric=metric, cd_plot=cd_plot)
    elif not result["groups"] and not result["refused"]:
        result["refused"].append({"runs": [r.label for r in runs], "reason": "need at least two runs to compare"})
    return result


# -- paper tables ------------------------------------------------------------------------------
def _latex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        s = s.replace(a, b)
    # the few non-ASCII signs our own footnotes use, as pdflatex understands them
    for a, b in (("α", r"$\alpha$"), ("–", "--"), ("—", "---"), ("×", r"$\times$"), ("±", r"$\pm$")):
        s = s.replace(a, b)
    return s


def paper_table(rows: list[dict], *, footnote: str, fmt: str = "markdown", metrics=METRICS,
                caption: str = "", marks: dict | None = None) -> str:
    """A results table for a paper: % with CI, best per column in bold, protocol as footnote.

    ``rows``: {"run": label, metric: value, "ci": {metric: [lo, hi]}}. Bold goes to every
    row whose value *as printed* equals the best, so a tie on the page is a tie in bold.
    ``marks``: an optional symbol per run label with its meaning in the footnote.
    """
    marks = marks or {}
    shown = {m: [f"{100 * r[m]:.1f}" for r in rows] for m in metrics}
    best = {m: max(shown[m], key=float) if shown[m] else None for m in metrics}

    def cell(r, i, m, bold):
        v = shown[m][i]
        ci = r.get("ci", {}).get(m)
        b = bold(v) if v == best[m] else v
        return b + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")

    heads = [NAMES.get(m, m) for m in metrics]
    if fmt == "markdown":
        lines = ["| system | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(metrics)]
        for i, r in enumerate(rows):
            lines.append(f"| {r['run']}{marks.get(r['run'], '')} | "
                         + " | ".join(cell(r, i, m, lambda v: f"**{v}**") for m in metrics) + " |")
        return "\n".join(([f"**{caption}**", ""] if caption else []) + lines + ["", f"<sup>{footnote}</sup>", ""])
    if fmt == "latex":
        lines = [r"\begin{table}[t]", r"\centering"]
        if caption:
            lines.append(r"\caption{" + _latex_escape(caption) + "}")
        lines += [r"\begin{tabular}{l" + "c" * len(metrics) + "}", r"\toprule",
                  "System & " + " & ".join(heads) + r" \\", r"\midrule"]
        for i, r in enumerate(rows):
            mark = {"†": r"\dagger", "‡": r"\ddagger", "*": "*"}.get(marks.get(r["run"], ""), "")
            lines.append(_latex_escape(r["run"]) + (f"$^{{{mark}}}$" if mark else "") + " & "
                         + " & ".join(cell(r, i, m, lambda v: r"\textbf{" + v + "}") for m in metrics) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", "", r"\smallskip",
                  r"\footnotesize{" + _latex_escape(footnote).replace("†", r"$^\dagger$") + "}", r"\end{table}", ""]
        return "\n".join(lines)
    raise ValueError(f"table format must be markdown or latex, not {fmt!r}")


def group_tables(group: dict, fmt: str) -> str:
    foot = (f"Protocol: {group['protocol']}. WAR = accuracy, UAR = unweighted average recall, in %, "
            f"[{int(group['ci_level'] * 100)}% CI]. Bold: best per column.")
    if group.get("intersection"):
        foot += f" Computed on the {group['n']} test utterances all runs share, not each run's full test set."
    rows = group["runs"]
    systems = [r["system"] for r in rows]
    if len(set(systems)) == len(systems):  # a paper names systems, not run folders
        rows = [{**r, "run": r["system"]} for r in rows]
    return paper_table(rows, footnote=foot, fmt=fmt, caption=f"{group['corpus']} ({group['view']})")
