"""The study charts' log axes: round, labelled ticks instead of plotly's bare digits."""

from __future__ import annotations

import optuna
import pytest

from recsys_engine.tuning.charts import log_ticks, slice_figure


@pytest.mark.parametrize(
    ("low", "high", "values", "texts"),
    [
        # the EASE study of the walk-through: l2 between 82.64 and 692.2
        (82.64, 692.2, [100, 200, 500], ["100", "200", "500"]),
        # five decades: 1-2-5 (16 ticks) and 1-3 (11) are too many, decades are 6
        (1, 1e5, [1, 10, 100, 1e3, 1e4, 1e5], ["1", "10", "100", "1,000", "10,000", "100,000"]),
        # a learning rate: below 0.001 the whole axis reads 1e-n
        (1e-5, 1e-2, [1e-5, 1e-4, 1e-3, 1e-2], ["1e-5", "1e-4", "1e-3", "1e-2"]),
        (3e-4, 2e-3, [5e-4, 1e-3, 2e-3], ["5e-4", "1e-3", "2e-3"]),
        (0.5, 3, [0.5, 1, 2], ["0.5", "1", "2"]),
        # no round value inside: the round values around the range
        (150, 180, [100, 200], ["100", "200"]),
        (9, 11, [5, 10, 20], ["5", "10", "20"]),
        (200, 200, [200], ["200"]),
        # eleven decades: every second one
        (
            1e-8,
            1e3,
            [1e-8, 1e-6, 1e-4, 1e-2, 1, 100],
            ["1e-8", "1e-6", "1e-4", "1e-2", "1e0", "1e2"],
        ),
    ],
)
def test_log_ticks_are_round_and_readable(low, high, values, texts):
    got_values, got_texts = log_ticks(low, high)
    assert got_values == pytest.approx(values, rel=1e-12)
    assert got_texts == texts


@pytest.mark.parametrize(("low", "high"), [(0, 10), (-1, 10), (10, 1), (1, float("inf"))])
def test_log_ticks_refuses_a_range_a_log_axis_cannot_show(low, high):
    with pytest.raises(ValueError, match="0 < low <= high"):
        log_ticks(low, high)


def test_slice_plot_labels_its_log_axis_with_round_values():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    trials = [(200.0, True, 0.3344), (554.7, True, 0.3153), (82.64, False, 0.3349)]
    for l2, binary, _ in trials:
        study.enqueue_trial({"l2": l2, "binary": binary})
    values = iter(v for *_, v in trials)

    def objective(t: optuna.Trial) -> float:
        t.suggest_float("l2", 1, 1e5, log=True)
        t.suggest_categorical("binary", [True, False])
        return next(values)

    study.optimize(objective, n_trials=len(trials))
    fig = slice_figure(study)
    axes = {fig.layout[k].title.text: fig.layout[k] for k in fig.layout if k.startswith("xaxis")}
    l2 = axes["l2"]
    assert l2.type == "log"  # still a log scale
    assert list(l2.tickvals) == [100, 200, 500] and list(l2.ticktext) == ["100", "200", "500"]
    # the range (log10 units) holds every dot: 82.64 .. 554.7
    assert l2.range[0] < 1.9172 and l2.range[1] > 2.7441
    assert axes["binary"].tickvals is None  # a category axis is left alone
