"""The new user's journey (issues 6 and 8) in headless Debian chromium, end to end.

A fresh server (temporary database; the demo dataset loads on first start) → Train: the
default split and "Train all reference models" → Compare: the leaderboard, an A/B test of
popularity (A) against EASE (B) with a verdict and the HTML report → Explain: the EASE run's
item cards with a "Why this item?" reason badged *exact*, and a new user built from a few
titles in the what-if panel.

A failing journey leaves screenshots in ``test-artifacts/<test>.png``; a passing one saves
``journey-compare.png`` and ``journey-explain*.png`` there for review. Run only the browser
journeys with ``pytest -m browser``.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    DEMO,
    TIMEOUT_MS,
    assert_no_exception,
    combobox,
    grid_rows,
    heading,
    open_page,
    serve,
    settle,
    shots_on_failure,
    shown_status,
    snap,
    status_line,
)

pytestmark = pytest.mark.browser

TRAIN_TIMEOUT_S = 90  # the three reference models take a few seconds on the demo data
REFERENCE = ("Popularity", "Item-kNN", "EASE")  # as the pages name them
FINAL = ("succeeded", "failed", "cancelled", "interrupted")
WHAT_IF_TITLES = ("Realm", "Trap", "A Crystal Prophecy")  # demo items 2, 4 and 7


# -- server and browser -------------------------------------------------------------------
@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with an empty database: a first start."""
    with serve(tmp_path) as url:
        yield url


