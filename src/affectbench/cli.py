"""The ``affectbench`` command line. Thin: every command calls the Python API."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .errors import AffectbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Emotion recognition benchmarks: corpora → features → linear adapter → WAR/UAR.")
corpora_app = typer.Typer(no_args_is_help=True, help="List, prepare and inspect corpora.")
extractors_app = typer.Typer(no_args_is_help=True, help="Feature extractors.")
app.add_typer(corpora_app, name="corpora")
app.add_typer(extractors_app, name="extractors")


def _console():
    from rich.console import Console

    return Console()


def _reporter(quiet: bool):
    from .ui import Reporter, RichReporter

    return Reporter() if quiet else RichReporter()


# -- corpora --------------------------------------------------------------------------------
@corpora_app.command("list")
def corpora_list():
    """The corpora affectbench can read, with their modalities and default protocol."""
    from rich.table import Table

    from .corpora import corpus_names, get_corpus

    t = Table("name", "modalities", "protocol", "views", "description")
    for n in corpus_names():
        c = get_corpus(n)
        t.add_row(n, ",".join(c.modalities), c.default_protocol["kind"], ",".join(c.labelset.views),
                  c.description)
    _console().print(t)


def _manifest_path(name: str) -> Path:
    from .paths import home

    return home() / "manifests" / f"{name}.parquet"


@corpora_app.command("prepare")
def corpora_prepare(name: str, root: Optional[Path] = typer.Argument(None),
                    out: Optional[Path] = typer.Option(None, help="write the manifest here (Parquet)"),
                    on_error: str = typer.Option("raise", help="raise | skip")):
    """Read a corpus from its native layout into a manifest (Parquet)."""
    from . import manifest as mf
    from . import prepare

    p = prepare(name, root, on_error=on_error)
    dest = out or _manifest_path(name)
    mf.save(p.manifest, dest)
    if out is not None:
        mf.save(p.manifest, _manifest_path(name))
    con = _console()
    con.print(f"[green]{name}[/]: {len(p.manifest)} utterances → {dest}")
    for c in p.caveats:
        con.print(f"[yellow]caveat:[/] {c}")
    for pr in p.problems:
        con.print(f"[red]incomplete:[/] {pr}")
    if p.issues.skipped:
        con.print(f"[yellow]skipped {len(p.issues.skipped)}[/] (first: {p.issues.skipped[0]})")


def stats_dict(df) -> dict:
    def counts(col):
        s = df[col].dropna()
        return {str(k): int(v) for k, v in s.value_counts().sort_index().items()}

    out = {"total": int(len(df)), "label": counts("label"), "split": counts("split"),
           "speaker": counts("speaker"), "group": counts("session")}
    if df["labels"].notna().any():
        from collections import Counter

        c = Counter(x for ls in df["labels"].dropna() for x in ls)
        out["labels"] = dict(sorted(c.items()))
    return out


@corpora_app.command("stats")
def corpora_stats(name: str, root: Optional[Path] = typer.Argument(None),
                  as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Counts by label, split, group and speaker (from ROOT, or the last prepared manifest)."""
    from . import manifest as mf
    from . import prepare
    from .corpora import get_corpus

    c = get_corpus(name)
    if root is not None or not c.needs_root:
        df = prepare(name, root).manifest
    else:
        mp = _manifest_path(name)
        if not mp.exists():
            raise AffectbenchError(f"corpus '{name}' has not been prepared: run "
                                   f"`affectbench corpora prepare {name} ROOT` or pass ROOT")
        df = mf.load(mp)
    st = stats_dict(df)
    if as_json:
        print(json.dumps(st, indent=2))
        return
    from rich.table import Table

    con = _console()
    con.print(f"[bold]{name}[/]: {st['total']} utterances")
    for key in ("label", "labels", "split", "speaker"):
        if st.get(key):
            t = Table(key, "count")
            for k, v in st[key].items():
                t.add_row(k, str(v))
            con.print(t)


