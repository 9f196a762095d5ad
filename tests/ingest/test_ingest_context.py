"""Context columns at upload (issue 18): mapping, derived hour/weekday, validation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from recsys_engine.errors import ValidationError
from recsys_engine.ingest import InteractionMapping, guess_plan, load_dataset
from recsys_engine.ingest.context import MAX_CONTEXT_VALUES
from recsys_engine.store import Store

# 2024-01-06 is a Saturday. Unix seconds of three hand-checked times (UTC):
#   1704563100 = 2024-01-06 17:45:00 Sat; 1704067200 = 2024-01-01 00:00:00 Mon;
#   1704326399 = 2024-01-03 23:59:59 Wed
ROWS = [
    "u1,a,4,1704563100,mobile",
    "u1,b,3,1704067200,desktop",
    "u2,a,5,1704326399,",
    "u2,c,2,1704067200,mobile",
]


def write(tmp_path: Path, rows: list[str], name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_text("user,item,rating,time,device\n" + "\n".join(rows) + "\n")
    return path


def plan_with(path: Path, context=("device",), derived=("hour", "weekday"), **changes):
    plan = guess_plan([path], name="ctx")
    f = plan.files[0]
    m = InteractionMapping("user", "item", "rating", "time", tuple(context), tuple(derived))
    m = replace(m, **changes)
    return replace(plan, files=(replace(f, mapping=m),))


def context_rows(store: Store, did: int) -> dict[tuple[str, str], tuple]:
    fields = [f["field"] for f in store.context_fields(did)]
    values = store.context_values(did)
    frame = store.interactions_frame(did).sort_values(["user_id", "item_id"])
    return {
        (u, i): tuple(values[f][k] for f in fields)
        for k, (u, i) in enumerate(zip(frame["user_id"], frame["item_id"], strict=True))
    }


def test_context_column_and_derived_hour_weekday_are_stored(tmp_path):
    store = Store(":memory:")
    result = load_dataset(store, plan_with(write(tmp_path, ROWS)))
    did = result.dataset_id
    assert store.context_fields(did) == [
        {"field": "device", "source": "device"},
        {"field": "hour", "source": "derived:hour"},
        {"field": "weekday", "source": "derived:weekday"},
    ]
    assert context_rows(store, did) == {
        ("u1", "a"): ("mobile", "17", "Sat"),
        ("u1", "b"): ("desktop", "00", "Mon"),
        ("u2", "a"): (None, "23", "Wed"),  # empty cell: unknown
        ("u2", "c"): ("mobile", "00", "Mon"),
    }
    assert any("1 rows are empty in context 'device'" in w for w in result.warnings)


def test_too_many_distinct_values_is_refused_and_nothing_is_written(tmp_path):
    rows = [f"u{k % 7},i{k % 11},3,{1704067200 + k},s{k}" for k in range(MAX_CONTEXT_VALUES + 1)]
    rows = list(dict.fromkeys(rows))
    store = Store(":memory:")
    plan = plan_with(
        write(tmp_path, rows),
        derived=(),
    )
    plan = replace(plan, options=replace(plan.options, duplicates="keep-last"))
    with pytest.raises(ValidationError) as info:
        load_dataset(store, plan)
    msg = str(info.value.errors[0])
    assert "events.csv, column 'device'" in msg
    assert f"{MAX_CONTEXT_VALUES + 1:,} distinct values" in msg
    assert len(store.list_datasets()) == 0
    assert store.cursor().execute("SELECT count(*) FROM interaction_context").fetchall() == [(0,)]


def test_bad_context_mappings_are_named(tmp_path):
    store = Store(":memory:")
    path = write(tmp_path, ROWS)
    with pytest.raises(ValidationError) as info:
        load_dataset(store, plan_with(path, context=("rating",), derived=()))
    assert "column 'rating' is already mapped as the rating or weight" in str(info.value)
    with pytest.raises(ValidationError) as info:
        load_dataset(store, plan_with(path, context=("colour",), derived=()))
    assert "mapped column 'colour' is not in the file" in str(info.value)
    with pytest.raises(ValidationError) as info:
        load_dataset(store, plan_with(path, context=(), derived=("hour",), time_col=None))
    assert "derived context (hour) needs a timestamp column" in str(info.value)
    assert len(store.list_datasets()) == 0


def test_keep_last_takes_the_context_of_the_last_row(tmp_path):
    rows = ["u1,a,4,1704563100,mobile", "u1,a,2,1704067200,tv", "u2,b,3,1704067200,mobile"]
    store = Store(":memory:")
    plan = plan_with(write(tmp_path, rows), derived=("weekday",))
    plan = replace(plan, options=replace(plan.options, duplicates="keep-last"))
    did = load_dataset(store, plan).dataset_id
    assert context_rows(store, did)[("u1", "a")] == ("tv", "Mon")


def test_cli_ingest_maps_context_and_derived_fields(tmp_path, capsys):
    from recsys_engine import cli

    db = tmp_path / "cli.duckdb"
    path = write(tmp_path, ROWS)
    args = ["--db", str(db), "ingest", "--name", "ev", "--interactions", str(path)]
    code = cli.main([*args, "--context-cols", "device", "--derive-context", "weekday"])
    assert code == 0, capsys.readouterr().err
    store = Store(str(db))
    try:
        did = store.resolve_dataset("ev")
        assert [f["field"] for f in store.context_fields(did)] == ["device", "weekday"]
        assert context_rows(store, did)[("u1", "a")] == ("mobile", "Sat")
    finally:
        store.close()


def test_deleting_a_dataset_removes_its_context(tmp_path):
    store = Store(":memory:")
    did = load_dataset(store, plan_with(write(tmp_path, ROWS))).dataset_id
    store.delete_dataset(did)
    cur = store.cursor()
    for table in ("interaction_context", "context_fields"):
        assert cur.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]
