"""Where a Two-tower epoch's time goes at MovieLens-20M shape (issue 14's epoch goal).

Builds a training fold shaped like ``bench/scale.py --rows R`` (its generator: Zipf-like
items, log-normal users; 80% of the rows kept as training), sets up the model exactly as
``two_tower``'s ``fit`` does (the real ``build``, example source and loss, captured from
``fit``), and times ``--steps`` training steps of each part in turn, in one process:

- ``batch``: building the batches in numpy (``EpochSource.batch``);
- ``forward``: the compiled forward pass and loss;
- ``forward+backward``: plus the gradient;
- ``step, no average``: plus the optimizer's update (``build_optimizer`` with ``ema`` 0);
- ``step``: the training step as ``fit_keras`` runs it (the configured optimizer, which
  applies the towers' L2 penalty of the rows read inside its row update);
- ``step, L2 in the loss``: the same step with that penalty added to the loss instead (the
  towers' own ``add_loss``), timed in the same rounds: the side-by-side measure of handing
  the penalty to the optimizer.

Each part's ms per step is the median over ``--rounds`` rounds run A, B, C, … then again,
so a load change hits every part alike; the table ends with the epoch's steps × ms and
each part's share (differences between consecutive rows: the gradient, the update, the
weight average). ``--ops N`` then traces four more training steps with TensorFlow's
profiler and prints the N costliest operations inside the compiled step, by name and by
kind (ms per step). Run from the repository root::

    TF_NUM_INTEROP_THREADS=1 nice -n 5 .venv/bin/python bench/epoch_profile.py \\
        [--rows 2000000] [--batch-size 1024] [--steps 20] [--config '{}'] [--ops 15]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from scale import ML20M_ITEMS, ML20M_USERS, make_pairs  # noqa: E402

from recsys_engine.models import create_model  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402


class _Captured(Exception):
    """Raised by the stand-in for ``fit_keras`` once it holds ``fit``'s arguments."""


def training_fold(rows: int, users: int, items: int, seed: int) -> TrainData:
    """80% of ``scale.py``'s pairs as a binary training fold (the split's share)."""
    u, i, rng = make_pairs(rows, users, items, seed)
    keep = rng.random(len(u)) < 0.8
    m = sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (u[keep], i[keep])), shape=(users, items)
    )
    m.sort_indices()
    return TrainData(
        matrix=m,
        user_ids=np.array([str(k) for k in range(users)], dtype=object),
        item_ids=np.array([str(k) for k in range(items)], dtype=object),
    )


def captured_setup(train: TrainData, config: dict) -> dict:
    """The ``build``, ``source``, config and loss ``two_tower``'s ``fit`` hands to
    ``fit_keras``."""
    held: dict = {}

    def capture(build, source, cfg, **options):
        held.update(build=build, source=source, config=cfg, **options)
        raise _Captured

    model = create_model("two_tower", config)
    with mock.patch("recsys_engine.models.keras_fit.fit_keras", capture):
        try:
            model.fit(train)
        except _Captured:
            pass
    return held


def compiled_parts(setup: dict, ema: bool, penalty_in_update: bool = True):
    """(forward, forward+backward, step) callables on a freshly built model; with
    ``penalty_in_update`` the optimizer applies the L2 penalty of the rows read, as
    ``fit_keras`` sets it up."""
    import keras
    import tensorflow as tf

    from recsys_engine.models.distribution import make_strategy
    from recsys_engine.models.keras_fit import build_optimizer, compiled_step

    config = setup["config"]
    if not ema:
        config = type(config).from_dict({**config.to_dict(), "ema": 0.0})
    keras.utils.set_random_seed(int(config.seed))
    strategy = make_strategy(config.strategy)
    with strategy.scope():
        model = setup["build"]()
        optimizer = build_optimizer(
            keras, config, model, bool(setup.get("sparse_updates")), penalty_in_update
        )
    loss = setup["loss"]
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def forward(x, y):
        return tf.reduce_mean(loss(y, model(x, training=True)))

    @tf.function(reduce_retracing=True)
    def backward(x, y):
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss(y, model(x, training=True)))
            if model.losses:
                value += tf.add_n(model.losses)
        grads = tape.gradient(value, variables)
        return value, [g.values if isinstance(g, tf.IndexedSlices) else g for g in grads]

    step = compiled_step(model, optimizer, loss, strategy)
    return forward, backward, lambda x, y: step(x, y, len(y))


def timed(fn, batches) -> tuple[float, float]:
    """Median wall ms and median CPU ms (all of the process's threads) per call of
    ``fn(x, y)`` over ``batches`` (results forced to numpy). On a shared machine the CPU
    time is the steadier measure of the work a part does."""
    import tensorflow as tf

    wall, cpu = [], []
    for x, y in batches:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(x, y)
        tf.nest.map_structure(lambda t: np.asarray(t), out)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1000 * float(np.median(wall)), 1000 * float(np.median(cpu))


