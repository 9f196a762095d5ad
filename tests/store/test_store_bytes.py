"""A rejected upload leaves the database file byte-for-byte unchanged (issue 8)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from recsys_engine.errors import ValidationError
from recsys_engine.ingest import guess_plan, load_dataset
from recsys_engine.store import Store

GOOD = "user,item,rating\nu1,i1,4\nu1,i2,5\nu2,i1,3\nu2,i3,2\n"
BAD = {
    "ragged.csv": "user,item,rating\nu1,i1,4\nu1,i2,5,9\nu2,i1,3\n",
    "non_numeric.csv": "user,item,rating\nu1,i1,4\nu1,i2,five\nu2,i1,3\n",
    "out_of_scale.csv": "user,item,rating\nu1,i1,4\nu1,i2,50\nu2,i1,3\n",
    "duplicates.csv": "user,item,rating\nu1,i1,4\nu1,i1,5\nu2,i1,3\n",
    "empty_id.csv": "user,item,rating\nu1,i1,4\n,i2,5\nu2,i1,3\n",
    "header_only.csv": "user,item,rating\n",
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_opening_a_current_database_does_not_write(tmp_path):
    db = tmp_path / "db.duckdb"
    Store(db).close()
    before = _digest(db)
    Store(db).close()
    assert _digest(db) == before


@pytest.mark.parametrize("name", sorted(BAD))
def test_rejected_upload_leaves_the_file_byte_for_byte_unchanged(tmp_path, name):
    db = tmp_path / "db.duckdb"
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    store = Store(db)
    load_dataset(store, guess_plan([good], name="good", store=store))
    store.close()
    before = _digest(db)

    bad = tmp_path / name
    bad.write_text(BAD[name])
    store = Store(db)
    plan = guess_plan([bad], name="bad", store=store)
    # declared 1–5 stars, as a user would for these files
    plan = replace(plan, options=replace(plan.options, feedback="explicit", rating_scale=(1, 5)))
    with pytest.raises(ValidationError):
        load_dataset(store, plan)
    store.close()
    assert _digest(db) == before, f"{name}: the database file changed"
