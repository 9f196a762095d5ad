"""Runs whose decisions are known by hand, shared by the Compare page's AppTest and its
browser journey: a real Popularity run plus synthetic runs shifted from it."""

from __future__ import annotations

from recsys_engine.store import Store

#: branch → (model, shift of every user's accuracy, coverage factor, training seconds)
BRANCHES = {
    "switch": ("ease", 0.05, 1.0, 2.0),
    "trade_off": ("itemknn", 0.05, 0.5, 2.0),
    "keep": ("two_tower", -0.05, 1.0, 2.0),
    "no_difference": ("hybrid", 0.0, 1.0, 100.0),
}
HEADLINES = {
    "switch": "Switch to EASE (run",
    "trade_off": "Trade-off: Item-kNN (run",
    "keep": "Keep Popularity (run",
    "no_difference": "No meaningful difference — choose on cost: Popularity (run",
}


def synthetic_run(
    store: Store, base: int, model: str, shift: float, coverage: float, fit: float
) -> int:
    """A succeeded run on ``base``'s split whose per-user accuracy is ``base``'s plus
    ``shift`` (every user moves the same way) and whose coverage is ``coverage`` × base's:
    each decision branch follows from these numbers by hand."""
    run = store.get_run(base)
    rid = store.create_run(
        run["dataset_id"], run["split_id"], model, {}, status="running", options=run["options"]
    )
    users = store.user_metrics_frame(base)
    accuracy = users["metric"].isin(["ndcg", "recall", "precision", "hitrate", "map", "mrr"])
    wobble = 1.0 + 0.5 * (users.index.to_numpy() % 2)  # every user moves, by 1 or 1.5 shifts
    users.loc[accuracy, "value"] = users.loc[accuracy, "value"] + shift * wobble[accuracy]
    metrics = store.run_metrics(base)
    means = users.groupby(["metric", "k"])["value"].mean()
    for i, row in metrics.iterrows():
        if (row["metric"], row["k"]) in means.index:
            metrics.loc[i, "value"] = means[(row["metric"], row["k"])]
        elif row["metric"] == "coverage":
            metrics.loc[i, "value"] = row["value"] * coverage
    store.write_results(rid, metrics, users, store.recommendations_frame(base))
    store.set_run_status(rid, "succeeded", fit_seconds=fit, eval_seconds=0.1)
    store.update_run_evaluation(
        rid, eval_seconds=0.1, eval_info=run["eval_info"], options=run["options"]
    )
    return rid
