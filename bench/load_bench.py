"""Sustained load: several client processes submit single-claim 837Ps on loopback for minutes to
`rpm-scrubber serve` on PostgreSQL (two gateway processes: gunicorn workers) while two
`rpm-scrubber worker` processes forward to a stub clearinghouse.

    .venv/bin/python bench/load_bench.py                        # 180 s, 4 clients
    .venv/bin/python bench/load_bench.py --seconds 600 --clients 6 --postgres URL

Prints throughput, p50/p95/p99 latency, errors (any answer but 200, any broken connection),
outbox lag over time (rows waiting, age of the oldest), resident memory of the gateway and
forwarding processes over time, and after the last request how long the outbox took to drain and
whether every forwarded claim reached the clearinghouse under one key with one body and no held
claim did. A scratch database is created on the server and dropped afterwards. The per-token
rate limit is lifted for the run (one token sends everything). Figures are for this machine.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.clearinghouse import Clearinghouse  # noqa: E402
from bench.figures import child_pids, percentiles_ms  # noqa: E402
from bench.http_bench import DEFAULT_POSTGRES, scratch_database, start_service, stop  # noqa: E402

CODES = ("99454", "99457", "99458")  # a lone 99458 is blocked and held


def claim(client: int, number: int) -> str:
    from tests.builders import ClaimSpec, Line, x12_837

    patient = f"L{client}-{number}"
    return x12_837([ClaimSpec(f"L{client}x{number}", [Line(CODES[number % 3], "20260415")],
                              mrn=f"MRN-{patient}", member_id=f"M-{patient}")])


def _client(job) -> list[tuple[float, int, str]]:
    """One client process: (latency s, HTTP status or 0, verdict) per request, keep-alive."""
    port, token, seconds, index = job
    headers = {"Content-Type": "application/edi-x12", "Authorization": f"Bearer {token}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    results, number, began = [], 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        sent = time.perf_counter()
        try:
            connection.request("POST", "/v1/x12/837", body=claim(index, number).encode(), headers=headers)
            response = connection.getresponse()
            body = response.read()
            verdict = json.loads(body)["claims"][0]["verdict"] if response.status == 200 else ""
            results.append((time.perf_counter() - sent, response.status, verdict))
        except (OSError, http.client.HTTPException):
            results.append((time.perf_counter() - sent, 0, ""))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        number += 1
    connection.close()
    return results


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _outbox(store) -> tuple[dict[str, int], float]:
    from sqlalchemy import func, select

    from scrubber.store import OutboxRow, utcnow

    with store.transaction() as session:
        counts = store.outbox_counts(session)
        oldest = session.scalar(select(func.min(OutboxRow.created_at)).where(OutboxRow.state == "pending"))
    return counts, (utcnow() - oldest).total_seconds() if oldest else 0.0


def run(database_url: str, seconds: float, clients: int, gateways: int = 2, forwarders: int = 2,
        sample_every: float = 5.0, quiet: bool = False) -> dict:
    """Run the load against a fresh database at `database_url`; returns the figures and counts."""
    from sqlalchemy import select

    from scrubber.store import ClaimRow, OutboxRow, Store

    stub = Clearinghouse()
    env = {**os.environ, "SCRUBBER_DATABASE_URL": database_url, "SCRUBBER_DOWNSTREAM_URL": stub.url,
           "SCRUBBER_DOWNSTREAM_BACKOFF": "0.5"}
    service, port, token = start_service(env, gateways)
    workers = [subprocess.Popen([sys.executable, "-m", "scrubber.cli", "worker", "--interval", "0.2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(forwarders)]
    store = Store(database_url)
    samples: list[dict] = []
    done = threading.Event()

    def sample(began: float) -> None:
        while not done.wait(sample_every):
            counts, age = _outbox(store)
            gateway = {pid: _rss_mb(pid) for pid in child_pids(service.pid)}
            samples.append({"t": time.perf_counter() - began, "delivered": counts.get("delivered", 0),
                            "pending": counts.get("pending", 0), "oldest": age,
                            "gateway": sum(gateway.values()), "gateway_pids": sorted(gateway),
                            "forwarders": sum(_rss_mb(worker.pid) for worker in workers)})
            if not quiet:
                last = samples[-1]
                each = " + ".join(f"{gateway[pid]:.1f}" for pid in last["gateway_pids"])
                print(f"  {last['t']:6.0f} s  delivered {last['delivered']:>7}  waiting {last['pending']:>5}"
                      f"  oldest {last['oldest']:5.1f} s  gateway RSS {each} MB  "
                      f"forwarders RSS {last['forwarders']:6.1f} MB", flush=True)

    try:
        began = time.perf_counter()
        sampler = threading.Thread(target=sample, args=(began,), daemon=True)
        sampler.start()
        with multiprocessing.Pool(clients) as pool:
            parts = pool.map(_client, [(port, token, seconds, index) for index in range(clients)])
        elapsed = time.perf_counter() - began
        finished = time.perf_counter()
        while _outbox(store)[0].get("pending", 0) and time.perf_counter() - finished < 300:
            time.sleep(0.2)
        drain = time.perf_counter() - finished
        done.set()
        sampler.join()
        with store.transaction() as session:
            queued = {row.idempotency_key: row.payload for row in session.scalars(
                select(OutboxRow).where(OutboxRow.state != "held"))}
            states = Counter(session.scalars(select(OutboxRow.state)))
            held = set(session.scalars(select(ClaimRow.claim_id).where(ClaimRow.status == "held")))
    finally:
        done.set()
        for worker in workers:
            stop(worker)
        stop(service)
        store.dispose()
        stub.close()
    results = [r for part in parts for r in part]
    p50, p95, p99 = percentiles_ms([latency for latency, _, _ in results])
    accepted, bodies = stub.accepted(), stub.bodies()
    return {
        "requests": len(results), "per_second": len(results) / elapsed, "seconds": elapsed,
        "p50": p50, "p95": p95, "p99": p99,
        "errors": sum(1 for _, status, _ in results if status != 200),
        "verdicts": Counter(verdict for _, status, verdict in results if status == 200),
        "samples": samples, "drain": drain, "states": states,
        "queued": len(queued), "delivered_keys": len(accepted),
        "every_key_once": set(accepted) == set(queued) and all(
            bodies.get(key) == {payload} for key, payload in queued.items()),
        "repeats": sum(accepted.values()) - len(accepted),
        "held": len(held),
        "held_delivered": len(held & stub.claim_ids()),
    }


def report(figures: dict) -> None:
    print(f"requests {figures['requests']} in {figures['seconds']:.0f} s: {figures['per_second']:.1f}/s; "
          f"latency p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, p99 {figures['p99']:.1f} ms; "
          f"errors {figures['errors']}")
    print(f"verdicts: {dict(figures['verdicts'])}; outbox at the end: {dict(figures['states'])}")
    lag = max((s["oldest"] for s in figures["samples"]), default=0.0)
    print(f"outbox lag: oldest waiting claim at most {lag:.1f} s old during the run; drained "
          f"{figures['drain']:.1f} s after the last request")
    print(f"delivery: {figures['delivered_keys']} of {figures['queued']} forwarded claims arrived, each "
          f"under one key with one body: {'yes' if figures['every_key_once'] else 'NO'}; repeated "
          f"deliveries {figures['repeats']}; held claims delivered {figures['held_delivered']} of "
          f"{figures['held']}")
    warm = [s for s in figures["samples"] if s["t"] >= 30] or figures["samples"]
    restarts = len({pid for sample in figures["samples"] for pid in sample["gateway_pids"]}) - \
        len(figures["samples"][-1]["gateway_pids"]) if figures["samples"] else 0
    print(f"gateway processes seen besides the last sample's: {restarts}")
    if len(warm) >= 2:
        print(f"resident memory (after 30 s of warm-up where the run allows): gateway workers "
              f"{warm[0]['gateway']:.1f} -> {warm[-1]['gateway']:.1f} MB, "
              f"forwarders {warm[0]['forwarders']:.1f} -> {warm[-1]['forwarders']:.1f} MB "
              f"({warm[0]['t']:.0f} s -> {warm[-1]['t']:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--gateways", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--forwarders", type=int, default=2, help="rpm-scrubber worker processes")
    parser.add_argument("--postgres", default=os.environ.get("SCRUBBER_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="server to create the scratch database on")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; {args.clients} client processes, "
          f"{args.gateways} gateway processes, {args.forwarders} forwarding workers, PostgreSQL, "
          f"{args.seconds:g} s")
    url, drop = scratch_database(args.postgres)
    try:
        report(run(url, args.seconds, args.clients, args.gateways, args.forwarders))
    finally:
        drop()


if __name__ == "__main__":
    main()
