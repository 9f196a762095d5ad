"""Browser journey (issue 17, "Done when"): a real review log as item content.

The Amazon Musical Instruments reviews CSV alone is uploaded through the Data page; the
guessed mapping keeps its review text (reviewText, summary) as item content and says it is
read from the training fold only. A split is made, Content-based and Hybrid are trained with
the Quick preset, and Explain shows "Matches your taste for …" keywords that are real words
of the training reviews: not stop-words, not numbers, and not words found in most products'
reviews. Skipped when the data set is not in ../shared/data.

Screenshots for review: ``test-artifacts/reviews-*.png``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser_support import (
    assert_no_exception,
    combobox,
    heading,
    open_page,
    settle,
    shown_status,
    snap,
)
from conftest import shared_dataset
from test_browser_journey import cards, choose, page, server  # noqa: F401  (fixtures by name)

from recsys_engine.models.features import stop_words
from recsys_engine.store import Store

pytestmark = pytest.mark.browser

CSV_NAME = "Musical_instruments_reviews.csv"
LOAD_TIMEOUT_MS = 120_000
#: Content-based and Hybrid, Quick preset, 10k reviews: about 15 s and 45 s of wall time
#: from the CLI on a quiet machine; the bound allows for the 2 cores being shared.
TRAIN_TIMEOUT_S = 600
TASTE = re.compile(r"Matches your taste for (.+?): your content profile")


def wait_finished(pg, run_ids: list[int]) -> None:
    """Wait until every run's card says succeeded; fail as soon as one ends otherwise."""
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    shown: dict[int, str | None] = {}
    while time.monotonic() < deadline:
        shown = {rid: shown_status(pg, rid) for rid in run_ids}
        if all(s == "succeeded" for s in shown.values()):
            return
        bad = {r: s for r, s in shown.items() if s in ("failed", "cancelled", "interrupted")}
        if bad:
            pytest.fail(f"runs ended badly: {bad}")
        pg.wait_for_timeout(1000)
    pytest.fail(f"runs not all succeeded after {TRAIN_TIMEOUT_S} s: {shown}")


def taste_keywords(pg) -> list[list[str]]:
    """The quoted keywords of every "Matches your taste for …" summary on the page."""
    texts = pg.locator("[data-testid=stMarkdownContainer]").filter(has_text=TASTE)
    out = []
    for t in texts.all_text_contents():
        found = TASTE.search(t)
        if found:
            out.append(re.findall(r"“([^”]+)”", found.group(1)))
    return out


def explain_run(pg, run_id: int, title: str) -> list[list[str]]:
    """Open a run on Explain, unfold every "Why this item?" and read the taste keywords."""
    choose(pg, "Model run", re.compile(rf"^Run {run_id} · {re.escape(title)} · "))
    pg.get_by_role("heading", name=re.compile(r"^Top \d+ for user ")).wait_for()
    settle(pg)
    assert_no_exception(pg)
    whys = pg.locator("[data-testid=stExpander] summary").filter(has_text="Why this item?")
    for i in range(whys.count()):  # open the closed ones (a rerun may keep them open)
        if not whys.nth(i).evaluate("el => el.closest('details').open"):
            whys.nth(i).click()
    pg.get_by_text(TASTE).first.wait_for()
    settle(pg)
    assert_no_exception(pg)
    return taste_keywords(pg)


