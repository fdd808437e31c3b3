"""Every expected failure reaches the user as one line naming the file or folder and what to do.

Tests run as root in CI, where chmod does not stop reading: an unreadable file is a folder
standing where the file should be (and a real chmod 000 where the tests run as another user).
"""
import errno
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import affectbench as ab
from affectbench.errors import AffectbenchError, CorpusError
from conftest import shared_data
from fixtures.ravdess_fixture import build_ravdess

EXE = [sys.executable, "-m", "affectbench.cli"]
ROOT = os.geteuid() == 0
EXAMPLES = Path(__file__).parents[1] / "examples"


def cli(*args, env=None, **kw):
    e = os.environ.copy()
    e.update(env or {})
    return subprocess.run(EXE + [str(a) for a in args], capture_output=True, text=True, env=e, **kw)


def one_line_error(r, *needles):
    """The failure is reported on stderr as one error line, no traceback, naming each needle."""
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


def make_unreadable(path: Path) -> None:
    if ROOT:  # root reads a mode-000 file; a folder in its place cannot be read as audio
        path.unlink()
        path.mkdir()
    else:
        path.chmod(0)


@pytest.fixture
def small_ravdess(tmp_path):
    root = build_ravdess(tmp_path / "ravdess", actors=[1, 2], emotions=[1, 5], seconds=0.5)
    bad = sorted(root.rglob("*.wav"))[3]
    make_unreadable(bad)
    return root, bad


def test_unreadable_media_file_raise_then_skip(small_ravdess):
    root, bad = small_ravdess
    r = cli("extract", "ravdess", root)
    line = one_line_error(r, bad, "--on-error skip")
    assert "on_error" not in line  # the spec spelling means nothing on this command line
    r = cli("extract", "ravdess", root, "--on-error", "skip")
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "1 failed" in out and f"skipped {bad}" in out


def test_run_hint_uses_the_spec_key(small_ravdess, tmp_path):
    root, bad = small_ravdess
    spec = tmp_path / "s.toml"
    spec.write_text(f'name = "r"\noutput_dir = "{tmp_path}"\n[corpus]\nname = "ravdess"\nroot = "{root}"\n'
                    'allow_partial = true\n[metrics]\nbootstrap = 10\n')
    line = one_line_error(cli("run", spec), bad)
    assert 'corpus.on_error = "skip"' in line and "--on-error" not in line


def test_cli_hint_per_command():
    from affectbench.cli import cli_hint

    msg = 'x.wav: bad. Fix it, or set on_error = "skip" to leave it out'
    assert "pass --on-error skip" in cli_hint(msg, "extract")
    assert "pass --on-error skip" in cli_hint(msg, "corpora prepare")
    assert 'corpus.on_error = "skip"' in cli_hint(msg, "run")
    assert "Set corpus.on_error" in cli_hint("Set on_error='skip' to keep them", "run")


def test_unreadable_corpus_folder(tmp_path, monkeypatch):
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    wav = root / "wav"
    if not ROOT:
        wav.chmod(0)
        try:
            one_line_error(cli("corpora", "prepare", "emodb", root), wav, "permissions")
        finally:
            wav.chmod(0o755)
    real = Path.iterdir

    def iterdir(self):  # what a folder without read permission does for a user that is not root
        if self == wav:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(CorpusError, match=rf"{wav}: cannot read it \(Permission denied\).*permissions"):
        ab.prepare("emodb", root)
    with pytest.raises(CorpusError, match="Permission denied"):  # skip cannot skip the corpus folder
        ab.prepare("emodb", root, on_error="skip")


def test_cache_folder_is_a_file(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    r = cli("extract", "demo", env={"AFFECTBENCH_HOME": str(home)})
    one_line_error(r, home, "AFFECTBENCH_HOME")


def test_cache_folder_read_only(tmp_path, monkeypatch):
    from affectbench.paths import home

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setenv("AFFECTBENCH_HOME", str(ro))
    if ROOT:  # root may write anywhere: stand in for a read-only folder
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, **k: False if Path(p) == ro else real(p, m, **k))
    else:
        ro.chmod(0o500)
    try:
        with pytest.raises(AffectbenchError, match=rf"{ro}: the affectbench cache folder is not writable"):
            home()
    finally:
        ro.chmod(0o755)


def test_output_folder_is_a_file(tmp_path):
    out = tmp_path / "runs"
    out.write_text("a file where the runs folder should be")
    r = cli("run", EXAMPLES / "demo.toml", "--set", f"output_dir={out}", "--set", "metrics.bootstrap=10")
    one_line_error(r, out)


