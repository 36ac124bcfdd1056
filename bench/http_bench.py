"""HTTP benchmark: single-claim 837P submissions against `rpm-scrubber serve` on SQLite and on
PostgreSQL, next to a bare Flask endpoint on the same gunicorn (the framework floor), in one run.

    .venv/bin/python bench/http_bench.py                       # SQLite and PostgreSQL, 10 s each
    .venv/bin/python bench/http_bench.py --seconds 20 --clients 4 --postgres URL
    .venv/bin/python bench/http_bench.py --compiled /tmp/compiled/bin/python
    .venv/bin/python bench/http_bench.py --repeat 5 --postgres ''   # median and range of 5 rounds

`--compiled PYTHON` runs each service target a second time with that interpreter, one with the
compiled wheel installed (README, "Compiled build"), in rows marked "compiled".

The floor is measured before the services and again after them; shares are against the higher
of the two (this machine's speed drifts between runs). For each target: a closed loop of N client
processes (keep-alive connections) gives the peak throughput and its latency percentiles; then an
open loop at 80 % of that peak (requests due on a fixed schedule and sent by up to 8 connections
per client process, so arrivals do not wait for answers; latency measured from the scheduled
time, so queueing counts) gives the latency a sender sees under load. A round whose open loop
got less than 98 % of the rate offered through is marked "queued" (the machine could not do then
what it did a minute before), and the summary also gives p99 over the rounds that kept up. Every
submission is a different claim for one of 500 patients, so nothing is answered from the re-send
shortcut. The clients run on the same machine as the server: each peak row also gives the CPU a
request cost in the server's processes, in the client processes and in PostgreSQL's (from /proc),
which on a shared machine is what sets the peak. Each open-loop row also gives, from the service's
own latency histogram (/metrics), the share of its requests that spent over 50 ms inside Flask: the
rest of a latency is queueing for a gunicorn thread, the network and the clients' own scheduling.
The figures are for this machine only. This prints figures; it never passes or fails.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # (a bench counting an installed package put it last: it stays there)
    sys.path.insert(0, str(ROOT))

from bench.figures import AutoAnalyze, percentiles_ms, postgres_cpu_seconds, tree_cpu_seconds  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
OPEN_SLOTS = 8  # connections per client process in the open loop (requests in flight at most)

BARE_APP = """
from flask import Flask, request
app = Flask("bare")

@app.post("/ok")
def ok():
    request.get_data()
    return {"status": "ok"}
"""


def claim_body(client: int, number: int) -> str:
    from tests.builders import ClaimSpec, Line, x12_837

    patient = (client * 7919 + number) % 500
    day = 1 + number % 28
    return x12_837([ClaimSpec(f"B{client}x{number}", [Line("99454", f"202604{day:02d}")],
                              mrn=f"MRN-{patient}", member_id=f"M-{patient}")])


def _send(host: str, port: int, path: str, token: str | None, body_of, numbers,
          schedule) -> list[tuple[float, int]]:
    """Send request `number` of `numbers` at `schedule(number)` (now when None) on one keep-alive
    connection; (latency from the scheduled time, status) for each."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "application/edi-x12"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    results = []
    for number in numbers:
        body = body_of(number)  # made before the clock starts
        scheduled = schedule(number)
        if scheduled is None:
            scheduled = time.perf_counter()
        else:
            time.sleep(max(0.0, scheduled - time.perf_counter()))
        for attempt in (1, 2):  # the server may have closed an idle keep-alive connection
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                connection.close()
                if attempt == 2:
                    raise
        results.append((time.perf_counter() - scheduled, response.status))
    connection.close()
    return results


