"""AppTest (``streamlit.testing.v1``) for every page: the app frame with navigation, and each
page file run on its own. Every test gets its own temporary database, so the demo dataset is
loaded on first start exactly as for a new user."""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
TIMEOUT = 60  # seconds per run; the first run imports and loads the demo dataset
DEMO = "Demo: movie nights"
TITLES = {
    "home": "Recsys Workbench",
    "data": "Data",
    "train": "Train",
    "compare": "Compare",
    "explain": "Explain",
    "models": "Models",
}
FIRST_LOAD = "first load a dataset on the data page"

# A tiny MovieLens-shaped upload whose counts are known by hand: 30 users, each rating the
# 10 items i with (u + i) % 4 == 0, so 300 unique pairs covering all 40 items.
N_USERS, N_ITEMS = 30, 40
PAIRS = [(u, i) for u in range(1, N_USERS + 1) for i in range(1, N_ITEMS + 1) if (u + i) % 4 == 0]
RATINGS_CSV = (
    "userId,movieId,rating,timestamp\n"
    + "".join(f"{u},{i},{(u * i) % 5 + 1},{1_600_000_000 + 1000 * u + i}\n" for u, i in PAIRS)
).encode()
MOVIES_CSV = (
    "movieId,title,genres\n"
    + "".join(
        f"{i},Movie {i} (2001),{'Drama|Comedy' if i % 2 else 'Action'}\n"
        for i in range(1, N_ITEMS + 1)
    )
).encode()
# Line 4 has a fifth field (ragged row); line 5 has a rating that is not a number.
BROKEN_CSV = (
    b"user_id,item_id,rating,timestamp\n"
    b"1,10,4,1600000000\n"
    b"1,11,5,1600000001\n"
    b"2,10,3,1600000002,99\n"
    b"2,12,abc,1600000003\n"
    b"3,11,2,1600000004\n"
)


@pytest.fixture(autouse=True)
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new database file for each test and no cached Store left from another test."""
    db = tmp_path / "db.duckdb"
    monkeypatch.setenv("RECSYS_DB", str(db))
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))  # page files import ui and recsys_engine
    st.cache_resource.clear()
    st.cache_data.clear()
    yield db
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()  # lets the dropped Store close its DuckDB connection


# -- helpers ------------------------------------------------------------------------------
def open_app(page: str | None = None) -> AppTest:
    """Run the app from ``app.py`` and optionally switch to one page."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page is not None:
        go(at, page)
    return at


def go(at: AppTest, page: str) -> None:
    """Switch page through the navigation and check it rendered without an exception."""
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value == TITLES[page]


def rerun(at: AppTest) -> None:
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def values(elements) -> list[str]:
    return [str(e.value) for e in elements]


def text_of(at: AppTest) -> str:
    """Everything a reader sees as prose on the page, lower-cased."""
    parts = [
        *values(at.markdown),
        *values(at.info),
        *values(at.caption),
        *values(at.warning),
        *values(at.error),
        *values(at.success),
        *values(at.subheader),
    ]
    return "\n".join(parts).lower()


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r} among {[m.label for m in at.metric]}"
    return found[0]


def widget(elements, label: str):
    found = [w for w in elements if w.label == label]
    assert found, f"no widget {label!r} among {[w.label for w in elements]}"
    return found[0]


def open_tab(at: AppTest, label: str) -> None:
    """Open one of the Data page's tabs (only the open tab's code runs)."""
    at.session_state["data_tab"] = label
    rerun(at)


def managed_datasets(at: AppTest) -> list[str]:
    """Dataset names listed in the Manage tab (expanders titled '<name> — <n> interactions')."""
    pattern = re.compile(r"^(.+) — [\d,]+ interactions$")
    return [m.group(1) for e in at.expander if (m := pattern.match(plain(e.label)))]


