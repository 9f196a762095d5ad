"""A rating scale left to the load (``LoadOptions.scale_at_load``, the CLI's default): the
load takes it from every value it reads, on the single-pass path and on the staged one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from badfiles import csv_text, write

from recsys_engine import cli
from recsys_engine.errors import Problem, ValidationError
from recsys_engine.ingest import guess_plan, load_dataset
from recsys_engine.ingest.plan import UploadPlan, scale_at_load
from recsys_engine.store import Store


def rows_with(values: list[str]) -> list[str]:
    """One row per value: user ``u{j % 3}``, item ``i{j}``, unix seconds."""
    return [f"u{j % 3},i{j},{v},{1600000000 + j}" for j, v in enumerate(values)]


def deferred(path: Path, **options: object) -> UploadPlan:
    """The CLI's plan for ``path``: guessed from the preview, scale left to the load."""
    plan = scale_at_load(guess_plan([path], name=path.stem))
    assert plan.options.scale_at_load
    return replace(plan, options=replace(plan.options, **options)) if options else plan


def stored(store: Store, did: int) -> tuple[dict, list[float | None], list[float]]:
    """The dataset row, its ratings and its weights in row order."""
    frame = store.interactions_frame(did)
    frame = frame.sort_values("item_id", key=lambda s: s.str[1:].astype(int))
    rating = [None if v != v else float(v) for v in frame["rating"]]
    return store.get_dataset(did), rating, [float(v) for v in frame["weight"]]


def path_options(store: Store, path_kind: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Load options that take ``path_kind``: merging duplicates needs the staged path; for
    the single pass, staging is made to fail so a silent hand-over cannot pass the test."""
    if path_kind == "staged":
        return {"duplicates": "sum"}

    def no_staging(src: object) -> None:
        raise AssertionError("the single-pass load handed over to the staged path")

    monkeypatch.setattr(store, "stage_interactions", no_staging)
    return {}


#: The preview's first 20 rows hold 1–5 only; the 8 further down decides 1–10.
LATE_EIGHT = [str(1 + j % 5) for j in range(24)] + ["8"]
#: Counts whose large values come after the preview's rows.
LATE_COUNTS = [str(1 + j % 5) for j in range(24)] + ["120", "640"]


@pytest.mark.parametrize("path_kind", ["single pass", "staged"])
def test_the_whole_column_decides_the_scale(store, tmp_path, path_kind, monkeypatch):
    path = write(tmp_path, "r.csv", csv_text(*rows_with(LATE_EIGHT)))
    dup = path_options(store, path_kind, monkeypatch)
    preview = guess_plan([path], name="r")
    assert preview.options.rating_scale == (1.0, 5.0)  # what the first rows alone suggest
    result = load_dataset(store, deferred(path, **dup))
    assert (result.feedback, result.rating_scale) == ("explicit", (1.0, 10.0))
    row, rating, weight = stored(store, result.dataset_id)
    assert (row["feedback"], row["rating_min"], row["rating_max"]) == ("explicit", 1.0, 10.0)
    assert rating == [float(v) for v in LATE_EIGHT]
    assert weight == [1.0] * len(LATE_EIGHT)


@pytest.mark.parametrize("path_kind", ["single pass", "staged"])
def test_values_no_rating_scale_holds_load_as_implicit_weights(
    store, tmp_path, path_kind, monkeypatch
):
    counts = LATE_COUNTS
    path = write(tmp_path, "r.csv", csv_text(*rows_with(counts)))
    dup = path_options(store, path_kind, monkeypatch)
    result = load_dataset(store, deferred(path, **dup))
    assert (result.feedback, result.rating_scale) == ("implicit", None)
    row, rating, weight = stored(store, result.dataset_id)
    assert (row["feedback"], row["rating_min"], row["rating_max"]) == ("implicit", None, None)
    assert rating == [None] * len(counts)
    assert weight == [float(v) for v in counts]


def test_a_value_below_the_picked_scale_is_reported_with_its_line(store, tmp_path):
    # −1 … 5 snaps to 0–5 (the usual scale holding the top), so the −1 is out of it; the
    # single-pass load hands over to the staged path, which names the line.
    path = write(tmp_path, "r.csv", csv_text(*rows_with(["4", "-1", "5", "3"])))
    with pytest.raises(ValidationError) as info:
        load_dataset(store, deferred(path))
    assert info.value.problems == [
        Problem("error", "r.csv", "rating -1 is outside the declared scale 0–5", 3, "rating")
    ]
    assert store.list_datasets().empty


def test_cli_reports_the_scale_it_took_from_the_data(capsys, tmp_path):
    db = str(tmp_path / "cli.duckdb")
    path = write(tmp_path, "r.csv", csv_text(*rows_with(LATE_EIGHT)))
    assert cli.main(["--db", db, "ingest", "--name", "r", "--interactions", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("25 interactions, 3 users, 25 items; ratings on a 1–10 scale")
    counts = write(tmp_path, "plays.csv", csv_text(*rows_with(LATE_COUNTS)))
    argv = ["--db", db, "ingest", "--json", "--name", "p", "--interactions", str(counts)]
    assert cli.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["feedback"], doc["rating_scale"]) == ("implicit", None)


def test_cli_flags_still_decide_when_given(capsys, tmp_path):
    db = str(tmp_path / "cli.duckdb")
    path = write(tmp_path, "r.csv", csv_text(*rows_with(LATE_COUNTS)))
    base = ["--db", db, "ingest", "--json", "--interactions", str(path)]
    assert cli.main([*base, "--name", "a", "--rating-scale", "0,1000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["feedback"], doc["rating_scale"]) == ("explicit", [0.0, 1000.0])
    # explicit by request on count-like values: ratings with no declared scale, as before
    assert cli.main([*base, "--name", "b", "--feedback", "explicit"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["feedback"], doc["rating_scale"]) == ("explicit", None)
