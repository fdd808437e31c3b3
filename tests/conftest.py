"""Shared fixtures. Every test session gets its own AFFECTBENCH_HOME so caches never leak in or out."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def shared_data(name: str) -> Path:
    """A folder of ../shared/data (read-only); the test is skipped when it is absent."""
    p = Path(os.environ.get("AFFECTBENCH_SHARED_DATA", SHARED)) / name
    if not p.is_dir():
        pytest.skip(f"{p} not present")
    return p


@pytest.fixture(scope="session", autouse=True)
def _home(tmp_path_factory):
    home = tmp_path_factory.mktemp("affectbench_home")
    old = os.environ.get("AFFECTBENCH_HOME")
    os.environ["AFFECTBENCH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("AFFECTBENCH_HOME", None)
    else:
        os.environ["AFFECTBENCH_HOME"] = old


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """An empty cache for tests that count what gets computed."""
    monkeypatch.setenv("AFFECTBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def java():
    """METEOR's jar needs a Java runtime: skip (saying so) without one, fail under CI, which
    installs it (.ci/run sets AFFECTBENCH_REQUIRE_JAVA)."""
    import shutil

    if shutil.which("java") is None:
        msg = "no Java runtime on PATH: METEOR's jar needs one (apt-get install default-jre-headless)"
        if os.environ.get("AFFECTBENCH_REQUIRE_JAVA"):
            pytest.fail(msg)
        pytest.skip(msg)