def test_full_disk_keeps_what_was_written_and_leaves_no_temp(tmp_path, monkeypatch):
    from affectbench.features import store as st

    s = st.FeatureStore({"name": "t"}, "h", root=tmp_path)
    s.write(["a", "b"], np.ones((2, 3), np.float32))

    def full(f, **kw):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(st.np, "savez", full)
    with pytest.raises(AffectbenchError, match=r"shards: no space left on the device\. Features cached "
                                               r"before this are kept"):
        s.write(["c"], np.ones((1, 3), np.float32))
    assert not [p for p in s.shards.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    again = st.FeatureStore({"name": "t"}, "h", root=tmp_path)
    assert again.missing(["a", "b", "c"]) == ["c"]


@pytest.mark.parametrize("content,needle", [(b"\x00\x01\x02binary\xff", "binary file"),
                                            (b'name = "caf\xe9"\n', ":1: not UTF-8")])
def test_binary_or_latin1_spec(tmp_path, content, needle):
    spec = tmp_path / "s.toml"
    spec.write_bytes(content)
    one_line_error(cli("run", spec), spec, needle)


def test_jobs_must_be_positive(tmp_path):
    for args in (["extract", "demo", "-j", "0"], ["run", EXAMPLES / "demo.toml", "-j", "0"]):
        r = cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "--jobs" in r.stderr


def test_extractor_of_the_wrong_modality_is_refused_before_any_work():
    t = time.time()
    r = cli("extract", "emodb", shared_data("emodb"), "-e", "minilm")
    line = one_line_error(r, "minilm", "text", "emodb", "audio", "egemaps")
    assert time.time() - t < 30 and "empty text" not in line


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_with_workers(tmp_path, presses):
    """Ctrl-C reaches the whole process group: one line, exit 130, shards kept, no .tmp left.
    The first press lets the workers finish and store the chunks they hold; a second stops them."""
    home = tmp_path / "home"
    env = {**os.environ, "AFFECTBENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    # preexec_fn: Ctrl-C as a terminal delivers it. A shell's background job (`pytest ... &`)
    # starts with SIGINT ignored, which its children inherit (Python then installs no
    # KeyboardInterrupt handler at all), and the extraction would run on to exit 0.
    p = subprocess.Popen(EXE + ["extract", "emodb", str(shared_data("emodb")), "-j", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    shards = home / "features"
    deadline = time.time() + 120
    while time.time() < deadline and not list(shards.glob("*/shards/*.npz")):
        time.sleep(0.2)
    for i in range(presses):
        time.sleep(0.5 * i)
        os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.count("interrupted:") == 1 and "run the same command again" in err
    assert list(shards.glob("*/shards/*.npz"))
    assert not [x for x in shards.glob("*/shards/.*") if x.name.endswith(".tmp")]


def test_version_and_argument_help():
    from affectbench import __version__

    assert cli("--version").stdout.strip() == f"affectbench {__version__}"
    h = " ".join(cli("corpora", "validate", "--help").stdout.split())
    assert "corpus name" in h and "the corpus folder as downloaded" in h
    assert "experiment spec (TOML)" in " ".join(cli("run", "--help").stdout.split())


def test_progress_says_how_much_came_from_the_cache(tmp_path, fresh_home):
    from rich.console import Console

    from affectbench.features import extract, get_extractor
    from affectbench.ui import RichReporter

    df = ab.prepare("ravdess", build_ravdess(tmp_path / "r", actors=[1], emotions=[1, 5],
                                             seconds=0.5)).manifest
    ex = get_extractor("egemaps")
    extract(ex, df.iloc[:4])
    buf = io.StringIO()
    rep = RichReporter(Console(file=buf, width=120))
    with rep.running():
        res = extract(ex, df, progress=rep.task("egemaps", len(df)))
    assert res.cached == 4 and "egemaps (4 cached)" in buf.getvalue()


def test_examples_say_how_to_use_your_own_copy():
    for spec in EXAMPLES.glob("*.toml"):
        comments = "\n".join(x for x in spec.read_text().splitlines() if x.startswith("#"))
        assert re.search(r"--set (corpus|protocol\.test)\.root=/path/to/", comments), spec.name


def test_read_only_output_folder_is_refused_before_work(tmp_path, monkeypatch):
    from affectbench.cli import _check_output_dir

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **k: False if Path(p) == ro else real(p, m, **k))
    with pytest.raises(AffectbenchError, match=rf"{ro}: not writable, so the output folder {ro}/runs"):
        _check_output_dir(ro / "runs", "choose another")
    _check_output_dir(tmp_path / "fine" / "runs", "choose another")  # creatable: accepted
