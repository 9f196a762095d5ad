"""Browser journeys: the real server in headless Debian chromium, driven by Playwright.

One server (temporary database) serves the session; each journey gets a fresh browser
context, i.e. a new Streamlit session. A failing journey leaves a screenshot in
``test-artifacts/<test name>.png``; passing journeys also save screenshots for review there
(every page, the upload mapping, the problem table, the profile). Run only these with
``pytest -m browser``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    DEMO,
    REPO,
    TIMEOUT_MS,
    assert_no_exception,
    grid_rows,
    open_page,
    serve,
    settle,
    shots_on_failure,
    snap,
    table_rows,
)

pytestmark = pytest.mark.browser

ML_SMALL = REPO.parent / "shared" / "data" / "ml-latest-small"
LOAD_TIMEOUT_MS = 120_000  # validating and loading 100k rows
PAGES = ["Home", "Data", "Train", "Compare", "Explain", "Models"]
BROKEN_CSV = (
    "user_id,item_id,rating,timestamp\n"
    "1,10,4,1600000000\n"
    "1,11,5,1600000001\n"
    "2,10,3,1600000002,99\n"  # line 4: five fields
    "2,12,abc,1600000003\n"  # line 5: the rating is not a number
    "3,11,2,1600000004\n"
)


# -- server and browser -------------------------------------------------------------------
@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server with an empty database for this file's journeys; yields its URL."""
    with serve(tmp_path_factory.mktemp("browser_server")) as url:
        yield url


@pytest.fixture(scope="session")
def browser(server: str, chromium_browser):
    return chromium_browser


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A new session's page; on failure a screenshot goes to test-artifacts/<test>.png."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    failed_before = request.session.testsfailed
    yield pg
    shots_on_failure(request, failed_before, [pg])
    context.close()


# -- helpers ------------------------------------------------------------------------------
def metric(pg, label: str) -> str:
    box = pg.locator("[data-testid=stMetric]:visible").filter(
        has=pg.locator("[data-testid=stMetricLabel]", has_text=re.compile(f"^{re.escape(label)}$"))
    )
    return box.locator("[data-testid=stMetricValue]").first.inner_text().strip()


def selected(pg, label: str, nth: int = 0) -> str:
    """The shown value of the ``nth`` select box with this label."""
    return pg.get_by_role("combobox", name=label, exact=True).nth(nth).input_value()


def upload(pg, *paths: Path) -> None:
    pg.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(
        [str(p) for p in paths]
    )
    pg.get_by_role("combobox", name="User id column", exact=True).first.wait_for()
    settle(pg)


# -- journeys (in file order: the Home check sees the database as on first start) -----------
def test_home_shows_demo_and_every_page_opens(server: str, page) -> None:
    """Journey C: first start shows the demo dataset; every page opens without an error."""
    page.goto(server)
    page.get_by_role("heading", name="Recsys Workbench", exact=True).wait_for()
    settle(page)
    assert_no_exception(page)
    assert metric(page, "Datasets") == "1"
    names = [r["name"] for r in table_rows(page.locator("[data-testid=stTable]").first)]
    assert names == [DEMO]
    assert selected(page, "Active dataset").startswith(DEMO)
    for name in [*PAGES[1:], "Home"]:
        open_page(page, name)
        if name != "Home":
            snap(page, f"page-{name.lower()}")  # for review
    page.get_by_role("heading", name="Datasets", exact=True).wait_for()


def test_broken_csv_shows_problem_table(server: str, page, tmp_path: Path) -> None:
    """Journey B: a ragged row and a non-numeric rating are named by file and line."""
    page.goto(server)
    page.get_by_role("heading", name="Recsys Workbench", exact=True).wait_for()
    settle(page)
    datasets_before = metric(page, "Datasets")
    broken = tmp_path / "broken_ratings.csv"
    broken.write_text(BROKEN_CSV)
    open_page(page, "Data")
    upload(page, broken)
    page.get_by_role("button", name="Validate and load").click()
    page.get_by_text(re.compile(r"\d+ problems? found")).wait_for()
    settle(page)
    assert_no_exception(page)
    assert page.get_by_text("nothing was loaded", exact=False).count() >= 1
    grid = page.locator("[data-testid=stDataFrame]").filter(
        has=page.locator("[role=columnheader]", has_text="problem")
    )
    grid.locator("[role=gridcell]").first.wait_for(state="attached")
    rows = grid_rows(grid)
    assert {r["file"] for r in rows} == {"broken_ratings.csv"}
    by_line = {r["line"]: r["problem"] for r in rows}
    assert set(by_line) == {"4", "5"}, rows
    assert "ragged" in by_line["4"]
    assert "'abc'" in by_line["5"] and "not a number" in by_line["5"]
    snap(page, "data-upload-problems")
    open_page(page, "Home")
    assert metric(page, "Datasets") == datasets_before


def test_upload_movielens_and_see_profile(server: str, page) -> None:
    """Journey A (the issue's): upload MovieLens latest-small, map, load, read the profile."""
    ratings, movies = ML_SMALL / "ratings.csv", ML_SMALL / "movies.csv"
    if not (ratings.is_file() and movies.is_file()):
        pytest.skip(f"MovieLens latest-small not available in {ML_SMALL}")
    page.goto(server)
    page.get_by_role("heading", name="Recsys Workbench", exact=True).wait_for()
    settle(page)
    open_page(page, "Data")
    upload(page, ratings, movies)
    expanders = page.locator("[data-testid=stExpander] summary").all_inner_texts()
    assert any("ratings.csv" in e and "interactions" in e for e in expanders), expanders
    assert any("movies.csv" in e and "items" in e for e in expanders), expanders
    assert selected(page, "User id column") == "userId"
    assert selected(page, "Item id column") == "movieId"  # the first: ratings.csv
    assert selected(page, "Rating or weight column") == "rating"
    assert selected(page, "Timestamp column") == "timestamp"
    assert selected(page, "Item id column", nth=1) == "movieId"  # movies.csv
    assert selected(page, "Title column") == "title"
    assert_no_exception(page)
    snap(page, "data-upload-mapping")

    page.get_by_role("button", name="Validate and load").click()
    success = page.locator("[data-testid=stAlertContentSuccess]")
    success.filter(has_text="100,836 interactions").wait_for(timeout=LOAD_TIMEOUT_MS)
    settle(page)
    assert_no_exception(page)
    assert "610 users" in success.inner_text()
    assert selected(page, "Active dataset").startswith("MovieLens latest")

    page.get_by_role("tab", name="Profile").click()
    page.get_by_role("heading", name="Profile of MovieLens latest").wait_for()
    charts = page.locator("[data-testid=stPlotlyChart]:visible .js-plotly-plot")
    charts.nth(3).wait_for()
    settle(page)
    assert charts.count() == 4
    assert metric(page, "Interactions") == "100,836"
    assert metric(page, "Users") == "610"
    assert_no_exception(page)
    snap(page, "data-profile")