def test_review_log_as_item_content(server: str, page, tmp_path: Path) -> None:  # noqa: F811
    csv = shared_dataset("amazon-musical-instruments-5core") / CSV_NAME
    if not csv.is_file():
        pytest.skip(f"{csv} not available")
    page.goto(server)
    heading(page, "Recsys Workbench").wait_for()
    settle(page)

    # Data: the CSV alone; the review text is kept as item content, training fold only.
    open_page(page, "Data")
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(csv))
    page.locator("[data-testid=stExpander] summary").filter(has_text=CSV_NAME).wait_for()
    settle(page)
    kept = page.locator("[data-testid=stMultiSelect]").filter(
        has_text="Review text (item content)"
    )
    tags = kept.locator("[data-tag]")  # the chips of the chosen columns
    tags.first.wait_for()
    chips = [tags.nth(i).get_attribute("aria-label") for i in range(tags.count())]
    assert chips == ["reviewText", "summary"], chips
    note = page.get_by_text(re.compile(r"training fold only — never validation or test"))
    assert note.count() == 1
    snap(page, "reviews-mapping")
    page.get_by_role("button", name="Validate and load").click()
    success = page.locator("[data-testid=stAlertContentSuccess]")
    success.filter(has_text="10,261 interactions").wait_for(timeout=LOAD_TIMEOUT_MS)
    settle(page)
    assert_no_exception(page)

    # Train: a split, then Content-based and Hybrid (Quick preset); the picker offers both.
    open_page(page, "Train")
    assert combobox(page, "Split").input_value() == "New split…"
    page.get_by_role("button", name="Create split", exact=True).click()
    heading(page, "2 · Models").wait_for()
    settle(page)
    page.get_by_role("radiogroup", name="Preset").get_by_text("Quick", exact=True).click()
    settle(page)
    for title in ("Content-based", "Hybrid"):
        box = page.get_by_role("checkbox", name=title, exact=True)
        assert box.is_enabled(), f"{title} is not offered"
        page.locator("[data-testid=stCheckbox]").filter(has_text=title).first.click()
        settle(page)
    assert page.get_by_text(re.compile(r"^Content-based and Hybrid: Review text")).count() == 1
    snap(page, "reviews-picker")
    t0 = time.monotonic()
    page.get_by_role("button", name="Train 2 models", exact=True).click()
    queued = page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Queued run")
    queued.wait_for()
    ids = [int(i) for i in re.findall(r"\d+", queued.inner_text().split(".")[0])]
    assert len(ids) == 2, queued.inner_text()
    wait_finished(page, ids)
    assert_no_exception(page)
    print(f"trained both in {time.monotonic() - t0:.0f} s")

    # The words the models could learn: the training fold's reviews, per item.
    store = Store(tmp_path / "db.duckdb")  # the server shares the file (per unit of work)
    try:
        did = int(store.list_datasets()["id"].max())
        sid = int(store.list_splits(did)["id"].max())
        train = store.train_review_texts(did, sid)
        runs = store.list_runs().set_index("id")["model"].to_dict()
    finally:
        store.close()
    words = train.assign(word=train["text"].str.lower().str.findall(r"\w+")).explode("word")
    items_per_word = words.drop_duplicates(["item_id", "word"]).groupby("word").size()
    n_items = train["item_id"].nunique()
    stop = set(stop_words())

    # Explain: each run's taste keywords are meaningful words of the training reviews.
    assert n_items > 800  # nearly every product has training reviews
    open_page(page, "Explain")
    seen = {}
    for rid in ids:
        title = {"content": "Content-based", "hybrid": "Hybrid"}[runs[rid]]
        keywords = explain_run(page, rid, title)
        snap(page, f"reviews-explain-{runs[rid]}")
        flat = [k for ks in keywords for k in ks]
        assert flat, f"no taste keywords for run {rid}"
        for k in flat:
            assert k not in stop, (k, keywords)
            assert re.search(r"[a-z]", k), (k, keywords)  # a word, not a number
            assert k in items_per_word.index, f"{k!r} is not in the training reviews"
        # Mostly product words: found in the reviews of at most a quarter of the products
        # ("banjo", "mic"), not words every review uses ("great", "guitar", "received").
        share = {k: round(float(items_per_word[k]) / n_items, 3) for k in set(flat)}
        specific = [k for k in flat if share[k] <= 0.25]
        assert len(specific) >= len(flat) / 2, share
        print(f"run {rid} ({runs[rid]}) keyword shares of products:", share)
        # items without a title are labelled by their id once, never "B0… (B0…)"
        assert not [t for _, t in cards(page) if re.fullmatch(r"(\S+) \(\1\)", t)]
        seen[runs[rid]] = keywords
    print("taste keywords:", seen)
