"""Validation reads the weight average where it is (issue 14's epoch at 186k items): the
pooled models' catalogue is read from the optimizer's averages instead of swapping them
into the model and back every epoch, and early stopping copies a new best from the
averages too, so they are never swapped in. Everything stays the same as with the swaps."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

pytest.importorskip("keras")

from small_log_support import random_log, with_validation  # noqa: E402

from recsys_engine.models import create_model, early_stopping, keras_fit  # noqa: E402
from recsys_engine.models.data import TrainData  # noqa: E402
from recsys_engine.models.table_rows import current_rows  # noqa: E402


def _train() -> TrainData:
    return with_validation(random_log(300, 800, density=0.03, seed=1), every=6)


def _fit(name: str, config: dict, swapping: bool):
    """The model fitted, and how many times the averages were swapped in or out."""
    swaps: list[int] = []
    real_swap, real_fit = early_stopping.swap_with_averages, keras_fit.fit_keras

    def counted(optimizer, variables):
        swaps.append(1)
        real_swap(optimizer, variables)

    def swapped_fit(*args, validate=None, validate_reads=False, **kwargs):
        # the path before: the averages swapped into the model for every validation
        assert validate_reads
        return real_fit(*args, validate=lambda model: validate(model, current_rows), **kwargs)

    with mock.patch.object(early_stopping, "swap_with_averages", counted):
        if swapping:
            with mock.patch.object(keras_fit, "fit_keras", swapped_fit):
                model = create_model(name, config).fit(_train())
        else:
            model = create_model(name, config).fit(_train())
    return model, len(swaps)


@pytest.mark.parametrize(
    "name,loss", [("two_tower", "sampled_softmax"), ("two_tower", "softmax"), ("hybrid", "bpr")]
)
def test_validation_reads_the_averages_in_place_with_the_values_the_swaps_gave(name, loss):
    config = {"loss": loss, "epochs": 6, "patience": 0, "smoothing": 1, "dim": 16, "seed": 2}
    read, read_swaps = _fit(name, config, swapping=False)
    swapped, all_swaps = _fit(name, config, swapping=True)
    values = [h["val_ndcg@10"] for h in read.fit_result.history]
    assert values == [h["val_ndcg@10"] for h in swapped.fit_result.history]
    assert read.fit_result.best_epoch == swapped.fit_result.best_epoch
    for key in ("v_in", "v_out", "bias"):
        np.testing.assert_array_equal(getattr(read, key), getattr(swapped, key))
    assert all_swaps == 2 * 6  # in and out at every validation
    # the weights kept are the copy early stopping took of a best epoch before the last
    assert read.fit_result.best_epoch < 6
    assert read_swaps == 0
