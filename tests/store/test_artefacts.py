"""Model folders: one per database file, never shared, never deleted outside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_evaluation import _frame

from recsys_engine.runs import delete_run, load_run_model, remove_artefacts, run_model
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("RECSYS_ARTEFACTS", raising=False)


def _train(db: Path, model: str) -> tuple[Store, int]:
    store = Store(db)
    did = store.create_dataset_from_frames("toy", _frame())
    sid = create_split(store, did, SplitConfig(seed=1))
    return store, run_model(store, sid, model)


def test_two_databases_in_one_folder_keep_their_own_run_folders(tmp_path):
    a, run_a = _train(tmp_path / "a.duckdb", "popularity")
    b, run_b = _train(tmp_path / "b.duckdb", "ease")
    assert run_a == run_b == 1  # ids start at 1 in every database
    path_a = Path(a.get_run(run_a)["artefact_path"])
    path_b = Path(b.get_run(run_b)["artefact_path"])
    assert path_a == tmp_path / "a.artefacts" / "run_1"
    assert path_b == tmp_path / "b.artefacts" / "run_1"
    delete_run(b, run_b)
    assert not path_b.exists()
    assert load_run_model(a, run_a).name == "popularity"  # untouched by b
    a.close()
    b.close()


def test_a_recreated_database_does_not_inherit_stale_model_files(tmp_path):
    db = tmp_path / "x.duckdb"
    old, run = _train(db, "ease")
    old.close()
    stale = tmp_path / "x.artefacts" / f"run_{run}" / "leftover.bin"
    stale.write_bytes(b"from the old database")
    db.unlink()
    new, run = _train(db, "popularity")
    folder = Path(new.get_run(run)["artefact_path"])
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "model.json"]
    assert json.loads((folder / "model.json").read_text())["model"] == "popularity"
    new.close()


def test_in_memory_stores_get_private_folders_removed_on_close(tmp_path):
    s1, s2 = Store(":memory:"), Store(":memory:")
    d1, d2 = s1.artefact_dir, s2.artefact_dir
    assert d1 != d2 and d1.is_dir() and d2.is_dir()
    s1.close()
    assert not d1.exists() and d2.exists()
    s2.close()


def test_only_owned_folders_are_ever_removed(tmp_path):
    store = Store(tmp_path / "db.duckdb")
    mine = store.artefact_dir / "run_7"
    mine.mkdir(parents=True)
    legacy = tmp_path / "artefacts" / "run_3"  # where older versions kept models
    legacy.mkdir(parents=True)
    foreign = tmp_path.parent / f"{tmp_path.name}_elsewhere"
    foreign.mkdir()
    traversal = str(store.artefact_dir / ".." / ".." / f"{tmp_path.name}_elsewhere")
    remove_artefacts(store, [str(foreign), traversal, str(store.artefact_dir)])
    assert foreign.exists() and store.artefact_dir.exists()
    remove_artefacts(store, [str(mine), str(legacy)])
    assert not mine.exists() and not legacy.exists()
    store.close()


def test_nothing_is_deleted_under_a_training_run(tmp_path):
    """A dataset (or run) with a run in progress cannot be deleted; a run deleted anyway
    (e.g. by another process) gets no progress or result rows afterwards."""
    from recsys_engine.errors import ConfigError, NotFoundError
    from recsys_engine.runs import execute_run, queue_run

    store = Store(tmp_path / "db.duckdb")
    did = store.create_dataset_from_frames("toy", _frame())
    sid = create_split(store, did, SplitConfig(seed=1))
    run = queue_run(store, sid, "ease")
    with pytest.raises(ConfigError, match="still queued or training"):
        store.delete_dataset(did)
    with pytest.raises(ConfigError, match="cancel it"):
        store.delete_run(run)
    assert store.get_dataset(did)["name"] == "toy"

    def vanish(done, total, info):  # the run disappears while it trains
        with store.transaction() as cur:
            cur.execute("DELETE FROM run_progress WHERE run_id = ?", [run])
            cur.execute("DELETE FROM runs WHERE id = ?", [run])

    with pytest.raises(NotFoundError):
        execute_run(store, run, on_progress=vanish)
    counts = {
        t: store.cursor().execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in ("runs", "run_progress", "metrics", "user_metrics", "recommendations")
    }
    assert counts == dict.fromkeys(counts, 0), counts
    assert not (store.artefact_dir / f"run_{run}").exists()
    store.close()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "arrays.npz").unlink(), "has no arrays.npz"),
        (lambda d: (d / "arrays.npz").write_bytes(b"garbage"), "damaged (arrays.npz"),
        (lambda d: (d / "model.json").write_text("{not json"), "damaged (model.json"),
        (lambda d: (d / "model.json").write_text("[]"), "model.json incomplete"),
        (lambda d: (d / "model.json").unlink(), "model.json missing"),
    ],
)
def test_a_damaged_model_folder_gives_one_clear_error(tmp_path, damage, message):
    from recsys_engine.errors import RecsysError

    store, run = _train(tmp_path / "db.duckdb", "ease")
    damage(Path(store.get_run(run)["artefact_path"]))
    with pytest.raises(RecsysError, match=message.replace("(", r"\(")):
        load_run_model(store, run)
    store.close()


def test_two_sessions_saving_the_same_name_at_once(tmp_path):
    """Both transactions pass their checks; the one that commits second gets a clear
    ConflictError, nothing of it is stored, and the store keeps working."""
    import threading

    from recsys_engine.errors import ConflictError

    store = Store(tmp_path / "db.duckdb")
    first_inserted, second_done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        try:
            with store.transaction():
                store.insert_dataset_row(
                    name="same", feedback="implicit", rating_scale=None, sources=[],
                    warnings=[],
                )  # fmt: skip
                first_inserted.set()
                second_done.wait(10)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcome["first"] = exc

    t = threading.Thread(target=first)
    t.start()
    first_inserted.wait(10)
    store.create_dataset_from_frames("same", _frame())  # commits while the first is open
    second_done.set()
    t.join(10)
    assert isinstance(outcome.get("first"), ConflictError), outcome
    assert "another session changed the same data" in str(outcome["first"])
    assert list(store.list_datasets()["name"]) == ["same"]
    store.create_dataset_from_frames("other", _frame())  # still usable
    store.close()
