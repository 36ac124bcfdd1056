"""Figures the benchmarks share."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

__all__ = ["AutoAnalyze", "child_pids", "percentiles_ms", "postgres_cpu_seconds", "require_compiled",
           "tree_cpu_seconds"]


def require_compiled() -> None:
    """Stop unless the scrubber this interpreter imports is the compiled install: a bench counting
    a compiled build must not count the checkout's sources instead."""
    import scrubber.engine
    if not scrubber.engine.__file__.endswith(".so"):
        raise SystemExit(f"--compiled: {sys.executable} has no compiled scrubber "
                         f"({scrubber.engine.__file__})")


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


class AutoAnalyze:
    """On a PostgreSQL server with autovacuum off, what autovacuum would do for the statistics of
    one database while a bench runs: every `every` seconds, ANALYZE each table whose rows changed
    by more than 50 + 10 % of its rows since its last ANALYZE (autovacuum's default threshold and
    scale factor), paced by autovacuum's default cost delay. Without it, the planner keeps the
    plans it made while the ledger was empty, and a bench measures the server's growing cost of
    reading whole indexes (the service warns of such a server on start:
    Store.statistics_warning). A context manager; nothing runs unless `active`."""

    THRESHOLD, SCALE = 50, 0.1
    NOTE = "the bench runs ANALYZE as autovacuum would (bench/figures.py, AutoAnalyze)"  # what a bench says

    def __init__(self, url: str, active: bool, every: float = 1.0):
        self.url, self.active, self.every = url, active, every
        self.analyzed = 0  # ANALYZE statements run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> AutoAnalyze:
        if self.active:
            from sqlalchemy import create_engine

            self._engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
            self._thread = threading.Thread(target=self._run, name="auto-analyze", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._engine.dispose()

    def _due(self, connection) -> list[str]:
        from sqlalchemy import text

        return list(connection.execute(text(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(relname) FROM pg_stat_user_tables "
            "WHERE n_mod_since_analyze > :threshold + :scale * n_live_tup"),
            {"threshold": self.THRESHOLD, "scale": self.SCALE}).scalars())

    def _run(self) -> None:
        with self._engine.connect() as connection:
            # paced as autovacuum paces itself (autovacuum_vacuum_cost_delay, 2 ms a 200 cost units,
            # PostgreSQL's defaults): an ANALYZE at full speed took a cpu from the service for a
            # tenth of a second at a time
            connection.exec_driver_sql("SET vacuum_cost_delay = 2")
            connection.exec_driver_sql("SET vacuum_cost_limit = 200")
            while not self._stop.wait(self.every):
                for table in self._due(connection):
                    connection.exec_driver_sql(f"ANALYZE {table}")
                    self.analyzed += 1
