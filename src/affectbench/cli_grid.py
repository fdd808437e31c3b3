"""`affectbench grid`: a base spec times axes, as one results table."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer, console, reporter) -> None:
    """Add `grid` to the CLI (a function, so that `python -m affectbench.cli` registers on its own app)."""
    app.command("grid")(_grid_cmd(console, reporter))


def _grid_cmd(_console, _reporter):
    def grid_cmd(grid: Path = typer.Argument(..., help="grid file (TOML): base spec, [[axis]] tables, seeds, [table]"),
                 set_: List[str] = typer.Option([], "--set", help="override a value in every cell, e.g. corpus.root=/data"),
                 jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="cells run in parallel processes"),
                 executor: str = typer.Option("local", help="local | ray"),
                 output: Optional[Path] = typer.Option(None, "--output", "-o",
                                                       help="folder for results.parquet and results.md "
                                                            "(default: <output_dir>/<grid name>)")):
        """Run every cell of a grid (finished cells are reused) and print the summary table."""
        from .grid import load_grid, run_grid, summary_markdown

        g = load_grid(grid, list(set_))
        out = output or Path(g.cells[0].spec.output_dir).expanduser() / grid.stem
        rep = _reporter(False)
        with rep.running():
            df = run_grid(g, jobs=jobs, executor=executor, reporter=rep, output=out)
        con = _console()
        con.print(summary_markdown(g, df), markup=False)
        con.print(f"{len(df)} run(s), {int(df['reused'].sum())} reused, {df.attrs.get('seconds', 0):.1f} s → "
                  f"{out / 'results.md'}")

    return grid_cmd
