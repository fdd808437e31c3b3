"""Cross-corpus protocol: train on one or more corpora, test on others, through the shared
label space (:mod:`affectbench.labelspace`).

Spec shape (examples/cross_corpus_emobox.toml)::

    [protocol]
    kind = "cross"
    train = [{name = "iemocap", root = "…"}, {name = "msp_improv", root = "…"}]
    test = {name = "cremad", root = "…"}          # or a list of tables: one result per corpus
    labels = ["neutral", "happy", "sad", "angry"]  # default: the classes every corpus maps to
    valid_groups = 1                               # validation speakers per training corpus

Why these rules:
- speaker-disjoint by construction: a corpus is never on both sides, speakers are namespaced
  by corpus (``cremad/1001``), and pairs that share recordings (MELD is built on EmotionLines'
  dialogues) are refused;
- validation comes only from the training corpora (``valid_groups`` speakers of each, or its
  dev split when it has no speaker ids), never from a test corpus;
- one head is fitted on the training side and scored on each test corpus: per-corpus results
  and the pooled result go into one report, with each corpus's language and what the label
  space dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from . import labelspace
from .report import _ci
from .errors import CorpusError, ProtocolError, SpecError

#: corpus pairs that share source recordings or dialogues (either order)
SHARED_SOURCES = {frozenset({"meld", "emotionlines"}), frozenset({"meld", "emorynlp"})}
_ENTRY_KEYS = {"name", "root", "options", "on_error", "allow_partial", "splits"}


def entries(value, key: str, source: str = "spec") -> list[dict]:
    """``protocol.train`` / ``protocol.test`` as a list of checked tables."""
    if value is None:
        raise SpecError(f"{source}: protocol.kind = \"cross\" needs protocol.{key} "
                        f"(e.g. {key} = [{{name = \"cremad\", root = \"/data/cremad\"}}])")
    items = [value] if isinstance(value, (dict, str)) else list(value)
    out = []
    for i, e in enumerate(items):
        e = {"name": e} if isinstance(e, str) else e
        if not isinstance(e, dict) or "name" not in e:
            raise SpecError(f"{source}: protocol.{key}[{i}] must be a table with a 'name'")
        bad = sorted(set(e) - _ENTRY_KEYS)
        if bad:
            raise SpecError(f"{source}: protocol.{key}[{i}]: unknown key(s) {bad}. Valid: "
                            f"{', '.join(sorted(_ENTRY_KEYS))}")
        out.append(e)
    if not out:
        raise SpecError(f"{source}: protocol.{key} is empty")
    return out


def check_spec(spec, source: str = "spec") -> None:
    """Names, disjointness and label classes, before any corpus is read."""
    from .corpora import get_corpus

    train = entries(spec.protocol.train, "train", source)
    test = entries(spec.protocol.test, "test", source)
    names_tr, names_te = [e["name"] for e in train], [e["name"] for e in test]
    for e in train + test:
        get_corpus(e["name"], **e.get("options", {}))
    both = sorted(set(names_tr) & set(names_te))
    if both:
        raise SpecError(f"{source}: corpus {both} is on both the training and the test side of a "
                        "cross-corpus protocol; use its own protocol (loso, official) instead")
    for a in names_tr:
        for b in names_te:
            if frozenset({a, b}) in SHARED_SOURCES:
                raise SpecError(f"{source}: '{a}' and '{b}' share source recordings/dialogues: testing "
                                "one after training on the other is not cross-corpus")
    if spec.protocol.labels is not None:
        bad = [c for c in spec.protocol.labels if c not in labelspace.VOCABULARY]
        if bad or len(spec.protocol.labels) < 2:
            raise SpecError(f"{source}: protocol.labels {bad or spec.protocol.labels} must name at least "
                            f"two shared classes: {', '.join(labelspace.VOCABULARY)}")
    if not spec.corpus.name:
        spec.corpus.name = names_te[0]
    classes(spec)  # no shared class: an error now, not after reading


def classes(spec) -> list[str]:
    from .corpora import get_corpus

    if spec.protocol.labels:
        return list(spec.protocol.labels)
    es = entries(spec.protocol.train, "train") + entries(spec.protocol.test, "test")
    sets = [set(labelspace.classes_of(get_corpus(e["name"], **e.get("options", {})))) for e in es]
    common = [c for c in labelspace.VOCABULARY if all(c in s for s in sets)]
    if len(common) < 2:
        raise SpecError(f"the corpora {[e['name'] for e in es]} share {len(common)} class(es) of the label "
                        "space; name at least two with protocol.labels = [...]")
    return common


@dataclass
class CrossCorpus:
    """Stands in for one corpus in the runner's stages: the modalities every corpus has."""

    name: str
    title: str
    modalities: tuple
    default_protocol: dict
    language: str = ""

    def text_for_features(self, text):
        return text


