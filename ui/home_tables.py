"""Home's two tables as static text: counts with thousands separators (as in the tiles
above them), times to the minute, and user text (dataset and split names) escaped, since
``st.table`` renders every cell as markdown."""

from __future__ import annotations

import pandas as pd

from ui.models import NOT_YET, runs_table
from ui.text import md_escape

TIME_FORMAT = "%Y-%m-%d %H:%M"
#: Rows each Home table shows at most (a static table shows all it is given).
ROWS = 10


def _minutes(values: pd.Series) -> pd.Series:
    """Timestamps to the minute; a dash where there is none."""
    return pd.to_datetime(values).dt.strftime(TIME_FORMAT).fillna(NOT_YET)


def datasets_table(datasets: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset: id, name, feedback, users, items, interactions, when loaded."""
    counts = {"n_users": "users", "n_items": "items", "n_interactions": "interactions"}
    return pd.DataFrame(
        {
            "dataset id": datasets["id"].astype(int).astype(str),
            "name": datasets["name"].map(md_escape),
            "feedback": datasets["feedback"],
            **{label: datasets[col].map("{:,}".format) for col, label in counts.items()},
            "loaded": _minutes(datasets["created_at"]),
        }
    )


def recent_runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table of the Models page with each run's dataset named (Home mixes
    datasets), as text."""
    table = runs_table(runs, with_dataset=True)
    table["id"] = table["id"].astype(int).astype(str)
    for col in ("dataset", "split"):
        table[col] = table[col].map(md_escape)
    table["created"] = _minutes(table["created"])
    return table
