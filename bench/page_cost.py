"""What drawing each page costs one browser: renderer main-thread time per visit (issue 17).

A page's time under load (``bench/load.py``) is mostly the browsers' own work on a shared
machine, so a change to what a page draws is measured here, one browser alone: the app is
started on ``bench/load.py``'s prepared database (demo dataset, a split, Popularity and
EASE runs), one headless Chromium session clicks through ``--pages`` in the sidebar for
``--rounds`` rounds after an untimed first round, and for each page the Chrome DevTools
Protocol's ``Performance.getMetrics`` is read before the click and one second after the
script run ended. It prints the median ``TaskDuration`` (all main-thread tasks: script,
style, layout, paint) and ``ScriptDuration`` per visit. Measure two builds by running the
script from each checkout in turn on a quiet machine.

    .venv/bin/python bench/page_cost.py [--pages Home,Data,Compare,Explain] [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import load  # noqa: E402

SETTLE_S = 1.0


async def measure(pages: list[str], rounds: int) -> dict[str, tuple[float, float]]:
    """Page → (median task seconds, median script seconds) per visit."""
    from playwright.async_api import async_playwright

    folder = Path(tempfile.mkdtemp(prefix="page_cost_"))
    load.prepare(folder / "db.duckdb")
    proc, url = load.start_server(folder)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=load.CHROMIUM, args=load.CHROMIUM_ARGS
            )
            page = await load.open_session(browser, url)
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Performance.enable")

            async def metrics() -> dict[str, float]:
                got = await cdp.send("Performance.getMetrics")
                return {m["name"]: m["value"] for m in got["metrics"]}

            task: dict[str, list[float]] = {name: [] for name in pages}
            script: dict[str, list[float]] = {name: [] for name in pages}
            for r in range(rounds + 1):
                for name in pages:
                    before = await metrics()
                    await load.open_page(page, name)
                    await asyncio.sleep(SETTLE_S)
                    after = await metrics()
                    if r:  # the first round loads each page's code: not timed
                        task[name].append(after["TaskDuration"] - before["TaskDuration"])
                        script[name].append(after["ScriptDuration"] - before["ScriptDuration"])
            await browser.close()
    finally:
        proc.kill()
    return {n: (statistics.median(task[n]), statistics.median(script[n])) for n in pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="Home,Data,Compare,Explain")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if not Path(load.CHROMIUM).exists():
        raise SystemExit(f"needs Debian chromium at {load.CHROMIUM}")
    result = asyncio.run(measure(args.pages.split(","), args.rounds))
    print(f"median per visit over {args.rounds} rounds (seconds of renderer main thread)")
    for name, (task, script) in result.items():
        print(f"{name:10s} task {task:.3f}  script {script:.3f}")


if __name__ == "__main__":
    main()
