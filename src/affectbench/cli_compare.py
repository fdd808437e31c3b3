"""The ``compare``, ``leaderboard`` and ``html-report`` commands (registered by ``cli.register``).

Kept apart from ``cli.py`` so the comparison side can grow without touching the run side.
Bad run folders print one line each on stderr and the rest are still processed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer


def _warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def compare_cmd(runs: List[Path] = typer.Argument(..., help="run folders (or folders holding run folders)"),
                as_json: bool = typer.Option(False, "--json", help="print the full result as JSON"),
                intersection: bool = typer.Option(False, help="compare runs tested on different utterances "
                                                  "on the test ids they share (said loudly)"),
                n_boot: int = typer.Option(10000, "--bootstrap", help="paired bootstrap resamples"),
                n_perm: int = typer.Option(10000, "--permutations", help="approximate randomisation permutations"),
                unit: Optional[str] = typer.Option(None, help="resampling unit: speaker, dialogue or utterance "
                                                   "(default: what the runs' CIs used)"),
                seed: int = typer.Option(0),
                latex: Optional[Path] = typer.Option(None, help="write a booktabs LaTeX table here"),
                markdown: Optional[Path] = typer.Option(None, help="write a Markdown table here"),
                cd_plot: Optional[Path] = typer.Option(None, help="critical-difference diagram (PNG) when the "
                                                       "runs span several corpora")):
    """Paired significance between runs on the same test items (bootstrap CI, McNemar, randomisation, Holm)."""
    from rich.console import Console
    from rich.table import Table

    from .compare import NAMES, compare, group_tables
    from .runfolders import load_runs

    loaded, _ = load_runs(runs, log=_warn)
    if len(loaded) < 2:
        _warn(f"{len(loaded)} usable run folder(s): nothing to compare")
        raise typer.Exit(2)
    res = compare(loaded, intersection=intersection, n_boot=n_boot, n_perm=n_perm, seed=seed, unit=unit,
                  cd_plot=cd_plot)
    for r in res["refused"]:
        _warn(f"not compared ({', '.join(r['runs'])}): {r['reason']}")
    for kind, path in (("latex", latex), ("markdown", markdown)):
        if path and res["groups"]:
            path.write_text("\n".join(group_tables(g, kind) for g in res["groups"]), encoding="utf-8")
    if as_json:
        print(json.dumps(res, indent=2))
    else:
        con = Console()
        for g in res["groups"]:
            for n in g["notes"]:
                con.print(f"[bold red]{n}[/]")
            con.print(f"[bold]{g['corpus']} / {g['view']}[/]: {g['protocol']}; n = {g['n']}")
            t = Table("run", "system", *[f"{NAMES[m]} [95% CI]" for m in ("war", "uar", "macro_f1")])
            for r in g["runs"]:
                t.add_row(r["run"], r["system"], *[f"{r[m]:.3f} [{r['ci'][m][0]:.3f}, {r['ci'][m][1]:.3f}]"
                                                   for m in ("war", "uar", "macro_f1")])
            con.print(t)
            cav = {}
            for r in g["runs"]:
                for c in r["caveats"]:
                    cav.setdefault(c, []).append(r["run"])
            for c, who in cav.items():
                con.print(f"[yellow]caveat[/] ({', '.join(who) if len(who) < len(g['runs']) else 'all runs'}): {c}")
            t = Table("A − B", *[f"{NAMES[m]} Δ [95% CI]" for m in ("war", "uar", "macro_f1")])
            for p in g["pairs"]:
                t.add_row(f"{p['a']}\n− {p['b']}", *[
                    f"{v['diff']:+.3f} [{v['ci'][0]:+.3f}, {v['ci'][1]:+.3f}]\np {_fmt_p(v['p'])}, Holm {_fmt_p(v['p_holm'])}"
                    for v in (p["metrics"][m] for m in ("war", "uar", "macro_f1"))])
            con.print(t)
            con.print(f"Δ CI: paired bootstrap, {g['n_boot']} resamples over {g['unit']}s; p: McNemar exact (WAR), "
                      f"approximate randomisation with {g['n_perm']} permutations (UAR, macro-F1); "
                      "Holm across the pairs of each metric")
        f = res["friedman"]
        if f:
            if "skipped" in f:
                con.print(f"across corpora: {f['skipped']}")
            else:
                con.print(f"[bold]Friedman over {f['n_datasets']} corpora[/] ({NAMES[f['metric']]}): "
                          f"chi2 = {f['chi2']:.2f}, p = {_fmt_p(f['p'])}; Iman–Davenport F = "
                          f"{f['iman_davenport_f']:.2f}, p = {_fmt_p(f['p_f'])}; Nemenyi CD = {f['cd']:.2f}")
                for s, r in sorted(zip(f["systems"], f["ranks"]), key=lambda x: x[1]):
                    con.print(f"  {r:5.2f}  {s}")
                if f.get("cd_plot"):
                    con.print(f"CD diagram: {f['cd_plot']}")
    if not res["groups"] and not (res["friedman"] and "skipped" not in res["friedman"]):
        raise typer.Exit(2)


def leaderboard_cmd(runs_dir: List[Path] = typer.Argument(..., help="folder(s) holding run folders"),
                    output: Path = typer.Option(Path("site"), "-o", "--output", help="where the site goes"),
                    n_boot: int = typer.Option(2000, "--bootstrap",
                                               help="paired bootstrap resamples for the group tied with the best"),
                    reports: bool = typer.Option(False, help="also (re)write each run's report.html, linked "
                                                 "to its leaderboard entry")):
    """A static leaderboard site (opens from disk, no network): one table per corpus × view × protocol."""
    import time

    from .leaderboard import build

    t = time.perf_counter()
    site = build(runs_dir, output, n_boot=n_boot, log=_warn, reports=reports)
    if site is None:
        raise typer.Exit(2)
    print(f"leaderboard: {site} ({time.perf_counter() - t:.1f} s)")


def html_report_cmd(run_folder: List[Path] = typer.Argument(..., help="finished run folder(s)"),
                    leaderboard: Optional[Path] = typer.Option(None, help="a leaderboard site to link to")):
    """(Re)build report.html for existing run folders."""
    from .html_report import rebuild

    bad = 0
    for f in run_folder:
        try:
            print(rebuild(f, leaderboard=leaderboard))
        except (OSError, ValueError, KeyError) as e:
            _warn(f"{f}: {e}")
            bad += 1
    if bad:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
    app.command("leaderboard")(leaderboard_cmd)
    app.command("html-report")(html_report_cmd)
