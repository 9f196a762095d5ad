"""Page times of many readers while the app trains and the CLI writes to the same database.

Issue 17: the server and the command line share one DuckDB file, each holding it only per
unit of work. This bench checks what that costs the people reading the dashboard:

The readers first run alone (the reference), then under load; both are printed.

1. a database with the demo dataset, a split and two runs (Popularity, EASE) is prepared;
2. the app is started on it (``streamlit run app.py``, headless, on localhost);
3. one browser session starts a Two-tower training on the Train page (it runs in the
   server's job runner for the whole measurement);
4. ``--sessions`` other reading sessions (default 10) each loop Home → Compare → Explain
   for ``--seconds`` (default 90), timing every page from the request to the end of its
   script run (nothing loading); the sessions open the app first (untimed) and both phases
   start once all of them are in. ``--browsers`` of them (default: all) are headless
   Chromium pages clicking the sidebar, timed until the page has drawn; the others are
   *wire sessions*: a websocket client speaking the app's own protocol (what the browser
   sends to open a page, the Streamlit protobufs), timed until the server's last message
   for that page has arrived — a reader whose browser draws on its own machine. With
   ``--pause`` a reader stays on each page for about that many seconds before the next
   click (default 0: a stress test, every session clicks again at once);
5. meanwhile the CLI writes in a loop on the same file: ingest a small file, split it,
   train Popularity.

It prints p50/p95/max page time per page and overall, the number of errors (an exception
box on a page, a page that did not finish in 60 s, a CLI command that failed) and then
checks that nothing was lost: every CLI dataset has its rows, every CLI run and the app's
run succeeded. Goal: p95 ≤ 3 s, zero errors, nothing lost.

The page time is what a reader sees, and it stays the measure. Beside it, to say where the
time goes, each phase also prints: the server's own time per page (the script run, from
``bench/timed_server.py``, which starts the app), and the CPU seconds taken by the server,
by the bench's headless browsers and by the CLI (``bench/cpu_share.py``), with the load
average. On the real product each reader's browser runs on their own machine; with
``--browsers`` equal to ``--sessions`` all ten browsers share the server's two cores here
(each takes ~3–5× the server's CPU per page), so the run with one browser and nine wire
sessions is the one that shows what a reader gets from a server shared by ten.

Needs Playwright and Debian's chromium (``bash scripts/test.sh`` installs both).

    .venv/bin/python bench/load.py [--sessions 10] [--seconds 90]
    .venv/bin/python bench/load.py --browsers 1    # one browser here, nine wire sessions
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.cpu_share import CpuShare, describe, load_average  # noqa: E402
from bench.timed_server import LOG_ENV  # noqa: E402
from recsys_engine.demo import load_demo  # noqa: E402
from recsys_engine.models import model_title  # noqa: E402
from recsys_engine.runs import run_model  # noqa: E402
from recsys_engine.splits import SplitConfig, create_split  # noqa: E402
from recsys_engine.store import Store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"]
PAGES = ("Home", "Compare", "Explain")
TITLES = {"Home": "Recsys Workbench"}
PAGE_TIMEOUT_MS = 60_000
GOAL_P95_S = 3.0
KINDS = ("browser", "wire")


def prepare(db: Path) -> None:
    """The demo dataset, a random split and two finished runs to compare and explain."""
    store = Store(db)
    did = load_demo(store)
    split = create_split(store, did, SplitConfig(seed=42, validation_fraction=0.1))
    for model in ("popularity", "ease"):
        run_model(store, split, model)
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "RECSYS_DB": str(folder / "db.duckdb"),
        "TMPDIR": str(folder),
        LOG_ENV: str(folder / "renders.jsonl"),
    }
    cmd = [sys.executable, str(REPO / "bench" / "timed_server.py"), "run", "app.py",
           "--server.port", str(port), "--server.headless", "true"]  # fmt: skip
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server not healthy after 60 s; see {folder / 'server.log'}")


async def settle(pg) -> None:
    await pg.wait_for_selector(
        "[data-testid=stApp][data-test-script-state=notRunning]", timeout=PAGE_TIMEOUT_MS
    )
    await pg.wait_for_function(
        "() => !document.querySelector('[data-testid=stSkeleton]')", timeout=PAGE_TIMEOUT_MS
    )


async def open_page(pg, name: str) -> None:
    """Click a sidebar link and wait until the page's script run is over."""
    link = pg.locator("[data-testid=stSidebarNav] a").filter(has_text=re.compile(f"{name}$"))
    await link.click()
    heading = pg.get_by_role("heading", name=TITLES.get(name, name), exact=True)
    await heading.wait_for(timeout=PAGE_TIMEOUT_MS)
    await settle(pg)


