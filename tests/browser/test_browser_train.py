"""Browser journeys of the Train and Models pages: the real server in headless Debian chromium.

One server (temporary database, demo dataset loaded on first start) serves the journeys of
this module; the deep-link check gets a server of its own, so that its first visit really is
the first page the server ever runs. Each journey opens fresh browser contexts (new
Streamlit sessions). A failing journey leaves screenshots in ``test-artifacts/<test>.png``;
passing journeys save a few screenshots for review there (``train-*.png``, ``models-*.png``).
Run only the browser journeys with ``pytest -m browser``.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_support import (
    DEMO,
    TIMEOUT_MS,
    assert_no_exception,
    grid_rows,
    heading,
    open_page,
    require_browser,
    serve,
    settle,
    shots_on_failure,
    shown_status,
    snap,
    status_line,
)

pytestmark = pytest.mark.browser

TRAIN_TIMEOUT_S = 120  # a Quick two_tower plus EASE take ~10 s here; leave room for load
CANCEL_TIMEOUT_MS = 15_000  # the promise: a cancelled run says so within ~15 s
FORMULA_STARTS = ("=", "+", "-", "@")
FINAL = ("succeeded", "failed", "cancelled", "interrupted")


# -- servers and browser ------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The module's server, shared by the training journeys (runs pile up on one split)."""
    require_browser()
    with serve(tmp_path_factory.mktemp("train_server")) as url:
        yield url


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[str]:
    """A server no browser has visited yet."""
    require_browser()
    with serve(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_browser):
    require_browser()
    return chromium_browser


@pytest.fixture
def new_session(browser, request: pytest.FixtureRequest) -> Iterator[Callable[[], object]]:
    """Factory of pages, each in its own browser context (= its own Streamlit session).

    On failure every page opened is saved as ``test-artifacts/<test>[-n].png``.
    """
    contexts = []
    pages = []

    def make():
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        pages.append(context.new_page())
        return pages[-1]

    failed_before = request.session.testsfailed
    yield make
    shots_on_failure(request, failed_before, pages)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_session):
    return new_session()


# -- helpers ------------------------------------------------------------------------------
def start(pg, server: str) -> None:
    """Open the app's home page in a new session."""
    pg.goto(server)
    heading(pg, "Recsys Workbench").wait_for()
    settle(pg)


def click_label(pg, testid: str, label: str) -> None:
    """Click a checkbox or radio option by its label (the input itself is covered)."""
    pg.locator(f"[data-testid={testid}] label").filter(
        has_text=re.compile(f"^{re.escape(label)}$")
    ).click()
    settle(pg)


def ensure_split(pg) -> str:
    """On the Train page, use the chosen split or create the suggested one; its label."""
    box = pg.get_by_role("combobox", name="Split", exact=True)
    if box.input_value() == "New split…":
        pg.get_by_role("button", name="Create split").click()
    heading(pg, "2 · Models").wait_for()
    settle(pg)
    return box.input_value()


def choose_models(pg, preset: str, models: list[str]) -> None:
    """Pick the preset, then tick each model's checkbox."""
    click_label(pg, "stRadio", preset)
    assert pg.get_by_role("radio", name=preset, exact=True).is_checked()
    for name in models:
        click_label(pg, "stCheckbox", name)
        assert pg.get_by_role("checkbox", name=name, exact=True).is_checked(), name
        # its config form appears once the rerun that saw the tick is over
        pg.locator("[data-testid=stExpander] summary").filter(has_text=f"{name} — ").wait_for()
        settle(pg)


def train(pg, n: int) -> list[int]:
    """Click "Train n model(s)" and return the run ids the success note names."""
    pg.get_by_role("button", name=f"Train {n} model{'s' if n != 1 else ''}", exact=True).click()
    note = pg.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Queued run")
    note.wait_for()
    ids = [int(i) for i in re.findall(r"\d+", note.inner_text().split(".")[0])]
    assert len(ids) == n, note.inner_text()
    return ids


def card(pg, run_id: int):
    """The bordered card of a run in the Train page's run monitor."""
    head = pg.locator("[data-testid=stMarkdownContainer]").filter(
        has_text=re.compile(rf"\bRun {run_id} · ")
    )
    return head.locator(
        "xpath=ancestor::div[@data-testid='stHorizontalBlock'][1]"
        "/ancestor::div[@data-testid='stVerticalBlock'][1]"
    )


