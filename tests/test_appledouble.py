"""macOS ``._*`` AppleDouble files and ``__MACOSX/`` are ignored the same way by every adapter."""
import shutil
import tarfile
from pathlib import Path

import affectbench as ab
from conftest import shared_data
from fixtures import emotiontalk_fixture as et
from fixtures.ravdess_fixture import build_ravdess

# what macOS writes into ._name: an AppleDouble header, then resource-fork bytes
APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 64


def _sprinkle(root: Path) -> int:
    """A ._ twin beside every file, a .DS_Store per folder and a __MACOSX/ copy, like a Mac does."""
    n = 0
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            (p.parent / f"._{p.name}").write_bytes(APPLEDOUBLE)
            (root / "__MACOSX" / p.relative_to(root).parent).mkdir(parents=True, exist_ok=True)
            (root / "__MACOSX" / p.relative_to(root).parent / f"._{p.name}").write_bytes(APPLEDOUBLE)
            n += 1
        elif p.is_dir():
            (p / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return n


def test_helpers():
    from affectbench.corpora.base import is_hidden, is_hidden_path

    assert is_hidden("._03a01Fa.wav") and is_hidden(".DS_Store") and is_hidden("__MACOSX")
    assert not is_hidden("03a01Fa.wav")
    assert is_hidden_path("__MACOSX/wav/x.wav") and is_hidden_path("G1/._G1_01.json")
    assert not is_hidden_path("G00002/G00002_01/x.json") and not is_hidden_path("./G1/x.json")


def test_emodb_ignores_appledouble(tmp_path):
    root = tmp_path / "emodb"
    shutil.copytree(shared_data("emodb") / "wav", root / "wav")
    assert _sprinkle(root) == 535
    p = ab.prepare("emodb", root)  # on_error="raise": a ._ file must not count as a misnamed wav
    assert len(p.manifest) == 535 and not p.issues.skipped and p.problems == []
    assert not any("/._" in a for a in p.manifest["audio"])


def test_ravdess_ignores_appledouble(tmp_path):
    root = build_ravdess(tmp_path / "r", actors=[1, 2], seconds=0.02)
    clean = ab.prepare("ravdess", root).manifest
    _sprinkle(root)
    p = ab.prepare("ravdess", root)
    assert len(p.manifest) == len(clean) and not p.issues.skipped
    assert sorted(p.manifest["id"]) == sorted(clean["id"])


def test_emotiontalk_ignores_appledouble_members_and_shards(tmp_path):
    et.build(tmp_path / "tree", layout="tree")
    clean = ab.prepare("emotiontalk", tmp_path / "tree")
    _sprinkle(tmp_path / "tree")
    p = ab.prepare("emotiontalk", tmp_path / "tree")
    assert len(p.manifest) == len(clean.manifest) == 40 and not p.issues.skipped

    et.build(tmp_path / "sh", layout="shards")
    audio = tmp_path / "sh" / "data" / et.DIRS["audio"]
    shard = sorted(audio.glob("*.tar"))[0]
    (audio / f"._{shard.name}").write_bytes(APPLEDOUBLE)  # the twin of the shard itself
    with tarfile.open(shard, "a") as tf:  # a macOS tar stores ._ members beside each file
        name = next(n for n in tf.getnames() if n.endswith(".json"))
        d, base = name.rsplit("/", 1)
        info = tarfile.TarInfo(f"{d}/._{base}")
        info.size = len(APPLEDOUBLE)
        import io

        tf.addfile(info, io.BytesIO(APPLEDOUBLE))
    p = ab.prepare("emotiontalk", tmp_path / "sh")
    assert len(p.manifest) == 40 and not p.issues.skipped