async def start_training(browser, url: str) -> None:
    """One session: Train page, the prepared split, Two-tower (Thorough), Train."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    pg = await context.new_page()
    await pg.goto(url)
    await settle(pg)
    await open_page(pg, "Train")
    preset = pg.locator("[data-testid=stRadio] label").filter(has_text=re.compile("^Thorough$"))
    await preset.click()
    await settle(pg)
    title = model_title("two_tower")
    await (
        pg.locator("[data-testid=stCheckbox] label")
        .filter(has_text=re.compile(f"^{re.escape(title)}$"))
        .click()
    )
    await settle(pg)
    await pg.get_by_role("button", name="Train 1 model", exact=True).click()
    await pg.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Queued run").wait_for()
    await context.close()


async def open_session(browser, url: str):
    """A browser session on the app's first page (not timed: every phase starts once all
    sessions are in, so a slow start cannot eat a phase)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    pg = await context.new_page()
    await pg.goto(url)
    await settle(pg)
    return pg


async def reader(pg, url: str, until: float, times: dict, errors: list, read) -> None:
    """Loop over the pages until ``until``; record each page's time or the error;
    ``await read()`` after each page (the reader's time on it)."""
    while time.monotonic() < until:
        for name in PAGES:
            t0 = time.perf_counter()
            try:
                await open_page(pg, name)
            except Exception as exc:  # a timeout: count it, start the session over
                errors.append(f"{name}: {type(exc).__name__}")
                await pg.goto(url)
                continue
            times[name].append(time.perf_counter() - t0)
            if await pg.locator("[data-testid=stException]").count():
                errors.append(f"{name}: exception box")
            await read()


class WireSession:
    """One reading session over the app's websocket, without a browser.

    It sends what the browser sends when a page is opened (a ``rerun_script`` message
    naming the page) and reads the server's messages until the run's ``script_finished``:
    the page's whole content has then left the server. Nothing is drawn."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.ws = None
        self.pages: dict[str, str] = {}

    async def open(self) -> None:
        """Connect and run the app's first page (the browser's first load)."""
        import websockets

        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None)
        await self.run("")
        missing = set(PAGES) - set(self.pages)
        if missing:
            raise RuntimeError(f"the app's navigation lacks {sorted(missing)}")

    async def run(self, page_hash: str) -> None:
        """Ask for one page's run and read until it has finished; raise on an exception
        box or a run that did not finish."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.page_script_hash = page_hash
        await self.ws.send(msg.SerializeToString())
        failed = None
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "navigation":
                self.pages.update(
                    {p.page_name: p.page_script_hash for p in fwd.navigation.app_pages}
                )
            elif kind == "delta" and fwd.delta.new_element.WhichOneof("type") == "exception":
                failed = "exception box"
            elif kind == "script_finished":
                if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # the app reran itself (a page switch): the next run follows
                if fwd.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                    failed = f"script finished with status {fwd.script_finished}"
                break
        if failed:
            raise RuntimeError(failed)

    async def open_page(self, name: str) -> None:
        await asyncio.wait_for(self.run(self.pages[name]), PAGE_TIMEOUT_MS / 1000)

    async def close(self) -> None:
        await self.ws.close()


async def wire_reader(session: WireSession, until: float, times: dict, errors: list, read) -> None:
    """``reader`` for a wire session: loop over the pages until ``until``."""
    while time.monotonic() < until:
        for name in PAGES:
            t0 = time.perf_counter()
            try:
                await session.open_page(name)
            except TimeoutError:  # the rest of that run is still coming: start over
                errors.append(f"{name}: TimeoutError")
                await session.close()
                await session.open()
                continue
            except RuntimeError as exc:
                errors.append(f"{name}: {exc}")
            times[name].append(time.perf_counter() - t0)
            await read()