def wait_status(pg, run_id: int, status: str, timeout_s: float = TRAIN_TIMEOUT_S) -> None:
    """Wait for a run's card to show ``status``; fail early if the run ends otherwise."""
    deadline = time.monotonic() + timeout_s
    shown = None
    while time.monotonic() < deadline:
        shown = shown_status(pg, run_id)
        if shown == status:
            return
        if shown in FINAL:
            pytest.fail(f"run {run_id} ended {shown}:\n{card(pg, run_id).inner_text()}")
        pg.wait_for_timeout(500)
    pytest.fail(f"run {run_id} not {status} after {timeout_s:.0f} s (shows {shown})")


def progress_of(pg, run_id: int) -> tuple[str, int] | None:
    """(text, value 0–100) of a run's progress bar, or None when it shows none right now."""
    bar = card(pg, run_id).locator("[data-testid=stProgress]")
    try:
        if bar.count() == 0:
            return None
        text = bar.first.inner_text(timeout=2_000).strip()
        value = bar.first.locator("[role=progressbar]").get_attribute(
            "aria-valuenow", timeout=2_000
        )
    except Exception:  # the fragment re-rendered between the two reads
        return None
    return text, int(float(value or 0))


def card_metric_labels(pg, run_id: int) -> list[str]:
    return [
        t.strip() for t in card(pg, run_id).locator("[data-testid=stMetricLabel]").all_inner_texts()
    ]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- journeys -----------------------------------------------------------------------------
def test_train_two_models_and_download_recommendations(server: str, page) -> None:
    """Issue 5's journey: split, train EASE + two-tower, watch progress, leave and come back,
    see both succeeded, then find them on the Models page and download recommendations."""
    start(page, server)
    open_page(page, "Train")
    assert page.get_by_role("combobox", name="Split", exact=True).input_value() == "New split…"
    split = ensure_split(page)
    assert split.startswith("leave-last-1"), split  # suggested: the demo has timestamps
    choose_models(page, "Quick", ["EASE", "Two-tower"])
    ease_id, tower_id = train(page, 2)

    # Watch the two-tower card while it trains: the bar must move.
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline and shown_status(page, tower_id) not in FINAL:
        reading = progress_of(page, tower_id)
        if reading and shown_status(page, tower_id) == "running":
            if not seen or seen[-1] != reading:
                seen.append(reading)
            if len(seen) == 2:
                snap(page, "train-running")  # for review
        page.wait_for_timeout(400)
    assert len(seen) >= 2, f"progress never moved while running: {seen}"
    assert seen[-1][1] > seen[0][1] or seen[-1][0] != seen[0][0], seen
    assert any(text.startswith("fit:") for text, _ in seen), seen

    # Training goes on while the user is elsewhere.
    open_page(page, "Home", "Recsys Workbench")
    open_page(page, "Train")
    for run_id in (ease_id, tower_id):
        wait_status(page, run_id, "succeeded")
    page.wait_for_timeout(1_600)  # one more monitor tick, so the tiles are drawn
    settle(page)
    for run_id in (ease_id, tower_id):
        labels = card_metric_labels(page, run_id)
        assert "NDCG@10" in labels, (run_id, labels)
        assert card(page, run_id).get_by_role("button", name="Cancel").count() == 0
    assert_no_exception(page)
    snap(page, "train-finished")

    open_page(page, "Models")
    rows = grid_rows(page.locator("[data-testid=stDataFrame]").first)
    by_id = {r["id"]: r for r in rows}
    for run_id, model in ((ease_id, "EASE"), (tower_id, "Two-tower")):
        assert by_id[str(run_id)]["model"] == model, rows
        assert by_id[str(run_id)]["status"] == "succeeded", rows
        assert is_number(by_id[str(run_id)]["NDCG@10"]), rows
    shown = page.get_by_role("combobox", name="Run details", exact=True).input_value()
    assert re.match(rf"Run {tower_id} · Two-tower · .* · succeeded$", shown), shown
    for label in ("Recommendations (CSV)", "Recommendations (Parquet)", "Model (zip)"):
        assert page.get_by_role("button", name=label, exact=True).count() == 1, label
    assert page.get_by_role("button", name="Re-run with the same config").count() == 1
    snap(page, "models-page")

    with page.expect_download() as info:
        page.get_by_role("button", name="Recommendations (CSV)", exact=True).click()
    download = info.value
    assert download.suggested_filename == f"run_{tower_id}_recommendations.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["user_id", "rank", "item_id", "title", "score"], rows[0]
    assert len(rows) > 1_000, len(rows)  # ~1,000 test users × 10 recommendations
    risky = [
        cell
        for row in rows[1:]
        for cell in row
        if cell.startswith(FORMULA_STARTS) and not is_number(cell)  # -0.07 is a score
    ]
    assert not risky, risky[:10]
    assert all(is_number(row[4]) for row in rows[1:])
    assert sum(bool(row[3]) for row in rows[1:]) > len(rows) // 2  # the demo's titles
    assert {row[1] for row in rows[1:]} >= {"1", "10"}