@pytest.fixture
def page(server: str, request: pytest.FixtureRequest, chromium_browser):
    """A new session's page; on failure a screenshot goes to test-artifacts/<test>.png."""
    context = chromium_browser.new_context(  # shared browser (tests/conftest.py)
        viewport={"width": 1400, "height": 1000}, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    failed_before = request.session.testsfailed
    yield pg
    shots_on_failure(request, failed_before, [pg])
    context.close()


# -- helpers ------------------------------------------------------------------------------
def choose(pg, label: str, option: str | re.Pattern, typed: str | None = None) -> None:
    """Open a select box (or multiselect) by its label and click the matching option.

    ``typed`` is typed into the box first, to filter long lists (the option may be
    virtualised out of the DOM otherwise).
    """
    box = combobox(pg, label)
    # A list opened while the page still scrolls the box into view closes at once: scroll
    # first, and open it again if it did not stay open.
    for _ in range(3):
        box.scroll_into_view_if_needed()
        pg.wait_for_timeout(300)
        box.click()
        try:
            pg.wait_for_function(
                "el => el.getAttribute('aria-expanded') === 'true'",
                arg=box.element_handle(),
                timeout=3_000,
            )
            break
        except Exception:
            pg.keyboard.press("Escape")
    else:
        pytest.fail(f"the option list of {label!r} does not open")
    if typed:
        box.fill(typed)
    pg.get_by_role("option").filter(has_text=option).first.click()
    settle(pg)


def wait_succeeded(pg, run_ids: list[int]) -> None:
    """Wait until every run's card says succeeded; fail early if one ends otherwise."""
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    shown: dict[int, str | None] = {}
    while time.monotonic() < deadline:
        shown = {rid: shown_status(pg, rid) for rid in run_ids}
        if all(s == "succeeded" for s in shown.values()):
            return
        bad = {rid: s for rid, s in shown.items() if s in FINAL and s != "succeeded"}
        if bad:
            pytest.fail(f"runs ended badly: {bad}")
        pg.wait_for_timeout(500)
    pytest.fail(f"runs not all succeeded after {TRAIN_TIMEOUT_S} s: {shown}")


def cards(pg) -> list[tuple[int, str]]:
    """(rank, title) of the Explain page's item cards, from their ``#n · title`` heads."""
    heads = pg.locator("[data-testid=stMarkdownContainer]").filter(has_text=re.compile(r"^#\d+ · "))
    found = [re.match(r"#(\d+) · (.*)", t.strip()) for t in heads.all_inner_texts()]
    return [(int(m.group(1)), m.group(2).strip()) for m in found]


# -- the journey --------------------------------------------------------------------------
def test_new_user_trains_compares_and_explains(server: str, page) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    # Home: the demo dataset is there on first start.
    page.goto(server)
    heading(page, "Recsys Workbench").wait_for()
    settle(page)
    assert_no_exception(page)
    assert combobox(page, "Active dataset").input_value().startswith(DEMO)

    # Train: the suggested split (the demo has timestamps: leave the last one out), then
    # the three reference models in one click.
    open_page(page, "Train")
    split = combobox(page, "Split")
    assert split.input_value() == "New split…"
    page.get_by_role("button", name="Create split", exact=True).click()
    heading(page, "2 · Models").wait_for()
    settle(page)
    split_label = split.input_value()
    assert split_label.startswith("leave-last-1"), split_label
    page.get_by_role("button", name="Train all reference models", exact=True).click()
    note = page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Queued run")
    note.wait_for()
    ids = [int(i) for i in re.findall(r"\d+", note.inner_text().split(".")[0])]
    assert len(ids) == 3, note.inner_text()
    wait_succeeded(page, ids)
    models = {}
    for rid in ids:
        text = status_line(page, rid, "succeeded").first.inner_text()
        models[re.search(rf"Run {rid} · ([\w-]+)", text).group(1)] = rid
    assert set(models) == set(REFERENCE), models
    assert_no_exception(page)
    timings["train"] = time.monotonic() - t0

    # Compare: the leaderboard lists the three runs.
    t1 = time.monotonic()
    open_page(page, "Compare")
    assert "3 finished runs" in combobox(page, "Split").input_value()
    heading(page, "Leaderboard").wait_for()
    board = grid_rows(page.locator("[data-testid=stDataFrame]").first)
    assert {r["Run"] for r in board} == {str(i) for i in ids}, board
    assert {r["Model"].rstrip(" ★") for r in board} == set(REFERENCE), board
    assert all(r["Model"].endswith("★") for r in board), board  # all reference models
    assert all(re.match(r"0\.\d{3}", r["Ranking quality · NDCG@10"]) for r in board), board

    # A/B: baseline A = popularity, candidate B = ease.
    heading(page, "A/B test: is the candidate really better?").wait_for()
    choose(page, "Baseline A (what you have today)", f"Popularity (run {models['Popularity']})")
    choose(page, "Candidate B (what you might switch to)", f"EASE (run {models['EASE']})")
    assert combobox(page, "Baseline A (what you have today)").input_value() == (
        f"Popularity (run {models['Popularity']})"
    )
    assert combobox(page, "Candidate B (what you might switch to)").input_value() == (
        f"EASE (run {models['EASE']})"
    )
    page.get_by_role("button", name="Compare A and B", exact=True).click()
    # the decision comes first, in plain words; the statistical verdict follows under "Why"
    decision = page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Switch to")
    decision.wait_for()
    settle(page)
    assert_no_exception(page)
    headline = decision.get_by_role("heading").inner_text().strip()  # not the icon's name
    assert headline == f"Switch to EASE (run {models['EASE']})", headline
    verdict = page.locator("[data-testid=stMarkdown]").filter(has_text="raises NDCG@10 by").first
    sentence = verdict.inner_text().strip()
    assert sentence.startswith(f"EASE (run {models['EASE']}) raises NDCG@10 by "), sentence
    assert f"over Popularity (run {models['Popularity']})" in sentence, sentence
    assert decision.bounding_box()["y"] < verdict.bounding_box()["y"]
    badge = page.locator("[data-testid=stMain]").get_by_text("Statistical verdict: Better")
    assert badge.count() >= 1, "no 'Better' verdict badge"
    page.get_by_role("button", name="Download the report (HTML)").wait_for()
    snap(page, "journey-compare")  # for review

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the report (HTML)").click()
    download = info.value
    assert download.suggested_filename == (
        f"compare_run{models['Popularity']}_vs_run{models['EASE']}.html"
    )
    report = Path(download.path()).read_text(encoding="utf-8")
    assert "<html" in report.lower()
    assert headline in html.unescape(report), headline
    assert sentence in html.unescape(report), sentence
    timings["compare"] = time.monotonic() - t1

    # Explain, reached from the decision: the EASE run's cards, a reason badged exact.
    t2 = time.monotonic()
    why = f"See why EASE (run {models['EASE']}) recommends what it does"
    page.get_by_role("button", name=re.compile(re.escape(why) + "$")).click()
    heading(page, "Explain").wait_for()
    settle(page)
    assert re.match(rf"Run {models['EASE']} · EASE · ", combobox(page, "Model run").input_value())
    page.get_by_role("heading", name=re.compile(r"^Top \d+ for user ")).wait_for()
    settle(page)
    assert_no_exception(page)
    ranks = [rank for rank, _ in cards(page)]
    assert ranks == list(range(1, 11)), ranks
    first = (
        page.locator("[data-testid=stExpander]")
        .filter(has=page.locator("summary", has_text="Why this item?"))
        .first
    )
    first.locator("summary").click()
    reason = first.locator("[data-testid=stMarkdownContainer]").filter(
        has_text=re.compile(r"^Because you interacted with")
    )
    reason.first.wait_for()
    badge = reason.first.inner_text().strip()  # the title, then its fidelity badge
    assert re.search(r"\bexact$", badge), badge
    settle(page)
    assert_no_exception(page)
    snap(page, "journey-explain")  # for review

    # What-if: a new user picks three titles and gets a list.
    view = page.get_by_role("radiogroup", name="View").get_by_role(
        "radio", name="What-if / new user"
    )
    view.click()  # a segmented control: its options are radios
    heading(page, "What-if: build a history").wait_for()
    settle(page)
    page.get_by_text("Pick a few items to see recommendations for a new user.").wait_for()
    history = "History (search items by title; add or remove to see the list change)"
    for n, title in enumerate(WHAT_IF_TITLES, start=1):
        choose(page, history, re.compile(rf"^{re.escape(title)} · id \d+$"), typed=title)
        page.keyboard.press("Escape")  # close the option list
        page.get_by_text(re.compile(rf"^{n} items? · answered in \d+ ms$")).wait_for()
        settle(page)
    assert_no_exception(page)
    shown = cards(page)
    assert [rank for rank, _ in shown] == list(range(1, 11)), shown
    titles = {title for _, title in shown}
    assert not titles & set(WHAT_IF_TITLES), shown  # the history is not recommended back
    snap(page, "journey-explain-whatif")  # for review
    timings["explain"] = time.monotonic() - t2
    print("timings:", {k: f"{v:.1f} s" for k, v in timings.items()})
