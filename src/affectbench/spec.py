"""Typed experiment specs (TOML).

A spec is validated at the boundary: an unknown key is an error that names the
key and suggests the closest valid one; a wrong type names the key and the
type expected. ``--set a.b=value`` overrides any value before validation.
Relative paths in a spec file are relative to that file; in ``--set`` they
are relative to the current directory.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import SpecError


@dataclass
class CorpusSpec:
    name: str = ""
    root: str | None = None
    view: str = "default"
    #: the label source heads train (and early-stop) on, when it is not the scored view: e.g.
    #: EmotionTalk view = "four" (multimodal labels) with train_view = "audio_four"
    train_view: str = ""
    on_error: str = "raise"
    #: run on a copy that lacks part of the corpus (the report says so); refused by default
    allow_partial: bool = False
    #: adapter options, e.g. [corpus.options] include_song = true (RAVDESS)
    options: dict = field(default_factory=dict)


@dataclass
class ProtocolSpec:
    #: loso | logo | folds | official; empty = the corpus's default protocol
    kind: str = ""
    group: str = "speaker"
    #: how many units of each fold's training side are held out for validation
    valid_groups: int = 1
    #: what such a unit is: "group" (whole sessions), "speaker" (speakers inside the training
    #: groups); empty = speaker whenever the corpus has speaker ids
    valid_unit: str = ""
    folds: list | None = None
    speaker_independent: bool | None = None
    #: kind = "cross": the training corpora ([{name, root}, ...]), the test corpus (or list), and
    #: the shared classes (default: those every corpus maps to); see affectbench/crosscorpus.py
    train: list | None = None
    test: list | dict | None = None
    labels: list | None = None


@dataclass
class RobustnessSpec:
    """Test-time perturbations (affectbench/robustness.py): each a table such as
    {kind = "noise", snr = [20, 10, 0], noise = "pink"}; empty = no robustness runs."""

    perturbations: list = field(default_factory=list)


@dataclass
class FeaturesSpec:
    extractors: list = field(default_factory=lambda: ["egemaps"])
    normalization: str = "fold"
    jobs: int = 1
    #: "local" (process pool) or "ray" (one machine or a cluster at `address`)
    executor: str = "local"
    address: str | None = None
    #: per-extractor options, e.g. [features.options.tfidf] ngram_max = 4
    options: dict = field(default_factory=dict)


@dataclass
class HeadSpec:
    kind: str = "linear"
    epochs: int = 100
    lr: float = 1e-2
    weight_decay: float = 0.1
    batch_size: int = 128
    patience: int = 20
    class_balanced: bool = False
    #: multi-label decision threshold chosen on validation: "global" or "per_class"
    threshold: str = "per_class"
    #: inverse regularisation of the logreg head
    C: float = 1.0
    #: after choosing epochs/regularisation on validation, retrain on train + validation;
    #: unset: the head decides (the linear adapter refits its L-BFGS single-label/regression fits)
    refit: bool | None = None
    #: linear adapter: a fixed L2 strength (unset: chosen on validation from l2_grid)
    l2: float | None = None
    #: linear adapter: the strengths tried on validation (unset: 1e-1 … 1e-7)
    l2_grid: list | None = None
    #: linear adapter: "auto" (L-BFGS up to 20 000 training rows, AdamW above), "lbfgs", "adamw"
    solver: str = "auto"
    #: linear adapter: choose the L2 strength by validation "loss" (cross-entropy) or "metric" (UAR)
    select: str = "loss"
    #: context heads (ctx_window, ctx_gru, dialoguernn, dialoguegcn): "past" (online use: a
    #: prediction reads earlier turns only) or "past+future" (offline analysis)
    context: str = "past"
    #: options of the chosen head kind beyond the common ones, e.g. hidden = 64, dropout = 0.2
    #: (fusion heads), rank = 4 (lmf)
    options: dict = field(default_factory=dict)


@dataclass
class MetricsSpec:
    bootstrap: int = 1000
    ci: float = 0.95


@dataclass
class MetricModels:
    """Local folders of the caption metrics that need a model (None: that metric is unavailable).
    Defined here, not in ``captions.metrics``, so that reading a spec imports no numpy."""

    bertscore: str | None = None
    bertscore_layer: int | None = None
    sbert: str | None = None
    fense_echecker: str | None = None
    clap: str | None = None
    spice: str | None = None


@dataclass
class CaptionSpec(MetricModels):
    """``task = "caption"``: generate one of a corpus's caption dimensions (docs/captions.md).
    The model-based metrics' local folders (``bertscore``, ``sbert`` …) are the inherited
    :class:`MetricModels` fields, so the spec is what scoring takes."""

    #: speaker | style | emotion | overall (the manifest's caption_<dimension> column)
    dimension: str = "overall"
    #: retrieval (nearest training caption) | template (from predicted labels) | hf (a local model)
    method: str = "retrieval"
    #: jieba | chars (Chinese) | words (English): how captions are split before scoring
    tokenize: str = "jieba"
    #: a local Hugging Face seq2seq or decoder folder (method = "hf")
    model: str | None = None
    max_new_tokens: int = 40
    metrics: list = field(default_factory=lambda: ["bleu_4", "rouge_l", "meteor", "cider_d"])


@dataclass
class Spec:
    name: str = ""
    seed: int = 0
    output_dir: str = "runs"
    description: str = ""
    corpus: CorpusSpec = field(default_factory=CorpusSpec)
    protocol: ProtocolSpec = field(default_factory=ProtocolSpec)
    features: FeaturesSpec = field(default_factory=FeaturesSpec)
    head: HeadSpec = field(default_factory=HeadSpec)
    metrics: MetricsSpec = field(default_factory=MetricsSpec)
    robustness: RobustnessSpec = field(default_factory=RobustnessSpec)
    #: "emotion" (classify / regress the view's labels) or "caption"
    task: str = "emotion"
    caption: CaptionSpec = field(default_factory=CaptionSpec)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def deciding(self) -> dict:
        """The spec as far as it decides the numbers: not where outputs go, how many workers
        run, or where the corpus lives (the data fingerprint and content keys stand for it)."""
        d = self.to_dict()
        d.pop("output_dir")
        d.pop("description")
        for k in ("jobs", "executor", "address"):
            d["features"].pop(k)
        d["corpus"].pop("root")
        for side in ("train", "test"):  # cross-corpus entries: where a corpus lives decides nothing
            v = d["protocol"][side]
            for e in (v if isinstance(v, list) else [v] if isinstance(v, dict) else []):
                e.pop("root", None)
        if d["task"] == "emotion":  # runs from before the caption task keep their identity
            d.pop("task")
            d.pop("caption")
        if not _context_head(self.head.kind):  # decides nothing there; identities stay as they were
            d["head"].pop("context")
        return d


def _context_head(kind: str) -> bool:
    from .heads import HEADS

    return bool(getattr(HEADS.get(kind), "takes_context", False))


def _build(cls, data: dict, where: str, source: str):
    if not isinstance(data, dict):
        raise SpecError(f"{source}: [{where}] must be a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        full = f"{where}.{key}" if where else key
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise SpecError(f"{source}: unknown key '{full}'.{hint} Valid keys"
                            f"{' in [' + where + ']' if where else ''}: {', '.join(fields)}")
        t = hints[key]
        if dataclasses.is_dataclass(t):
            kwargs[key] = _build(t, value, full, source)
        else:
            kwargs[key] = _coerce(value, t, full, source)
    return cls(**kwargs)


def _coerce(value, t, key, source):
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        last = None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key, source)
            except SpecError as e:
                last = e
        raise last
    base = origin or t
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if base is bool and not isinstance(value, bool):
        raise SpecError(f"{source}: '{key}' must be true or false, got {value!r}")
    if base is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SpecError(f"{source}: '{key}' must be an integer, got {value!r}")
    if base in (str, list, dict, float) and not isinstance(value, base):
        raise SpecError(f"{source}: '{key}' must be a {base.__name__}, got {value!r}")
    return value


CHOICES = {
    "corpus.on_error": ("raise", "skip"),
    "protocol.kind": ("", "loso", "logo", "folds", "official", "cross"),
    "protocol.valid_unit": ("", "group", "speaker", "dialogue"),
    "features.normalization": ("fold", "speaker", "none"),
    "features.executor": ("local", "ray"),
    "head.threshold": ("global", "per_class"),
    "head.solver": ("auto", "lbfgs", "adamw"),
    "head.select": ("loss", "metric"),
    "head.context": ("past", "past+future"),
}


def _check(spec: Spec, source: str) -> Spec:
    if spec.protocol.kind == "cross":  # fills corpus.name with the (first) test corpus
        from .crosscorpus import check_spec

        check_spec(spec, source)
    elif any(v is not None for v in (spec.protocol.train, spec.protocol.test, spec.protocol.labels)):
        raise SpecError(f"{source}: protocol.train / test / labels belong to protocol.kind = \"cross\"; "
                        f"this spec's kind is {spec.protocol.kind or 'the corpus default'!r}")
    if spec.robustness.perturbations:
        from .robustness import parse_perturbations

        parse_perturbations(spec.robustness.perturbations, source)
    if not spec.name:
        raise SpecError(f"{source}: 'name' is required")
    if (spec.name in (".", "..") or Path(spec.name).name != spec.name or "/" in spec.name
            or "\\" in spec.name or "\0" in spec.name):
        raise SpecError(f"{source}: 'name' = {spec.name!r} must be a plain name (one path component, "
                        "no '/', '\\' or '..'): it names the run folder inside output_dir")
    if not spec.corpus.name:
        raise SpecError(f"{source}: 'corpus.name' is required")
    for key, allowed in CHOICES.items():
        sec, k = key.split(".")
        v = getattr(getattr(spec, sec), k)
        if v not in allowed:
            raise SpecError(f"{source}: '{key}' = {v!r} is not one of {', '.join(a for a in allowed if a)}")
    if not spec.features.extractors:
        raise SpecError(f"{source}: 'features.extractors' is empty")
    if spec.protocol.valid_groups < 0:
        raise SpecError(f"{source}: 'protocol.valid_groups' must be >= 0")
    if spec.features.jobs < 1:
        raise SpecError(f"{source}: 'features.jobs' must be >= 1")
    if not 0 < spec.metrics.ci < 1:
        raise SpecError(f"{source}: 'metrics.ci' must be between 0 and 1")
    # Names are checked against the registries here so that a typo fails before any work.
    from .corpora import get_corpus
    from .features import extractor_class
    from .heads import HEADS
    from .errors import UnknownNameError

    get_corpus(spec.corpus.name, **spec.corpus.options)
    for e in spec.features.extractors:
        extractor_class(e)
    for e in spec.features.options:
        if e not in spec.features.extractors:
            raise SpecError(f"{source}: 'features.options.{e}' configures an extractor the spec does not use")
    if spec.head.kind not in HEADS:
        raise UnknownNameError("head", spec.head.kind, HEADS)
    import inspect

    if spec.head.context != "past" and not _context_head(spec.head.kind):
        raise SpecError(f"{source}: 'head.context' = {spec.head.context!r} applies to context heads "
                        f"(ctx_window, ctx_gru, dialoguernn, dialoguegcn), not '{spec.head.kind}'")
    accepted = set(inspect.signature(HEADS[spec.head.kind].__init__).parameters) - {"self", "kwargs"}
    for k in spec.head.options:
        if k not in accepted:
            raise SpecError(f"{source}: 'head.options.{k}' is not an option of head '{spec.head.kind}'. "
                            f"Valid: {', '.join(sorted(accepted))}")
    if spec.task not in ("emotion", "caption"):
        raise SpecError(f"{source}: 'task' = {spec.task!r} is not one of emotion, caption")
    if spec.task == "caption":
        from .captions.task import check_spec

        check_spec(spec, source)
    if spec.corpus.train_view:
        lset = get_corpus(spec.corpus.name, **spec.corpus.options).labelset
        lset.view(spec.corpus.train_view)  # unknown view: an error naming the valid ones
    return spec


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise SpecError(f"--set '{item}': expected key=value, e.g. corpus.root=/data/emodb")
    key, raw = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare string
    return key.strip(), value


def _apply(data: dict, key: str, value, source: str) -> None:
    parts = key.split(".")
    cur = data
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
        if not isinstance(cur, dict):
            raise SpecError(f"{source}: --set {key}: '{p}' is not a table")
    cur[parts[-1]] = value


def read_spec_file(path: str | Path, what: str = "spec") -> dict:
    """A TOML spec (or grid) file as a dict; a relative ``corpus.root`` is made relative to the
    file. Missing, unreadable, binary and non-UTF-8 files are one clear error each."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: {what} file not found")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"{path}: cannot read the {what} file ({e.strerror})") from None
    if b"\0" in raw[:8192]:
        raise SpecError(f"{path}: a binary file, not a TOML {what}; pass the .toml file "
                        "(see examples/*.toml)")
    try:
        text = raw.decode("utf-8-sig")  # a BOM from a Windows editor is fine
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise SpecError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the "
                        f"{what} as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML: {e}") from None
    resolve_root(data, path.resolve().parent)
    return data


