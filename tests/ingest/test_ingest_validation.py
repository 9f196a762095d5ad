"""Validation before writing: every problem is found, located, and nothing is written.

Each failing case asserts (a) the message, (b) the file, line and column, and (c) that the
database is exactly as before, has no leftover temp tables, and still loads a good file.
The second half covers awkward files that must load correctly.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import replace
from functools import cache, partial
from pathlib import Path

import pandas as pd
import pytest
from badfiles import (
    GOOD_ROWS,
    HEADER,
    csv_text,
    db_state,
    good_csv,
    late_latin1,
    leftovers,
    png_bytes,
    random_bytes,
    write,
    write_parquet,
    zip_bytes,
)

import recsys_engine.ingest.guess as guess_module
import recsys_engine.ingest.plan as plan_module
from recsys_engine.errors import Problem, ValidationError
from recsys_engine.ingest import (
    InteractionMapping,
    LoadResult,
    UploadPlan,
    guess_plan,
    load_dataset,
    sniff_file,
)
from recsys_engine.ingest.plan import observed_range, with_sniff
from recsys_engine.store import Store

# -- helpers ------------------------------------------------------------------------------


#: The error for one item file row repeating id '10'.
REPEATED_10 = (
    "1 row repeats an id already seen: 1 id appears more than once (e.g. '10'; the first "
    "repeat is on this line); tick 'Combine rows per item' to merge each item's rows (text "
    "joined, categories united, numbers averaged), or map another id column"
)


def plan_for(paths: list[Path], name: str = "upload", **options) -> UploadPlan:
    """guess_plan, then the dataset options a user would pick."""
    plan = guess_plan(paths, name=name)
    if options:
        plan = replace(plan, options=replace(plan.options, **options))
    return plan


def explicit(paths: list[Path], **options) -> UploadPlan:
    """A plan with explicit 1-5 ratings declared (the scale is not guessed from the data)."""
    return plan_for(paths, feedback="explicit", rating_scale=(1.0, 5.0), **options)


def errors_of(store, plan: UploadPlan, tmp_path: Path) -> list[Problem]:
    """Load ``plan`` expecting failure; check nothing changed and the store still works.

    The same rejected load is then replayed on a database file, which must stay byte for
    byte the same (``same_bytes_after_rejection``).
    """
    before = db_state(store)
    with pytest.raises(ValidationError) as info:
        load_dataset(store, plan)
    assert db_state(store) == before
    assert leftovers(store) == []
    after = load_dataset(
        store, plan_for([good_csv(tmp_path, "after-failure.csv")], name="loaded after a failure")
    )
    assert (after.n_interactions, after.n_users, after.n_items) == (6, 3, 3)
    assert str(info.value).startswith(str(info.value.errors[0]))
    assert same_bytes_after_rejection(plan, tmp_path) == info.value.errors
    return info.value.errors


@cache
def seeded_file_bytes() -> bytes:
    """A database file holding the dataset 'existing' (as ``seeded``), built once."""
    with tempfile.TemporaryDirectory(prefix="seeded_db_") as folder:
        db = Path(folder) / "seeded.duckdb"
        store = Store(db)
        load_dataset(store, plan_for([good_csv(Path(folder), "existing.csv")], name="existing"))
        store.close()
        assert not db.with_name(db.name + ".wal").exists()
        return db.read_bytes()


def same_bytes_after_rejection(plan: UploadPlan, tmp_path: Path) -> list[Problem]:
    """Run a rejected load the way the Data page does, on a file; the file must not change.

    The page keeps one store open, reads the value range of the interactions file to show
    it (explicit feedback), then calls ``load_dataset`` with a progress callback. Closing the
    store afterwards checkpoints anything written, so comparing the closed file's bytes
    catches any write, even one rolled back or left in the write-ahead log.

    Returns:
        the problems the file-backed load reported (callers compare them with the
        in-memory ones).
    """
    template = seeded_file_bytes()
    db = tmp_path / "bytes.duckdb"
    db.write_bytes(template)
    store = Store(db)
    try:
        inter = plan.by_role("interactions")
        if inter and plan.options.feedback == "explicit":
            observed_range(store, inter[0])
        with pytest.raises(ValidationError) as info:
            load_dataset(store, plan, lambda done, total, note: None)
    finally:
        store.close()
    assert not db.with_name(db.name + ".wal").exists(), "a write-ahead log was left behind"
    assert hashlib.sha256(db.read_bytes()).digest() == hashlib.sha256(template).digest(), (
        "the rejected load changed the database file"
    )
    return info.value.errors


@pytest.fixture
def seeded(store, tmp_path):
    """A store that already holds one dataset, so 'unchanged' is not trivially true."""
    load_dataset(store, plan_for([good_csv(tmp_path, "existing.csv")], name="existing"))
    return store


def ratings(tmp_path: Path, *rows: str, name: str = "r.csv", **kw) -> Path:
    """Write ``csv_text(*rows, **kw)`` to ``tmp_path/name``."""
    return write(tmp_path, name, csv_text(*rows, **kw))


# -- ids ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["", "   "], ids=["empty", "blank"])
def test_missing_user_id(seeded, tmp_path, cell):
    path = ratings(tmp_path, *GOOD_ROWS[:2], f"{cell},11,3,1600000000", *GOOD_ROWS[2:])
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "the user id is missing or empty", 4, "user_id")
    ]


@pytest.mark.parametrize("cell", ["", "   "], ids=["empty", "blank"])
def test_missing_item_id(seeded, tmp_path, cell):
    path = ratings(tmp_path, *GOOD_ROWS, f"3,{cell},3,1600000000")
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "the item id is missing or empty", 8, "item_id")
    ]


def test_many_missing_ids_are_summarised(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS, *[f",10,3,{i}" for i in range(5)])
    errors = errors_of(seeded, explicit([path]), tmp_path)
    assert [(p.line, p.column) for p in errors] == [
        (8, "user_id"),
        (9, "user_id"),
        (10, "user_id"),
        (None, "user_id"),
    ]
    assert errors[-1].message == (
        "5 rows in all have this problem: the user id is missing or empty"
    )


# -- ratings ------------------------------------------------------------------------------
def test_non_numeric_rating(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS[:3], "2,11,abc,1600000000", *GOOD_ROWS[3:])
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "'abc' is not a number", 5, "rating")
    ]


def test_missing_rating(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS, "3,10,,1600000000")
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "the rating is missing", 8, "rating")
    ]


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_non_finite_rating(seeded, tmp_path, cell):
    path = ratings(tmp_path, *GOOD_ROWS, f"3,10,{cell},1600000000")
    # Reported once: a NaN is not also "outside the scale".
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "the rating is not a finite number", 8, "rating")
    ]


@pytest.mark.parametrize(("cell", "shown"), [("7", "7"), ("0.5", "0.5"), ("-1", "-1")])
def test_rating_outside_the_declared_scale(seeded, tmp_path, cell, shown):
    path = ratings(tmp_path, *GOOD_ROWS[:1], f"1,12,{cell},1600000000", *GOOD_ROWS[1:])
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", f"rating {shown} is outside the declared scale 1–5", 3, "rating")
    ]


def test_negative_weight_for_implicit_feedback(seeded, tmp_path):
    path = write(
        tmp_path,
        "plays.csv",
        csv_text("1,10,3", "1,11,-2", "2,10,5", header="user_id,item_id,weight"),
    )
    plan = plan_for([path])
    assert plan.options.feedback == "implicit"
    assert errors_of(seeded, plan, tmp_path) == [
        Problem("error", "plays.csv", "the weight is negative", 3, "weight")
    ]


def test_explicit_feedback_without_a_rating_column(seeded, tmp_path):
    path = write(tmp_path, "pairs.csv", csv_text("1,10", "2,11", header="user_id,item_id"))
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem(
            "error",
            "pairs.csv",
            "explicit feedback needs a rating column; map one or choose implicit feedback",
        )
    ]


def test_mapped_column_missing_from_the_file(seeded, tmp_path):
    plan = explicit([good_csv(tmp_path, "r.csv")])
    f = replace(plan.files[0], mapping=InteractionMapping("user_id", "item_id", "stars"))
    errors = errors_of(seeded, replace(plan, files=(f,)), tmp_path)
    assert errors == [
        Problem(
            "error",
            "r.csv",
            "mapped column 'stars' is not in the file "
            "(columns: user_id, item_id, rating, timestamp)",
        )
    ]


# -- times --------------------------------------------------------------------------------
def test_unparseable_timestamp(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS[:4], "3,10,3,notatime", *GOOD_ROWS[4:])
    # Only the bad cell is blamed, although it is more than 5% of this small file.
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem(
            "error", "r.csv", "'notatime' cannot be read as unix seconds or a date", 6, "timestamp"
        )
    ]


def test_impossible_date_in_a_day_month_year_column(seeded, tmp_path):
    rows = [f"{u},{i},3,{10 + u}/0{i}/2020" for u in range(1, 4) for i in range(1, 4)]
    path = ratings(tmp_path, *rows, "4,1,3,31/31/2020", header="user_id,item_id,rating,date")
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem(
            "error", "r.csv", "'31/31/2020' cannot be read as unix seconds or a date", 11, "date"
        )
    ]


@pytest.mark.parametrize("cell", ["99999999999999999999", "-99999999999999", "nan", "inf"])
def test_unix_time_out_of_range(seeded, tmp_path, cell):
    # Used to abort the whole read with DuckDB's "Epoch seconds out of range".
    path = ratings(tmp_path, *GOOD_ROWS[:2], f"2,11,3,{cell}", *GOOD_ROWS[2:])
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem(
            "error", "r.csv", f"'{cell}' cannot be read as unix seconds or a date", 4, "timestamp"
        )
    ]


# -- duplicates ---------------------------------------------------------------------------
def test_duplicates_rejected_name_the_lines(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS[:4], "1,10,2,1600000900", *GOOD_ROWS[4:])
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem(
            "error",
            "r.csv",
            "user '1' and item '10' appear more than once (lines 2, 6); "
            "choose 'keep last' or 'sum' to merge duplicates",
            6,
        )
    ]


def test_duplicates_keep_last_keeps_the_last_row(store, tmp_path):
    path = ratings(
        tmp_path, *GOOD_ROWS[:4], "1,10,2,1600000900", *GOOD_ROWS[4:], "1,10,5,1500000000"
    )
    result = load_dataset(store, explicit([path], duplicates="keep-last"))
    assert (result.n_interactions, result.n_users, result.n_items) == (6, 3, 3)
    assert result.warnings == [
        "2 duplicate rows merged (kept the last of each): 1 (user, "
        "item) pairs occur more than once in r.csv"
    ]
    df = store.interactions_frame(result.dataset_id)
    row = df[(df.user_id == "1") & (df.item_id == "10")]
    assert row.rating.tolist() == [5.0]
    assert row.ts.tolist() == [pd.Timestamp(1500000000, unit="s")]


def test_duplicates_sum_adds_the_weights(store, tmp_path):
    path = write(
        tmp_path,
        "plays.csv",
        csv_text(
            "1,10,3", "1,11,2", "2,10,5", "1,10,4", "1,10,0.5", header="user_id,item_id,plays"
        ),
    )
    plan = plan_for([path], duplicates="sum")
    assert plan.options.feedback == "implicit"
    result = load_dataset(store, plan)
    assert result.n_interactions == 3
    assert result.warnings == [
        "2 duplicate rows merged (summed the weights of each): 1 "
        "(user, item) pairs occur more than once in plays.csv"
    ]
    df = store.interactions_frame(result.dataset_id).set_index(["user_id", "item_id"])
    assert df.weight.to_dict() == {("1", "10"): 7.5, ("1", "11"): 2.0, ("2", "10"): 5.0}
    assert df.rating.isna().all()
    assert store.get_dataset(result.dataset_id)["warnings"] == result.warnings


# -- items and users files ----------------------------------------------------------------
def test_unknown_items_are_a_warning_and_the_load_succeeds(store, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS, "3,98,4,1600000000", "2,99,4,1600000000")
    items = write(
        tmp_path,
        "items.csv",
        csv_text(
            "10,Ten,A|B", "11,Eleven,B", "12,Twelve,", "13,Unrated,C", header="item_id,title,genres"
        ),
    )
    plan = explicit([path, items])
    assert [f.role for f in plan.files] == ["interactions", "items"]
    result = load_dataset(store, plan)
    assert result.warnings == [
        "r.csv, column 'item_id': 2 item ids are not in the item file "
        "(e.g. '98', '99'); they get no title or content"
    ]
    assert (result.n_interactions, result.n_items, result.n_catalog_items) == (8, 5, 6)
    assert store.get_dataset(result.dataset_id)["warnings"] == result.warnings
    titles = store.items_frame(result.dataset_id).set_index("item_id")
    assert titles.title.to_dict() == {"10": "Ten", "11": "Eleven", "12": "Twelve", "13": "Unrated"}
    assert list(titles.categories["10"]) == ["A", "B"]


def test_item_file_with_empty_and_duplicate_ids(seeded, tmp_path):
    items = write(
        tmp_path,
        "items.csv",
        csv_text("10,Ten", ",Nameless", "11,Eleven", "10,Again", header="item_id,title"),
    )
    plan = explicit([good_csv(tmp_path, "r.csv"), items])
    assert errors_of(seeded, plan, tmp_path) == [
        Problem("error", "items.csv", "the id is missing or empty", 3, "item_id"),
        Problem("error", "items.csv", REPEATED_10, 5, "item_id"),
    ]


def test_item_file_ragged_row(seeded, tmp_path):
    items = write(
        tmp_path,
        "items.csv",
        csv_text("10,Ten,A", "11,Eleven", "12,Twelve,B", header="item_id,title,genres"),
    )
    plan = explicit([good_csv(tmp_path, "r.csv"), items])
    assert errors_of(seeded, plan, tmp_path) == [
        Problem("error", "items.csv", "the line has 2 fields; expected 3 (ragged row)", 3)
    ]


def test_item_file_lines_after_a_multiline_title(seeded, tmp_path):
    items = write(
        tmp_path,
        "items.csv",
        csv_text('10,"Ten\nPart two"', "11,Eleven", "10,Dup", header="item_id,title"),
    )
    plan = explicit([good_csv(tmp_path, "r.csv"), items])
    assert errors_of(seeded, plan, tmp_path) == [
        Problem("error", "items.csv", REPEATED_10, 5, "item_id")
    ]


def test_item_flag_column_that_is_not_0_or_1(seeded, tmp_path):
    rows = ["10|Ten|0|1", "11|Eleven|1|yes", "12|Twelve|0|0"]
    items = write(tmp_path, "u.item", csv_text(*rows, header=None, sep="|"))
    plan = explicit([good_csv(tmp_path, "r.csv"), items])
    cols = ("movie_id", "title", "Action", "Comedy")
    f = plan.files[1]
    f = replace(
        f,
        role="items",
        sniff=replace(f.sniff, columns=cols),
        mapping=plan_module.ItemMapping("movie_id", "title", flag_cols=("Action", "Comedy")),
    )
    errors = errors_of(seeded, replace(plan, files=(plan.files[0], f)), tmp_path)
    assert errors == [Problem("error", "u.item", "category flag 'yes' is not 0 or 1", 2, "Comedy")]


# -- whole files that are not ratings tables ----------------------------------------------
def test_empty_file(seeded, tmp_path):
    path = write(tmp_path, "empty.csv", b"")
    assert errors_of(seeded, plan_for([path]), tmp_path) == [
        Problem("error", "empty.csv", "the file is empty")
    ]


def test_header_only_file(seeded, tmp_path):
    path = write(tmp_path, "header.csv", HEADER + "\n")
    assert errors_of(seeded, plan_for([path]), tmp_path) == [
        Problem("error", "header.csv", "the file has a header line but no data rows")
    ]


def test_header_with_a_different_delimiter_than_the_rows(seeded, tmp_path):
    path = write(tmp_path, "mixed.csv", "user_id,item_id,rating\n1;10;4\n2;11;5\n3;12;3\n")
    assert errors_of(seeded, plan_for([path]), tmp_path) == [
        Problem(
            "error",
            "mixed.csv",
            "the header has 1 field(s) but the data rows have 3 with the delimiter ';': the "
            "header and the rows seem to use different delimiters; fix the file so every line "
            "uses the same one",
            line=1,
        )
    ]


def test_single_user(seeded, tmp_path):
    path = ratings(tmp_path, "1,10,4,1600000000", "1,11,3,1600000000")
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem(
            "error",
            "r.csv",
            "only 1 distinct user; a recommender needs at least 2",
            column="user_id",
        )
    ]


def test_single_item(seeded, tmp_path):
    path = ratings(tmp_path, "1,10,4,1600000000", "2,10,3,1600000000")
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem(
            "error",
            "r.csv",
            "only 1 distinct item; a recommender needs at least 2",
            column="item_id",
        )
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (random_bytes(), "binary data (NUL bytes): not a text table"),
        (
            zip_bytes(),
            "this is a ZIP archive (unzip it and upload the files inside), not a "
            "delimited text table",
        ),
        (png_bytes(), "this is a PNG image, not a delimited text table"),
    ],
    ids=["random", "zip", "png"],
)
def test_binary_file_renamed_csv(seeded, tmp_path, data, message):
    path = write(tmp_path, "ratings.csv", data)
    assert errors_of(seeded, plan_for([path]), tmp_path) == [
        Problem("error", "ratings.csv", message)
    ]


def test_utf16_big_endian_file(seeded, tmp_path):
    path = write(tmp_path, "be.csv", b"\xfe\xff" + csv_text(*GOOD_ROWS).encode("utf-16-be"))
    (error,) = errors_of(seeded, plan_for([path]), tmp_path)
    assert (error.file, error.line) == ("be.csv", None)
    assert "UTF-16 big-endian" in error.message


def test_file_over_the_size_limit(seeded, tmp_path, monkeypatch):
    monkeypatch.setattr(guess_module, "sniff_file", partial(sniff_file, max_mb=1))
    path = write(tmp_path, "big.csv", HEADER + "\n" + "1,10,4,1600000000\n" * 70_000)
    assert errors_of(seeded, plan_for([path]), tmp_path) == [
        Problem("error", "big.csv", "the file is 1.2 MB; the upload limit is 1 MB")
    ]


def test_latin1_bytes_beyond_the_sniff_sample(seeded, tmp_path):
    data, bad_line = late_latin1()
    path = write(tmp_path, "late.csv", data)
    plan = explicit([path])
    assert plan.files[0].sniff.encoding == "utf-8"  # the sample looked clean
    assert errors_of(seeded, plan, tmp_path) == [
        Problem(
            "error",
            "late.csv",
            "bytes that are not valid UTF-8; the file may be latin-1 "
            "encoded (choose that encoding)",
            bad_line,
            "item_id",
        )
    ]
    # Following the advice works.
    fixed = replace(
        plan,
        files=(with_sniff(plan.files[0], encoding="latin-1"),),
        options=replace(plan.options, name="late fixed"),
    )
    result = load_dataset(seeded, fixed)
    assert result.n_interactions == 25_002
    assert "caf\xe9" in set(seeded.interactions_frame(result.dataset_id).item_id)


# -- unreadable lines ---------------------------------------------------------------------
def test_ragged_rows(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS[:1], "1,11,3", "2,10,5,1600000200,extra", *GOOD_ROWS[3:])
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "the line has 3 fields; expected 4 (ragged row)", 3),
        Problem("error", "r.csv", "the line has 5 fields; expected 4 (ragged row)", 4),
    ]


def test_ragged_row_with_a_bad_value_gets_one_message(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS, "3,10,x,1600000000,extra")
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "the line has 5 fields; expected 4 (ragged row)", 8),
    ]


def test_crlf_file_shows_the_bad_value_and_field_count(seeded, tmp_path):
    path = ratings(
        tmp_path, *GOOD_ROWS[:2], "2,11,abc,1600000000", "3,10,4", *GOOD_ROWS[2:], eol="\r\n"
    )
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "'abc' is not a number", 4, "rating"),
        Problem("error", "r.csv", "the line has 3 fields; expected 4 (ragged row)", 5),
    ]


@pytest.mark.parametrize(("sep", "eol"), [(",", "\n"), ("\t", "\r\n"), ("::", "\n")])
def test_lines_are_counted_after_blank_lines(seeded, tmp_path, sep, eol):
    rows = [*GOOD_ROWS[:2], "", "", "2,11,abc,1600000000", "", *GOOD_ROWS[2:], ",12,3,1600000000"]
    header = None if sep == "::" else HEADER
    path = ratings(tmp_path, *rows, header=header, sep=sep, eol=eol)
    plan = explicit([path])
    f = plan.files[0]
    if sep == "::":  # headerless: name the columns as a user would
        f = replace(f, mapping=InteractionMapping(*f.sniff.columns))
    value, user = (f.mapping.value_col, f.mapping.user_col)
    shift = 0 if header else -1
    assert errors_of(seeded, replace(plan, files=(f,)), tmp_path) == [
        Problem("error", "r.csv", "'abc' is not a number", 6 + shift, value),
        Problem("error", "r.csv", "the user id is missing or empty", 12 + shift, user),
    ]


def test_lines_are_counted_after_a_quoted_multiline_field(seeded, tmp_path):
    path = ratings(
        tmp_path,
        '1,10,4,"first\nsecond\nthird"',
        "1,11,abc,note",
        "2,10,5,note",
        "2,11,4,note",
        ",11,3,note",
        "3,12,2,note",
        header="user_id,item_id,rating,comment",
    )
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.csv", "'abc' is not a number", 5, "rating"),
        Problem("error", "r.csv", "the user id is missing or empty", 8, "user_id"),
    ]


def test_parquet_with_a_non_numeric_rating_column(seeded, tmp_path):
    path = write_parquet(
        tmp_path,
        "r.parquet",
        {
            "user_id": ["1", "1", "2", "2"],
            "item_id": [10, 11, 10, 11],
            "rating": ["4", "bad", "5", "3.5"],
        },
    )
    # For Parquet the "line" is the row number.
    assert errors_of(seeded, explicit([path]), tmp_path) == [
        Problem("error", "r.parquet", "'bad' is not a number", 2, "rating")
    ]


# -- dataset names ------------------------------------------------------------------------
def test_name_already_taken(seeded, tmp_path):
    plan = explicit([good_csv(tmp_path, "r.csv")], name=" existing ")
    assert errors_of(seeded, plan, tmp_path) == [
        Problem(
            "error", "dataset", "a dataset named 'existing' already exists; choose another name"
        )
    ]


def test_empty_name(seeded, tmp_path):
    plan = explicit([good_csv(tmp_path, "r.csv")], name="  ")
    assert errors_of(seeded, plan, tmp_path) == [
        Problem("error", "dataset", "dataset name must not be empty (got '  ')")
    ]


def test_every_problem_of_an_upload_is_reported_at_once(seeded, tmp_path):
    path = ratings(tmp_path, *GOOD_ROWS, ",10,3,1", "3,,3,1", "3,13,9,1", "3,14,2,never")
    items = write(tmp_path, "items.csv", csv_text("10,Ten", "10,Ten again", header="item_id,title"))
    errors = errors_of(seeded, explicit([path, items]), tmp_path)
    assert [(p.file, p.line, p.column) for p in errors] == [
        ("r.csv", 8, "user_id"),
        ("r.csv", 9, "item_id"),
        ("r.csv", 11, "timestamp"),
        ("r.csv", 10, "rating"),
        ("items.csv", 3, "item_id"),
    ]


# -- files that must load -----------------------------------------------------------------
def loaded(store, plan: UploadPlan) -> tuple[LoadResult, pd.DataFrame]:
    result = load_dataset(store, plan)
    assert leftovers(store) == []
    df = store.interactions_frame(result.dataset_id).sort_values(["user_id", "item_id"])
    return result, df.reset_index(drop=True)


ACCENTED = ("\xe91,caf\xe9,4", "\xfc2,caf\xe9,3", "\xe91,na\xefve,5")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("latin1.csv", csv_text(*ACCENTED, header="user,item,rating").encode("latin-1")),
        ("bom.csv", b"\xef\xbb\xbf" + csv_text(*ACCENTED, header="user,item,rating").encode()),
        ("utf16.csv", csv_text(*ACCENTED, header="user,item,rating").encode("utf-16")),
        ("utf16.tsv", csv_text(*ACCENTED, header="user,item,rating", sep="\t").encode("utf-16")),
    ],
    ids=["latin-1", "utf-8-bom", "utf-16", "utf-16-tab"],
)
def test_encodings_load_correctly(store, tmp_path, name, data):
    result, df = loaded(store, explicit([write(tmp_path, name, data)]))
    assert (result.n_interactions, result.n_users, result.n_items) == (3, 2, 2)
    assert df[["user_id", "item_id", "rating"]].values.tolist() == [
        ["\xe91", "caf\xe9", 4.0],
        ["\xe91", "na\xefve", 5.0],
        ["\xfc2", "caf\xe9", 3.0],
    ]
    latin = [w for w in result.warnings if "latin-1" in w]
    assert latin == (
        [
            "latin1.csv, line 2: not valid UTF-8; read as latin-1 (pick another "
            "encoding if characters look wrong)"
        ]
        if name == "latin1.csv"
        else []
    )


def test_parquet_loads(store, tmp_path):
    path = write_parquet(
        tmp_path,
        "r.parquet",
        {
            "user_id": ["a", "a", "b"],
            "item_id": [10, 11, 10],
            "rating": [4.0, 3.5, 5.0],
            "timestamp": [1600000000, 1600000100, 1600000200],
        },
    )
    result, df = loaded(store, explicit([path]))
    assert (result.n_interactions, result.n_users, result.n_items) == (3, 2, 2)
    assert df.item_id.tolist() == ["10", "11", "10"]
    assert df.rating.tolist() == [4.0, 3.5, 5.0]
    assert df.ts.tolist()[0] == pd.Timestamp(1600000000, unit="s")


@pytest.mark.parametrize(
    ("name", "sep", "header"),
    [
        ("u.data", "\t", None),
        ("r.csv", ",", None),
        ("r.csv", ";", HEADER),
        ("r.txt", "|", HEADER),
        ("ratings.dat", "::", None),
    ],
    ids=["headerless-tab", "headerless-comma", "semicolon", "pipe", "double-colon"],
)
def test_delimiters_and_headerless_files_load(store, tmp_path, name, sep, header):
    path = write(tmp_path, name, csv_text(*GOOD_ROWS, header=header, sep=sep))
    result, df = loaded(store, explicit([path]))
    assert (result.n_interactions, result.n_users, result.n_items) == (6, 3, 3)
    assert df.rating.tolist() == [4.0, 3.0, 5.0, 2.0, 1.0, 4.0]
    assert df.ts.min() == pd.Timestamp(1600000000, unit="s")


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (("2020-01-05", "2020-02-05", "2021-12-31"), ("2020-01-05", "2020-02-05", "2021-12-31")),
        (
            ("2020-01-05 10:11:12", "2020-02-05T00:00:00", "2021-12-31 23:59:59"),
            ("2020-01-05 10:11:12", "2020-02-05", "2021-12-31 23:59:59"),
        ),
        (
            ("2020-01-05T10:11:12", "2020-02-05T00:00:00", "2021-12-31T23:59:59"),
            ("2020-01-05 10:11:12", "2020-02-05", "2021-12-31 23:59:59"),
        ),
        (("25/12/2020", "01/02/2020", "31/01/2021"), ("2020-12-25", "2020-02-01", "2021-01-31")),
    ],
    ids=["iso-date", "iso-mixed", "iso-T", "d/m/Y"],
)
def test_dates_in_several_formats(store, tmp_path, cells, expected):
    rows = [f"1,10,4,{cells[0]}", f"1,11,3,{cells[1]}", f"2,10,5,{cells[2]}"]
    result, df = loaded(store, explicit([ratings(tmp_path, *rows)]))
    assert result.warnings == []
    assert df.ts.tolist() == [pd.Timestamp(t) for t in expected]


def test_unix_milliseconds_are_converted_with_a_warning(store, tmp_path):
    rows = ["1,10,4,1600000000000", "1,11,3,1600000001000", "2,10,5,1600000002500"]
    result, df = loaded(store, explicit([ratings(tmp_path, *rows)]))
    assert result.warnings == ["r.csv, column 'timestamp': time values look like milliseconds"]
    assert df.ts.tolist() == [
        pd.Timestamp(1600000000, unit="s"),
        pd.Timestamp(1600000001, unit="s"),
        pd.Timestamp(1600000002.5, unit="s"),
    ]
    assert store.get_dataset(result.dataset_id)["has_timestamps"]


def test_quoted_fields_with_embedded_delimiters_and_newlines(store, tmp_path):
    text = csv_text(
        '1,"x,1",4,"a, b"',
        '1,"y\nz",3,"multi\nline, text"',
        '2,"x,1",5,"say ""hi"""',
        "2,w,1,plain",
        header="user_id,item_id,rating,comment",
    )
    result, df = loaded(store, explicit([write(tmp_path, "q.csv", text)]))
    assert (result.n_interactions, result.n_users, result.n_items) == (4, 2, 3)
    assert df.item_id.tolist() == ["x,1", "y\nz", "w", "x,1"]
    assert df.rating.tolist() == [4.0, 3.0, 1.0, 5.0]


