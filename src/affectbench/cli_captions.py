"""`affectbench captions score`: caption metrics for captions users bring."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer, console) -> None:
    """Add the `captions` group to the CLI."""
    cap = typer.Typer(no_args_is_help=True, help="Emotional speaking-style captions: metrics.")
    app.add_typer(cap, name="captions")
    cap.command("score")(_score_cmd(console))


def summary(result, con) -> None:
    """What `affectbench run` prints for a caption run."""
    m = result.metrics
    con.print(f"[bold]{m['run']}[/]: {m['dimension']} captions by {m['method']}, {m['n_tested']} test "
              f"utterances, tokenised with '{m['tokenize']}'")
    for k, v in m["pooled"].items():
        con.print(f"{k:10s} {v:.4f}")
    for w in m.get("warnings", []):
        con.print(f"[yellow]warning:[/] {w}")
    con.print(f"report: {result.report}" + ("  (finished earlier; --force re-runs)" if result.reused else ""))


def _score_cmd(_console):
    def score_cmd(refs: Path = typer.Argument(..., help="reference captions: JSONL {\"id\", \"caption\"} or CSV "
                                                         "id,caption; several per id allowed"),
                  hyps: Path = typer.Argument(..., help="your captions, one per id (JSONL or CSV)"),
                  tokenize: str = typer.Option("jieba", help="jieba | chars (Chinese) | words (English)"),
                  metric: List[str] = typer.Option([], "--metric", "-m",
                                                   help="metric to compute (repeatable); default: bleu_4, "
                                                        "rouge_l, meteor, cider_d"),
                  allow_missing: bool = typer.Option(False, "--allow-missing",
                                                     help="score ids without a caption as empty captions "
                                                          "instead of refusing"),
                  bertscore: Optional[Path] = typer.Option(None, help="local BERT folder for bertscore"),
                  bertscore_layer: Optional[int] = typer.Option(None, help="BERTScore layer"),
                  sbert: Optional[Path] = typer.Option(None, help="local sentence-transformers folder "
                                                                  "(sbert_sim, fense)"),
                  fense_echecker: Optional[Path] = typer.Option(None, help="local fluency-error detector (fense)"),
                  clap: Optional[Path] = typer.Option(None, help="local CLAP checkpoint (clapscore)"),
                  spice: Optional[Path] = typer.Option(None, help="SPICE folder with CoreNLP jars (spider)"),
                  as_json: bool = typer.Option(False, "--json", help="print corpus scores as JSON")):
        """Score your captions against reference captions: BLEU-4, ROUGE-L, METEOR, CIDEr-D, …

        Every reference id needs a caption; with --allow-missing the missing ones are scored \
as empty captions, so the numbers still cover every id."""
        from .captions import io
        from .captions.metrics import LEXICAL, MetricModels, score_captions

        r = io.read_references(refs)
        h, warnings = io.read_hypotheses(hyps)
        ids, hy, rf, n_missing = io.align(r, h, allow_missing=allow_missing, source=str(hyps))
        folders = {"bertscore": bertscore, "sbert": sbert, "fense_echecker": fense_echecker, "clap": clap,
                   "spice": spice}
        models = MetricModels(bertscore_layer=bertscore_layer,
                              **{k: str(v) if v else None for k, v in folders.items()})
        out = score_captions(hy, rf, how=tokenize, metrics=metric or LEXICAL, models=models, source=str(hyps))
        out["missing"] = n_missing
        warnings += out["warnings"]
        con = _console()
        for w in warnings:
            typer.echo(f"warning: {w}", err=True)
        if as_json:
            print(json.dumps({"corpus": out["corpus"], "n": out["n"], "tokenize": tokenize,
                              "missing": n_missing, "empty_hypotheses": out["empty_hypotheses"]}, indent=2))
            return
        for k, v in out["corpus"].items():
            con.print(f"{k:10s} {v:.4f}")
        con.print(f"{out['n']} ids, tokenised with '{tokenize}'"
                  + (f"; {n_missing} without a caption scored as empty (--allow-missing)" if n_missing else ""))

    return score_cmd
