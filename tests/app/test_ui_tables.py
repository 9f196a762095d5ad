"""Tables the pages build from engine results (no Streamlit session needed)."""

from __future__ import annotations

import math

import pandas as pd

from recsys_engine import export
from ui.home_tables import datasets_table, recent_runs_table
from ui.models import NOT_YET, metrics_table, run_labels, runs_table


def test_metrics_table_is_metric_by_cutoff_with_readable_names():
    table = metrics_table(
        {"ndcg@10": 0.123456, "ndcg@5": 0.2, "arp@5": 401.2, "rmse": 0.86, "coverage@20": 0.3}
    )
    assert list(table.index) == ["NDCG", "Coverage", "ARP", "RMSE"]  # accuracy, beyond, other
    assert list(table.columns) == ["@5", "@10", "@20", "overall"]
    assert table.loc["NDCG", "@10"] == 0.1235  # rounded to 4 places
    assert table.loc["RMSE", "overall"] == 0.86
    assert math.isnan(table.loc["NDCG", "@20"])
    # the same 4 decimals as the run card's f"{v:.4f}" (pandas' round(4) read 0.2588 here)
    assert metrics_table({"coverage@10": 0.25875}).loc["Coverage", "@10"] == 0.2587


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [2, 1],
            "dataset": ["Books", "Films"],
            "model": ["ease", "popularity"],
            "split": ["s1", None],
            "status": ["running", "succeeded"],
            "ndcg_10": [None, 0.123456],
            "fit_seconds": [float("nan"), 2.04],
            "created_at": pd.to_datetime(["2026-01-02", "2026-01-01"]),
        }
    )


def test_runs_table_shows_a_dash_not_none_for_missing_values():
    table = runs_table(_runs())
    assert list(table["NDCG@10"]) == ["—", "0.1235"]
    assert list(table["fit s"]) == ["—", "2.0"]
    assert list(table["split"]) == ["s1", "—"]
    assert "None" not in table.astype(str).to_string()
    assert "dataset" not in table.columns
    quick = runs_table(_runs().assign(fit_seconds=[0.049, 12.34]))
    assert list(quick["fit s"]) == ["0.05", "12.3"]  # a quick fit is not shown as 0.0


def test_runs_table_names_the_dataset_when_lists_mix_datasets():
    table = runs_table(_runs(), with_dataset=True)
    assert list(table.columns[:3]) == ["id", "dataset", "model"]
    assert list(table["dataset"]) == ["Books", "Films"]


def test_recommendations_export_has_titles():
    recs = pd.DataFrame(
        {"user_id": ["u1", "u1"], "rank": [1, 2], "item_id": ["7", "9"], "score": [0.9, 0.5]}
    )
    items = pd.DataFrame({"item_id": ["7", "8"], "title": ["=Heat", "Alien"]})
    out = export.recommendations_with_titles(recs, items)
    assert list(out.columns) == ["user_id", "rank", "item_id", "title", "score"]
    assert list(out["title"]) == ["=Heat", ""]  # 9 has no metadata: blank
    assert "'=Heat" in export.to_csv_bytes(out).decode()  # still formula-escaped
    assert list(export.recommendations_with_titles(recs, None)["title"]) == ["", ""]


def test_training_curve_keeps_its_legend_off_the_validation_axis():
    from ui.run_monitor import loss_figure

    progress = pd.DataFrame(
        {"epoch": [1, 1, 2], "loss": [3.0, 2.5, 2.0], "val_metric": [None, 0.1, 0.2]}
    )
    fig = loss_figure(progress)
    # one point per epoch, the epoch's last report
    assert list(fig.data[0].y) == [2.5, 2.0] and list(fig.data[1].y) == [0.1, 0.2]
    assert fig.data[1].yaxis == "y2" and fig.layout.yaxis2.side == "right"
    # a legend at the right edge covered the right axis's top tick labels
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y > 1


def test_run_labels_name_each_run_in_its_own_row():
    # hand-checked against _runs(): the labels follow the frame's order, one per run, and a
    # missing split reads "–" (not "nan")
    from ui.explain import run_labels as explain_labels

    assert run_labels(_runs()) == {
        2: "Run 2 · EASE · s1 · running",
        1: "Run 1 · Popularity · – · succeeded",
    }
    assert explain_labels(_runs()) == {
        2: "Run 2 · EASE · split s1",
        1: "Run 1 · Popularity · split – · NDCG@10 0.123",
    }


def test_the_run_monitor_notices_a_run_that_ended(monkeypatch):
    """The monitor (a fragment refreshing itself) asks for a whole-page rerun once a run
    it saw queued or running has ended, so the page's other parts (each model's "took …
    last time") are drawn again; new runs, unchanged ones and other splits do not."""
    from ui import run_monitor

    monkeypatch.setattr(run_monitor.st, "session_state", {})
    look = run_monitor.finished_since_last_look
    assert not look(1, [5, 6])  # first look
    assert not look(1, [5, 6, 7])  # one more queued
    assert look(1, [6, 7])  # run 5 ended
    assert not look(1, [6, 7])  # nothing changed since
    assert not look(2, [])  # another split has its own memory
    assert look(1, [])  # the last two ended


def test_home_tables_are_text_with_separators_minutes_and_escaped_names():
    datasets = pd.DataFrame(
        {
            "id": [3],
            "name": ["**bold** [link](x)"],
            "feedback": ["implicit"],
            "n_users": [1000],
            "n_items": [776],
            "n_interactions": [1234567],
            "created_at": pd.to_datetime(["2026-01-02 10:11:12"]),
        }
    )
    table = datasets_table(datasets)
    row = table.iloc[0].to_dict()
    assert row == {
        "dataset id": "3",
        "name": r"\*\*bold\*\* \[link\]\(x\)",  # st.table renders markdown: shown as typed
        "feedback": "implicit",
        "users": "1,000",
        "items": "776",
        "interactions": "1,234,567",
        "loaded": "2026-01-02 10:11",
    }
    runs = recent_runs_table(_runs().assign(dataset=["Books_v2", "Films"]))
    assert list(runs.columns) == [
        "id", "dataset", "model", "split", "status", "NDCG@10", "fit s", "created"
    ]  # fmt: skip
    assert runs["id"].tolist() == ["2", "1"]
    assert runs["dataset"].tolist() == [r"Books\_v2", "Films"]
    assert runs["split"].tolist() == ["s1", NOT_YET]  # no split name: a dash, never "None"
    assert runs["created"].tolist() == ["2026-01-02 00:00", "2026-01-01 00:00"]


def test_explain_opens_on_the_best_run_of_the_newest_split():
    """Newest first: runs 9 and 8 on split b (8 scores higher), 7 on split a (higher still,
    but another split's score is not comparable); 6 on b ties with 8 and is older."""
    from ui.explain import best_recent_run

    runs = pd.DataFrame(
        {
            "id": [9, 8, 7, 6],
            "split": ["b", "b", "a", "b"],
            "ndcg_10": [0.20, 0.31, 0.50, 0.31],
        }
    )
    assert best_recent_run(runs) == 8
    assert best_recent_run(runs.assign(ndcg_10=[0.2, None, 0.5, None])) == 9