def plain(markdown: str) -> str:
    """Markdown source with the backslash escapes of user text removed (what is seen)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def problems_frame(at: AppTest):
    """The problems table (the data frame that has a 'problem' column)."""
    frames = [d.value for d in at.dataframe if "problem" in d.value.columns]
    assert frames, "no problems table shown"
    return frames[0]


# -- Home ---------------------------------------------------------------------------------
def test_home_shows_demo_dataset_on_first_start() -> None:
    at = open_app()
    assert at.title[0].value == TITLES["home"]
    assert metric(at, "Datasets") == "1"
    assert metric(at, "Model runs") == "0"
    table = at.table[0].value
    assert [plain(n) for n in table["name"]] == [DEMO]
    # the counts are shown with thousands separators, as in the tiles above the table
    assert metric(at, "Interactions stored") == table["interactions"].iloc[0]
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", table["interactions"].iloc[0])
    assert "no model has been trained yet" in text_of(at)
    picker = widget(at.sidebar.selectbox, "Active dataset")
    assert len(picker.options) == 1 and picker.options[0].startswith(DEMO)


# -- Data: upload, validate, load, profile --------------------------------------------------
def test_data_upload_maps_validates_loads_and_profiles(monkeypatch) -> None:
    at = open_app("data")
    assert [t.label for t in at.tabs] == ["Upload", "Profile", "Manage datasets"]
    # only the open tab runs: no profile charts or dataset forms behind the Upload tab
    assert not at.get("plotly_chart") and not at.expander and not at.text_input
    loaded = [c for c in values(at.caption) if c.startswith("Already loaded:")]
    assert len(loaded) == 1 and DEMO in plain(loaded[0])  # the demo, before any upload
    open_tab(at, "Profile")
    assert len(at.get("plotly_chart")) == 4 and "profile of" in text_of(at)
    open_tab(at, "Upload")
    at.get("file_uploader")[0].set_value(
        [("ratings.csv", RATINGS_CSV, "text/csv"), ("movies.csv", MOVIES_CSV, "text/csv")]
    )
    rerun(at)
    labels = [plain(e.label) for e in at.expander]
    assert any("ratings.csv" in x and "interactions" in x for x in labels), labels
    assert any("movies.csv" in x and "items" in x for x in labels), labels
    assert widget(at.selectbox, "User id column").value == "userId"
    assert widget(at.selectbox, "Item id column").value == "movieId"
    assert widget(at.selectbox, "Rating or weight column").value == "rating"
    assert widget(at.selectbox, "Timestamp column").value == "timestamp"
    assert widget(at.radio, "Feedback").value == "explicit"
    widget(at.text_input, "Dataset name").set_value("Tiny movies")
    rerun(at)
    # a look at another tab keeps the upload in progress: files, mapping and name
    open_tab(at, "Manage datasets")
    assert managed_datasets(at) == [DEMO]
    open_tab(at, "Upload")
    assert widget(at.text_input, "Dataset name").value == "Tiny movies"
    assert widget(at.selectbox, "User id column").value == "userId"

    widget(at.button, "Validate and load").click()
    rerun(at)
    # the load ends on the new dataset's profile, with the load's figures on top
    assert at.session_state["data_tab"] == "Profile"
    success = " ".join(values(at.success))
    assert "Tiny movies" in success
    assert f"{len(PAIRS):,} interactions" in success
    assert f"{N_USERS} users" in success and f"{N_ITEMS} items" in success
    assert not at.error
    # The new dataset is active and profiled.
    assert "profile of tiny movies" in text_of(at)
    assert metric(at, "Users") == str(N_USERS)
    assert metric(at, "Items") == str(N_ITEMS)
    assert metric(at, "Interactions") == str(len(PAIRS))
    assert metric(at, "Density") == f"{len(PAIRS) / (N_USERS * N_ITEMS):.2%}"
    assert metric(at, "Feedback") == "explicit"
    charts = at.get("plotly_chart")
    assert len(charts) == 4
    for chart in charts:
        figure = json.loads(chart.proto.spec)
        assert figure["data"], "an empty figure"
    # The uploader is reset for the next upload.
    assert not at.expander or all("ratings.csv" not in plain(e.label) for e in at.expander)

    go(at, "home")
    assert metric(at, "Datasets") == "2"
    assert sorted(plain(n) for n in at.table[0].value["name"]) == sorted([DEMO, "Tiny movies"])
    # a static table shows every row it is given: Home lists the newest few and says so
    from ui import home_tables

    monkeypatch.setattr(home_tables, "ROWS", 1)
    at.run()
    assert [plain(n) for n in at.table[0].value["name"]] == ["Tiny movies"]
    assert "The 1 newest of 2 datasets; every one is under Data → Manage datasets." in [
        plain(c.value) for c in at.caption
    ]


def test_data_form_reads_the_values_once_per_file_not_per_rerun(monkeypatch) -> None:
    from recsys_engine.store.readers import FileReaders

    reads: list[str] = []
    real = FileReaders.value_range

    def counted(self, src, *args, **kwargs):
        reads.append(src.value_col)
        return real(self, src, *args, **kwargs)

    monkeypatch.setattr(FileReaders, "value_range", counted)
    at = open_app("data")
    at.get("file_uploader")[0].set_value([("ratings.csv", RATINGS_CSV, "text/csv")])
    rerun(at)
    # once, for the guess at upload; the form's caption reuses it
    assert reads == ["rating"]
    assert "Values in the file (first million rows): 1 to 5" in " ".join(values(at.caption))
    widget(at.text_input, "Dataset name").set_value("Typing a name")
    rerun(at)
    widget(at.number_input, "Highest rating").set_value(10.0)
    rerun(at)
    assert reads == ["rating"], "a widget change read the file again"
    assert "Values in the file (first million rows): 1 to 5" in " ".join(values(at.caption))
    widget(at.selectbox, "Rating or weight column").set_value("timestamp")
    rerun(at)
    assert reads[1:] == ["timestamp"]  # another column: read once more


def test_data_broken_file_shows_problems_and_loads_nothing() -> None:
    at = open_app("data")
    at.get("file_uploader")[0].set_value(("broken.csv", BROKEN_CSV, "text/csv"))
    rerun(at)
    widget(at.button, "Validate and load").click()
    rerun(at)
    assert not at.success
    assert any("nothing was loaded" in e for e in values(at.error))
    problems = problems_frame(at)
    assert set(problems["file"]) == {"broken.csv"}
    assert set(problems["severity"]) == {"error"}
    by_line = dict(zip(problems["line"].astype(int), problems["problem"], strict=True))
    assert set(by_line) == {4, 5}
    assert "ragged" in by_line[4]
    assert "'abc'" in by_line[5] and "not a number" in by_line[5]
    assert dict(zip(problems["line"].astype(int), problems["column"], strict=True))[5] == "rating"
    # Nothing was written: still only the demo dataset.
    open_tab(at, "Manage datasets")
    assert managed_datasets(at) == [DEMO]
    go(at, "home")
    assert metric(at, "Datasets") == "1"
    assert [plain(n) for n in at.table[0].value["name"]] == [DEMO]


def test_file_level_problem_shows_no_line() -> None:
    from badfiles import png_bytes

    at = open_app("data")
    at.get("file_uploader")[0].set_value(("photo.csv", png_bytes(), "text/csv"))
    rerun(at)
    widget(at.button, "Validate and load").click()
    rerun(at)
    problems = problems_frame(at)
    assert "PNG" in problems["problem"].iloc[0]
    assert list(problems["line"]) == [""]  # not "None"


def test_problems_of_an_earlier_mapping_are_cleared_when_it_changes() -> None:
    at = open_app("data")
    at.get("file_uploader")[0].set_value(("broken.csv", BROKEN_CSV, "text/csv"))
    rerun(at)
    widget(at.button, "Validate and load").click()
    rerun(at)
    assert len(problems_frame(at)) == 2
    rerun(at)  # a rerun with the same mapping keeps them
    assert len(problems_frame(at)) == 2
    widget(at.selectbox, "Rating or weight column").set_value("— none —")
    rerun(at)
    assert not [d for d in at.dataframe if "problem" in d.value.columns]
    assert not any("nothing was loaded" in e for e in values(at.error))


def test_manage_renames_and_deletes_with_confirmation() -> None:
    at = open_app("data")
    open_tab(at, "Manage datasets")
    assert managed_datasets(at) == [DEMO]

    widget(at.text_input, "New name").set_value("")  # an empty name is refused
    widget(at.button, "Rename").click()
    rerun(at)
    assert at.error
    assert managed_datasets(at) == [DEMO]

    widget(at.text_input, "New name").set_value("Renamed demo")
    widget(at.button, "Rename").click()
    rerun(at)
    assert managed_datasets(at) == ["Renamed demo"]
    assert f"Renamed {DEMO} to Renamed demo." in [plain(x) for x in values(at.success)]

    delete = widget(at.button, "Delete")
    assert delete.disabled, "Delete must wait for the confirmation checkbox"
    confirm = [c for c in at.checkbox if c.label.startswith("Delete this dataset")]
    assert len(confirm) == 1
    confirm[0].check()
    rerun(at)
    delete = widget(at.button, "Delete")
    assert not delete.disabled
    delete.click()
    rerun(at)
    assert managed_datasets(at) == []
    assert any("Deleted Renamed demo" in plain(x) for x in values(at.success))
    assert "no datasets." in text_of(at)
    open_tab(at, "Profile")
    assert "load a dataset first" in text_of(at)

    # Without any dataset every page says what to do first.
    go(at, "home")
    assert metric(at, "Datasets") == "0"
    assert "no dataset yet" in text_of(at)
    for page in ("train", "compare", "explain", "models"):
        go(at, page)
        assert FIRST_LOAD in text_of(at), page


# -- Train / Compare / Explain / Models with a dataset but no split or run ------------------
def test_train_starts_with_creating_a_split() -> None:
    at = open_app("train")
    text = text_of(at)
    assert FIRST_LOAD not in text  # the demo dataset is there
    assert "a split marks every interaction" in text
    split = widget(at.selectbox, "Split")
    assert "new split" in split.format_func(split.value).lower()  # none exists yet
    assert not any("models" in h.value.lower() for h in at.subheader)  # step 2 waits


@pytest.mark.parametrize(
    ("page", "explains", "next_step"),
    [
        ("compare", "leaderboard", "at least two finished models"),
        ("explain", "why it was recommended", "train"),
        ("models", "every training run", "no runs yet"),
    ],
)
def test_work_pages_explain_themselves_and_the_next_step(
    page: str, explains: str, next_step: str
) -> None:
    at = open_app(page)
    text = text_of(at)
    assert explains in text
    assert next_step in "\n".join(values(at.info)).lower()
    assert FIRST_LOAD not in text  # the demo dataset is there


# -- every page file on its own ---------------------------------------------------------
@pytest.mark.parametrize("page", list(TITLES))
def test_page_runs_standalone(page: str) -> None:
    at = AppTest.from_file(str(REPO / "pages" / f"{page}.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == TITLES[page]


def test_profile_after_a_load_opens_the_notes_from_loading(fresh_db: Path) -> None:
    """Right after a load, the profile says what was loaded and opens the load's notes;
    a later visit keeps them folded."""
    import pandas as pd

    from recsys_engine.store import Store
    from ui.state import FLASH

    columns = ["user_id", "item_id", "rating"]
    store = Store(fresh_db)
    did = store.create_dataset_from_frames(
        "Noted",
        pd.DataFrame([("u1", "i1", 4.0), ("u2", "i2", 3.0)], columns=columns),
        warnings=["2 rows dropped: rating out of range (line 7, line 9)"],
    )
    store.close()
    at = open_app()
    at.session_state["dataset_id"] = did
    go(at, "data")
    open_tab(at, "Profile")

    def notes() -> list[bool]:
        return [e.proto.expanded for e in at.expander if e.label.startswith("Notes from loading")]

    assert notes() == [False] and not at.success
    at.session_state[FLASH] = (f"data_loaded_{did}", "Loaded Noted: 2 interactions.")
    rerun(at)
    assert notes() == [True]
    assert [plain(v) for v in values(at.success)] == ["Loaded Noted: 2 interactions."]
    # leaving the page drops the confirmation and folds the notes again
    go(at, "home")
    go(at, "data")
    open_tab(at, "Profile")
    assert notes() == [False] and not at.success


HOSTILE = "![x](https://attacker.example/b.png) **bold** <img src=x> :smile:"


def test_names_and_warnings_from_uploads_show_as_literal_text(fresh_db: Path) -> None:
    """A dataset name, file name and load warning that look like markdown/HTML are shown
    escaped (no remote image, link, bold or emoji), on Data's Profile and Manage tabs."""
    import pandas as pd

    from recsys_engine.store import Store

    rows = [(f"u{u}", f"i{i}", 4.0) for u in range(3) for i in range(4)]
    store = Store(fresh_db)
    store.create_dataset_from_frames(
        HOSTILE,
        pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]),
        sources=[{"file": f"{HOSTILE}.csv", "role": "interactions", "bytes": 1, "sha256": "0"}],
        warnings=[f"item {HOSTILE} is not in the item file"],
    )
    store.close()
    at = open_app()
    at.sidebar.selectbox[0].select_index(0 if HOSTILE in at.sidebar.selectbox[0].options[0] else 1)
    rerun(at)
    go(at, "data")
    shown = []
    for tab in ("Profile", "Manage datasets"):
        open_tab(at, tab)
        shown += [
            *values(at.subheader),
            *values(at.warning),
            *values(at.caption),
            *[e.label for e in at.expander],
        ]
    escaped = r"\!\[x\]\(https\://attacker\.example/b\.png\) \*\*bold\*\* \<img src\=x\> \:smile\:"
    assert any(escaped in s for s in shown if s.startswith("Profile of")), shown
    assert any(escaped in s and "is not in the item file" in s for s in shown), shown
    assert any(escaped + r"\.csv" in s for s in shown), shown  # the source file's name
    assert any(s.startswith(escaped) and "interactions" in s for s in shown), shown
    assert not any("](https" in s for s in shown), shown  # no live link or image anywhere