def _client(args) -> tuple[list[tuple[float, int]], float, float]:
    """One client process: (latency seconds, status) per request, and when its clock started and
    stopped (bodies are made before it starts). Closed loop (no rate): one
    connection, each request sent when the previous answer is in. Open loop: requests are due on
    a fixed schedule and sent by OPEN_SLOTS threads with a connection each, so a slow answer does
    not hold back the next arrival (the sender's clock, not the server, sets the pace)."""
    host, port, path, token, seconds, rate, index, bare = args

    def body_of(number: int) -> bytes:
        return b"x" if bare else claim_body(index, number).encode()

    body_of(0)  # the builders imported before the clock starts, not inside the first request's time
    if not rate:
        start = time.perf_counter()

        def until_done():
            number = 0
            while time.perf_counter() - start < seconds:
                yield number
                number += 1
        results = _send(host, port, path, token, body_of, until_done(), lambda _: None)
        return results, start, time.perf_counter()
    total = int(seconds * rate)
    bodies = [body_of(number) for number in range(total)]  # all made before the schedule starts
    start = time.perf_counter()
    with ThreadPoolExecutor(OPEN_SLOTS) as pool:
        parts = pool.map(lambda slot: _send(host, port, path, token, bodies.__getitem__,
                                            range(slot, total, OPEN_SLOTS), lambda n: start + n / rate),
                         range(OPEN_SLOTS))
        results = [r for part in parts for r in part]
    return results, start, time.perf_counter()


def load(host: str, port: int, path: str, token: str | None, clients: int, seconds: float,
         rate: float | None = None, bare: bool = False, server: int | None = None,
         postgres: bool = False) -> dict:
    """Throughput and latency percentiles of one run; with `server` (the gunicorn master's pid),
    also the CPU the run cost per request in the server's processes, in the client processes and
    (with `postgres`) in PostgreSQL's: on a machine they share, what one side uses the others
    cannot."""
    per_client = rate / clients if rate else None
    cpu = _cpu_now(server, postgres) if server else None
    with multiprocessing.Pool(clients) as pool:
        began = time.perf_counter()
        parts = pool.map(_client, [(host, port, path, token, seconds, per_client, i + 1000 * int(began), bare)
                                   for i in range(clients)])
    # (leaving the block ends and waits for the client processes: their CPU is then the children's)
    cpu_used = None
    if cpu:
        cpu_used = [after - before for before, after in zip(cpu, _cpu_now(server, postgres), strict=True)]
    # the clients' clocks (CLOCK_MONOTONIC, one for the machine) from the first start to the last stop
    elapsed = max(stop for _, _, stop in parts) - min(start for _, start, _ in parts)
    results = [r for part, _, _ in parts for r in part]
    errors = sum(1 for _, status in results if status >= 400)
    p50, p95, p99 = percentiles_ms([latency for latency, _ in results])
    figures = {"requests": len(results), "per_second": len(results) / elapsed, "errors": errors,
               "p50": p50, "p95": p95, "p99": p99}
    if cpu_used and results:
        figures["cpu_ms"] = [seconds_used * 1000 / len(results) for seconds_used in cpu_used]
    return figures


def _cpu_now(server: int, postgres: bool) -> tuple[float, float, float]:
    """CPU seconds so far of the server's process tree, of this process's ended children (the
    client processes) and of PostgreSQL (0 without `postgres`)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (tree_cpu_seconds(server), children.ru_utime + children.ru_stime,
            postgres_cpu_seconds() if postgres else 0.0)


HANDLER_LIMIT = "0.05"  # a bucket bound of the service's latency histogram (scrubber/web/metrics.py)


def handled(port: int, endpoint: str = "gateway.submit_837") -> tuple[float, float]:
    """From the service's /metrics: how many requests to `endpoint` were answered 200 so far, and how
    many of them spent over 50 ms between Flask's first and last look at them (in the handler,
    queueing for a gunicorn thread and the network left out)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"endpoint": endpoint, "method": "POST", "status": "200"}
    buckets = {sample.labels["le"]: sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == "scrubber_request_seconds_bucket"
               and wanted.items() <= sample.labels.items()}
    total = buckets.get("+Inf", 0.0)
    return total, total - buckets.get(HANDLER_LIMIT, 0.0)


def _wait_for(process: subprocess.Popen, pattern: str, stream) -> re.Match:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        found = re.search(pattern, line)
        if found:
            return found
    process.kill()
    raise RuntimeError(f"the server did not start ({pattern!r} never printed)")


