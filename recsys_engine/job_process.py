"""Training a run in its own lower-priority process: the app's job executor (issue 17).

Why: a run trained on a thread of the server shares the server's interpreter lock and its
cores with every page render, so while a model trains every reader waits (BENCHMARKS.md,
"Ten readers"). In a child process the server's Python stays free, and the child's nice
value (``CHILD_NICE``) makes the kernel give the cores to page renders first; on an idle
machine the child still gets every core.

The parent (``execute_in_child``, an ``Executor`` for ``JobRunner``) starts
``python -m recsys_engine.job_process DB RUN_ID``. The child runs ``execute_run`` on its
own ``Store`` over the same file (every unit of work opens and closes it, as with the CLI),
so status, progress and results reach the database exactly as from a thread.

- Cancel: the parent sends SIGTERM; the child's ``should_stop`` turns True and the fit ends
  as ``cancelled`` within a few steps. A child still alive ``TERM_GRACE_SECONDS`` later is
  killed and the parent records the cancel.
- Crash: a child that ends without recording an end (killed, out of memory) leaves its run
  ``running``; the parent marks it ``failed`` with the exit status and the last lines of
  the child's error output. Results are written in one transaction, so nothing is half
  written.
- Server gone (kill -9): the child notices its parent is gone, stops training and marks
  the run ``interrupted`` itself, as the next server start would (a run still evaluating
  finishes and keeps its result).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from recsys_engine.store import Store

#: Added to the child's nice value: page renders get the cores first.
CHILD_NICE = 10
#: How often the parent checks for a cancel, and the child for its parent.
POLL_SECONDS = 0.25
#: How long a cancelled child may take to stop before it is killed.
TERM_GRACE_SECONDS = 300.0
#: Characters of the child's error output kept in a crashed run's error.
ERROR_TAIL_CHARS = 800
UNFINISHED = ("queued", "running")
SERVER_GONE = "the server stopped before the run finished"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


def execute_in_child(store: Store, run_id: int, should_stop: Callable[[], bool]) -> None:
    """Train and evaluate the queued run ``run_id`` in a child process and wait for it;
    ``should_stop()`` is polled and, once True, the child is asked to stop (see module)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, store.path, str(int(run_id))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
        asked_at: float | None = None
        while True:
            try:
                code = child.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if asked_at is None and should_stop():
                child.terminate()
                asked_at = time.monotonic()
            elif asked_at is not None and time.monotonic() - asked_at > TERM_GRACE_SECONDS:
                child.kill()
        if store.get_run(run_id)["status"] not in UNFINISHED:
            return
        if asked_at is not None:
            store.set_run_status(run_id, "cancelled", error="cancelled")
            return
        err.seek(0)
        tail = err.read().decode("utf-8", "replace").strip()[-ERROR_TAIL_CHARS:]
        store.set_run_status(
            run_id,
            "failed",
            error=f"the training process ended with exit status {code}"
            + (f": …{tail}" if tail else ""),
        )


def _watch_parent(parent: int, gone: threading.Event) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    gone.set()


def main(argv: list[str]) -> int:
    """The child: ``DB RUN_ID``. Exit status 0 when the run ended as recorded (succeeded,
    cancelled, interrupted), 1 when it failed (the error is on the run row)."""
    from recsys_engine.runs import execute_run

    db, run_id = argv[0], int(argv[1])
    os.nice(CHILD_NICE)
    asked = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: asked.set())
    parent_gone = threading.Event()
    threading.Thread(target=_watch_parent, args=(os.getppid(), parent_gone), daemon=True).start()

    def stopped_as() -> tuple[str, str] | None:  # None: a cancel, recorded as such
        return ("interrupted", SERVER_GONE) if not asked.is_set() else None

    store = Store(db)
    try:
        execute_run(
            store,
            run_id,
            should_stop=lambda: asked.is_set() or parent_gone.is_set(),
            stopped_as=stopped_as,
        )
    except Exception:  # recorded on the run row when it got that far; the parent shows this
        traceback.print_exc()
        return 1
    else:
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