def traced_ops(fn, batches, top: int) -> None:
    """Trace ``fn`` over ``batches`` with TensorFlow's profiler and print the ``top``
    operations and operation kinds by time spent in them (ms per call), read from the
    trace's executor events (``name:kind``)."""
    import collections
    import tempfile

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for x, y in batches:
            tf.nest.map_structure(lambda t: np.asarray(t), fn(x, y))
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    by_name: collections.Counter[str] = collections.Counter()
    by_kind: collections.Counter[str] = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" in name and not name.startswith("ExecutorState"):  # op:kind
                    op, kind = name.rsplit(":", 1)
                    by_name[op] += event.duration_ps
                    by_kind[kind] += event.duration_ps
    ms = 1e-9 / len(batches)
    print(f"\ntraced operations of the step, ms per step ({len(batches)} steps):")
    for title, counts in (("operation", by_name), ("kind", by_kind)):
        print(f"\n| {title} | ms per step |\n| --- | --- |")
        for key, ps in counts.most_common(top):
            print(f"| {key} | {ps * ms:.1f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--users", type=int, default=ML20M_USERS)
    p.add_argument("--items", type=int, default=ML20M_ITEMS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--steps", type=int, default=20, help="timed steps per part and round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--config", default="{}", help="two_tower config overrides (JSON)")
    p.add_argument("--ops", type=int, default=0, help="also list the N costliest operations")
    args = p.parse_args()

    t0 = time.perf_counter()
    train = training_fold(args.rows, args.users, args.items, args.seed)
    config = {"epochs": 1, "patience": 0, "batch_size": args.batch_size}
    config.update(json.loads(args.config))
    setup = captured_setup(train, config)
    source, batch_size = setup["source"], int(setup["config"].effective_batch_size())
    rng = np.random.default_rng(0)
    t1 = time.perf_counter()
    n = source.new_epoch(rng)
    new_epoch_s = time.perf_counter() - t1
    steps = math.ceil(n / batch_size)
    print(
        f"{train.matrix.nnz:,} training interactions, {train.matrix.shape[0]:,} users x "
        f"{train.matrix.shape[1]:,} items; {n:,} examples = {steps} steps of {batch_size}; "
        f"mode {source.mode}; setup {t1 - t0:.1f} s; new_epoch {new_epoch_s:.2f} s",
        flush=True,
    )
    order = rng.permutation(n)
    n_batches = args.steps + 2 + (4 if args.ops else 0)
    indexes = [np.sort(order[s * batch_size : (s + 1) * batch_size]) for s in range(n_batches)]

    def build_batches():
        return [source.batch(index) for index in indexes]

    batches = build_batches()
    forward, backward, step_avg = compiled_parts(setup, ema=True)
    _, _, step_raw = compiled_parts(setup, ema=False)
    _, _, step_loss_l2 = compiled_parts(setup, ema=True, penalty_in_update=False)
    parts = {
        "batch": lambda x, y: source.batch(indexes[0]),
        "forward": forward,
        "forward+backward": backward,
        "step, no average": step_raw,
        "step": step_avg,
        "step, L2 in the loss": step_loss_l2,
    }
    for fn in parts.values():  # trace and warm up
        timed(fn, batches[:2])
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in parts}
    for r in range(args.rounds):
        for name, fn in parts.items():
            rounds[name].append(timed(fn, batches[2 : args.steps + 2]))
        print(
            f"round {r + 1} (wall / cpu ms): "
            + ", ".join(f"{k} {v[-1][0]:.0f} / {v[-1][1]:.0f}" for k, v in rounds.items())
        )
    wall = {name: float(np.median([w for w, _ in v])) for name, v in rounds.items()}
    cpu = {name: float(np.median([c for _, c in v])) for name, v in rounds.items()}
    print(f"\nload average {os.getloadavg()[0]:.1f}; {steps} steps per epoch\n")
    print("| part | wall ms per step | CPU ms per step | CPU s per epoch | share (CPU) |")
    print("| --- | --- | --- | --- | --- |")

    def parts_of(ms: dict[str, float]) -> list[tuple[str, float]]:
        return [
            ("batch building (numpy)", ms["batch"]),
            ("forward + loss", ms["forward"]),
            ("gradient", ms["forward+backward"] - ms["forward"]),
            ("optimizer update", ms["step, no average"] - ms["forward+backward"]),
            ("weight average (EMA)", ms["step"] - ms["step, no average"]),
        ]

    total = cpu["batch"] + cpu["step"]
    for (name, w), (_, c) in zip(parts_of(wall), parts_of(cpu), strict=True):
        print(f"| {name} | {w:.0f} | {c:.0f} | {c * steps / 1000:.1f} | {c / total:.0%} |")
    total_wall = wall["batch"] + wall["step"]
    print(
        f"| **epoch (batch + step)** | {total_wall:.0f} | {total:.0f} | "
        f"{total * steps / 1000:.1f} (wall {total_wall * steps / 1000:.1f}) | 100% |"
    )
    print(f"| new_epoch (resampling, once) | – | – | {new_epoch_s:.1f} (wall) | – |")
    with_loss = "step, L2 in the loss"
    print(
        f"\nthe step with the rows' L2 penalty in the loss instead of the update: wall "
        f"{wall[with_loss]:.0f} ms vs {wall['step']:.0f} ms "
        f"({wall[with_loss] / wall['step']:.2f}x), CPU {cpu[with_loss]:.0f} ms vs "
        f"{cpu['step']:.0f} ms ({cpu[with_loss] / cpu['step']:.2f}x)"
    )
    if args.ops:
        traced_ops(step_avg, batches[args.steps + 2 :], args.ops)


if __name__ == "__main__":
    main()