def start_service(env: dict, workers: int, python: str | None = None,
                  folder: Path | None = None) -> tuple[subprocess.Popen, int, str]:
    """`serve --demo`; one token sends everything, so its rate limit is lifted for the run. With
    `python` (an interpreter with the package installed) the service runs from its install, in
    `folder`: outside the checkout, `-m` does not find the sources."""
    env = {**env, "SCRUBBER_RATE_TOKEN": "1000000/minute"}
    process = subprocess.Popen([python or sys.executable, "-m", "scrubber.cli", "serve", "--port", "0",
                                "--workers", str(workers), "--demo"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=folder if python else None)
    port = int(_wait_for(process, r"URL: http://[\d.]+:(\d+)", process.stdout).group(1))
    token = _wait_for(process, r"Submitter token: (\S+)", process.stdout).group(1)
    return process, port, token


def start_bare(folder: Path, workers: int) -> tuple[subprocess.Popen, int]:
    """The bare app on gunicorn as `serve` runs it: its worker class and threads (a sync worker,
    gunicorn's default, answered it at 3,300/s here in a run where gthread answered 1,900/s)."""
    from scrubber.service import THREADS, WORKER_CLASS

    (folder / "bare_app.py").write_text(BARE_APP)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", WORKER_CLASS,
                                "--threads", str(THREADS), "-b", "127.0.0.1:0",
                                "--chdir", str(folder), "bare_app:app"], stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    port = int(_wait_for(process, r"Listening at: http://[\d.]+:(\d+)", process.stderr).group(1))
    return process, port


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()


def scratch_database(url: str, prefix: str = "scrubber_bench") -> tuple[str, callable]:
    """A new database on the PostgreSQL server `url` names: its URL, and a function dropping it
    (the benchmarks' and the test suite's)."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def each_database(folder: str, postgres: str) -> Iterator[tuple[str, str]]:
    """The databases an in-process bench runs on, as (name, URL): a SQLite file in `folder`, then,
    unless `postgres` is '', a scratch database on that server, dropped once the caller is done
    with it."""
    yield "SQLite", f"sqlite:///{folder}/ledger.sqlite3"
    if postgres:
        url, drop = scratch_database(postgres)
        try:
            yield "PostgreSQL", url
        finally:
            drop()


def row(name: str, figures: dict) -> str:
    line = (f"{name:<34} {figures['requests']:>8} {figures['per_second']:>9.0f} {figures['p50']:>8.1f} "
            f"{figures['p95']:>8.1f} {figures['p99']:>8.1f} {figures['errors']:>7}")
    if "cpu_ms" in figures:
        server, clients, postgres = figures["cpu_ms"]
        line += (f"  CPU ms a request: server {server:.2f}, clients {clients:.2f}"
                 + (f", PostgreSQL {postgres:.2f}" if postgres else ""))
    if figures.get("handler_over_50ms") is not None:
        line += f"  over 50 ms in the handler: {figures['handler_over_50ms']:.2f} %"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of peak + 80 %% per service (runs on a shared machine vary a lot)")
    parser.add_argument("--compiled", metavar="PYTHON",
                        help="also run the service with this interpreter (its compiled install)")
    parser.add_argument("--postgres", default=os.environ.get("SCRUBBER_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="server to create a scratch database on ('' to skip PostgreSQL)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; {args.clients} client processes, "
          f"{args.workers} gunicorn workers, {args.seconds:g} s per run; latencies in ms")
    header = f"{'run':<34} {'requests':>8} {'per s':>9} {'p50':>8} {'p95':>8} {'p99':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        def measure_floor(label: str) -> dict:
            bare, bare_port = start_bare(Path(folder), args.workers)
            try:
                figures = load("127.0.0.1", bare_port, "/ok", None, args.clients, args.seconds, bare=True,
                               server=bare.pid)
            finally:
                stop(bare)
            print(row(f"bare Flask (floor), {label}", figures), flush=True)
            return figures

        floors = [measure_floor("peak")]
        measured = []
        pythons = [("", None)] + ([(" compiled", args.compiled)] if args.compiled else [])
        targets = [(f"SQLite{label}", {"SCRUBBER_INSTANCE_PATH": str(Path(folder) / f"instance{index}")},
                    None, python) for index, (label, python) in enumerate(pythons)]
        warning, autovacuum_off = None, False
        if args.postgres:
            from scrubber.store import Store

            server = Store(args.postgres)
            warning = server.statistics_warning()
            server.dispose()
            autovacuum_off = warning is not None
            for label, python in pythons:
                url, drop = scratch_database(args.postgres)
                targets.append((f"PostgreSQL{label}", {"SCRUBBER_DATABASE_URL": url}, drop, python))
        for name, extra, cleanup, python in targets:
            if warning and name.startswith("PostgreSQL"):  # figures for a server unlike production
                print(f"note: {warning}; {AutoAnalyze.NOTE}")
                warning = None
            env = {k: v for k, v in os.environ.items() if k != "SCRUBBER_DATABASE_URL"} | extra
            service, port, token = start_service(env, args.workers, python, Path(folder))
            rounds = []
            analyze = AutoAnalyze(extra.get("SCRUBBER_DATABASE_URL", ""),
                                  active=autovacuum_off and name.startswith("PostgreSQL"))
            try:
                with analyze:
                    for _ in range(args.repeat):
                        peak = load("127.0.0.1", port, "/v1/x12/837", token, args.clients, args.seconds,
                                    server=service.pid, postgres=name.startswith("PostgreSQL"))
                        offered = 0.8 * peak["per_second"]
                        before = handled(port)
                        steady = load("127.0.0.1", port, "/v1/x12/837", token, args.clients, args.seconds,
                                      rate=offered) | {"offered": offered}
                        answered, slow = (after - earlier for earlier, after in zip(before, handled(port),
                                                                                     strict=True))
                        steady["handler_over_50ms"] = 100 * slow / answered if answered else None
                        rounds.append((peak, steady))
                        print(row(f"{name} 837, peak", peak))
                        queued = "" if _kept_up(steady) else f"  (offered {offered:.0f}/s: queued)"
                        print(row(f"{name} 837, at 80 % of peak", steady) + queued, flush=True)
            finally:
                stop(service)
                if cleanup:
                    cleanup()
            measured.append((name, rounds))
        # the machine's speed drifts (its bare-Flask peak has moved by half within the hour): the
        # floor is measured again at the end and the shares are taken against the higher of the two
        floors.append(measure_floor("peak, at the end"))
        floor = max(floors, key=lambda figures: figures["per_second"])
        for name, rounds in measured:
            print(f"{name}: {summary(rounds, floor).strip()}")


def _kept_up(steady: dict) -> bool:
    """Whether the service answered the open loop's requests as fast as they were sent: on this
    shared machine, 80 % of a peak measured a minute before is sometimes more than it can do then,
    requests queue, and the latency measured is the queue's."""
    return steady["per_second"] >= 0.98 * steady["offered"]


