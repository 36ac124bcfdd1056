"""Figures the benchmarks share."""
from __future__ import annotations

__all__ = ["percentiles_ms"]


def percentiles_ms(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of latencies in seconds, in milliseconds (nearest rank)."""
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return pick(0.50), pick(0.95), pick(0.99)
