"""Validate an upload plan completely, then load it in one transaction.

Errors block the load and nothing is written; warnings are stored with the dataset.
Every problem names the file, and where it can the line and the column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from recsys_engine.errors import Problem, ValidationError
from recsys_engine.ingest.checks import check_interactions, validate_plan
from recsys_engine.ingest.context import check_context, context_specs
from recsys_engine.ingest.plan import (
    FilePlan,
    InteractionMapping,
    LoadOptions,
    UploadPlan,
    feedback_for_range,
    stage_source,
)
from recsys_engine.ingest.side_files import read_items, read_users
from recsys_engine.ingest.timeparse import detect_time_format
from recsys_engine.store import Store
from recsys_engine.store.fast_load import FastPathRefused
from recsys_engine.store.names import check_name
from recsys_engine.store.readers import StageSource

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class LoadResult:
    """What a successful load stored."""

    dataset_id: int
    name: str
    n_interactions: int
    n_users: int
    n_items: int
    n_catalog_items: int
    warnings: list[str] = field(default_factory=list)
    n_review_texts: int = 0
    feedback: str = "explicit"
    rating_scale: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json`` output)."""
        return {
            "dataset_id": self.dataset_id,
            "name": self.name,
            "n_interactions": self.n_interactions,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_catalog_items": self.n_catalog_items,
            "warnings": self.warnings,
            "n_review_texts": self.n_review_texts,
            "feedback": self.feedback,
            "rating_scale": list(self.rating_scale) if self.rating_scale else None,
        }


def load_dataset(store: Store, plan: UploadPlan, on_progress: Progress | None = None) -> LoadResult:
    """Validate every file of ``plan`` and load it as a new dataset in one transaction.

    Raises:
        ValidationError: with every problem found; the database is unchanged.
    """
    # One open of the file for the whole load (each Store call would otherwise open and
    # close it, checkpointing each time); the bulk of the time is one transaction anyway.
    with store.unit():
        return _load(store, plan, on_progress)


def _load(store: Store, plan: UploadPlan, on_progress: Progress | None) -> LoadResult:
    progress = on_progress or (lambda done, total, info: None)
    problems = validate_plan(store, plan)
    if any(p.severity == "error" for p in problems):
        raise ValidationError(problems)
    opts = plan.options
    inter = plan.by_role("interactions")[0]
    progress(0, 4, f"reading {inter.name}")
    src, time_note = _stage_source(store, inter)
    if time_note:
        problems.append(Problem("warning", inter.name, time_note, column=src.time_col))
    mapping = inter.mapping
    assert isinstance(mapping, InteractionMapping)  # validate_plan guarantees it
    # the single-pass load writes interactions only; context goes through the staged path
    if opts.duplicates == "reject" and src.kind == "csv" and not mapping.has_context:
        result = _fast_load(store, plan, src, list(problems), progress)
        if result is not None:
            return result
    staged = store.stage_interactions(src)
    try:
        if opts.scale_at_load:
            opts = _settle_scale(opts, *store.staged_value_range(staged.table))
        progress(1, 4, "checking interactions")
        stats = check_interactions(store, inter, src, staged.table, opts, staged.rejects, problems)
        if not any(p.severity == "error" for p in problems):
            check_context(store, inter, staged.table, problems)
        progress(2, 4, "reading item and user files")
        items = read_items(store, plan, problems)
        users = read_users(store, plan, problems)
        if items is not None and not any(p.severity == "error" for p in problems):
            n_unknown, examples = store.stage_unknown_items(staged.table, items["item_id"].tolist())
            if n_unknown:
                problems.append(
                    Problem(
                        "warning",
                        inter.name,
                        f"{n_unknown} item ids are not in the item file "
                        f"(e.g. {', '.join(map(repr, examples))}); they get no title or content",
                        column=src.item_col,
                    )
                )
        if any(p.severity == "error" for p in problems):
            raise ValidationError(problems)
        warnings = [str(p) for p in problems if p.severity == "warning"]
        if stats["duplicate_rows"] and opts.duplicates != "reject":
            removed = stats["duplicate_rows"] - stats["duplicate_pairs"]
            verb = "kept the last" if opts.duplicates == "keep-last" else "summed the weights"
            warnings.append(
                f"{removed} duplicate rows merged ({verb} of each): "
                f"{stats['duplicate_pairs']} (user, item) pairs occur more than once "
                f"in {inter.name}"
            )
        progress(3, 4, "writing")
        sources = [_source_entry(f) for f in plan.files if f.role != "ignore"]
        scale = opts.rating_scale if opts.feedback == "explicit" else None
        with store.transaction():
            did = store.insert_dataset_row(
                name=opts.name,
                feedback=opts.feedback,
                rating_scale=scale,
                sources=sources,
                warnings=warnings,
            )
            store.insert_staged_interactions(staged.table, did, opts.feedback, opts.duplicates)
            if mapping.has_context:
                store.insert_staged_context(
                    staged.table, did, context_specs(mapping), opts.duplicates
                )
            n_texts = store.insert_interaction_text(src, _text_cols(inter), did)
            if items is not None:
                store.insert_frame("items", did, items)
            if users is not None:
                store.insert_frame("users", did, users)
            counts = store.finish_dataset(did)
        progress(4, 4, "done")
    finally:
        store.drop_stage(staged.table)
    return LoadResult(
        dataset_id=did,
        name=check_name(opts.name),
        warnings=warnings,
        n_review_texts=n_texts,
        feedback=opts.feedback,
        rating_scale=scale,
        **counts,
    )


