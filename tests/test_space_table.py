"""The Tune panel's search-space table: declared spaces to rows and edited rows back to the
overrides ``narrow_space`` takes (issue 15)."""

from __future__ import annotations

import pytest

from recsys_engine.errors import ConfigError
from recsys_engine.models import get_model, list_models
from recsys_engine.models.ease import EASEConfig
from recsys_engine.models.search_space import Choice, Range, narrow_space, space_of
from recsys_engine.tuning.space_table import overrides_from_rows, space_rows


def _rows(**edits):
    rows = space_rows(EASEConfig)
    for row in rows:
        row.update(edits.get(row["Setting"], {}))
    return rows


def test_ease_rows_show_the_declared_space_and_defaults():
    rows = {r["Setting"]: r for r in space_rows(EASEConfig)}
    assert rows["l2"]["Values tried"] == "1 – 100000"
    assert rows["l2"]["Scale"] == "decimals, log scale"
    assert rows["l2"]["Value when not tuned"] == "200"  # EASEConfig.l2 default
    assert rows["binary"]["Values tried"] == "true, false"
    assert rows["binary"]["Scale"] == "one of"
    assert all(r["Tune"] for r in rows.values())


def test_unedited_rows_mean_the_declared_space():
    assert overrides_from_rows(EASEConfig, space_rows(EASEConfig)) == {}


@pytest.mark.parametrize("name", [s.name for s in list_models()])
def test_every_model_round_trips(name):
    cls = get_model(name).config_class
    space, fixed = narrow_space(cls, overrides_from_rows(cls, space_rows(cls)))
    assert space == space_of(cls) and fixed == {}


def test_narrow_widen_fix_and_drop():
    rows = _rows(
        l2={"Values tried": "10 to 2000"},
        binary={"Values tried": "true"},
    )
    over = overrides_from_rows(EASEConfig, rows)
    assert over == {"l2": [10.0, 2000.0], "binary": True}
    space, fixed = narrow_space(EASEConfig, over)
    assert space == {"l2": Range(10.0, 2000.0, log=True)} and fixed == {"binary": True}
    # not tuned: the default is kept (None); a changed value is fixed
    assert overrides_from_rows(EASEConfig, _rows(l2={"Tune": False})) == {"l2": None}
    over = overrides_from_rows(EASEConfig, _rows(l2={"Tune": False, "Value when not tuned": "80"}))
    assert over == {"l2": 80}
    # a one-point range fixes the value
    assert overrides_from_rows(EASEConfig, _rows(l2={"Values tried": "50 – 50"})) == {"l2": 50.0}


def test_integer_ranges_stay_integer():
    cls = get_model("itemknn").config_class
    rows = space_rows(cls)
    for row in rows:
        if row["Setting"] == "neighbours":
            row["Values tried"] = "5 - 40"
    over = overrides_from_rows(cls, rows)
    assert over["neighbours"] == [5, 40] and isinstance(over["neighbours"][0], int)
    space, _ = narrow_space(cls, over)
    assert space["neighbours"].integer
    for row in rows:
        if row["Setting"] == "neighbours":
            row["Values tried"] = "5 – 40.5"
    with pytest.raises(ConfigError, match="neighbours: takes whole numbers"):
        overrides_from_rows(cls, rows)


def test_bad_text_names_the_setting():
    with pytest.raises(ConfigError, match="l2: values tried must be a range such as '1 – 100000'"):
        overrides_from_rows(EASEConfig, _rows(l2={"Values tried": "lots"}))
    with pytest.raises(ConfigError, match="binary: list at least one value"):
        overrides_from_rows(EASEConfig, _rows(binary={"Values tried": " , "}))
    with pytest.raises(ConfigError, match="'solver' is not a tunable setting"):
        overrides_from_rows(EASEConfig, [{"Setting": "solver", "Tune": True}])
    assert isinstance(space_of(EASEConfig)["binary"], Choice)
