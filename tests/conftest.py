"""Fixtures shared by every test: paths, a real embedded broker, a real Prometheus."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEEDS = REPO / "seeds" / "articles.jsonl"
SEED_TXT = SHARED / "seeds" / "000_8bb0b02f1c03471e.txt"
ANT = SHARED / "data" / "ant" / "articles.jsonl.gz"


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _worker_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Faust's local files of every worker a test starts go to a temporary folder.

    Workers inherit the environment; without this each run left one folder per
    test app id in the checkout's ``var/`` (the reliability reports stay there).
    """
    old = os.environ.get("MARSAD_DATA_DIR")
    os.environ["MARSAD_DATA_DIR"] = str(tmp_path_factory.mktemp("faust-data"))
    yield
    if old is None:
        del os.environ["MARSAD_DATA_DIR"]
    else:
        os.environ["MARSAD_DATA_DIR"] = old


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the embedded tansu broker on a free port; yield its bootstrap address."""
    from marsad.broker import start_broker

    port = free_port()
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    proc = start_broker("127.0.0.1", port, log_path=log_path)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def prefix() -> str:
    """A topic prefix of its own for each test, so tests never see each other's messages."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    """Path of the Prometheus server binary (Debian package ``prometheus``)."""
    path = shutil.which("prometheus")
    if path is None:
        pytest.fail("prometheus is not installed: run `make system` (apt-get install prometheus)")
    return path
