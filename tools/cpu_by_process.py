"""CPU seconds per kind of process while a benchmark runs (Linux /proc; no dependencies).

    python tools/cpu_by_process.py > cpu.txt &  sampler=$!
    ... run the benchmark ...
    kill -TERM $sampler; wait $sampler; cat cpu.txt

Kinds: PostgreSQL backends, PostgreSQL's own background processes, each `fangkong worker`, and
the `bench-tracing` command. A process is counted from the first time it is seen (sampled every
0.5 s), so one that lives less than that may be missed.
"""

from __future__ import annotations

import os
import signal
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")
BACKGROUND = ("writer", "checkpointer", "walwriter", "autovacuum", "logger", "launcher")


def kind_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if command.startswith("postgres"):
        return "postgres:background" if any(w in command for w in BACKGROUND) else "postgres"
    if "fangkong worker" in command:
        return f"worker {pid}"
    if "bench-tracing" in command:
        return "bench-tracing"
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class Sampler:
    def __init__(self) -> None:
        self.seen: dict[int, tuple[str | None, float]] = {}
        self.totals: dict[str, float] = {}

    def sample(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            now = cpu_seconds(pid)
            if now is None:
                continue
            if pid not in self.seen:
                self.seen[pid] = (kind_of(pid), now)
                continue
            kind, before = self.seen[pid]
            if kind is not None:
                self.totals[kind] = self.totals.get(kind, 0.0) + now - before
            self.seen[pid] = (kind, now)

    def report(self) -> str:
        lines = [f"{kind}\t{seconds:.1f}" for kind, seconds in sorted(self.totals.items())]
        return "\n".join([*lines, f"sum\t{sum(self.totals.values()):.1f}"])


def main() -> None:
    sampler = Sampler()

    def stop(*_args) -> None:
        sampler.sample()
        print(sampler.report())
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        sampler.sample()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
