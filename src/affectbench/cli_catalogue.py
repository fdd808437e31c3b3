"""The catalogue commands: `corpora list` rows, `corpora stats --all`, `corpora labelspace`,
`corpora export --mixture`. Kept apart from cli.py so that the catalogue grows here."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .errors import AffectbenchError


def list_rows() -> list[dict]:
    """Per corpus: modalities, language, expected size, licence, default protocol."""
    from .corpora import corpus_names, get_corpus

    rows = []
    for n in corpus_names():
        c = get_corpus(n)
        p = c.default_protocol
        proto = p["kind"] + (f" ({p['group']})" if p.get("group") and p["kind"] != "loso" else "")
        rows.append({"name": n, "modalities": list(c.modalities), "language": c.language or "-",
                     "size": c.expected.get("total"), "licence": c.licence or "not stated",
                     "protocol": proto, "views": list(c.labelset.views), "description": c.description})
    return rows


def print_list(console, as_json: bool = False) -> None:
    from rich.table import Table

    rows = list_rows()
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    t = Table("name", "modalities", "language", "size", "licence", "protocol", "views")
    for r in rows:
        t.add_row(r["name"], ",".join(r["modalities"]), r["language"],
                  f"{r['size']:,}" if r["size"] else "-", r["licence"], r["protocol"], ",".join(r["views"]))
    console.print(t)


def read_roots(path: Path) -> dict[str, str]:
    """ROOTS.toml: one ``name = "root"`` line per copy; relative roots are relative to the file."""
    from .spec import read_spec_file

    data = read_spec_file(path, "roots")
    out = {}
    for name, root in data.items():
        if not isinstance(root, str):
            raise AffectbenchError(f"{path}: '{name}' must be a folder path string "
                                   f"(name = \"/data/{name}\"), got {type(root).__name__}")
        p = Path(root).expanduser()
        out[name] = str(p if p.is_absolute() else (Path(path).resolve().parent / p).resolve())
    return out


def stats_all(roots: dict[str, str]) -> list[dict]:
    """One row per copy: read it (problems recorded, never raised) and compare with a full copy."""
    from . import prepare
    from .corpora import corpus_names

    rows = []
    for name, root in roots.items():
        row = {"corpus": name, "root": root, "status": "", "utterances": None, "expected": None,
               "speakers": None, "classes": None, "skipped": 0, "problems": []}
        if name not in corpus_names():
            row["status"] = "unknown corpus"
        elif not Path(root).is_dir():
            row["status"] = "missing (no such folder)"
        else:
            try:
                p = prepare(name, root, on_error="skip")
            except AffectbenchError as e:
                row["status"], row["problems"] = "broken", [str(e)]
            else:
                df = p.manifest
                row.update(utterances=len(df), expected=p.corpus.expected.get("total"),
                           speakers=int(df["speaker"].nunique()), skipped=len(p.issues.skipped),
                           classes=int(df["label"].nunique()), problems=p.problems)
                row["status"] = "partial" if p.problems else ("complete" if not p.issues.skipped
                                                             else "complete, some files skipped")
        rows.append(row)
    return rows


def print_stats_all(path: Path, console, as_json: bool = False) -> None:
    from rich.table import Table

    rows = stats_all(read_roots(path))
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    t = Table("corpus", "status", "utterances", "expected", "speakers", "classes", "skipped", "root",
              "first problem")
    for r in rows:
        colour = {"complete": "green", "partial": "yellow"}.get(r["status"], "red")
        t.add_row(r["corpus"], f"[{colour}]{r['status']}[/]", _n(r["utterances"]), _n(r["expected"]),
                  _n(r["speakers"]), _n(r["classes"]), str(r["skipped"]), r["root"],
                  (r["problems"] or [""])[0][:120])
    console.print(t)


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def register(corpora_app, console) -> None:
    @corpora_app.command("labelspace")
    def labelspace_cmd(name: Optional[str] = typer.Argument(None, help="a corpus, to count its mapping "
                                                            "on a copy"),
                       root: Optional[Path] = typer.Argument(None, help="the corpus folder"),
                       as_json: bool = typer.Option(False, "--json")):
        """The shared label space: every corpus's mapping (or, with NAME ROOT, what it keeps and drops)."""
        from . import labelspace

        if name is None:
            rows = labelspace.table()
            if as_json:
                print(json.dumps(rows, indent=2, ensure_ascii=False))
                return
            from rich.table import Table

            t = Table("corpus", "language", "classes", "mapping", "dropped", "dimensions")
            for r in rows:
                t.add_row(r["corpus"], r["language"], ",".join(r["classes"]),
                          labelspace._cell_mapping(r["mapping"]), ",".join(r["dropped"]) or "-",
                          ",".join(r["dimensions"]) or "-")
            console().print(t)
            return
        from . import prepare

        p = prepare(name, root)
        _, applied = labelspace.apply(p.manifest, p.corpus)
        print(json.dumps(applied.as_dict(), indent=None if not as_json else 2, ensure_ascii=False))


def export_mixture_cmd(mixture: Path, out: Optional[Path], formats: str, overwrite: bool, console) -> None:
    from .export import export_mixture
    from .mixture import load_mixture

    if out is None:
        raise AffectbenchError("--mixture needs --out FOLDER (JSON Lines, hf/ and summary.json go there)")
    mix = load_mixture(mixture)
    s = export_mixture(mix, out, tuple(f.strip() for f in formats.split(",") if f.strip()),
                       overwrite=overwrite)
    for split, v in s["splits"].items():
        console().print(f"{split}: {v['records']} records ({', '.join(f'{k} {sum(c.values())}' for k, c in v['per_corpus'].items())})")
    console().print(f"→ {out} in {s['seconds']} s (summary.json has the plan and what the label space dropped)")
