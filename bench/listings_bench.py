"""Listings benchmark: how long the reviewers' and billing engineers' listings take on a ledger of
N claims, on SQLite and on PostgreSQL, in one run.

    .venv/bin/python bench/listings_bench.py                      # 10,000 claims, both databases
    .venv/bin/python bench/listings_bench.py --claims 30000 --postgres ''   # SQLite only

The ledger is filled through the submission workflow with `bench/gen837.py` claims (about two in
three held, a third flagged, each with three or four findings), PostgreSQL's statistics refreshed
with ANALYZE after the fill (as autovacuum would). Each request (the JSON API's claims and
findings with and without filters, deep pages, the review UI's worklist with filters, its CSV, the
dashboard and /metrics) runs in process through Flask's test client: the median of three timed
runs after one warm-up, and the peak of Python memory allocated during a fourth (tracemalloc).
The figures are for this machine only; this prints figures, it never passes or fails.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gen837 import generate  # noqa: E402
from bench.http_bench import DEFAULT_POSTGRES, each_database  # noqa: E402

REQUESTS = [  # (name, client, path)
    ("API claims, page 1", "api", "/v1/claims?page_size=50"),
    ("API claims, page 100", "api", "/v1/claims?page=100&page_size=50"),
    ("API claims by rule", "api", "/v1/claims?rule=addon-without-base&page_size=50"),
    ("API findings, page 1", "api", "/v1/findings?page_size=50"),
    ("API findings by rule, severity", "api", "/v1/findings?rule=mutually-exclusive&severity=block"),
    ("UI worklist", "ui", "/ui/"),
    ("UI worklist by rule, page 5", "ui", "/ui/?rule=addon-without-base&page=5"),
    ("UI worklist by month, page 3", "ui", "/ui/?month=2026-03&page=3"),
    ("UI worklist by patient", "ui", "/ui/?patient=MRN0000042"),
    ("UI worklist CSV by rule", "ui", "/ui/worklist.csv?rule=units-exceed-limit"),
    ("UI dashboard", "ui", "/ui/dashboard"),
    ("metrics", "api", "/metrics"),
]


def fill(url: str, claims: int) -> tuple[str, int]:
    """A ledger at `url` with `claims` claims of tenant "bench"; a reviewer token and the tenant id."""
    from scrubber.catalogue import catalogue
    from scrubber.store import Store, upgrade
    from scrubber.web.auth import create_token
    from scrubber.workflow import Workflow

    store = Store(url)
    try:
        upgrade(store)
        with store.transaction() as session:
            tenant = store.tenant(session, "bench", create=True)
            token = create_token(store, session, tenant, "bench-reviewer", "reviewer")
            tenant_id = tenant.id
        shipped = catalogue()
        started = time.perf_counter()
        Workflow(store, shipped, shipped.profiles["medicare"]).submit(
            "bench", "".join(generate(claims)).encode(), "bench")
        print(f"  filled with {claims:,} claims in {time.perf_counter() - started:.0f} s", flush=True)
        if store.is_postgres:
            with store.engine.connect() as connection:
                connection.exec_driver_sql("COMMIT")
                connection.exec_driver_sql("ANALYZE")
    finally:
        store.dispose()
    return token, tenant_id


def measure(url: str, token: str, tenant_id: int) -> None:
    from scrubber.web import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATE_LIMITS": {"token": "1000000/minute"}})
    clients = {"api": app.test_client(), "ui": app.test_client()}
    with clients["ui"].session_transaction() as session:
        session["user"] = {"id": 1, "name": "bench-reviewer", "role": "reviewer", "tenant_id": tenant_id,
                           "tenant": "bench"}
    headers = {"Authorization": f"Bearer {token}"}
    print(f"  {'request':<34} {'median ms':>10} {'peak MiB':>9} {'bytes':>10}")
    try:
        for name, client, path in REQUESTS:
            send = functools.partial(clients[client].get, path, headers=headers, base_url="https://localhost")
            answer = send()
            if answer.status_code != 200:
                raise SystemExit(f"{path}: {answer.status_code} {answer.get_data(as_text=True)[:200]}")
            times = []
            for _ in range(3):
                started = time.perf_counter()
                send()
                times.append(time.perf_counter() - started)
            tracemalloc.start()
            send()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"  {name:<34} {statistics.median(times) * 1000:>10.1f} {peak / 2**20:>9.1f} "
                  f"{len(answer.data):>10,}", flush=True)
    finally:
        app.extensions["scrubber.store"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("SCRUBBER_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="server to create a scratch database on ('' to skip PostgreSQL)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; {args.claims:,} claims; "
          "in process, times in ms")
    with tempfile.TemporaryDirectory() as folder:
        for name, url in each_database(folder, args.postgres):
            print(name)
            measure(url, *fill(url, args.claims))


if __name__ == "__main__":
    main()