def resolve_root(data: dict, base: Path) -> None:
    """A relative ``corpus.root`` in a spec dict, made absolute against ``base`` (in place)."""
    corpus = data.get("corpus")
    tables = [corpus] if isinstance(corpus, dict) else []
    proto = data.get("protocol")
    for side in ("train", "test"):  # cross-corpus entries
        v = proto.get(side) if isinstance(proto, dict) else None
        tables += [e for e in (v if isinstance(v, list) else [v]) if isinstance(e, dict)]
    rob = data.get("robustness")
    tables += [p for p in (rob.get("perturbations") or []) if isinstance(p, dict)] if isinstance(rob, dict) else []
    for t in tables:
        for key in ("root", "noise"):
            root = t.get(key)
            if (isinstance(root, str) and root and (key == "root" or "/" in root or root.startswith("."))
                    and not Path(root).expanduser().is_absolute()):
                t[key] = str((base / root).resolve())


def load_spec(path: str | Path | None = None, overrides: list[str] | dict | None = None,
              data: dict | None = None) -> Spec:
    if path is not None:
        data = read_spec_file(path)
        source = str(path)
    else:
        data = dict(data or {})
        source = "spec"
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides or [])
    for key, value in items:
        if key.endswith(".root") and isinstance(value, str):  # corpus.root, protocol.test.root
            value = str(Path(value).expanduser().resolve())
        _apply(data, key, value, source)
    return _check(_build(Spec, data, "", source), source)


def dump_toml(d: dict, prefix: str = "") -> str:
    """A minimal TOML writer for resolved specs (scalars, lists, nested tables)."""
    lines, tables = [], []
    for k, v in d.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif v is None:
            lines.append(f"# {k} = (unset)")
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    out = "\n".join(lines)
    for k, v in tables:
        name = f"{prefix}.{k}" if prefix else k
        body = dump_toml(v, name)
        out += f"\n\n[{name}]\n{body}" if out else f"[{name}]\n{body}"
    return out.strip() + "\n"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an inline table (cross-corpus entries, perturbations)
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()
                               if x is not None) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")
