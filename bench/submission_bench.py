"""What one single-claim 837P submission costs, in process: Flask's test client posting to
`/v1/x12/837` on SQLite and on a scratch PostgreSQL database, in one run.

    .venv/bin/python bench/submission_bench.py                    # 2,000 submissions, both databases
    .venv/bin/python bench/submission_bench.py --submissions 5000 --postgres ''   # SQLite only
    .venv/bin/python bench/submission_bench.py --instructions    # the worker's instructions, a few minutes
    .venv/bin/python bench/submission_bench.py --instructions --compiled /tmp/compiled/bin/python

For each database: wall time and the worker's CPU (user and system) per submission, the
PostgreSQL server's CPU per submission (every `postgres` process's, from /proc: meaningful only
with the server on this machine and nothing else using it), and the statements sent per
submission, by kind. The bodies are those of `bench/http_bench.py` (a different claim each, for
one of 500 patients); the first 50 submissions warm up and are not counted. Without HTTP, client
processes or gunicorn, this isolates the workflow, the store and Flask from the server's
scheduling: the HTTP bench gives throughput and latency. The figures are for this machine only and
move by a fifth from run to run on a shared one; compare versions by alternating runs. This prints
figures; it never passes or fails.

`--instructions` counts instead the instructions the worker's process runs a submission, under
valgrind's callgrind (Debian's valgrind): the process runs twice per database, with N and 5N
submissions after the warm-up (N = --submissions, 50 by default there), and the difference is
divided by 4N, so that start-up and warm-up cancel out. An instruction count is the same from run
to run whatever else the machine is doing, where CPU time on a shared machine moves by a fifth:
it is the figure to compare two versions of the code by (run it in each version's checkout).
It covers the worker only, not the PostgreSQL server, and under callgrind a submission takes
about 50 times as long, so the statistics keeper (AutoAnalyze) is off in those runs. With
`--compiled PYTHON` (an interpreter with the compiled wheel installed, README "Compiled build"), the
same count is made for that install too, in rows marked "compiled".
"""
from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = os.environ.get("SCRUBBER_BENCH_INSTALLED") == "1"
if INSTALLED:  # counting the installed (compiled) package: the checkout only supplies bench/, tests/
    sys.path.append(str(ROOT))
else:
    sys.path.insert(0, str(ROOT))

from bench.figures import AutoAnalyze, postgres_cpu_seconds, require_compiled  # noqa: E402
from bench.http_bench import DEFAULT_POSTGRES, claim_body, each_database  # noqa: E402

WARM_UP = 50


def _statement_kind(statement: str) -> str:
    words = statement.split()
    if words[0] == "WITH" and "INTO" in words:  # a data-modifying CTE: named by the table its first
        return f"WITH ... INSERT INTO {words[words.index('INTO') + 1]}"  # insert writes
    if words[0] == "WITH":  # a query on a CTE: named by the CTE
        return f"WITH {words[1]} ... SELECT"
    if words[0] == "INSERT":
        return f"INSERT INTO {words[2]}"
    if words[0] in ("SELECT", "UPDATE", "DELETE"):
        table = words[words.index("FROM") + 1] if "FROM" in words else words[1]
        return f"{words[0]} {'DISTINCT ' if words[1] == 'DISTINCT' else ''}... {table}"
    return words[0]


