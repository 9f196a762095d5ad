"""AppTest of context (issue 18): mapping context columns at upload, and the Explain
page's context part with a context picker in the user view and the What-if panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from explain_support import open_reasons
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
HOUR = 3600

# 12 users × 4 items; even users watch on "tv", odd ones on "mobile"
EVENTS_CSV = (
    "user,item,time,device\n"
    + "".join(
        f"u{u},i{(u + j) % 10},{1_704_067_200 + HOUR * (u + 3 * j)},{'tv' if u % 2 else 'mobile'}\n"
        for u in range(12)
        for j in range(4)
    )
).encode()


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _widget(elements, label: str):
    found = [e for e in elements if e.label.startswith(label)]
    assert found, f"no widget {label!r} among {[e.label for e in elements]}"
    return found[0]


def test_upload_maps_a_context_column_and_derived_hour(fresh):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    at.switch_page("pages/data.py").run()
    at.get("file_uploader")[0].set_value([("events.csv", EVENTS_CSV, "text/csv")])
    at.run()
    assert not at.exception
    _widget(at.selectbox, "Rating or weight column").set_value("— none —").run()
    _widget(at.multiselect, "Context columns").set_value(["device"]).run()
    _widget(at.multiselect, "Context derived from the timestamp").set_value(["hour"]).run()
    _widget(at.radio, "Feedback").set_value("implicit").run()
    _widget(at.text_input, "Dataset name").set_value("Events")
    _widget(at.button, "Validate and load").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    from ui.resources import get_store

    store = get_store()
    did = store.resolve_dataset("Events")
    assert [f["field"] for f in store.context_fields(did)] == ["device", "hour"]
    values = store.context_values(did)
    assert set(values["device"]) == {"tv", "mobile"}
    # user u0's first event: 2024-01-01 00:00 UTC → hour "00"
    frame = store.interactions_frame(did).sort_values(["user_id", "item_id"])
    first = np.flatnonzero((frame.user_id == "u0").to_numpy() & (frame.item_id == "i0").to_numpy())
    assert values["hour"][first[0]] == "00"


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def _texts(at: AppTest) -> list[str]:
    return [_plain(m.value) for m in at.markdown]


#: Context-aware runs the Explain page must explain (tiny settings).
CONTEXT_RUNS = {
    "two_tower": {"epochs": 3, "dim": 8, "ema": 0.0, "patience": 0, "use_context": True},
    "sasrec": {
        "epochs": 3,
        "dim": 8,
        "max_len": 6,
        "blocks": 1,
        "patience": 0,
        "use_context": True,
    },
}


def _explain_app(model: str = "two_tower"):
    from recsys_engine.runs import run_model
    from recsys_engine.splits import SplitConfig, create_split
    from ui.resources import get_store

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    store = get_store()
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        for t, d in enumerate(rng.permutation(["A"] * 4 + ["B"] * 4)):
            item = (u + t) % 10 + (0 if d == "A" else 10)
            rows.append((f"u{u}", f"i{item}", pd.Timestamp(t * HOUR, unit="s"), d))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "device"])
    frame = frame.drop_duplicates(["user_id", "item_id"])
    did = store.create_dataset_from_frames(
        "Devices", frame, feedback="implicit", context=("device",)
    )
    sid = create_split(store, did, SplitConfig(strategy="leave-last", n_last=1))
    run_id = run_model(store, sid, model, CONTEXT_RUNS[model])
    at.session_state["dataset_id"] = did
    return at, run_id


@pytest.mark.parametrize("model", list(CONTEXT_RUNS))
def test_explain_shows_the_context_part_and_lets_the_user_change_it(fresh, model):
    at, run_id = _explain_app(model)
    at.switch_page("pages/explain.py").run()
    assert not at.exception, [e.value for e in at.exception]
    open_reasons(at, f"user_{run_id}")
    texts = _texts(at)
    assert any("The context of this moment" in t and "re-scoring" in t for t in texts)
    assert any("In this context (device " in t for t in texts)
    user = at.selectbox(key=f"user_pick_{run_id}").value
    box = at.selectbox(key=f"ctx_{run_id}_{user}_device")
    assert box.options == ["(no context)", "A", "B"]
    other = "A" if box.value == "B" else "B"
    box.set_value(other).run()
    assert not at.exception
    assert any(f"In this context (device {other})" in m for m in _texts(at))

    at.session_state["explain_view"] = "What-if / new user"
    at.run()
    at.multiselect(key=f"whatif_items_{run_id}").set_value(["i1", "i2"]).run()
    open_reasons(at, f"wi_{run_id}")
    wi = at.selectbox(key=f"ctx_wi_{run_id}_device")
    assert wi.value == "(no context)"
    assert any("keeps its place" in m for m in _texts(at))  # neutral: no change
    wi.set_value("B").run()
    assert not at.exception
    assert any("In this context (device B)" in m for m in _texts(at))
    from ui.resources import get_runner

    get_runner().shutdown(wait=True)