# -- no outside requests: icons are emoji, never Google's Material Symbols font ------------
def test_no_page_or_ui_module_uses_material_icons() -> None:
    files = [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]
    files += sorted((REPO / "ui").glob("*.py"))
    offenders = [f.name for f in files if ":material/" in f.read_text(encoding="utf-8")]
    assert not offenders, f"':material/…:' icons make the browser fetch a font: {offenders}"


def test_home_getting_started_mentions_every_page() -> None:
    at = open_app()
    steps = next(m.value for m in at.markdown if "**Data**" in m.value)
    for page in ("Data", "Train", "Compare", "Explain", "Models"):
        assert f"**{page}**" in steps, page


# -- Data: review text kept as item content ------------------------------------------------
# Twelve users each review 4 of 8 products; the review body names the product's kind and
# whether it is for acoustic or electric guitars (each shared by four products).
KINDS = ["capo", "strings", "cable", "pedal", "tuner", "strap", "picks", "stand"]
STYLES = ["acoustic", "electric"]
REVIEWS_CSV = (
    "reviewerID,asin,reviewerName,overall,reviewText,summary,unixReviewTime\n"
    + "".join(
        f'U{u},P{p},Reviewer {u},{(u + p) % 5 + 1},"This {KINDS[p]} arrived quickly and the '
        f'{KINDS[p]} does what a {STYLES[p // 4]} {KINDS[p]} should do every day",'
        f'"Nice {KINDS[p]}",{1_600_000_000 + 1000 * u + p}\n'
        for u in range(12)
        for p in range(8)
        if (u + p) % 2 == 0
    )
).encode()


