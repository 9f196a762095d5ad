"""Shared pieces of the browser journeys: Debian chromium flags and a Streamlit server."""

from __future__ import annotations

import os
import re
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
#: One interaction (a Streamlit rerun) on a loaded 2-core machine.
TIMEOUT_MS = 60_000
#: The bundled demo dataset's name.
DEMO = "Demo: movie nights"
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


# -- page helpers shared by the journeys -----------------------------------------------------
#: Page headings that differ from their navigation label.
PAGE_TITLES = {"Home": "Recsys Workbench"}


def settle(pg) -> None:
    """Wait until no script run is in progress and no element is a loading placeholder."""
    pg.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")
    pg.wait_for_function("() => !document.querySelector('[data-testid=stSkeleton]')")


def snap(pg, name: str) -> Path:
    """Screenshot the whole app into ``test-artifacts/`` (Streamlit scrolls inside its main
    block, not the page, so the viewport is stretched to the content's height)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = pg.viewport_size or {"width": 1400, "height": 1000}
    height = pg.evaluate(
        "() => { const m = document.querySelector('[data-testid=stMain]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }"
    )
    pg.set_viewport_size({"width": size["width"], "height": min(max(height, 600), 8000)})
    pg.wait_for_timeout(300)  # let plotly and the data grids re-lay out
    pg.screenshot(path=str(path), full_page=True)
    pg.set_viewport_size(size)
    return path


def assert_no_exception(pg) -> None:
    boxes = pg.locator("[data-testid=stException]")
    assert boxes.count() == 0, boxes.all_inner_texts()


def heading(pg, name: str):
    return pg.get_by_role("heading", name=name, exact=True)


def open_page(pg, name: str, title: str | None = None) -> None:
    """Click a sidebar navigation link and wait for the page to finish rendering."""
    pg.locator("[data-testid=stSidebarNav] a").filter(has_text=re.compile(f"{name}$")).click()
    heading(pg, title or PAGE_TITLES.get(name, name)).wait_for()
    settle(pg)
    assert_no_exception(pg)


def combobox(pg, label: str):
    return pg.get_by_role("combobox", name=label, exact=True)


def grid_rows(grid) -> list[dict[str, str]]:
    """Rows of an st.dataframe, from the grid's accessible table (the grid is a canvas)."""
    grid.locator("[role=gridcell]").first.wait_for(state="attached")
    headers = [h.strip() for h in grid.locator("[role=columnheader]").all_inner_texts()]
    rows = []
    for row in grid.locator("tbody [role=row]").all():
        cells = [c.strip() for c in row.locator("[role=gridcell]").all_inner_texts()]
        rows.append(dict(zip(headers[-len(cells) :], cells, strict=True)))
    return rows


def table_rows(table) -> list[dict[str, str]]:
    """Rows of an st.table (a static HTML table), by column heading."""
    table.locator("tbody tr").first.wait_for(state="attached")
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    return [
        dict(zip(headers, [c.strip() for c in row.locator("td").all_inner_texts()], strict=True))
        for row in table.locator("tbody tr").all()
    ]


def status_line(pg, run_id: int, status: str):
    """The markdown line ``Run <id> · <model> — <status>`` of a run's card."""
    return pg.locator("[data-testid=stMarkdownContainer]").filter(
        has_text=re.compile(rf"\bRun {run_id} · [\w-]+ — {status}\b")
    )


def shown_status(pg, run_id: int) -> str | None:
    """The status a run's card shows now (None when the card is not on the page)."""
    line = status_line(pg, run_id, r"\w+")
    try:
        if line.count() == 0:
            return None
        text = line.first.inner_text(timeout=2_000)
    except Exception:  # the monitor fragment re-rendered while we read
        return None
    found = re.search(r" — (\w+)", text)
    return found.group(1) if found else None


def shots_on_failure(request, failed_before: int, pages: list) -> None:
    """After a test: when it failed, save each of its pages as
    ``test-artifacts/<test>[-n].png`` (``failed_before`` = the session's failure count
    when the test started; the call phase is reported before fixtures finish)."""
    if request.session.testsfailed <= failed_before:
        return
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for i, pg in enumerate(pages):
        try:
            snap(pg, name if i == 0 else f"{name}-{i + 1}")
        except Exception as exc:  # the page may be gone; the test's own error matters more
            print(f"could not save a failure screenshot: {exc}")
