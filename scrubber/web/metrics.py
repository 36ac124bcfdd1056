"""`/metrics` in Prometheus text format.

Request latency is a histogram kept by each process; under `serve` (several gunicorn workers)
prometheus_client's multiprocess mode adds them up (PROMETHEUS_MULTIPROC_DIR, set by `serve`).
Business figures are read from the ledger at scrape time, so every process reports the same:
submissions, claims by verdict, findings by rule, the outbox by state, and delivery failures."""
from __future__ import annotations

import os
import time

from flask import Flask, Response, current_app, g, request
from flask_smorest import Blueprint
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from scrubber.store import ClaimFinding, ClaimRow, OutboxRow, Store, Submission

__all__ = ["blp", "instrument"]

blp = Blueprint("metrics", __name__, description="Prometheus metrics.")

LATENCY = Histogram("scrubber_request_seconds", "HTTP request latency", ["endpoint", "method", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class _Ledger:
    """Figures read from the ledger when scraped."""

    def __init__(self, store: Store):
        self.store = store

    def collect(self):
        with self.store.sessions() as session:
            submissions = CounterMetricFamily("scrubber_submissions", "messages received", labels=["kind"])
            for kind, n in session.execute(select(Submission.kind, func.count()).group_by(Submission.kind)):
                submissions.add_metric([kind], n)
            verdicts = CounterMetricFamily("scrubber_claims", "claims decided", labels=["verdict", "status"])
            for verdict, status, n in session.execute(select(ClaimRow.verdict, ClaimRow.status, func.count())
                                                      .group_by(ClaimRow.verdict, ClaimRow.status)):
                verdicts.add_metric([verdict, status], n)
            by_rule = CounterMetricFamily("scrubber_findings", "findings by rule",
                                          labels=["rule", "severity"])
            for rule, severity, n in session.execute(
                    select(ClaimFinding.rule, ClaimFinding.severity, func.count())
                    .group_by(ClaimFinding.rule, ClaimFinding.severity)
                    .order_by(ClaimFinding.rule, ClaimFinding.severity)):
                by_rule.add_metric([rule, severity], n)
            outbox = GaugeMetricFamily("scrubber_outbox", "outbox rows by state", labels=["state"])
            counts = dict.fromkeys(("held", "pending", "delivered", "dead"), 0)
            counts.update(self.store.outbox_counts(session))
            for state, n in counts.items():  # one series a state, 0 for a state with no rows
                outbox.add_metric([state], n)
            failures = session.scalar(select(func.coalesce(func.sum(OutboxRow.attempts), 0))
                                      .where(OutboxRow.last_error.is_not(None)))
            failed = CounterMetricFamily("scrubber_delivery_failures", "failed delivery attempts "
                                         "of rows not delivered since")
            failed.add_metric([], failures or 0)
        yield from (submissions, verdicts, by_rule, outbox, failed)


def instrument(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.get("started")
        if started is not None and request.endpoint != "metrics.metrics":
            LATENCY.labels(request.endpoint or "unknown", request.method,
                           str(response.status_code)).observe(time.perf_counter() - started)
        return response


@blp.route("/metrics")
def metrics():
    """Prometheus text: request latency, submissions, verdicts, findings by rule, the outbox."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(LATENCY)
    registry.register(_Ledger(current_app.extensions["scrubber.store"]))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
