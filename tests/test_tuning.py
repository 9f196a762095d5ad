"""Tuning (issue 15): declared search spaces, the validation-only objective, pruning, the
tuned run's budget, and two worker processes sharing one study."""

from __future__ import annotations

import dataclasses

import numpy as np
import optuna
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_engine.errors import ConfigError
from recsys_engine.models import get_model, list_models
from recsys_engine.models.ease import EASEConfig
from recsys_engine.models.search_space import Choice, Range, check_space, narrow_space, space_of
from recsys_engine.split_data import load_split_data
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store
from recsys_engine.tuning import objective as objective_module
from recsys_engine.tuning import tune, tuning_data, tuning_label
from recsys_engine.tuning.storage import default_storage, open_storage
from recsys_engine.tuning.study import duration_text

MODEL_NAMES = [spec.name for spec in list_models()]


@pytest.fixture(autouse=True)
def _artefacts(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "artefacts"))


def _frame(n_users: int = 40, n_items: int = 30, seed: int = 0) -> pd.DataFrame:
    """Users in two taste groups (even items / odd items), a few interactions each."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        pool = np.arange(u % 2, n_items, 2)
        for i in rng.choice(pool, size=int(rng.integers(6, 12)), replace=False):
            rows.append((f"u{u}", f"i{i}", 1.0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def _split(store: Store, validation: float = 0.15) -> int:
    did = store.create_dataset_from_frames("toy", _frame())
    return create_split(
        store, did, SplitConfig(seed=3, test_fraction=0.2, validation_fraction=validation)
    )


def _pairs(matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


# -- search spaces ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registered_model_declares_a_valid_space(name):
    cls = get_model(name).config_class
    space = space_of(cls)
    assert space, f"{name} declares no search space"
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(space) <= fields
    check_space(cls, space)  # both ends of every range and every choice are accepted
    for param in space.values():
        if isinstance(param, Range) and param.log:
            assert param.low > 0
    # sampled trials give configs that validate
    sampler = optuna.samplers.RandomSampler(seed=1)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    for _ in range(20):
        trial = study.ask()
        config = cls.from_dict(objective_module.suggest(trial, space))
        for key, param in space.items():
            value = getattr(config, key)
            if isinstance(param, Choice):
                assert value in param.values
            else:
                assert param.low <= value <= param.high
                assert isinstance(value, int) == param.integer
        study.tell(trial, 0.0)


def test_rates_and_penalties_are_log_scaled_and_sizes_integer():
    two_tower = space_of(get_model("two_tower").config_class)
    assert two_tower["learning_rate"].log and two_tower["l2"].log
    assert two_tower["dim"].integer and two_tower["epochs"].integer
    assert space_of(EASEConfig)["l2"] == Range(1.0, 1e5, log=True)
    knn = space_of(get_model("itemknn").config_class)
    assert knn["neighbours"].integer


def test_check_space_names_what_is_wrong():
    with pytest.raises(ConfigError, match="'lambda'.*not one of its settings"):
        check_space(EASEConfig, {"lambda": Range(1, 2)})
    with pytest.raises(ConfigError, match="log-scaled, so low must be > 0"):
        check_space(EASEConfig, {"l2": Range(0, 10, log=True)})
    with pytest.raises(ConfigError, match="l2=-5 is refused"):
        check_space(EASEConfig, {"l2": Range(-5, 10)})
    with pytest.raises(ConfigError, match="low < high"):
        check_space(EASEConfig, {"l2": Range(10, 1)})


def test_overrides_narrow_widen_fix_and_drop():
    cls = get_model("itemknn").config_class
    space, fixed = narrow_space(cls, {"neighbours": [5, 50], "shrinkage": None, "binary": False})
    # the declared scale is kept when a range is narrowed or widened
    assert space == {"neighbours": Range(5, 50, log=True, integer=True)}
    assert fixed == {"binary": False}
    space, _ = narrow_space(EASEConfig, {"solver": ["primal"], "l2": {"low": 1, "high": 9}})
    assert space["solver"] == Choice(("primal",))
    assert space["l2"] == Range(1, 9)
    with pytest.raises(ConfigError, match="'alpha' is not a setting of EASEConfig"):
        narrow_space(EASEConfig, {"alpha": [1, 2]})
    with pytest.raises(ConfigError, match=r"a range is \[low, high\]"):
        narrow_space(EASEConfig, {"l2": [1, 2, 3]})
    with pytest.raises(ConfigError, match="fixed value.*l2 must be > 0"):
        narrow_space(EASEConfig, {"l2": -1.0})


# -- the study ---------------------------------------------------------------------------------
def test_tune_refuses_a_split_without_validation_fold(store):
    split = _split(store, validation=0.0)
    with pytest.raises(ConfigError, match="no validation fold.*never on test"):
        tune(store, split, "ease", trials=2)
    assert store.list_studies().empty  # nothing written


def test_tune_refuses_a_missing_budget_and_bad_workers(store):
    split = _split(store)
    with pytest.raises(ConfigError, match="needs a budget"):
        tune(store, split, "ease")
    with pytest.raises(ConfigError, match="trials must be at least 1"):
        tune(store, split, "ease", trials=0)
    with pytest.raises(ConfigError, match="workers > 1 needs a study storage"):
        tune(store, split, "ease", trials=4, workers=2)


def test_the_objective_never_sees_test_rows(store, monkeypatch):
    split = _split(store)
    full = load_split_data(store, split)
    test = _pairs(full.test)
    assert test  # the split does have test rows to leak
    seen: list = []
    real_evaluate = objective_module.evaluate

    def spy(model, data, options=None, **kwargs):
        seen.append(data)
        return real_evaluate(model, data, options, **kwargs)

    monkeypatch.setattr(objective_module, "evaluate", spy)
    result = tune(store, split, "ease", trials=3)
    assert len(seen) == 3
    for data in seen:
        # the model trains on data.train and is scored on data.test: neither holds a test row
        for matrix in (data.train.matrix, data.train.validation, data.seen, data.test):
            assert not (_pairs(matrix) & test)
        assert _pairs(data.test) == _pairs(full.train.validation)
        assert data.test_ratings is None
    assert tuning_data(store, split).test.nnz == full.train.validation.nnz
    # the final run, and only it, is evaluated on test
    run = store.get_run(result.run_id)
    assert run["status"] == "succeeded"
    assert run["eval_info"]["test_users"] == len(np.unique(full.test.tocoo().row))


def test_best_trial_is_trained_as_a_run_with_its_budget(store):
    split = _split(store)
    result = tune(store, split, "ease", trials=4, space={"binary": True})
    rows = result.trials
    assert [r["number"] for r in rows] == [0, 1, 2, 3]
    assert all(r["state"] == "complete" for r in rows)
    best = max(rows, key=lambda r: r["validation_ndcg@10"])
    assert result.best_trial == best["number"]
    assert result.best_config["l2"] == pytest.approx(best["params"]["l2"])
    assert result.best_config["binary"] is True
    run = store.get_run(result.run_id)
    assert run["config"]["l2"] == pytest.approx(best["params"]["l2"])
    tuning = run["tuning"]
    assert tuning["trials"] == 4 and tuning["complete"] == 4 and tuning["pruned"] == 0
    assert tuning["study"] == result.study_name and tuning["study_id"] == result.study_id
    assert tuning["budget"] == {"trials": 4, "minutes": None, "workers": 1}
    assert tuning_label(tuning).startswith("tuned: 4 trials, ")
    took = duration_text(tuning["minutes"])  # under a minute: seconds, never "0.0 minutes"
    assert took.endswith(("second", "seconds")) and "minute" not in took
    assert tuning_label(tuning).endswith(f", {took}, study {result.study_name}")
    assert tuning_label({**tuning, "minutes": 3.14}) == (
        f"tuned: 4 trials, 3.1 minutes, study {result.study_name}"
    )
    study_row = store.get_study(result.study_id)
    assert study_row["status"] == "succeeded" and study_row["best_run_id"] == result.run_id
    assert study_row["storage"] == "memory"
    assert study_row["fixed"] == {"binary": True}
    assert set(study_row["space"]) == {"l2"}
    # a run trained with a given config has no tuning budget
    from recsys_engine.runs import run_model

    assert store.get_run(run_model(store, split, "popularity"))["tuning"] is None


class _PruneOddTrials(optuna.pruners.BasePruner):
    """Prunes every odd-numbered trial once it has reported its second epoch."""

    def prune(self, study, trial) -> bool:
        return trial.number % 2 == 1 and len(trial.intermediate_values) >= 2


def test_tiny_keras_study_end_to_end_with_pruning(store):
    split = _split(store)
    space = {
        "epochs": 4,
        "patience": 0,
        "smoothing": 1,
        "ema": 0.0,
        "dim": 8,
        "learning_rate": [1e-3, 5e-2],
        "lr_decay": None,
        "dropout": None,
        "l2": None,
        "input_fraction": None,
        "weighting": None,
        "popularity_prior": None,
    }
    finished: list[dict] = []
    result = tune(
        store,
        split,
        "two_tower",
        trials=3,
        space=space,
        pruner=_PruneOddTrials(),
        on_trial=finished.append,
    )
    states = [r["state"] for r in result.trials]
    assert states == ["complete", "pruned", "complete"]
    assert [r["number"] for r in finished] == [0, 1, 2]
    pruned = result.trials[1]
    assert pruned["epochs"] == 2  # stopped after its second epoch, not the fourth
    assert pruned["validation_ndcg@10"] is not None  # its last reported value
    for row in (result.trials[0], result.trials[2]):
        assert row["epochs"] == 4 and 1 <= row["best_epoch"] <= 4
    best = result.trials[result.best_trial]
    run = store.get_run(result.run_id)
    assert run["status"] == "succeeded"
    # the run trains for the epochs early stopping kept on validation
    assert run["config"]["epochs"] == best["best_epoch"]
    assert run["config"]["learning_rate"] == pytest.approx(best["params"]["learning_rate"])
    assert run["tuning"]["pruned"] == 1 and run["tuning"]["complete"] == 2


def test_journal_storage_lives_next_to_the_database(tmp_path):
    assert default_storage(":memory:") is None
    assert default_storage(tmp_path / "x" / "lab.duckdb") == str(
        tmp_path / "x" / "lab.optuna.journal"
    )
    storage = open_storage(str(tmp_path / "j.journal"))
    assert isinstance(storage, optuna.storages.JournalStorage)


def test_two_worker_processes_share_one_study(tmp_path):
    db = tmp_path / "lab.duckdb"
    store = Store(db)
    try:
        split = _split(store)
        result = tune(store, split, "ease", trials=6, workers=2)
        journal = tmp_path / "lab.optuna.journal"
        assert journal.exists()
        study = optuna.load_study(study_name=result.study_name, storage=open_storage(str(journal)))
        trials = study.get_trials(deepcopy=False)
        # no trial lost, none duplicated: exactly 6, numbered 0..5, each finished once
        assert sorted(t.number for t in trials) == list(range(6))
        assert len({t._trial_id for t in trials}) == 6
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
        # each worker process ran its share (3 + 3), and they sampled differently
        processes = [t.user_attrs["process"] for t in trials]
        assert sorted(processes.count(p) for p in set(processes)) == [3, 3]
        assert len({round(t.params["l2"], 9) for t in trials}) == 6
        assert [r["number"] for r in result.trials] == list(range(6))
        assert store.get_run(result.run_id)["tuning"]["budget"]["workers"] == 2
        assert store.get_study(result.study_id)["storage"] == f"journal:{journal}"
    finally:
        store.close()


def test_a_minutes_budget_starts_no_trial_after_the_deadline(store):
    split = _split(store)
    # a deadline that has passed once the first trial ends: that trial is the only one
    result = tune(store, split, "ease", minutes=1e-7)
    assert len(result.trials) == 1
    assert store.get_run(result.run_id)["tuning"]["budget"] == {
        "trials": None,
        "minutes": 1e-7,
        "workers": 1,
    }


def test_the_first_trial_is_the_default_config(store):
    split = _split(store)
    result = tune(store, split, "ease", trials=3)
    assert result.trials[0]["params"] == {"l2": 200.0, "binary": True}  # EASEConfig defaults
    assert result.best_value >= result.trials[0]["validation_ndcg@10"]
    # a default outside the narrowed range is not tried; the rest of the defaults are
    from recsys_engine.models.search_space import default_point

    space, _ = narrow_space(EASEConfig, {"l2": [500, 1000]})
    assert default_point(EASEConfig, space) == {"binary": True}
    # on a cold-items split Content-based's first trial is its cold-items defaults
    content = get_model("content").config_class
    cold = default_point(content, space_of(content), "cold-items")
    assert (cold["min_df"], cold["new_item_negatives"]) == (5, False)
    assert default_point(content, space_of(content))["min_df"] == 2
    knn = get_model("itemknn").config_class
    point = default_point(knn, space_of(knn))
    defaults = knn.from_dict({})
    assert point == {k: getattr(defaults, k) for k in point} and point


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0.005, "under a second"),  # 0.3 s
        (0.01, "1 second"),  # the 6-trial EASE study of a newcomer's walk-through (0.6 s)
        (0.2, "12 seconds"),
        (59 / 60, "59 seconds"),
        (59.6 / 60, "1 minute"),  # not "60 seconds"
        (1.0, "1 minute"),
        (3.14, "3.1 minutes"),
    ],
)
def test_duration_text_reads_as_people_say_it(minutes, text):
    assert duration_text(minutes) == text
