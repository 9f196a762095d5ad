"""``streamlit run`` with the server-side time of every script run written down (for
``bench/load.py``).

A page's time in the browser is the server's script run plus the trip to the browser and
the browser's own drawing. To tell them apart the load bench starts the app through this
file instead of ``python -m streamlit``: every script run appends one JSON line to the file
named by ``$RECSYS_BENCH_RENDER_LOG``::

    {"page": "Compare", "start": 1796421000.1, "wall": 0.41, "cpu": 0.18}

``page`` is the page's title in the navigation (``main`` for a session's first run),
``wall`` the seconds from the start to the end of the run (reruns it triggers included),
``cpu`` the CPU seconds of the script thread in that time (other threads, e.g. DuckDB's,
not counted). Streamlit has no public hook for this, so the script runner's private
``_run_script`` is wrapped; when a Streamlit upgrade removes it, the app runs untimed and
the bench says so.

    python bench/timed_server.py run app.py [streamlit options]
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

LOG_ENV = "RECSYS_BENCH_RENDER_LOG"


def install(log_path: str) -> bool:
    """Wrap the script runner so each run is logged to ``log_path``; False when this
    Streamlit has no such hook."""
    from streamlit.runtime.scriptrunner import script_runner

    runner = getattr(script_runner, "ScriptRunner", None)
    original = getattr(runner, "_run_script", None)
    if original is None:
        return False
    lock = threading.Lock()

    def timed(self: Any, rerun_data: Any) -> None:
        page = "main"
        page_hash = getattr(rerun_data, "page_script_hash", "")
        if page_hash:
            page = self._pages_manager.get_pages().get(page_hash, {}).get("page_name", "?")
        start, wall0, cpu0 = time.time(), time.perf_counter(), time.thread_time()
        try:
            return original(self, rerun_data)
        finally:
            row = {
                "page": page,
                "start": start,
                "wall": time.perf_counter() - wall0,
                "cpu": time.thread_time() - cpu0,
            }
            with lock, open(log_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")

    runner._run_script = timed
    return True


def main() -> None:
    log_path = os.environ.get(LOG_ENV)
    if log_path and not install(log_path):
        print("timed_server: this Streamlit has no script-run hook; running untimed")
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