def test_crlf_and_no_final_newline(store, tmp_path):
    text = csv_text(*GOOD_ROWS, eol="\r\n").rstrip("\r\n")
    result, df = loaded(store, explicit([write(tmp_path, "r.csv", text)]))
    assert result.n_interactions == 6
    assert df.item_id.tolist()[-1] == "12"


def test_hostile_dataset_name_file_name_and_column_names(store, tmp_path):
    name = 'x\'); DROP TABLE datasets; -- "quoted" ;'
    header = '"user ""id""",it\'em id,"my, rating",when?'
    path = write(tmp_path, 'it\'s "odd".csv', csv_text(*GOOD_ROWS, header=header))
    plan = explicit([path], name=name)
    f = plan.files[0]
    assert f.sniff.columns == ('user "id"', "it'em id", "my, rating", "when?")
    f = replace(f, mapping=InteractionMapping('user "id"', "it'em id", "my, rating", "when?"))
    result, df = loaded(store, replace(plan, files=(f,)))
    assert result.name == name
    listing = store.list_datasets()
    assert listing.name.tolist() == [name]
    assert store.resolve_dataset(name) == result.dataset_id
    assert store.get_dataset(result.dataset_id)["sources"][0]["file"] == 'it\'s "odd".csv'
    assert (result.n_interactions, result.n_users, result.n_items) == (6, 3, 3)
    assert df.rating.tolist() == [4.0, 3.0, 5.0, 2.0, 1.0, 4.0]