def _settle_scale(opts: LoadOptions, lo: float | None, hi: float | None) -> LoadOptions:
    """``opts`` with the feedback and scale of values spanning [lo, hi] (no values: as
    guessed)."""
    if lo is None or hi is None:
        return replace(opts, scale_at_load=False)
    feedback, scale = feedback_for_range(lo, hi)
    return replace(opts, feedback=feedback, rating_scale=scale, scale_at_load=False)


def _fast_load(
    store: Store, plan: UploadPlan, src: StageSource, problems: list[Problem], progress: Progress
) -> LoadResult | None:
    """Single-pass load of a clean file (the common case); None when anything needs the
    careful staged path, which then reports every problem with its line."""
    opts = plan.options
    inter = plan.by_role("interactions")[0]
    # A scale left to the load bounds nothing while reading; it is checked right after.
    explicit = opts.feedback == "explicit"
    scale = opts.rating_scale if explicit and not opts.scale_at_load else None
    progress(1, 4, f"loading {inter.name}")
    # The files' checksums are computed while DuckDB reads (hashlib releases the GIL on
    # large buffers), so they cost next to no wall time; stored before the commit.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(lambda: [_source_entry(f) for f in plan.files if f.role != "ignore"])
        return _fast_transaction(store, plan, src, problems, progress, scale, hashing)


def _fast_transaction(
    store: Store,
    plan: UploadPlan,
    src: StageSource,
    problems: list[Problem],
    progress: Progress,
    scale: tuple[float, float] | None,
    hashing: Future[list[dict[str, Any]]],
) -> LoadResult | None:
    """The fast load's one transaction; ``hashing`` yields the source entries to store."""
    opts = plan.options
    inter = plan.by_role("interactions")[0]
    items = read_items(store, plan, problems)
    users = read_users(store, plan, problems)
    if any(p.severity == "error" for p in problems):
        return None
    try:
        with store.transaction():
            did = store.insert_dataset_row(
                name=opts.name,
                feedback=opts.feedback,
                rating_scale=scale,
                sources=[],
                warnings=[],
            )
            known = store.fast_insert_interactions(src, did, opts.feedback, scale)
            if opts.scale_at_load:
                lo, hi = known["value_min"], known["value_max"]
                opts = _settle_scale(opts, lo, hi)
                scale = opts.rating_scale
                # values below the settled scale (or negative weights): the staged path
                # reports each with its line
                if lo is not None and lo < (scale[0] if scale else 0.0):
                    raise FastPathRefused("values outside the scale taken from the data")
                store.settle_feedback(did, opts.feedback, scale)
            n_texts = store.insert_interaction_text(src, _text_cols(inter), did)
            progress(3, 4, "writing item and user files")
            if items is not None:
                store.insert_frame("items", did, items)
                n_unknown, examples = store.unknown_items(did)
                if n_unknown:
                    problems.append(
                        Problem(
                            "warning",
                            inter.name,
                            f"{n_unknown} item ids are not in the item file "
                            f"(e.g. {', '.join(map(repr, examples))}); "
                            "they get no title or content",
                            column=src.item_col,
                        )
                    )
            if users is not None:
                store.insert_frame("users", did, users)
            warnings = [str(p) for p in problems if p.severity == "warning"]
            store.set_dataset_warnings(did, warnings, sources=hashing.result())
            counts = store.finish_dataset(did, known)
    except FastPathRefused:
        return None
    progress(4, 4, "done")
    return LoadResult(
        dataset_id=did,
        name=check_name(opts.name),
        warnings=warnings,
        n_review_texts=n_texts,
        feedback=opts.feedback,
        rating_scale=scale,
        **counts,
    )


# -- interactions -------------------------------------------------------------------------
def _stage_source(store: Store, f: FilePlan) -> tuple[StageSource, str | None]:
    m = f.mapping
    assert isinstance(m, InteractionMapping)  # validate_plan guarantees it
    src = stage_source(f)
    if not m.time_col:
        return src, None
    values = store.sample_column(src, m.time_col)
    tf = detect_time_format(values)
    src = StageSource(
        **{**src.__dict__, "time_kind": tf.kind, "time_format": tf.fmt, "time_scale": tf.scale}
    )
    return src, tf.note


def _text_cols(f: FilePlan) -> tuple[str, ...]:
    """The review text columns mapped for the interactions file (kept as item content)."""
    m = f.mapping
    return m.text_cols if isinstance(m, InteractionMapping) else ()


def _source_entry(f: FilePlan) -> dict[str, Any]:
    h = hashlib.sha256()
    with f.sniff.path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"file": f.name, "role": f.role, "bytes": f.sniff.size, "sha256": h.hexdigest()}