def summary(rounds: list[tuple[dict, dict]], floor: dict) -> str:
    """The line under a service's rows: its peak against the floor and p99 at 80 % of peak (the
    median and range over the rounds when there are several), and p99 over the rounds whose rate
    the service kept up with when it did not keep up with all."""
    def figure(values: list[float], unit: str) -> str:
        ordered = sorted(values)
        middle = statistics.median(ordered)
        if len(ordered) == 1:
            return f"{middle:.0f}{unit}"
        return f"{middle:.0f}{unit} (median of {len(ordered)}; {ordered[0]:.0f}-{ordered[-1]:.0f})"
    shares = [peak["per_second"] / floor["per_second"] * 100 for peak, _ in rounds]
    line = (f"{'':<34} {figure(shares, ' %')} of the bare-Flask floor; p99 at 80 % of peak "
            f"{figure([steady['p99'] for _, steady in rounds], ' ms')}")
    kept = [steady["p99"] for _, steady in rounds if _kept_up(steady)]
    if len(kept) < len(rounds):
        line += (f"; in the {len(kept)} of {len(rounds)} rounds that kept up with the rate offered, "
                 + (figure(kept, " ms") if kept else "none"))
    inside = [share for _, steady in rounds if (share := steady.get("handler_over_50ms")) is not None]
    if inside:
        line += f"; at most {max(inside):.2f} % of a round's requests spent over 50 ms in the handler"
    return line


if __name__ == "__main__":
    main()
