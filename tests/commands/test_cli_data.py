"""CLI ``ingest`` and ``datasets``: JSON output, errors on stderr with exit 1, locked files."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from badfiles import GOOD_ROWS, csv_text, db_state, good_csv, write

from recsys_engine import cli
from recsys_engine.store import Store


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "cli.duckdb")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ingest_ok(capsys, db: str, *args: str) -> dict:
    code, out, err = run(capsys, "--db", db, "ingest", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def last_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert lines, "nothing on stderr"
    assert lines[-1].startswith("error: "), err
    return lines[-1]


def state_of(db: str) -> dict:
    """The dataset listing and table row counts, plus the file's SHA-256 (read-only open
    first, so the digest is of the file as the CLI left it)."""
    store = Store(db, read_only=True)
    try:
        state = db_state(store)
    finally:
        store.close()
    return {**state, "sha256": hashlib.sha256(Path(db).read_bytes()).hexdigest()}


# -- datasets -----------------------------------------------------------------------------
def test_datasets_on_an_empty_database(capsys, db):
    assert run(capsys, "--db", db, "datasets", "--json") == (0, '{"datasets": []}\n', "")
    code, out, _ = run(capsys, "--db", db, "datasets")
    assert (code, out) == (0, "no datasets yet: load one with `ingest`\n")


def test_ingest_then_datasets_json(capsys, db, tmp_path):
    doc = ingest_ok(capsys, db, "--name", "first", "--interactions", str(good_csv(tmp_path)))
    assert doc == {
        "dataset_id": doc["dataset_id"],
        "name": "first",
        "n_interactions": 6,
        "n_users": 3,
        "n_items": 3,
        "n_catalog_items": 3,
        "warnings": [],
        "n_review_texts": 0,
        "feedback": "explicit",
        "rating_scale": [1.0, 5.0],
    }
    code, out, err = run(capsys, "--db", db, "datasets", "--json")
    assert (code, err) == (0, "")
    (row,) = json.loads(out)["datasets"]
    assert {
        k: row[k]
        for k in ("dataset_id", "name", "feedback", "n_interactions", "n_users", "n_items")
    } == {
        "dataset_id": doc["dataset_id"],
        "name": "first",
        "feedback": "explicit",
        "n_interactions": 6,
        "n_users": 3,
        "n_items": 3,
    }
    code, out, _ = run(capsys, "--db", db, "datasets")
    assert code == 0 and "first" in out and "explicit" in out


def test_warnings_go_to_stderr_and_json_stays_parseable(capsys, db, tmp_path):
    rows = ["1,10,4,1600000000000", "1,11,3,1600000001000", "2,10,5,1600000002000"]
    path = write(tmp_path, "ms.csv", csv_text(*rows))
    code, out, err = run(
        capsys, "--db", db, "ingest", "--json", "--name", "ms", "--interactions", str(path)
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["warnings"] == ["ms.csv, column 'timestamp': time values look like milliseconds"]
    assert err == "warning: ms.csv, column 'timestamp': time values look like milliseconds\n"


# -- errors -------------------------------------------------------------------------------
def test_validation_errors_exit_1_and_write_nothing(capsys, db, tmp_path):
    ingest_ok(capsys, db, "--name", "first", "--interactions", str(good_csv(tmp_path)))
    before = state_of(db)
    bad = write(tmp_path, "bad.csv", csv_text(*GOOD_ROWS, "3,10,abc,1", ",11,3,1"))
    code, out, err = run(
        capsys, "--db", db, "ingest", "--json", "--name", "second", "--interactions", str(bad)
    )
    assert (code, out) == (1, "")
    assert "  error: bad.csv, line 8, column 'rating': 'abc' is not a number" in err
    assert "  error: bad.csv, line 9, column 'user_id': the user id is missing or empty" in err
    assert last_error_line(err) == ("error: 2 problems found (listed above); nothing was written")
    assert state_of(db) == before


def test_binary_file_is_refused(capsys, db, tmp_path):
    path = write(tmp_path, "ratings.csv", b"\x89PNG\r\n\x1a\n" + bytes(64))
    code, out, err = run(capsys, "--db", db, "ingest", "--name", "png", "--interactions", str(path))
    assert (code, out) == (1, "")
    assert "ratings.csv: this is a PNG image, not a delimited text table" in err
    assert last_error_line(err).startswith("error: 1 problem found")


def test_duplicate_dataset_name_is_refused(capsys, db, tmp_path):
    path = str(good_csv(tmp_path))
    ingest_ok(capsys, db, "--name", "same", "--interactions", path)
    before = state_of(db)
    code, out, err = run(capsys, "--db", db, "ingest", "--name", "same", "--interactions", path)
    assert (code, out) == (1, "")
    assert "a dataset named 'same' already exists; choose another name" in err
    last_error_line(err)
    assert state_of(db) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interactions", "missing.csv"], "error: file 'missing.csv' does not exist"),
        ([], "error: give --interactions FILE, or --format FORMAT DIR"),
        (["--format", "movielens"], "error: --format needs the folder holding the files (DIR)"),
        (["--format", "movielens", "nowhere"], "error: folder 'nowhere' does not exist"),
    ],
    ids=["missing-file", "no-input", "format-without-dir", "missing-dir"],
)
def test_bad_arguments(capsys, db, args, message):
    code, out, err = run(capsys, "--db", db, "ingest", "--name", "x", *args)
    assert (code, out) == (1, "")
    assert last_error_line(err) == message


def test_format_folder_without_its_main_file(capsys, db, tmp_path):
    good_csv(tmp_path, "movies.csv")
    code, _, err = run(
        capsys, "--db", db, "ingest", "--name", "x", "--format", "movielens", str(tmp_path)
    )
    assert code == 1
    assert last_error_line(err) == f"error: --format movielens needs ratings.csv in '{tmp_path}'"


def test_bad_rating_scale(capsys, db, tmp_path):
    code, _, err = run(
        capsys,
        "--db",
        db,
        "ingest",
        "--name",
        "x",
        "--interactions",
        str(good_csv(tmp_path)),
        "--rating-scale",
        "one to five",
    )
    assert code == 1
    assert last_error_line(err) == "error: --rating-scale must be MIN,MAX (got 'one to five')"


def test_database_locked_by_another_process(capsys, db, tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB_LOCK_TIMEOUT", "0.5")  # the CLI waits 10 s by default
    ingest_ok(capsys, db, "--name", "first", "--interactions", str(good_csv(tmp_path)))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb\n"
            "con = duckdb.connect(sys.argv[1])\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
            db,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, out, err = run(capsys, "--db", db, "datasets")
        assert (code, out) == (1, "")
        line = last_error_line(err)
        assert "is in use" in line and db in line
        assert f"process {holder.pid} held it for more than 0.5 s" in line
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert run(capsys, "--db", db, "datasets", "--json")[0] == 0


# -- options and hostile input ------------------------------------------------------------
def test_hostile_name_is_stored_verbatim(capsys, db, tmp_path):
    name = "x'); DROP TABLE datasets; --"
    doc = ingest_ok(capsys, db, "--name", name, "--interactions", str(good_csv(tmp_path)))
    assert doc["name"] == name
    code, out, _ = run(capsys, "--db", db, "datasets", "--json")
    assert code == 0
    assert [d["name"] for d in json.loads(out)["datasets"]] == [name]
    other = ingest_ok(
        capsys,
        db,
        "--name",
        'it\'s "quoted"',
        "--interactions",
        str(good_csv(tmp_path, "again.csv")),
    )
    assert other["name"] == 'it\'s "quoted"'
    assert [d["name"] for d in state_of(db)["listing"]] == ['it\'s "quoted"', name]


def test_hostile_column_names_mapped_by_flags(capsys, db, tmp_path):
    header = '"user ""id""",it\'em id,"my, rating",when?'
    path = write(tmp_path, "odd.csv", csv_text(*GOOD_ROWS, header=header))
    doc = ingest_ok(
        capsys,
        db,
        "--name",
        "odd",
        "--interactions",
        str(path),
        "--user-col",
        'user "id"',
        "--item-col",
        "it'em id",
        "--rating-col",
        "my, rating",
        "--time-col",
        "when?",
        "--feedback",
        "explicit",
        "--rating-scale",
        "1,5",
    )
    assert (doc["n_interactions"], doc["n_users"], doc["n_items"]) == (6, 3, 3)


