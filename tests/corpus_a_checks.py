"""Checks shared by the tests of the catalogue corpora (tests/test_corpus_<name>.py).

Every adapter must: carry the catalogue attributes (licence, canonical mapping onto the
shared vocabulary), build its default protocol's folds with test speakers never in
train/valid, refuse a wrong root with its layout hint, name a misnamed file, and ignore
macOS metadata. One implementation here, so each corpus's test file states only what is
particular to it.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import affectbench as ab
from affectbench.corpora import get_corpus
from affectbench.errors import CorpusError
from affectbench.protocol import make_folds

SHARED = {"neutral", "happy", "sad", "angry", "fear", "disgust", "surprise", "contempt", "calm", "boredom",
          "excited", "frustrated"}
APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 64


def check_attributes(name: str) -> None:
    c = get_corpus(name)
    assert isinstance(c.licence, str) and c.licence
    assert set(c.canonical) == set(c.labelset.labels), "canonical must map every label the manifest can hold"
    assert {v for v in c.canonical.values() if v is not None} <= SHARED
    assert c.layout_hint and c.modalities and c.title
    assert set(c.unverified) <= {"total", "label", "speaker", "split", "session", "views"} | {
        f"{k}/{x}" for k, v in c.expected.items() if isinstance(v, dict) for x in v}


def folds(prepared, view: str | None = None):
    """The default protocol's folds on the default view; asserts speaker independence where claimed."""
    c = prepared.corpus
    proto = c.default_protocol
    df = c.labelset.view(view).apply(prepared.manifest)
    out = make_folds(df, proto["kind"], group=proto.get("group", "speaker"), folds=proto.get("folds"),
                     speaker_independent=proto.get("speaker_independent"), valid_unit=proto.get("valid_unit", ""))
    spk = df["speaker"].astype(object)
    seen_test = []
    for f in out:
        assert len(set(df["id"].iloc[f.test]) & set(df["id"].iloc[np.concatenate([f.train, f.valid])])) == 0
        if proto.get("speaker_independent", True):
            test_spk = set(spk.iloc[f.test])
            assert test_spk.isdisjoint(set(spk.iloc[np.concatenate([f.train, f.valid])]))
            seen_test += sorted(test_spk)
        assert len(f.valid), "validation must come from the training side"
    if proto["kind"] != "official":
        assert sorted(seen_test) == sorted(spk.unique()), "every speaker is tested exactly once"
    return out


def check_wrong_root(name: str, tmp_path: Path, *fragments: str) -> None:
    empty = tmp_path / "not_a_corpus"
    (empty / "something").mkdir(parents=True)
    (empty / "README.txt").write_text("hello")
    with pytest.raises(CorpusError) as e:
        get_corpus(name).prepare(empty)
    msg = str(e.value)
    assert str(empty) in msg and "Expected" in msg
    for frag in fragments:
        assert frag in msg


def check_bad_file(name: str, root: Path, good: Path, bad_name: str, why: str) -> None:
    """A misnamed copy of ``good`` is refused naming the file; under skip it alone is left out."""
    clean = len(ab.prepare(name, root).manifest)
    bad = (good.parent / bad_name).resolve()
    shutil.copy(good, bad)
    with pytest.raises(CorpusError, match=re.escape(str(bad)) + ".*" + re.escape(why)):
        ab.prepare(name, root)
    p = ab.prepare(name, root, on_error="skip")
    assert len(p.manifest) == clean and [w for w, _ in p.issues.skipped] == [str(bad)]
    bad.unlink()


def check_appledouble(name: str, root: Path) -> None:
    clean = ab.prepare(name, root).manifest
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            (p.parent / f"._{p.name}").write_bytes(APPLEDOUBLE)
            mac = root / "__MACOSX" / p.relative_to(root).parent
            mac.mkdir(parents=True, exist_ok=True)
            (mac / f"._{p.name}").write_bytes(APPLEDOUBLE)
        elif p.is_dir():
            (p / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    p = ab.prepare(name, root)
    assert sorted(p.manifest["id"]) == sorted(clean["id"]) and not p.issues.skipped


def check_partial(prepared, verified_fragment: str | None, unverified_fragment: str | None) -> None:
    """A partial copy: verified counts are problems (run refuses), unverified ones only warnings."""
    if verified_fragment:
        assert any(verified_fragment in m for m in prepared.problems), prepared.problems
    if unverified_fragment:
        assert any(unverified_fragment in m for m in prepared.warnings), prepared.warnings
        assert not any(unverified_fragment in m for m in prepared.problems)
