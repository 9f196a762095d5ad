"""Tables the pages build from engine results (no Streamlit session needed)."""

from __future__ import annotations

import math

from ui.models import metrics_table


def test_metrics_table_is_metric_by_cutoff_with_readable_names():
    table = metrics_table(
        {"ndcg@10": 0.123456, "ndcg@5": 0.2, "arp@5": 401.2, "rmse": 0.86, "coverage@20": 0.3}
    )
    assert list(table.index) == ["NDCG", "Coverage", "ARP", "RMSE"]  # accuracy, beyond, other
    assert list(table.columns) == ["@5", "@10", "@20", "overall"]
    assert table.loc["NDCG", "@10"] == 0.1235  # rounded to 4 places
    assert table.loc["RMSE", "overall"] == 0.86
    assert math.isnan(table.loc["NDCG", "@20"])
