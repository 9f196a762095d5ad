"""Browser journey (issue 8): the four Last.fm HetRec 2K files uploaded through the Data
page's real file input, the guessed mapping checked, loaded, and counted.

Uses the server, browser and page fixtures of ``test_browser`` (its own server and empty
database when this file runs alone). Skipped when the data set is not in ../shared/data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_browser import (  # noqa: F401  (fixtures are used by name)
    LOAD_TIMEOUT_MS,
    assert_no_exception,
    browser,
    open_page,
    page,
    selected,
    server,
    settle,
    snap,
    upload,
)

pytestmark = pytest.mark.browser

LASTFM = Path(__file__).resolve().parents[3] / "shared" / "data" / "hetrec2011-lastfm-2k"
FILES = ("user_artists.dat", "artists.dat", "tags.dat", "user_taggedartists.dat")


def test_upload_lastfm_hetrec(server: str, page) -> None:  # noqa: F811
    paths = [LASTFM / n for n in FILES]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"Last.fm HetRec files not available in {LASTFM}")
    page.goto(server)
    page.get_by_role("heading", name="Recsys Workbench", exact=True).wait_for()
    settle(page)
    open_page(page, "Data")
    upload(page, *paths)

    # one expander per file, each with its guessed role
    expanders = page.locator("[data-testid=stExpander] summary").all_inner_texts()
    titles = {e.split("📄")[-1].strip() for e in expanders if "—" in e}
    assert {
        "user_artists.dat — interactions",
        "artists.dat — items",
        "tags.dat — tag_names",
        "user_taggedartists.dat — tags",
    } <= titles, titles
    # interactions: user, artist and the play count as weight, no timestamp
    assert selected(page, "User id column") == "userID"
    assert selected(page, "Item id column") == "artistID"
    assert selected(page, "Rating or weight column") == "weight"
    assert selected(page, "Timestamp column") == "— none —"
    assert selected(page, "Title column") == "name"  # artists.dat
    assert page.get_by_role("radio", name="implicit", exact=True).is_checked()
    assert not page.get_by_role("radio", name="explicit", exact=True).is_checked()
    assert page.get_by_role("textbox", name="Dataset name").input_value() == "Last.fm HetRec 2K"
    assert page.get_by_text("the mapped value column (if any) is a weight").count() == 1
    assert_no_exception(page)
    snap(page, "data-upload-lastfm-mapping")

    page.get_by_role("button", name="Validate and load").click()
    success = page.locator("[data-testid=stAlertContentSuccess]")
    success.filter(has_text="92,834 interactions").wait_for(timeout=LOAD_TIMEOUT_MS)
    settle(page)
    assert_no_exception(page)
    text = success.inner_text()
    assert "Last.fm HetRec 2K" in text and "1,892 users" in text, text
    assert selected(page, "Active dataset").startswith("Last.fm HetRec 2K")
    snap(page, "data-upload-lastfm-loaded")