def cli(db: Path, *args: str) -> tuple[int, float, str, dict]:
    """Run one CLI command with ``--json``: exit code, seconds, stderr, parsed output."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "recsys_engine", "--db", str(db), *args, "--json"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    out = json.loads(proc.stdout) if proc.returncode == 0 else {}
    return proc.returncode, time.perf_counter() - t0, proc.stderr.strip(), out


def cli_writer(db: Path, folder: Path, until: float, log: list) -> None:
    """Ingest, split and train Popularity on fresh small datasets until ``until``."""
    n = 0
    while time.monotonic() < until:
        n += 1
        csv = folder / f"cli{n}.csv"
        rows = [f"u{u},i{(u * 3 + j) % 40},{1_700_000_000 + 60 * (u * 10 + j)}"
                for u in range(60) for j in range(10)]  # fmt: skip
        csv.write_text("user_id,item_id,timestamp\n" + "\n".join(rows) + "\n")
        name = f"cli-{n}"
        rc, seconds, err, _ = cli(db, "ingest", "--name", name, "--interactions", str(csv))
        log.append(("ingest", name, rc, seconds, err))
        rc, seconds, err, out = cli(db, "split", name, "--strategy", "random", "--seed", "1")
        log.append(("split", name, rc, seconds, err))
        if rc == 0:
            train = ("train", name, "--split", str(out["split_id"]), "--model", "popularity")
            rc, seconds, err, _ = cli(db, *train)
            log.append(("train", name, rc, seconds, err))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def measure(
    url: str,
    db: Path,
    folder: Path,
    sessions: int,
    browsers: int,
    seconds: float,
    quiet_seconds: float,
    pause: float = 0.0,
) -> dict:
    """The readers alone for ``quiet_seconds`` (the reference), then with the app training
    and the CLI writing for ``seconds``. ``browsers`` of the ``sessions`` are headless
    Chromium pages, the rest wire sessions. After each page a reader waits a draw from
    uniform(pause / 2, 3 * pause / 2) seconds (none with ``pause`` 0), seeded."""
    from playwright.async_api import async_playwright

    quiet = {kind: {p: [] for p in PAGES} for kind in KINDS}
    times = {kind: {p: [] for p in PAGES} for kind in KINDS}
    errors: list[str] = []
    cli_log: list = []
    phases: dict[str, dict] = {}
    cpu = CpuShare()
    rng = random.Random(7)

    async def read() -> None:
        if pause > 0:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * pause)

    def phase(name: str, begin: tuple[float, float]) -> None:
        """Record a phase that started at ``begin`` (epoch, monotonic) and ends now."""
        phases[name] = {
            "start": begin[0],
            "end": time.time(),
            "wall": time.monotonic() - begin[1],
            "cpu": cpu.totals(),
            "load": load_average(),
        }
        cpu.mark()

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = await asyncio.gather(*(open_session(browser, url) for _ in range(browsers)))
        wires = [WireSession(url) for _ in range(sessions - browsers)]
        await asyncio.gather(*(w.open() for w in wires))

        def readers(until: float, into: dict) -> list:
            return [reader(pg, url, until, into["browser"], errors, read) for pg in pages] + [
                wire_reader(w, until, into["wire"], errors, read) for w in wires
            ]

        cpu.mark()
        begin = (time.time(), time.monotonic())
        await asyncio.gather(*readers(time.monotonic() + quiet_seconds, quiet))
        phase("alone", begin)
        await start_training(browser, url)
        cpu.mark()
        begin = (time.time(), time.monotonic())
        until = time.monotonic() + seconds
        writer = asyncio.get_running_loop().run_in_executor(
            None, cli_writer, db, folder, until, cli_log
        )
        await asyncio.gather(*readers(until, times))
        await writer
        phase("load", begin)
        await asyncio.gather(*(w.close() for w in wires))
        await browser.close()
    cpu.stop()
    return {"quiet": quiet, "times": times, "errors": errors, "cli": cli_log, "phases": phases}


def table(
    title: str, times: dict[str, dict[str, list[float]]], server: dict[str, list[float]]
) -> list[float]:
    """Print loads and p50/p95/max per page and overall for each kind of reading session
    that ran (browser, wire), then the same for the server's script runs; return every
    reader's page time."""
    columns = {f"{kind}: page time": ts for kind, ts in times.items() if any(ts.values())}
    columns["server: script run"] = server
    every = [t for ts in times.values() for values in ts.values() for t in values]
    print(title)
    head = f"{'n':>5}{'p50 s':>8}{'p95 s':>8}{'max s':>8}"
    print(f"  {'':<9}" + "|".join(f"{name:^29}" for name in columns))
    print(f"  {'page':<9}" + "|".join(head for _ in columns))
    for name in (*PAGES, "all"):
        cells = []
        for ts in columns.values():
            values = [t for v in ts.values() for t in v] if name == "all" else ts.get(name, [])
            top = max(values) if values else float("nan")
            cells.append(
                f"{len(values):>5}{pct(values, 50):>8.2f}{pct(values, 95):>8.2f}{top:>8.2f}"
            )
        print(f"  {name:<9}" + "|".join(cells))
    return every


def server_runs(log: Path, phase: dict) -> dict[str, list[float]]:
    """Seconds of the server's script runs per page that started within ``phase``."""
    out: dict[str, list[float]] = {p: [] for p in PAGES}
    if not log.exists():
        return out
    for line in log.read_text().splitlines():
        row = json.loads(line)
        if row["page"] in out and phase["start"] <= row["start"] <= phase["end"]:
            out[row["page"]].append(row["wall"])
    return out


