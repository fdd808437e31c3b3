"""The ``affectbench`` command line. Thin: every command calls the Python API."""
from __future__ import annotations

import json
import re
import sqlite3
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


def _version(value: bool):
    if value:
        from . import __version__

        print(f"affectbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")):
    """Emotion recognition benchmarks: corpora → features → linear adapter → WAR/UAR."""


def _console():
    from rich.console import Console

    return Console(soft_wrap=True)  # never break a file path across lines: users copy them


def _reporter(quiet: bool):
    from .ui import Reporter, RichReporter

    return Reporter() if quiet else RichReporter()


# -- corpora --------------------------------------------------------------------------------
CORPUS_HELP = "corpus name (see `affectbench corpora list`)"
ROOT_HELP = "the corpus folder as downloaded (layouts: docs/corpora.md); not needed for demo"
ROOT_OR_LAST_HELP = ("the corpus folder as downloaded (layouts: docs/corpora.md); omitted: the "
                     "manifest of the last `corpora prepare`")


@corpora_app.command("list")
def corpora_list(as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """The corpora affectbench can read: modalities, language, size, licence, default protocol."""
    from .cli_catalogue import print_list

    print_list(_console(), as_json)


def _reading(name: str):
    """A spinner while a corpus is read (large corpora take seconds); on stderr."""
    from rich.console import Console

    return Console(stderr=True).status(f"reading {name} …")


def _manifest_path(name: str) -> Path:
    from .paths import home

    return home() / "manifests" / f"{name}.parquet"


@corpora_app.command("prepare")
def corpora_prepare(name: str = typer.Argument(..., help=CORPUS_HELP),
                    root: Optional[Path] = typer.Argument(None, help=ROOT_HELP),
                    out: Optional[Path] = typer.Option(None, help="write the manifest here (Parquet)"),
                    on_error: str = typer.Option("raise", help="raise | skip")):
    """Read a corpus from its native layout into a manifest (Parquet)."""
    from . import manifest as mf
    from . import prepare

    with _reading(name):
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
    for w in p.warnings:
        con.print(f"[yellow]warning:[/] {w} (an unconfirmed count: not treated as incomplete)")
    if p.issues.skipped:
        con.print(f"[yellow]skipped {len(p.issues.skipped)}[/] (first: {p.issues.skipped[0]})")


def stats_dict(df, target: str = "label") -> dict:
    def counts(col):
        s = df[col].dropna()
        return {str(k): int(v) for k, v in s.value_counts().sort_index().items()}

    out = {"total": int(len(df)), "label": counts(target), "split": counts("split"),
           "speaker": counts("speaker"), "group": counts("session")}
    if target == "label" and df["labels"].notna().any():
        from collections import Counter

        c = Counter(x for ls in df["labels"].dropna() for x in ls)
        out["labels"] = dict(sorted(c.items()))
    if df["split"].notna().any() and df[target].notna().any():
        tab = _label_by_split(df, target)
        out["label_by_split"] = tab
    return out


def _label_by_split(df, target):
    import pandas as pd

    t = pd.crosstab(df[target].astype(object), df["split"].astype(object))
    return {str(lab): {str(sp): int(v) for sp, v in row.items()} for lab, row in t.iterrows()}


def _load_manifest(name: str, root):
    from . import manifest as mf
    from . import prepare
    from .corpora import get_corpus

    c = get_corpus(name)
    if root is not None or not c.needs_root:
        with _reading(name):
            return c, prepare(name, root).manifest
    mp = _manifest_path(name)
    if not mp.exists():
        raise AffectbenchError(f"corpus '{name}' has not been prepared: run "
                               f"`affectbench corpora prepare {name} ROOT` or pass ROOT")
    return c, mf.load(mp)


@corpora_app.command("stats")
def corpora_stats(name: Optional[str] = typer.Argument(None, help=CORPUS_HELP),
                  root: Optional[Path] = typer.Argument(None, help=ROOT_OR_LAST_HELP),
                  view: Optional[str] = typer.Option(None, help="count a label view's classes"),
                  all_: Optional[Path] = typer.Option(None, "--all", help="ROOTS.toml (name = \"root\" "
                                                      "lines): one row per copy you have"),
                  as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Counts by label × split, group and speaker (from ROOT, or the last prepared manifest)."""
    if all_ is not None:
        from .cli_catalogue import print_stats_all

        return print_stats_all(all_, _console(), as_json)
    if name is None:
        raise AffectbenchError("name a corpus (see `affectbench corpora list`) or pass --all ROOTS.toml")
    c, df = _load_manifest(name, root)
    target = "label"
    note = ""
    if view:
        v = c.labelset.view(view)
        df = v.apply(df)
        target = "y"
        if v.task == "regression":  # continuous targets: counts by split/group/speaker only
            df["y"] = None
        if v.task == "multilabel":  # each utterance counts once under every label it carries
            st = stats_dict(df.assign(y=None), target)
            per_label = stats_dict(df.explode("y"), target)
            st["label"], st["label_by_split"] = per_label["label"], per_label.get("label_by_split")
            note = " (multi-label: an utterance counts once under each of its labels)"
        else:
            st = stats_dict(df, target)
    else:
        st = stats_dict(df, target)
    if as_json:
        print(json.dumps(st, indent=2))
        return
    from rich.table import Table

    con = _console()
    con.print(f"[bold]{name}[/]{f' (view {view})' if view else ''}: {st['total']} utterances{note}")
    if st.get("label_by_split"):
        splits = sorted({sp for row in st["label_by_split"].values() for sp in row})
        t = Table("class", *splits, "total", title="class × split")
        for lab, row in st["label_by_split"].items():
            t.add_row(lab, *[str(row.get(sp, 0)) for sp in splits], str(sum(row.values())))
        t.add_row("[bold]utterances[/]", *[str(st["split"].get(sp, 0)) for sp in splits], str(st["total"]))
        con.print(t)
    for key in ("label", "labels", "group", "speaker"):
        if st.get(key) and not (key == "label" and st.get("label_by_split")):
            t = Table(key, "count")
            for k, v in st[key].items():
                t.add_row(k, str(v))
            con.print(t)


@corpora_app.command("validate")
def corpora_validate(name: str = typer.Argument(..., help=CORPUS_HELP),
                     root: Optional[Path] = typer.Argument(None, help=ROOT_HELP),
                     deep: bool = typer.Option(False, "--deep", help="decode every media file fully "
                                               "(finds NaN samples and corrupt streams; slow)"),
                     on_error: str = typer.Option("skip", help="skip: list every problem; raise: stop at the first")):
    """Check a copy: counts against the release, and every media file opened (headers; --deep decodes).

    Exits 1 when a confirmed count differs from the release or a file is missing, unreadable, \
truncated, empty or shorter than 0.1 s."""
    from . import prepare
    from .validate import MIN_DURATION, check_media

    with _reading(name):
        p = prepare(name, root, on_error=on_error)
    con = _console()
    con.print(f"[bold]{name}[/] at {p.root}: {len(p.manifest)} utterances read")
    for cav in p.caveats:
        con.print(f"[yellow]caveat:[/] {cav}")
    for where, prob in p.issues.skipped:
        con.print(f"[red]skipped[/] {where}: {prob}")
    for prob in p.problems:
        con.print(f"[red]incomplete:[/] {prob}")
    for w in p.warnings:
        con.print(f"[yellow]warning:[/] {w} (an expected count that no public source confirms: "
                  "not treated as incomplete)")
    rep = _reporter(False)
    with rep.running():
        bad = check_media(p.manifest, deep=deep,
                          progress=rep.task("decoding media" if deep else "reading media headers"))
    for path, prob in bad:
        con.print(f"[red]bad file[/] {path}: {prob}")
        if on_error == "raise":
            break
    ok = not p.problems and not p.issues.skipped and not bad
    depth = "decoded fully" if deep else "headers read; --deep decodes them"
    con.print(f"[green]complete: matches the expected counts, every media file opens ({depth}, "
              f"none shorter than {MIN_DURATION} s)[/]" if ok else
              f"[red]{len(p.problems)} count mismatch(es), {len(p.issues.skipped)} skipped item(s), "
              f"{len(bad)} bad media file(s)[/]")
    if not ok:
        raise typer.Exit(1)


@corpora_app.command("agreement")
def corpora_agreement(name: str = typer.Argument(..., help=CORPUS_HELP),
                      root: Optional[Path] = typer.Argument(None, help=ROOT_OR_LAST_HELP),
                      listed: int = typer.Option(20, help="disagreements listed per modality"),
                      as_json: bool = typer.Option(False, "--json")):
    """Re-aggregate rater votes, compare with the released labels, Fleiss' kappa per modality."""
    c, df = _load_manifest(name, root)
    if not hasattr(c, "agreement_report"):
        raise AffectbenchError(f"corpus '{name}' has no per-rater votes to re-aggregate")
    rep = c.agreement_report(df, max_listed=listed)
    if as_json:
        print(json.dumps(rep, indent=2, ensure_ascii=False, default=str))
        return
    from rich.table import Table

    t = Table("modality", "items", "Fleiss' kappa", "paper", "aggregation", "agreement", "disagreements")
    for mod, r in rep["modalities"].items():
        aggs = [(k, v) for k, v in r.items() if isinstance(v, dict) and "agreement" in v]
        for i, (agg, a) in enumerate(aggs):
            kappa = r.get("fleiss_kappa")
            t.add_row(mod if i == 0 else "", str(r.get("items", "")) if i == 0 else "",
                      f"{kappa:.3f}" if i == 0 and kappa is not None else "",
                      str(r.get("paper_kappa", "")) if i == 0 else "", agg, f"{a['agreement']:.4f}",
                      str(a["disagreements"]))
    _console().print(t)


@corpora_app.command("export")
def corpora_export(name: Optional[str] = typer.Argument(None, help=CORPUS_HELP),
                   root: Optional[Path] = typer.Argument(None, help=ROOT_OR_LAST_HELP),
                   view: Optional[str] = typer.Option(None, help="label view"),
                   fmt: str = typer.Option("card", "--format", help="card (JSONL id/sentence/label); "
                                           "with --mixture: jsonl,hf (both by default)"),
                   split: Optional[str] = typer.Option(None, help="only this official split"),
                   out: Optional[Path] = typer.Option(None, "--out", "-o", help="file (default: stdout); "
                                                      "with --mixture: the output folder"),
                   mixture: Optional[Path] = typer.Option(None, "--mixture", help="a mixture spec (TOML): "
                                                          "write chat JSON Lines + a datasets folder"),
                   overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --out")):
    """Write benchmark-card records ({"id", "sentence", "label"} per line), or a training mixture."""
    from .cards import export_cards

    if mixture is not None:
        from .cli_catalogue import export_mixture_cmd

        return export_mixture_cmd(mixture, out, "jsonl,hf" if fmt == "card" else fmt, overwrite, _console)
    if name is None:
        raise AffectbenchError("name a corpus, or pass --mixture MIX.toml")
    if fmt != "card":
        raise AffectbenchError(f"unknown export format '{fmt}'. Valid: card")
    c, df = _load_manifest(name, root)
    vdf = c.labelset.view(view).apply(df)
    if split:
        vdf = vdf[vdf["split"] == split]
    recs = export_cards(vdf, out)
    if out is None:
        for r in recs:
            print(json.dumps(r, ensure_ascii=False))
    else:
        _console().print(f"{len(recs)} records → {out}")


@app.command("score")
def score_cmd(predictions: Path = typer.Argument(..., help="JSONL file, one {\"id\", \"label\"} per line"),
              corpus: str = typer.Option(..., help="corpus name"),
              root: Optional[Path] = typer.Option(None, help="corpus root (default: last prepared)"),
              view: Optional[str] = typer.Option(None, help="label view"),
              split: Optional[str] = typer.Option(None, help="score against this split only"),
              allow_missing: bool = typer.Option(False, "--allow-missing",
                                                 help="score ids without a prediction as wrong "
                                                      "instead of refusing"),
              as_json: bool = typer.Option(False, "--json")):
    """Score a JSONL predictions file ({"id", "label"} per line) against a corpus: WAR, UAR, …

    Every utterance of the view (and split) needs a prediction; with --allow-missing the \
missing ones count as wrong, so the metrics always cover the whole view."""
    from .cards import read_predictions, score

    c, df = _load_manifest(corpus, root)
    v = c.labelset.view(view)
    vdf = v.apply(df)
    if split:
        vdf = vdf[vdf["split"] == split]
    m = score(vdf, list(v.classes), read_predictions(predictions), allow_missing=allow_missing,
              source=str(predictions))
    if as_json:
        print(json.dumps(m, indent=2))
        return
    con = _console()
    ci = m.get("ci", {})
    for k in ("war", "uar", "macro_f1", "weighted_f1"):
        con.print(f"{k.upper():12s} {m[k]:.4f}" + (f"  [{ci[k][0]:.4f}, {ci[k][1]:.4f}]" if k in ci else ""))
    if m["missing_predictions"]:
        con.print(f"[yellow]{m['missing_predictions']} of {m['n']} utterances had no prediction and "
                  "count as wrong (--allow-missing)[/]")


# -- extractors ------------------------------------------------------------------------------
@extractors_app.command("list")
def extractors_list():
    """Each extractor with its modality, dimension, what it needs and whether it runs offline now."""
    from rich.table import Table

    from .features import extractor_class, extractor_names

    t = Table("name", "modality", "dim", "needs", "ready offline", "description")
    for n in extractor_names():
        e = extractor_class(n)
        dim = getattr(e, "dim", None)
        dim = str(dim) if dim else ("vocabulary (fitted per fold)" if e.per_fold else "from the model")
        t.add_row(n, e.modality, dim, e.needs, "yes" if e.ready() else "[red]no[/]", e.description)
    _console().print(t)


@app.command("extract")
def extract_cmd(corpus: str = typer.Argument(..., help=CORPUS_HELP),
                root: Optional[Path] = typer.Argument(None, help=ROOT_HELP),
                extractor: str = typer.Option("egemaps", "--extractor", "-e",
                                              help="see `affectbench extractors list`"),
                jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="worker processes (1 or more)"),
                on_error: str = typer.Option("raise", help="raise | skip"),
                executor: str = typer.Option("local", help="local | ray"),
                address: Optional[str] = typer.Option(None, help="Ray cluster address")):
    """Extract (and cache) features for a corpus; resumes where an earlier run stopped."""
    from . import prepare
    from .corpora import get_corpus
    from .features import extract, extractor_class, extractor_names, get_extractor

    c, cls = get_corpus(corpus), extractor_class(extractor)
    if cls.modality not in c.modalities:  # found before the corpus is read or a model loaded
        fits = [n for n in extractor_names() if extractor_class(n).modality in c.modalities]
        raise AffectbenchError(f"extractor '{extractor}' reads {cls.modality}, corpus '{corpus}' has "
                               f"{', '.join(c.modalities)}: choose one of {', '.join(fits)}")
    with _reading(corpus):
        df = prepare(corpus, root, on_error=on_error).manifest
    ex = get_extractor(extractor)
    rep = _reporter(False)
    with rep.running():
        res = extract(ex, df, jobs=jobs, on_error=on_error, progress=rep.task(f"{extractor}", len(df)),
                      executor=executor, address=address)
    _console().print(f"{extractor}: {res.computed} computed, {res.cached} cached, "
                     f"{len(res.failures)} failed → {res.store_dir}")
    for p, prob in res.failures:
        _console().print(f"[yellow]skipped[/] {p}: {prob}")


# -- runs ------------------------------------------------------------------------------------
def _summary(result):
    from rich.table import Table

    m = result.metrics
    if m["task"] == "caption":
        from .cli_captions import summary

        return summary(result, _console())
    p = m["pooled"]
    keys = {"multilabel": ("macro_f1", "micro_f1"), "regression": ("ccc", "pearson", "mae")}.get(
        m["task"], ("war", "uar", "macro_f1"))
    t = Table("fold", "n", *[k.upper() for k in keys], title=f"{m['run']}")
    for f in m["folds"]:
        t.add_row(str(f["fold"]), str(f["n"]), *[f"{f[k]:.3f}" for k in keys])
    t.add_row("[bold]pooled[/]", str(p["n"]),
              *[f"[bold]{p[k]:.3f}[/] [{p['ci'][k][0]:.3f}, {p['ci'][k][1]:.3f}]" if "ci" in p
                else f"{p[k]:.3f}" for k in keys])
    con = _console()
    con.print(t)
    con.print(f"report: {result.report}" + ("  (finished earlier; --force re-runs)" if result.reused else ""))


def _check_output_dir(out: Path, how: str) -> None:
    """Refuse an output folder that cannot be written before anything is computed, not after."""
    import os

    out = Path(out).expanduser()
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise AffectbenchError(f"{probe}: a file stands where the output folder {out} should be; {how}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise AffectbenchError(f"{probe}: not writable, so the output folder {out} cannot be written; {how}")


@app.command("run")
def run_cmd(spec: Path = typer.Argument(..., help="experiment spec (TOML), e.g. examples/emodb_egemaps_linear.toml"),
            set_: List[str] = typer.Option([], "--set", help="override a spec value, e.g. corpus.root=/data"),
            jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                               help="feature extraction workers (1 or more)"),
            executor: Optional[str] = typer.Option(None, help="local | ray"),
            address: Optional[str] = typer.Option(None, help="Ray cluster address (with --executor ray)"),
            force: bool = typer.Option(False, help="re-run even if a finished run exists"),
            as_json: bool = typer.Option(False, "--json", help="print metrics.json on stdout"),
            save_model: Optional[Path] = typer.Option(None, "--save-model",
                                                      help="also fit the final model and write it to this folder")):
    """Run an experiment spec (TOML) and write its run folder."""
    from . import load_spec, run

    overrides = list(set_) + ([f"features.jobs={jobs}"] if jobs is not None else [])
    overrides += [f"features.executor={executor}"] if executor else []
    overrides += [f"features.address={address}"] if address else []
    s = load_spec(spec, overrides)
    _check_output_dir(Path(s.output_dir), "set output_dir in the spec or pass --set output_dir=/a/writable/folder")
    rep = _reporter(False)
    with rep.running():
        result = run(s, force=force, reporter=rep)
        if save_model:
            from .cli_model import save_after_run

            save_after_run(s, result, save_model, _console)
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

    _check_output_dir(output_dir, "pass --output-dir /a/writable/folder")
    t = time.perf_counter()
    rep = _reporter(False)
    with rep.running():
        result = demo(str(output_dir), reporter=rep, force=force)
    _summary(result)
    _console().print(f"demo finished in {time.perf_counter() - t:.1f} s (synthetic data: a pipeline check, "
                     "not a benchmark)")


def _command(argv: list[str]) -> str:
    """The (sub)command named on the command line, e.g. "extract" or "corpora validate"."""
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        return ""
    return " ".join(words[:2]) if words[0] in ("corpora", "extractors", "captions") else words[0]


#: commands whose options include --on-error; `run` reads it from the spec instead
ON_ERROR_FLAG = ("extract", "corpora prepare", "corpora validate")
_SKIP_HINT = re.compile(r"""(?:\b(?:set|run with|use)\s+)?`{0,2}on_error\s*=\s*['"]skip['"]`{0,2}""", re.I)


def cli_hint(message: str, command: str) -> str:
    """Library messages name the spec/Python spelling (on_error="skip"); on the command line
    the user needs the spelling of the command they ran."""
    if command in ON_ERROR_FLAG:
        repl = "pass --on-error skip"
    elif command == "run":
        repl = 'set corpus.on_error = "skip" in the spec (or --set corpus.on_error=skip)'
    else:
        repl = "prepare it with `affectbench corpora prepare NAME ROOT --on-error skip`"
    def sub(m):
        return repl[0].upper() + repl[1:] if m.group(0)[0].isupper() else repl

    return _SKIP_HINT.sub(sub, message)


def _fail(message: str, code: int) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)


INTERRUPTED = ("interrupted: everything finished before Ctrl-C is saved; run the same command "
               "again to resume")


from . import cli_grid  # noqa: E402
from .cli_catalogue import register as _register_catalogue  # noqa: E402 - corpora labelspace

_register_catalogue(corpora_app, _console)

cli_grid.register(app, _console, _reporter)

from .cli_compare import register as _register_compare  # noqa: E402 - compare, leaderboard, html-report

_register_compare(app)

from .cli_captions import register as _register_captions  # noqa: E402 - captions score

_register_captions(app, _console)

from .cli_model import register as _register_model  # noqa: E402 - train, predict

_register_model(app, _console, _reporter, _check_output_dir, _summary)

from .cli_serve import register as _register_serve  # noqa: E402

_register_serve(app)


def main():
    """Entry point: every expected failure is one line on stderr, never a traceback."""
    command = _command(sys.argv[1:])
    try:
        app()  # typer turns Ctrl-C into exit status 130 and usage errors into their message
    except AffectbenchError as e:
        _fail(f"error: {cli_hint(str(e), command)}", 2)
    except KeyboardInterrupt:
        _fail(INTERRUPTED, 130)
    except OSError as e:
        from .errors import os_error_message

        _fail(f"error: {os_error_message(e)}", 1)
    except sqlite3.Error as e:  # the file-hash cache: disk full, read-only or corrupt
        _fail(f"error: the file-hash cache in AFFECTBENCH_HOME cannot be used ({e}); free space, or "
              "delete filehash.sqlite there (it is rebuilt), or set AFFECTBENCH_HOME to another folder", 1)
    except SystemExit as e:
        if e.code == 130:
            _fail(INTERRUPTED, 130)
        raise


if __name__ == "__main__":
    main()