# -- extractors ------------------------------------------------------------------------------
@extractors_app.command("list")
def extractors_list():
    """Each extractor with its modality, dimension and what it needs."""
    from rich.table import Table

    from .features import extractor_class, extractor_names

    t = Table("name", "modality", "dim", "fitted per fold", "needs", "description")
    for n in extractor_names():
        e = extractor_class(n)
        t.add_row(n, e.modality, str(getattr(e, "dim", "") or "vocab"), "yes" if e.per_fold else "no",
                  "nothing (ships with its package)", e.description)
    _console().print(t)


@app.command("extract")
def extract_cmd(corpus: str, root: Optional[Path] = typer.Argument(None),
                extractor: str = typer.Option("egemaps", "--extractor", "-e"),
                jobs: int = typer.Option(1, "--jobs", "-j", help="worker processes"),
                on_error: str = typer.Option("raise", help="raise | skip")):
    """Extract (and cache) features for a corpus; resumes where an earlier run stopped."""
    from . import prepare
    from .features import extract, get_extractor

    df = prepare(corpus, root, on_error=on_error).manifest
    ex = get_extractor(extractor)
    rep = _reporter(False)
    with rep.running():
        res = extract(ex, df, jobs=jobs, on_error=on_error, progress=rep.task(f"{extractor}", len(df)))
    _console().print(f"{extractor}: {res.computed} computed, {res.cached} cached, "
                     f"{len(res.failures)} failed → {res.store_dir}")
    for p, prob in res.failures:
        _console().print(f"[yellow]skipped[/] {p}: {prob}")


# -- runs ------------------------------------------------------------------------------------
def _summary(result):
    from rich.table import Table

    m = result.metrics
    p = m["pooled"]
    multi = m["task"] == "multilabel"
    keys = ("macro_f1", "micro_f1") if multi else ("war", "uar", "macro_f1")
    t = Table("fold", "n", *[k.upper() for k in keys], title=f"{m['run']}")
    for f in m["folds"]:
        t.add_row(str(f["fold"]), str(f["n"]), *[f"{f[k]:.3f}" for k in keys])
    t.add_row("[bold]pooled[/]", str(p["n"]),
              *[f"[bold]{p[k]:.3f}[/] [{p['ci'][k][0]:.3f}, {p['ci'][k][1]:.3f}]" if "ci" in p
                else f"{p[k]:.3f}" for k in keys])
    con = _console()
    con.print(t)
    con.print(f"report: {result.report}" + ("  (finished earlier; --force re-runs)" if result.reused else ""))


@app.command("run")
def run_cmd(spec: Path,
            set_: List[str] = typer.Option([], "--set", help="override a spec value, e.g. corpus.root=/data"),
            jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="feature extraction workers"),
            force: bool = typer.Option(False, help="re-run even if a finished run exists"),
            as_json: bool = typer.Option(False, "--json", help="print metrics.json on stdout")):
    """Run an experiment spec (TOML) and write its run folder."""
    from . import load_spec, run

    overrides = list(set_) + ([f"features.jobs={jobs}"] if jobs else [])
    s = load_spec(spec, overrides)
    rep = _reporter(False)
    with rep.running():
        result = run(s, force=force, reporter=rep)
    if as_json:
        print(json.dumps(result.metrics, indent=2))
    else:
        _summary(result)


@app.command("demo")
def demo_cmd(output_dir: Path = typer.Option(Path("runs"), help="where the run folder goes"),
             force: bool = typer.Option(False, help="re-run even if a finished run exists")):
    """The embedded default, end to end: synthetic audio + text, 8 speakers, leave-one-speaker-out."""
    import time

    from . import demo

    t = time.perf_counter()
    rep = _reporter(False)
    with rep.running():
        result = demo(str(output_dir), reporter=rep, force=force)
    _summary(result)
    _console().print(f"demo finished in {time.perf_counter() - t:.1f} s (synthetic data: a pipeline check, "
                     "not a benchmark)")


def main():
    try:
        app()
    except AffectbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
