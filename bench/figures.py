"""Figures the benchmarks share."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["child_pids", "percentiles_ms", "postgres_cpu_seconds", "tree_cpu_seconds"]


def percentiles_ms(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of latencies in seconds, in milliseconds (nearest rank)."""
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return pick(0.50), pick(0.95), pick(0.99)


def _processes() -> dict[int, tuple[str, int, float]]:
    """Every process on this machine: pid -> (name, parent pid, CPU seconds used, user and
    system), from /proc (Linux); a process that ends while it is read is left out."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name, fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = fields.split()
        found[int(pid)] = (name.split("(", 1)[1], int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def postgres_cpu_seconds() -> float:
    """CPU time of every process named `postgres` on this machine (meaningful only with the
    server on this machine and nothing else using it)."""
    return sum(cpu for name, _, cpu in _processes().values() if name == "postgres")


def tree_cpu_seconds(root: int) -> float:
    """CPU time of a running process and its descendants (a gunicorn master and its workers)."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        if pid in processes:
            total += processes[pid][2]
        pending += children.get(pid, ())
    return total


def child_pids(parent: int) -> list[int]:
    """The running children of a process (a gunicorn master's workers)."""
    return [pid for pid, (_, ppid, _) in _processes().items() if ppid == parent]