def test_headerless_semicolon_file_with_named_columns(capsys, db, tmp_path):
    path = write(tmp_path, "r.txt", csv_text(*GOOD_ROWS, header=None, sep=";"))
    doc = ingest_ok(
        capsys,
        db,
        "--name",
        "semi",
        "--interactions",
        str(path),
        "--sep",
        ";",
        "--no-header",
        "--columns",
        "u,i,r,t",
        "--user-col",
        "u",
        "--item-col",
        "i",
        "--rating-col",
        "r",
        "--time-col",
        "t",
    )
    assert (doc["n_interactions"], doc["n_users"], doc["n_items"]) == (6, 3, 3)


def test_duplicates_flag(capsys, db, tmp_path):
    path = write(tmp_path, "d.csv", csv_text(*GOOD_ROWS, "1,10,5,1600000900"))
    code, _, err = run(capsys, "--db", db, "ingest", "--name", "d", "--interactions", str(path))
    assert code == 1 and "appear more than once (lines 2, 8)" in err
    doc = ingest_ok(
        capsys, db, "--name", "d", "--interactions", str(path), "--duplicates", "keep-last"
    )
    assert doc["n_interactions"] == 6
    assert doc["warnings"] == [
        "1 duplicate rows merged (kept the last of each): 1 (user, item) "
        "pairs occur more than once in d.csv"
    ]
    store = Store(Path(db), read_only=True)
    try:
        df = store.interactions_frame(doc["dataset_id"])
        assert df[(df.user_id == "1") & (df.item_id == "10")].rating.tolist() == [5.0]
    finally:
        store.close()


def test_items_given_as_a_relative_path(capsys, db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good_csv(tmp_path, "ratings.csv")
    write(
        tmp_path,
        "movies.csv",
        csv_text("10,Ten,A|B", "11,Eleven,B", "12,Twelve,C", header="movieId,title,genres"),
    )
    doc = ingest_ok(
        capsys, db, "--name", "rel", "--interactions", "./ratings.csv", "--items", "./movies.csv"
    )
    assert (doc["n_interactions"], doc["n_items"], doc["n_catalog_items"]) == (6, 3, 3)
    store = Store(db, read_only=True)
    try:
        items = store.items_frame(doc["dataset_id"]).set_index("item_id")
        assert items.title.to_dict() == {"10": "Ten", "11": "Eleven", "12": "Twelve"}
    finally:
        store.close()


@pytest.mark.parametrize("role", ["--items", "--users"])
def test_unreadable_side_file_is_reported_not_crashed_on(capsys, db, tmp_path, role):
    empty = write(tmp_path, "side.csv", b"")
    code, out, err = run(
        capsys,
        "--db",
        db,
        "ingest",
        "--name",
        "x",
        "--interactions",
        str(good_csv(tmp_path)),
        role,
        str(empty),
    )
    assert (code, out) == (1, "")
    assert "  error: side.csv: the file is empty" in err
    assert last_error_line(err).startswith("error: 1 problem found")
