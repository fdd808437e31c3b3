"""`affectbench train` and `affectbench predict`, and `run --save-model`: models that leave the run."""
from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .errors import SpecError


def register(app: typer.Typer, console, reporter, check_output_dir, summary) -> None:
    """Add `train` and `predict` (a function, so that `python -m affectbench.cli` registers on its own app)."""
    app.command("train")(_train_cmd(console, reporter, check_output_dir, summary))
    app.command("predict")(_predict_cmd(console))


def save_after_run(spec, result, folder: Path, console) -> None:
    """`run --save-model DIR`: the final model of the run just finished (or reused)."""
    from .fit import save_after_run as _save

    out = _save(spec, result, folder)
    console().print(f"model: {out}")


def _train_cmd(_console, _reporter, _check_output_dir, _summary):
    def train_cmd(spec: Path = typer.Argument(..., help="experiment spec (TOML), e.g. examples/emodb_egemaps_linear.toml"),
                  output: Path = typer.Option(..., "--output", "-o", help="the model folder to write"),
                  set_: List[str] = typer.Option([], "--set", help="override a spec value, e.g. corpus.root=/data"),
                  force: bool = typer.Option(False, help="re-run the cross-validated run even if it finished")):
        """Cross-validate the spec (a finished run is reused), then fit the model on all of the
        protocol's training data and write it as a folder `predict` and `serve` load."""
        from . import load_spec
        from .fit import train

        s = load_spec(spec, list(set_))
        _check_output_dir(Path(s.output_dir), "set output_dir in the spec or pass --set output_dir=/a/writable/folder")
        _check_output_dir(output.parent if output.parent != Path("") else Path("."), "pass -o /a/writable/folder")
        rep = _reporter(False)
        with rep.running():
            folder, result = train(s, output, reporter=rep, force=force)
        _summary(result)
        _console().print(f"model: {folder} (its card carries the pooled metrics above)")

    return train_cmd


def _weights(spec: str | None) -> dict | None:
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        name, sep, val = part.partition("=")
        try:
            out[name.strip()] = float(val)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise SpecError(f"--weights: '{part}' is not NAME=NUMBER (e.g. --weights tone=0.6,text=0.4)")
    return out


def _model_args(positional: list[str], named: list[str]) -> tuple[object, list[str]]:
    if named:
        models = {}
        for m in named:
            name, sep, folder = m.partition("=")
            if not sep or not name or not folder:
                raise SpecError(f"--model: '{m}' is not NAME=FOLDER (e.g. --model tone=models/emodb)")
            models[name] = folder
        return models, positional
    if not positional:
        raise SpecError("give a model folder (or default:NAME) and at least one input")
    return positional[0], positional[1:]


def _predict_cmd(_console):
    def predict_cmd(args: Optional[List[str]] = typer.Argument(None, metavar="MODEL INPUT...",
                                                     help="a model folder (or default:text, default:text-ekman) "
                                                          "then audio/video files, folders, globs or texts"),
                    model: List[str] = typer.Option([], "--model", "-m",
                                                    help="NAME=FOLDER, repeatable: late fusion (then every "
                                                         "argument is an input)"),
                    weights: Optional[str] = typer.Option(None, help="late-fusion weights, e.g. tone=0.6,text=0.4"),
                    text: Optional[str] = typer.Option(None, help="the words spoken in the media inputs"),
                    text_file: Optional[Path] = typer.Option(None, help="texts to classify, one utterance per line"),
                    transcript: Optional[Path] = typer.Option(None, help="transcript (.srt/.vtt/.txt) of the media "
                                                                         "(default: one beside each file)"),
                    asr_model: Optional[Path] = typer.Option(None, help="local Whisper-style folder: words by "
                                                                        "speech recognition"),
                    window: Optional[float] = typer.Option(None, min=0.1, help="fixed windows of SECONDS "
                                                                                 "instead of speech segments"),
                    vad: bool = typer.Option(True, help="cut media into speech segments (silero-vad); "
                                                        "--no-vad: one segment per file"),
                    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                                          help="write the timeline: .jsonl, .json, .csv or .parquet"),
                    plot: Optional[Path] = typer.Option(None, help="draw the timeline as a PNG"),
                    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="feature extraction workers"),
                    quiet: bool = typer.Option(False, "--quiet", "-q", help="no table on stdout")):
        """Recognise emotion in media or text with a saved model; prints (and writes) a timeline.

        Exit status 1 when an input could not be used (the others are still predicted)."""
        from .inference import plot_timeline, predict, predict_texts, read_text_file, write_timeline

        models, inputs = _model_args(list(args or []), list(model))
        fw = _weights(weights)
        from .inference import _models

        loaded = _models(models)
        for k, m in loaded.items():
            for w in m.warnings:
                print(f"warning: model {k}: {w}", file=sys.stderr)
        text_only = all(set(m.modalities) <= {"text"} for m in loaded.values())
        if text_file is not None:
            tl = predict_texts(loaded, read_text_file(text_file), source=str(text_file), fusion_weights=fw)
        elif text_only and inputs and not any(Path(i).expanduser().exists() or glob.has_magic(i)
                                              for i in inputs):
            tl = predict_texts(loaded, inputs, fusion_weights=fw)
        elif not inputs:
            raise SpecError("no inputs: give media files, folders or globs (or texts for a text model, or --text-file)")
        else:
            tl = predict(loaded, inputs, text=text, window=window, vad=vad, transcript=transcript,
                         asr_model=asr_model, fusion_weights=fw, jobs=jobs)
        for msg in tl.messages:
            print(msg, file=sys.stderr)
        if output:
            write_timeline(tl, output)
        if plot:
            plot_timeline(tl, plot)
        if not quiet:
            _console().print(_table(tl))
        if output or plot:
            _console().print(" ".join(f"→ {p}" for p in (output, plot) if p))
        if tl.failed:
            raise typer.Exit(1)

    return predict_cmd


def _table(tl):
    from rich.table import Table

    names = list(dict.fromkeys(n for s in tl.segments for n in s.modalities))
    t = Table("file", "start", "end", "label", "p", *names, "words",
              title=f"{len(tl.segments)} segment(s) · modalities: {', '.join(tl.modalities_present) or 'none'} · "
                    f"models: {', '.join(f'{k}={v}' for k, v in tl.models_used.items())}")
    for s in tl.segments:
        p = max(s.probs.values()) if s.probs else float("nan")
        t.add_row(Path(s.file).name, _sec(s.start), _sec(s.end), s.label, f"{p:.2f}",
                  *[s.modalities.get(n, {}).get("label", "") for n in names], (s.text or "")[:60])
    return t


def _sec(v) -> str:
    return "" if v is None else f"{v:.2f}"
