"""Browser journey (issue 18): an event log with a context column, end to end.

A small CSV (user, item, time, device) is uploaded through the Data page with ``device``
mapped as context → Train: a leave-last split (with a validation event per user), then
SASRec with ``use_context`` (tiny settings from the Quick preset) and EASE → Compare:
EASE (A) against SASRec (B) → Explain: the SASRec run's items show "The context of this
moment", verified by re-scoring with the neutral context, and the "Because you interacted
with" table keeps its "steps ago" column inside the card. Changing the device re-ranks.

The log is planted: users come in 4 groups; on device A an event picks one of the group's
items 0–19, on B one of 20–39 (devices in random order), so the device of the event to
predict says which half comes next.

Screenshots for review: ``test-artifacts/context-*.png``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    assert_no_exception,
    combobox,
    grid_rows,
    heading,
    open_page,
    settle,
    snap,
)
from test_browser_journey import cards, choose, page, server  # noqa: F401  (fixtures by name)
from test_browser_reviews import wait_finished

pytestmark = pytest.mark.browser

CSV_NAME = "device_events.csv"
DATASET = "Device events"
#: SASRec (Quick preset, 20 epochs of 4 batches) and EASE on 60 users × 8 events.
TRAIN_TIMEOUT_S = 300
#: Item ids as long as film titles (they are the titles here), so the card's history table
#: has to fit a long title next to its numbers.
ITEM = "item {:02d} of the long-named catalogue"
CONTEXT_LINE = re.compile(r"In this context \(device [AB]\) this item ")


def write_log(path: Path, n_users: int = 60, seed: int = 0) -> Path:
    """The planted device log as CSV (unix seconds, one event an hour per user)."""
    rng = np.random.default_rng(seed)
    lines = ["user,item,time,device"]
    for u in range(n_users):
        g = u % 4
        a = list(rng.permutation(np.arange(5) + 5 * g))
        b = list(rng.permutation(20 + np.arange(5) + 5 * g))
        for t, d in enumerate(rng.permutation(["A"] * 4 + ["B"] * 4)):
            item = a.pop() if d == "A" else b.pop()
            lines.append(f"u{u:02d},{ITEM.format(item)},{1_704_067_200 + 3600 * t},{d}")
    path.write_text("\n".join(lines) + "\n")
    return path


def fill_number(pg, label: str, value: int) -> None:
    """Type ``value`` into the number input labelled ``label`` and commit it."""
    box = pg.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    settle(pg)


def test_context_log_trains_compares_and_explains(server: str, page, tmp_path: Path) -> None:  # noqa: F811
    csv = write_log(tmp_path / CSV_NAME)
    page.goto(server)
    heading(page, "Recsys Workbench").wait_for()
    settle(page)

    # Data: upload; no rating column (implicit), device mapped as context.
    open_page(page, "Data")
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(csv))
    page.locator("[data-testid=stExpander] summary").filter(has_text=CSV_NAME).wait_for()
    settle(page)
    if combobox(page, "Rating or weight column").input_value() != "— none —":
        choose(page, "Rating or weight column", "— none —")
    assert combobox(page, "Timestamp column").input_value() == "time"
    label = "Context columns (device, country, channel…)"
    ctx = page.locator("[data-testid=stMultiSelect]").filter(has_text=label)
    if ctx.locator("[data-tag]").filter(has_text="device").count() == 0:
        choose(page, label, re.compile(r"^device$"))
        page.keyboard.press("Escape")
        settle(page)
    chips = ctx.locator("[data-tag]")
    assert [chips.nth(i).get_attribute("aria-label") for i in range(chips.count())] == ["device"]
    name = page.get_by_label("Dataset name", exact=True)
    name.fill(DATASET)
    name.press("Enter")
    settle(page)
    page.get_by_role("radiogroup", name="Feedback").get_by_text("implicit", exact=False).click()
    settle(page)
    snap(page, "context-mapping")
    page.get_by_role("button", name="Validate and load").click()
    success = page.locator("[data-testid=stAlertContentSuccess]")
    success.filter(has_text="480 interactions").wait_for()
    settle(page)
    assert_no_exception(page)

    # Train: a leave-last split with one validation event per user, then EASE and SASRec.
    open_page(page, "Train")
    assert combobox(page, "Active dataset").input_value().startswith(DATASET)
    choose(page, "Strategy", "leave the last N per user")
    fill_number(page, "Validation last", 1)
    page.get_by_role("button", name="Create split", exact=True).click()
    heading(page, "2 · Models").wait_for()
    settle(page)
    assert combobox(page, "Split").input_value().startswith("leave-last")
    page.get_by_role("radiogroup", name="Preset").get_by_text("Quick", exact=True).click()
    settle(page)
    for title in ("EASE", "SASRec"):
        box = page.get_by_role("checkbox", name=title, exact=True)
        assert box.is_enabled(), f"{title} is not offered"
        page.locator("[data-testid=stCheckbox]").filter(has_text=title).first.click()
        settle(page)
    form = page.locator("[data-testid=stExpander]").filter(
        has=page.locator("summary", has_text="SASRec — causal self-attention")
    )
    form.locator("summary").first.click()
    settle(page)
    fill_number(page, "Epochs", 20)
    form.locator("summary").filter(has_text="Advanced settings").click()
    settle(page)
    fill_number(page, "Batch size", 16)
    form.locator("[data-testid=stCheckbox]").filter(has_text="Use context").first.click()
    settle(page)
    assert form.get_by_role("checkbox", name="Use context", exact=True).is_checked()
    snap(page, "context-train")
    page.get_by_role("button", name="Train 2 models", exact=True).click()
    queued = page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Queued run")
    queued.wait_for()
    ids = [int(i) for i in re.findall(r"\d+", queued.inner_text().split(".")[0])]
    assert len(ids) == 2, queued.inner_text()
    ease_run, sasrec_run = ids
    t0 = time.monotonic()
    wait_finished(page, ids)
    print(f"trained both in {time.monotonic() - t0:.0f} s")
    assert_no_exception(page)

    # Compare: EASE (A) against the context-aware SASRec (B).
    open_page(page, "Compare")
    heading(page, "A/B test: is the candidate really better?").wait_for()
    choose(page, "Baseline A (what you have today)", f"EASE (run {ease_run})")
    choose(page, "Candidate B (what you might switch to)", f"SASRec (run {sasrec_run})")
    page.get_by_role("button", name="Compare A and B", exact=True).click()
    page.get_by_role("button", name="Download the report (HTML)").wait_for()
    settle(page)
    assert_no_exception(page)
    verdict = page.locator("[data-testid=stMarkdown]").filter(
        has_text=re.compile(rf"SASRec \(run {sasrec_run}\) (raises|lowers|changes) NDCG@10")
    )
    assert verdict.count() >= 1
    snap(page, "context-compare")

    # Explain: the SASRec run; each item's context part, verified by re-scoring.
    open_page(page, "Explain")
    choose(page, "Model run", re.compile(rf"^Run {sasrec_run} · SASRec · "))
    page.get_by_role("heading", name=re.compile(r"^Top \d+ for user ")).wait_for()
    settle(page)
    assert_no_exception(page)
    assert [rank for rank, _ in cards(page)] == list(range(1, 11))
    device = combobox(page, "device")
    first_device = device.input_value()
    assert first_device in ("A", "B"), first_device  # the test event's own device
    why = page.locator("[data-testid=stExpander]").filter(
        has=page.locator("summary", has_text="Why this item?")
    )
    why.first.locator("summary").click()
    settle(page)
    reason = why.first.locator("[data-testid=stMarkdownContainer]").filter(
        has_text=re.compile(r"^The context of this moment")
    )
    reason.first.wait_for()
    assert re.search(r"verified by re-scoring$", reason.first.inner_text().strip())
    assert why.first.get_by_text(CONTEXT_LINE).count() == 1
    because = why.first.locator("[data-testid=stMarkdownContainer]").filter(
        has_text=re.compile(r"^Because you interacted with")
    )
    assert because.count() == 1
    # the history table shows each item's recency ("steps ago") first, and every column
    # fits the card
    table = why.first.locator("[data-testid=stDataFrame]").first
    rows = grid_rows(table)
    assert list(rows[0]) == ["steps ago", "title", "contribution", "without it"], rows[0]
    assert sorted(int(r["steps ago"]) for r in rows) == list(range(1, len(rows) + 1)), rows
    hidden = table.evaluate(
        "el => { const s = el.querySelector('.dvn-scroller');"
        " return s ? s.scrollWidth - s.clientWidth : null; }"
    )
    assert hidden is not None and hidden <= 1, f"{hidden} px of the table scroll out of view"
    snap(page, "context-explain")

    # Another device re-ranks the list.
    before = cards(page)
    other = "A" if first_device == "B" else "B"
    choose(page, "device", re.compile(rf"^{other}$"))
    assert device.input_value() == other
    # the choice starts a rerun that may begin after ``settle`` saw the page idle: wait
    # (bounded) for the redrawn list rather than read the old one
    after = before
    deadline = time.monotonic() + 30
    while after == before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        settle(page)
        after = cards(page)
    assert_no_exception(page)
    assert after != before
    snap(page, "context-explain-other-device")