def test_data_mapping_keeps_review_text_as_item_content() -> None:
    at = open_app("data")
    at.get("file_uploader")[0].set_value([("reviews.csv", REVIEWS_CSV, "text/csv")])
    rerun(at)
    kept = widget(at.multiselect, "Review text (item content)")
    assert kept.value == ["reviewText", "summary"]  # guessed; reviewerName is not text
    note = " ".join(values(at.caption))
    assert "training fold only" in note and "never validation or test" in note
    kept.set_value(["reviewText"])
    rerun(at)
    widget(at.text_input, "Dataset name").set_value("Reviews")
    widget(at.button, "Validate and load").click()
    rerun(at)
    assert "Reviews" in " ".join(values(at.success)), text_of(at)
    from ui.resources import get_store

    store = get_store()
    did = int(store.resolve_dataset("Reviews"))
    texts = store.review_texts(did)["text"]
    assert len(texts) == 48 and not texts.str.contains("Nice").any()  # summary left out

    # With review text, Content-based and Hybrid are offered, and the picker says where
    # their content comes from.
    from recsys_engine.splits import SplitConfig, create_split

    create_split(store, did, SplitConfig(strategy="leave-last", n_last=1, min_interactions=1))
    go(at, "train")
    assert not widget(at.checkbox, "Content-based").disabled
    assert not widget(at.checkbox, "Hybrid").disabled
    assert "training fold only" in text_of(at)