def test_two_sessions_train_at_the_same_time(server: str, new_session) -> None:
    """Two tabs (two sessions) queue a model each at once; both runs finish and each tab
    sees both."""
    tabs = [new_session(), new_session()]
    for pg, model in zip(tabs, ("Popularity", "EASE"), strict=True):
        start(pg, server)
        open_page(pg, "Train")
        ensure_split(pg)
        choose_models(pg, "Default", [model])
    buttons = [pg.get_by_role("button", name="Train 1 model", exact=True) for pg in tabs]
    for button in buttons:  # back to back: the second queues while the first may run
        button.click()
    ids = []
    for pg in tabs:
        note = pg.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Queued run")
        note.wait_for()
        ids.append(int(re.search(r"Queued run (\d+)", note.inner_text()).group(1)))
    assert len(set(ids)) == 2, ids
    for pg in tabs:
        for run_id in ids:
            wait_status(pg, run_id, "succeeded")
        assert_no_exception(pg)
    tabs[1].wait_for_timeout(1_600)
    snap(tabs[1], "train-two-sessions")


def test_cancel_a_running_two_tower(server: str, page) -> None:
    """A long (Thorough) two-tower run is cancelled from its card while it trains."""
    start(page, server)
    open_page(page, "Train")
    ensure_split(page)
    choose_models(page, "Thorough", ["Two-tower"])
    (run_id,) = train(page, 1)
    wait_status(page, run_id, "running", timeout_s=60)
    # let it get into fitting, so the cancel reaches a training loop, not a queued row
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reading = progress_of(page, run_id)
        if reading and reading[0].startswith("fit:"):
            break
        page.wait_for_timeout(300)
    card(page, run_id).get_by_role("button", name="Cancel", exact=True).click()
    status_line(page, run_id, "cancelled").wait_for(timeout=CANCEL_TIMEOUT_MS)
    settle(page)
    assert card(page, run_id).get_by_role("button", name="Cancel").count() == 0
    assert card(page, run_id).locator("[data-testid=stProgress]").count() == 0
    assert_no_exception(page)
    snap(page, "train-cancelled")


def test_deep_link_to_train_on_a_fresh_server(fresh_server: str, new_session) -> None:
    """The very first visit of a new server goes straight to /train: the page opens inside
    the navigation frame (sidebar sections and the active dataset), not on its own."""
    for path, title in (("/train", "Train"), ("/models", "Models")):
        pg = new_session()  # /models: a second session's first visit, a deep link too
        pg.goto(f"{fresh_server}{path}")
        heading(pg, title).wait_for()
        settle(pg)
        assert_no_exception(pg)
        assert pg.url.rstrip("/").endswith(path), pg.url
        sections = pg.locator("[data-testid=stSidebarNav] [data-testid=stNavSectionHeader]")
        assert [s.strip() for s in sections.all_inner_texts()] == ["Overview", "Work"]
        current = pg.locator("[data-testid=stSidebarNav] a[aria-current=page]")
        assert current.inner_text().strip().endswith(title), current.inner_text()
        assert pg.get_by_role("combobox", name="Active dataset").input_value().startswith(DEMO)
        if title == "Train":
            heading(pg, "1 · Split").wait_for()