def nothing_lost(db: Path, cli_log: list) -> list[str]:
    """Problems found in the database after the run (empty when nothing was lost)."""
    problems = []
    store = Store(db, read_only=True)
    names = {d["name"]: d for d in store.list_datasets().to_dict("records")}
    for command, name, rc, _, _ in cli_log:
        if rc != 0:
            continue
        if command == "ingest" and int(names.get(name, {}).get("n_interactions", 0)) != 600:
            problems.append(f"dataset {name} lost rows or is missing")
    runs = store.list_runs()
    bad = runs[runs["status"] != "succeeded"]
    problems += [f"run {r.id} ({r.model}) is {r.status}" for r in bad.itertuples()]
    store.close()
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument(
        "--browsers", type=int, default=None,
        help="how many of the sessions are headless browsers (default: all); the rest are "
        "wire sessions (the app's websocket protocol, nothing drawn here)",
    )  # fmt: skip
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument(
        "--pause", type=float, default=0.0,
        help="seconds a reader spends on a page before the next click (drawn uniformly "
        "between half and 1.5 times this; default 0: every session clicks on at once, a "
        "stress test)",
    )  # fmt: skip
    ap.add_argument("--quiet-seconds", type=float, default=None, help="default: seconds / 3")
    args = ap.parse_args()
    browsers = args.sessions if args.browsers is None else args.browsers
    if not 0 <= browsers <= args.sessions:
        raise SystemExit("--browsers must be between 0 and --sessions")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Debian chromium at {CHROMIUM}")
    with tempfile.TemporaryDirectory(prefix="recsys-load-") as tmp:
        folder = Path(tmp)
        db = folder / "db.duckdb"
        prepare(db)
        server, url = start_server(folder)
        try:
            quiet = args.quiet_seconds if args.quiet_seconds is not None else args.seconds / 3
            out = asyncio.run(
                measure(url, db, folder, args.sessions, browsers, args.seconds, quiet, args.pause)
            )
            # let the app's training finish before checking nothing was lost
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                store = Store(db, read_only=True)
                running = store.list_runs()["status"].isin(["queued", "running"]).any()
                store.close()
                if not running:
                    break
                time.sleep(2)
        finally:
            server.terminate()
            server.wait(timeout=30)
        problems = nothing_lost(db, out["cli"])
        log = folder / "renders.jsonl"
        alone, load = out["phases"]["alone"], out["phases"]["load"]
        runs_alone, runs_load = server_runs(log, alone), server_runs(log, load)
        timed = log.exists()
    if not timed:
        print("no server-side times: the app ran untimed (see bench/timed_server.py)")
    kinds = f"{browsers} in a browser, {args.sessions - browsers} over the wire"
    if args.pause:
        kinds += f", ~{args.pause:g} s on each page"
    calm = table(f"{args.sessions} reading sessions ({kinds}) alone:", out["quiet"], runs_alone)
    print(f"  {describe(alone['cpu'], alone['wall'])}; {alone['load']} at the end")
    every = table(
        f"the same sessions for {args.seconds:.0f} s with one Two-tower training in the app "
        "and the CLI writing in a loop:",
        out["times"],
        runs_load,
    )
    print(f"  {describe(load['cpu'], load['wall'])}; {load['load']} at the end")
    cli_failed = [c for c in out["cli"] if c[2] != 0]
    by_cmd: dict[str, list[float]] = {}
    for command, _, _, seconds, _ in out["cli"]:
        by_cmd.setdefault(command, []).append(seconds)
    for command, ts in by_cmd.items():
        print(f"CLI {command:<7} {len(ts):>3} calls, median {statistics.median(ts):.2f} s, "
              f"max {max(ts):.2f} s")  # fmt: skip
    errors = out["errors"] + [f"CLI {c[0]} {c[1]}: {c[4]}" for c in cli_failed]
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    print(f"lost: {len(problems)}" + "".join(f"\n  {p}" for p in problems))
    p95 = pct(every, 95)
    for kind, ts in out["times"].items():
        values = [t for v in ts.values() for t in v]
        if values:
            print(f"p95 under load, {kind} sessions: {pct(values, 95):.2f} s")
    print(f"p95 under load {p95:.2f} s vs goal {GOAL_P95_S:.1f} s: ratio {p95 / GOAL_P95_S:.2f}×")
    print(f"p95 under load vs readers alone: {p95 / pct(calm, 95):.2f}×")


if __name__ == "__main__":
    main()
