"""CPU seconds used by a bench's child processes, by kind (for ``bench/load.py``).

The load bench runs the app server, headless browsers and CLI commands on one machine; a
page time under load depends on who takes the cores. ``CpuShare`` samples ``/proc`` every
half second and adds up, per process, the CPU time (user + system) it used while the
sampler ran, grouped by ``kind``: ``server`` (the Streamlit app; its tuning studies run on
its thread), ``training`` (the app's runs, each in its own process, ``job_process``),
``browsers`` (chromium and Playwright's driver), ``cli`` (``python -m
recsys_engine``), ``bench`` (this process) and ``other`` descendants. A process that ends
between two samples loses at most its last half second. Linux only (reads ``/proc``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PERIOD = 0.5


def kind_of(cmdline: str) -> str:
    """The group a command line belongs to."""
    if "timed_server" in cmdline or "streamlit" in cmdline:
        return "server"
    if "recsys_engine.job_process" in cmdline:
        return "training"
    if "recsys_engine" in cmdline:
        return "cli"
    if "chrom" in cmdline or "playwright" in cmdline:
        return "browsers"
    return "other"


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid → (parent pid, CPU seconds so far, command line) of every readable process."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state, ppid, ...
        out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmd)
    return out


class CpuShare:
    """Samples the CPU of this process and its descendants in a daemon thread.

    ``mark()`` starts a new phase; ``totals()`` is the CPU seconds per kind since it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="cpu-share", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        procs = _processes()
        me = os.getpid()
        with self._lock:
            for pid, (_, cpu, cmd) in procs.items():
                parent, hops = pid, 0
                while parent in procs and parent != me and hops < 64:
                    parent, hops = procs[parent][0], hops + 1
                if parent != me:
                    continue
                kind = "bench" if pid == me else kind_of(cmd)
                if not cmd.strip() and pid in self._last:  # an ended process (zombie) has
                    kind = self._last[pid][0]  # no command line: keep what it was
                self._first.setdefault(pid, cpu)
                self._last[pid] = (kind, cpu)

    def _loop(self) -> None:
        while not self._stop.wait(PERIOD):
            self.sample()

    def mark(self) -> None:
        """Start a new phase: later totals count from now."""
        self.sample()
        with self._lock:
            self._first = {pid: cpu for pid, (_, cpu) in self._last.items()}

    def totals(self) -> dict[str, float]:
        """CPU seconds per kind since the last ``mark()`` (or the start)."""
        self.sample()
        out: dict[str, float] = {}
        with self._lock:
            for pid, (kind, cpu) in self._last.items():
                out[kind] = out.get(kind, 0.0) + cpu - self._first.get(pid, cpu)
        return out

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def describe(totals: dict[str, float], wall: float, cores: int | None = None) -> str:
    """One line: CPU seconds and share per kind, and how much of the machine they used."""
    cores = cores or os.cpu_count() or 1
    used = sum(totals.values())
    parts = [
        f"{kind} {sec:.1f} s ({sec / used:.0%})"
        for kind, sec in sorted(totals.items(), key=lambda kv: -kv[1])
        if sec >= 0.05
    ]
    return (
        f"CPU over {wall:.0f} s: " + ", ".join(parts)
        + f"; {used:.0f} CPU-s of {wall * cores:.0f} available on {cores} cores"
    )  # fmt: skip


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"