def load_cross(spec, rep):
    """The runner's ``load_data`` for ``kind = "cross"``: every corpus read, mapped, stacked."""
    from . import manifest as mf
    from .corpora import get_corpus
    from .labels import LabelView
    from .runner import Data

    cls = classes(spec)
    frames, full, info = [], [], {"train": [], "test": [], "classes": cls}
    prepared = SimpleNamespace(root="", caveats=[], problems=[], warnings=[],
                               issues=SimpleNamespace(skipped=[]), manifest=None)
    mods = None
    for side in ("train", "test"):
        for e in entries(getattr(spec.protocol, side), side):
            c = get_corpus(e["name"], **e.get("options", {}))
            reading = rep.task(f"reading {c.name}", None)
            p = c.prepare(e.get("root"), on_error=e.get("on_error", spec.corpus.on_error))
            reading(1, 1)
            if p.problems and not e.get("allow_partial", spec.corpus.allow_partial):
                raise CorpusError(f"{p.root}: this {c.title or c.name} copy is incomplete: "
                                  f"{'; '.join(p.problems[:3])}. Set allow_partial = true in its "
                                  f"protocol.{side} entry to use what is there")
            df = p.manifest
            if e.get("splits"):
                df = df[df["split"].astype(object).isin(e["splits"])]
            df, applied = labelspace.apply(df, c, cls)
            df["text"] = df["text"].map(c.text_for_features, na_action="ignore")
            df["id"] = c.name + ":" + df["id"].astype(str)
            df["speaker"] = (c.name + "/" + df["speaker"].astype(object).astype(str)).where(
                df["speaker"].notna(), None)
            df["corpus"] = c.name
            df["_side"] = side
            frames.append(df)
            full.append(p.manifest)
            info[side].append({"corpus": c.name, "language": c.language or "-", "n": len(df),
                               "licence": c.licence or "not stated", **applied.as_dict()})
            mods = set(c.modalities) if mods is None else mods & set(c.modalities)
            prepared.caveats += [f"{c.name}: {x}" for x in p.caveats]
            prepared.problems += [f"{c.name}: {x}" for x in p.problems]
            prepared.warnings += [f"{c.name}: {x}" for x in (p.warnings or [])]
            prepared.issues.skipped += p.issues.skipped
            prepared.root += f"{side} {c.name}={p.root}; "
    df = pd.concat(frames, ignore_index=True)
    prepared.manifest = pd.concat(full, ignore_index=True)
    tr = "+".join(x["corpus"] for x in info["train"])
    te = "+".join(x["corpus"] for x in info["test"])
    corpus = CrossCorpus(f"{tr}→{te}", f"cross-corpus {tr} → {te}", tuple(sorted(mods or ())),
                         {"kind": "cross"})
    view = LabelView.identity("shared", cls, "shared label space (docs/labelspace.md)")
    data = Data(corpus, prepared, view, df, None, mf.fingerprint(df.drop(columns="_side")))
    data.cross = info
    rep.log(f"cross-corpus: train {tr} ({', '.join(x['language'] for x in info['train'])}), "
            f"test {te} ({', '.join(x['language'] for x in info['test'])}); classes {', '.join(cls)}")
    return data


