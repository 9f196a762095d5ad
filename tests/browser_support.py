"""Shared pieces of the browser journeys: Debian chromium flags and a Streamlit server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> None:
    """Skip the test when Debian chromium or Playwright is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM}")
    pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free port with an empty database in ``folder``.

    Yields the base URL once the health endpoint answers; stops the server afterwards.
    """
    with serve_process(folder) as (url, _):
        yield url


@contextmanager
def serve_process(folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """``serve`` that also yields the server process, for tests that kill it.

    The database is ``folder/db.duckdb`` and the temp folder (uploads) ``folder/tmp``: a
    second server on the same folder reopens the same file (a restart). A process the test
    already killed is only reaped at the end.
    """
    require_browser()
    port = free_port()
    log_path = folder / "server.log"
    # Uploads are saved under the server's temp folder: keep them inside ``folder``.
    tmp = folder / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "RECSYS_DB": str(folder / "db.duckdb"), "TMPDIR": str(tmp)}
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port), "--server.headless", "true",
    ]  # fmt: skip
    with log_path.open("a") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited ({proc.returncode}):\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not healthy after 60 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
