"""DuckDB schema (DESIGN §3). Every statement is idempotent; ``SCHEMA_VERSION`` tracks changes."""

from __future__ import annotations

#: Bump whenever DDL changes, so existing files run the (idempotent) statements again.
SCHEMA_VERSION = 8

DDL: list[str] = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS dataset_ids START 1",
    """CREATE TABLE IF NOT EXISTS datasets (
        id INTEGER PRIMARY KEY DEFAULT nextval('dataset_ids'),
        name VARCHAR NOT NULL UNIQUE,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        feedback VARCHAR NOT NULL,          -- 'explicit' or 'implicit'
        rating_min DOUBLE,                  -- declared scale for explicit feedback
        rating_max DOUBLE,
        n_interactions BIGINT NOT NULL,
        n_users BIGINT NOT NULL,
        n_items BIGINT NOT NULL,
        n_catalog_items BIGINT NOT NULL,    -- items in the item file or seen in interactions
        has_timestamps BOOLEAN NOT NULL,
        sources VARCHAR NOT NULL,           -- JSON list: file, role, bytes, sha256
        warnings VARCHAR NOT NULL           -- JSON list of warning strings from the load
    )""",
    """CREATE TABLE IF NOT EXISTS interactions (
        dataset_id INTEGER NOT NULL,
        user_id VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        rating DOUBLE,                      -- NULL for implicit feedback
        weight DOUBLE NOT NULL,             -- 1.0, play count, or summed duplicates
        ts TIMESTAMP                        -- NULL when the file had no time column
    )""",
    """CREATE TABLE IF NOT EXISTS items (
        dataset_id INTEGER NOT NULL,
        item_id VARCHAR NOT NULL,
        title VARCHAR,
        text VARCHAR,
        categories VARCHAR[],
        numeric VARCHAR                     -- JSON object name -> number, or NULL
    )""",
    """CREATE TABLE IF NOT EXISTS users (
        dataset_id INTEGER NOT NULL,
        user_id VARCHAR NOT NULL,
        features VARCHAR                    -- JSON object name -> value
    )""",
    "CREATE SEQUENCE IF NOT EXISTS split_ids START 1",
    """CREATE TABLE IF NOT EXISTS splits (
        id INTEGER PRIMARY KEY DEFAULT nextval('split_ids'),
        dataset_id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        strategy VARCHAR NOT NULL,
        params VARCHAR NOT NULL,            -- JSON
        seed BIGINT,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        stats VARCHAR NOT NULL,             -- JSON counts and warnings
        UNIQUE (dataset_id, name)
    )""",
    """CREATE TABLE IF NOT EXISTS split_rows (
        split_id INTEGER NOT NULL,
        user_id VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        fold VARCHAR NOT NULL               -- 'train', 'validation' or 'test'
    )""",
    "CREATE SEQUENCE IF NOT EXISTS run_ids START 1",
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY DEFAULT nextval('run_ids'),
        dataset_id INTEGER NOT NULL,
        split_id INTEGER NOT NULL,
        model VARCHAR NOT NULL,
        config VARCHAR NOT NULL,            -- JSON, the same the CLI takes with --config
        status VARCHAR NOT NULL,            -- queued/running/succeeded/failed/cancelled/interrupted
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        fit_seconds DOUBLE,
        eval_seconds DOUBLE,
        error VARCHAR,
        artefact_path VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS run_progress (
        run_id INTEGER NOT NULL,
        epoch INTEGER,
        step BIGINT,
        loss DOUBLE,
        val_metric DOUBLE,
        wall_time DOUBLE
    )""",
    """CREATE TABLE IF NOT EXISTS metrics (
        run_id INTEGER NOT NULL,
        metric VARCHAR NOT NULL,
        k INTEGER,                          -- NULL for metrics without a cut-off (RMSE)
        value DOUBLE,
        ci_low DOUBLE,
        ci_high DOUBLE
    )""",
    """CREATE TABLE IF NOT EXISTS user_metrics (
        run_id INTEGER NOT NULL,
        user_id VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        k INTEGER,
        value DOUBLE NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS recommendations (
        run_id INTEGER NOT NULL,
        user_id VARCHAR NOT NULL,
        rank INTEGER NOT NULL,
        item_id VARCHAR NOT NULL,
        score DOUBLE NOT NULL
    )""",
    # -- issue 3 (evaluation core): run options and evaluation summary, append-only -------
    # options: JSON inputs of the evaluation (ks, positive_threshold, batch_size);
    # eval_info: JSON outputs (test users, unscorable users, unseen users/items).
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS options VARCHAR",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS eval_info VARCHAR",
    # -- issue 5 (train from the browser): progress bar total and stage ----------------------
    "ALTER TABLE run_progress ADD COLUMN IF NOT EXISTS total BIGINT",
    "ALTER TABLE run_progress ADD COLUMN IF NOT EXISTS stage VARCHAR",
    # -- issue 15 (tuning): a run's tuning budget, and the studies that tuned runs ----------
    # tuning: JSON {study_id, study, trials, complete, pruned, failed, minutes, budget} on
    # the run trained from a study's best trial; NULL for runs trained with a given config.
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS tuning VARCHAR",
    "CREATE SEQUENCE IF NOT EXISTS study_ids START 1",
    """CREATE TABLE IF NOT EXISTS studies (
        id INTEGER PRIMARY KEY DEFAULT nextval('study_ids'),
        dataset_id INTEGER NOT NULL,
        split_id INTEGER NOT NULL,
        model VARCHAR NOT NULL,
        name VARCHAR NOT NULL,              -- the Optuna study name
        storage VARCHAR NOT NULL,           -- where Optuna keeps its trials (no password)
        space VARCHAR NOT NULL,             -- JSON: the searched ranges and choices
        fixed VARCHAR NOT NULL,             -- JSON: settings fixed for every trial
        budget VARCHAR NOT NULL,            -- JSON: {trials, minutes, workers}
        status VARCHAR NOT NULL,            -- running/succeeded/failed/cancelled
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        finished_at TIMESTAMP,
        summary VARCHAR,                    -- JSON: trial counts, minutes, best trial
        best_run_id INTEGER,
        error VARCHAR
    )""",
    # -- issue 17 (one database for the app and the CLI): which process trains a run ---------
    # owner: "host:pid" of the process that queued or runs it, so a server start interrupts
    # only runs whose process is gone, not a CLI training that shares the file.
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS owner VARCHAR",
    # -- issue 18 (context): categorical context of each interaction -----------------------
    # context_fields: the fields of a dataset in their order, with where each came from
    # (source: the upload's column name, or "derived:hour" / "derived:weekday" from ts);
    # interaction_context: one row per (interaction, field); an interaction is identified by
    # (dataset_id, user_id, item_id), unique once duplicates are rejected or merged.
    """CREATE TABLE IF NOT EXISTS context_fields (
        dataset_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        field VARCHAR NOT NULL,
        source VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS interaction_context (
        dataset_id INTEGER NOT NULL,
        user_id VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        field VARCHAR NOT NULL,
        value VARCHAR                       -- NULL when the cell was empty (unknown)
    )""",
    # -- issue 15 (Tune panel): which process runs a study, so a server start marks only the
    # studies whose process is gone ``interrupted`` (not a CLI study sharing the file).
    "ALTER TABLE studies ADD COLUMN IF NOT EXISTS owner VARCHAR",
    # -- issue 17 (real logs carry their own content): review text kept per interaction ------
    # The text columns of an interactions file (e.g. reviewText, summary) joined per
    # (user, item) row; models read it per item from a split's training fold only.
    """CREATE TABLE IF NOT EXISTS interaction_text (
        dataset_id INTEGER NOT NULL,
        user_id VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        text VARCHAR NOT NULL
    )""",
]