def cross_fold(df: pd.DataFrame, spec):
    """One fold: test = the test corpora, validation = speakers of each training corpus."""
    from .protocol import Fold, fold_fingerprint

    side = df["_side"].to_numpy()
    rng = np.random.default_rng(spec.seed)
    valid = np.zeros(len(df), bool)
    for name in pd.unique(df["corpus"][side == "train"]):
        rows = np.flatnonzero((side == "train") & (df["corpus"] == name).to_numpy())
        valid[_valid_rows(df.iloc[rows], rows, spec.protocol.valid_groups, rng, name)] = True
    test = np.flatnonzero(side == "test")
    train = np.flatnonzero((side == "train") & ~valid)
    if len(train) == 0 or len(test) == 0:
        raise ProtocolError("cross-corpus fold: the training or the test side is empty after the "
                            "label space was applied (see what it dropped in the log)")
    fold = Fold("cross", train, np.flatnonzero(valid), test, sorted(pd.unique(df["corpus"].iloc[test])),
                [], True, 0, meta={"valid_unit": "speaker", "rows_without_speaker":
                                   int(df["speaker"].isna().sum())})
    seen = set(df["speaker"].iloc[np.r_[train, fold.valid]].dropna()) & set(df["speaker"].iloc[test].dropna())
    if seen or set(df["id"].iloc[test]) & set(df["id"].iloc[np.r_[train, fold.valid]]):
        raise ProtocolError("cross-corpus fold: a test utterance or speaker is also on the training side")
    fold.valid_groups = sorted(pd.unique(df["speaker"].iloc[fold.valid].dropna()))[:20]
    fold.fingerprint = fold_fingerprint(df["id"], fold)
    return fold


def _valid_rows(sub: pd.DataFrame, rows: np.ndarray, k: int, rng, name: str) -> np.ndarray:
    if k == 0:
        return rows[:0]
    spk = sub["speaker"].astype(object)
    if spk.notna().all() and spk.nunique() > k:
        chosen = rng.choice(sorted(spk.unique()), size=k, replace=False)
        return rows[spk.isin(chosen).to_numpy()]
    dev = sub["split"].astype(object).isin(["dev", "valid", "validation"]).to_numpy()
    if dev.any() and not dev.all():
        return rows[dev]
    raise ProtocolError(f"cross-corpus: training corpus '{name}' has neither more than {k} speaker(s) "
                        "nor a dev split to validate on; lower protocol.valid_groups or add a corpus")


def per_corpus(spec, allp: pd.DataFrame, df: pd.DataFrame, classes_, task: str) -> dict:
    """Metrics of each test corpus on its own (bootstrap over its speakers where it has them)."""
    from . import metrics as M

    cidx = {c: i for i, c in enumerate(classes_)}
    corp = df.set_index("id")["corpus"]
    out = {}
    for name, sub in allp.groupby(allp["id"].map(corp), sort=True):
        spk = sub["speaker"].to_numpy()
        groups = spk if pd.notna(spk).all() else None
        m = M.classification(sub["true"].map(cidx).to_numpy(), sub["pred"].map(cidx).to_numpy(), classes_,
                             n_boot=spec.metrics.bootstrap, ci=spec.metrics.ci, seed=spec.seed, groups=groups)
        out[name] = m
    return out


def report_lines(metrics: dict, info: dict) -> list[str]:
    cross = info.get("cross") or {}
    lines = ["", "## Cross-corpus", "",
             f"Classes through the shared label space: {', '.join(cross.get('classes', []))}. "
             "Speaker-disjoint by construction (no corpus on both sides); validation from the "
             "training corpora only.", "",
             "| side | corpus | language | utterances | kept per class | dropped by the mapping | outside the classes |",
             "|---|---|---|---|---|---|---|"]
    for side in ("train", "test"):
        for r in cross.get(side, []):
            lines.append(f"| {side} | {r['corpus']} | {r['language']} | {r['n']} | "
                         f"{_kv(r['kept'])} | {_kv(r['dropped'])} | {_kv(r['outside'])}"
                         + (f"; {r['ambiguous']} ambiguous" if r.get("ambiguous") else "") + " |")
    lines += ["", "| test corpus | n | WAR | UAR | macro-F1 |", "|---|---|---|---|---|"]
    for name, m in (metrics.get("per_corpus") or {}).items():
        lines.append(f"| {name} | {m['n']} | {_ci(m, 'war')} | {_ci(m, 'uar')} | {m['macro_f1']:.3f} |")
    p = metrics["pooled"]
    lines.append(f"| **pooled** | {p['n']} | {_ci(p, 'war')} | {_ci(p, 'uar')} | {p['macro_f1']:.3f} |")
    return lines


def _kv(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "–"
