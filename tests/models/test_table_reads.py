"""A training step of the sampled losses reads the ID tables by row (issue 14's epoch
speed): a whole-table read of a variable whose rows are written in place makes TensorFlow
copy the table at every step (0.4 GB per 186k × 512 table), which made a step at 200k
items 14× slower than this one (BENCHMARKS.md)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402
from recsys_engine.models.keras_fit import build_optimizer, compiled_step  # noqa: E402


class _Captured(Exception):
    pass


def _fit_arguments(config: dict) -> dict:
    """What ``two_tower``'s ``fit`` hands to ``fit_keras`` (build, source, config, loss…)."""
    users, items = 60, 400
    m = sp.random(users, items, density=0.05, random_state=1, format="csr", dtype=np.float32)
    m.data[:] = 1.0
    m.sort_indices()
    data = TrainData(
        matrix=m,
        user_ids=np.array([f"u{u}" for u in range(users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(items)], dtype=object),
    )
    held: dict = {}

    def capture(build, source, cfg, **options):
        held.update(build=build, source=source, config=cfg, **options)
        raise _Captured

    with mock.patch("recsys_engine.models.keras_fit.fit_keras", capture):
        with pytest.raises(_Captured):
            create_model("two_tower", config).fit(data)
    return held


def _whole_reads(config: dict) -> tuple[list[str], int]:
    """Names of the ID tables (and their optimizer slots) that the traced training step
    reads whole (``ReadVariableOp``), and how many of them it reads by row."""
    held = _fit_arguments(config)
    source = held["source"]
    n = source.new_epoch(np.random.default_rng(0))  # fit_keras draws before it builds
    model = held["build"]()
    optimizer = build_optimizer(keras, held["config"], model, held["sparse_updates"])
    step = compiled_step(model, optimizer, held["loss"], tf.distribute.get_strategy())
    x, y = source.batch(np.arange(min(16, n)))
    step(x, y, len(y))  # traces the step, builds the optimizer's slots
    graph = step.compiled.get_concrete_function(
        x, y, tf.constant(len(y), "float32")
    ).graph
    tables = [v for v in model.trainable_variables if v.shape[0] == 400]
    assert {v.path.split("/")[-1] for v in tables} == {"id_in", "id_out", "id_bias"}
    slots = [
        s
        for s in optimizer.variables
        if len(s.shape) and s.shape[0] == 400 and s.dtype == "float32"
    ]
    names = {id(v.value.handle): v.path for v in tables + slots}
    inside = {
        internal.name: names[id(external)]
        for external, internal in graph.captures
        if id(external) in names
    }
    whole, by_row = [], 0
    for op in graph.get_operations():
        for t in op.inputs:
            if t.name in inside:
                if op.type == "ReadVariableOp":
                    whole.append(inside[t.name])
                elif op.type == "ResourceGather":
                    by_row += 1
    return whole, by_row


def test_sampled_softmax_step_reads_and_updates_the_id_tables_by_row():
    config = {"dim": 8, "batch_size": 16, "max_softmax_items": 100, "epochs": 1}
    whole, by_row = _whole_reads(config)
    assert whole == []
    assert by_row >= 3 * 4  # tables, both moments and the weight average, at least