def measure(url: str, submissions: int, analyze: bool = True) -> None:
    from sqlalchemy import event

    if INSTALLED:
        require_compiled()
    from scrubber.service import prepare_demo
    from scrubber.store import Store, upgrade
    from scrubber.web import create_app

    store = Store(url)
    upgrade(store)
    token = prepare_demo(store).token
    warning = store.statistics_warning()
    store.dispose()
    if warning:  # figures for a server unlike production, made closer to it
        print(f"  note: {warning}; {AutoAnalyze.NOTE}")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATE_LIMITS": {"token": "1000000/minute"}})
    client = app.test_client()
    headers = {"Content-Type": "application/edi-x12", "Authorization": f"Bearer {token}"}
    bodies = [claim_body(1, number).encode() for number in range(WARM_UP + submissions)]
    engine = app.extensions["scrubber.store"].engine
    kinds: Counter[str] = Counter()

    def count(_connection, _cursor, statement, _parameters, _context, _many) -> None:
        kinds[_statement_kind(statement)] += 1
    postgres = url.startswith("postgresql")
    analyze = AutoAnalyze(url, active=warning is not None and analyze)
    try:
        with analyze:  # (its thread's few statements count in the worker's CPU: about 1 ms a second)
            for body in bodies[:WARM_UP]:
                answer = client.post("/v1/x12/837", data=body, headers=headers)
                if answer.status_code != 200:
                    raise SystemExit(f"{answer.status_code} {answer.get_data(as_text=True)[:200]}")
            event.listen(engine, "before_cursor_execute", count)
            gc.collect()
            server = postgres_cpu_seconds() if postgres else 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            for body in bodies[WARM_UP:]:
                if client.post("/v1/x12/837", data=body, headers=headers).status_code != 200:
                    raise SystemExit("a submission was refused")
            wall, cpu, server = (time.perf_counter() - wall, time.process_time() - cpu,
                                 postgres_cpu_seconds() - server if postgres else None)
    finally:
        app.extensions["scrubber.store"].dispose()
    per = 1000 / submissions
    server_text = f", PostgreSQL CPU {server * per:.2f} ms" if server is not None else ""
    print(f"  {submissions:,} submissions: wall {wall * per:.2f} ms, worker CPU {cpu * per:.2f} ms"
          f"{server_text} each; {sum(kinds.values()) / submissions:.1f} statements each:")
    for kind, number in kinds.most_common():
        print(f"    {number / submissions:5.2f}  {kind}")


def instructions(database: str, postgres: str, submissions: int, compiled: str | None = None) -> float:
    """The instructions a submission costs the worker on `database`, by difference of two runs
    under callgrind (see the module's text); with `compiled`, in that interpreter's install."""
    counts = []
    env = {**os.environ, "SCRUBBER_BENCH_INSTALLED": "1" if compiled else "0"}
    with tempfile.TemporaryDirectory() as folder:
        for number in (submissions, 5 * submissions):
            run = subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/callgrind.out",
                 compiled or sys.executable, __file__, "--submissions", str(number), "--postgres", postgres,
                 "--only", database, "--no-analyze"], capture_output=True, text=True, env=env)
            found = re.search(r"Collected : (\d+)", run.stderr)
            if run.returncode != 0 or found is None:
                raise SystemExit(f"the run under callgrind failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
            counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / (4 * submissions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=None, help="2,000; with --instructions 50")
    parser.add_argument("--postgres", default=os.environ.get("SCRUBBER_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="server to create a scratch database on ('' to skip PostgreSQL)")
    parser.add_argument("--instructions", action="store_true",
                        help="count the worker's instructions a submission under callgrind instead")
    parser.add_argument("--compiled", metavar="PYTHON",
                        help="with --instructions, also count with this interpreter (its compiled install)")
    parser.add_argument("--only", choices=("SQLite", "PostgreSQL"), help=argparse.SUPPRESS)
    parser.add_argument("--no-analyze", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("--instructions needs valgrind (Debian's package valgrind)")
        submissions = args.submissions or 50
        print(f"python {sys.version.split()[0]}; the worker's instructions a single-claim 837P, under "
              f"callgrind, by difference of {submissions} and {5 * submissions} submissions")
        databases = ("SQLite", "PostgreSQL") if args.postgres else ("SQLite",)
        runs = [(database, None) for database in databases]
        if args.compiled:
            runs += [(database, args.compiled) for database in databases]
        with ThreadPoolExecutor(len(databases)) as pool:  # one process per database at a time, side by side
            counted = list(pool.map(lambda run: instructions(run[0], args.postgres, submissions, run[1]),
                                    runs))
        for (database, compiled), count in zip(runs, counted, strict=True):
            label = f"{database}{' compiled' if compiled else ''}"
            print(f"  {label}: {count / 1e6:.3f}M instructions a submission")
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; single-claim 837Ps through Flask's "
          f"test client, {WARM_UP} to warm up")
    with tempfile.TemporaryDirectory() as folder:
        for name, url in each_database(folder, "" if args.only == "SQLite" else args.postgres):
            if args.only in (None, name):
                print(name)
                measure(url, args.submissions or 2000, analyze=not args.no_analyze)


if __name__ == "__main__":
    main()
