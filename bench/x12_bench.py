"""X12 benchmark: `rpm-scrubber check` (in memory) against pyx12's x12valid and a naive
split-on-delimiters floor, on the same generated 837P batches, in one run.

    .venv/bin/python bench/x12_bench.py                   # 1,000 / 10,000 / 100,000 claims
    .venv/bin/python bench/x12_bench.py --sizes 1000 10000 --pyx12-max 10000
    .venv/bin/python bench/x12_bench.py --compiled /tmp/compiled/bin/python   # + compiled rows
    .venv/bin/python bench/x12_bench.py --repeat 5      # best of 5 fresh processes per row

`--compiled PYTHON` adds `validate` and `check` rows (marked `compiled`) run by an interpreter
that has the compiled wheel installed (README, "Compiled build"):
    python3 -m venv /tmp/compiled && SCRUBBER_COMPILE=1 /tmp/compiled/bin/pip install .

Each figure comes from a fresh process (so peak memory is that process's own maximum resident
size); times exclude interpreter start-up and imports. Rows:
  check     read, validate against the guide, scrub every claim and render the JSON report
  validate  read and validate against the guide only (what x12valid does)
  pyx12     pyx12.x12n_document on the file (x12valid's work, 999 written to memory)
  naive     decode, split on the segment terminator and element separator, count CLM segments
Per-claim latency percentiles are for the scrub step of `check` (one claim after another).
With `--repeat N` every row but pyx12 is measured in N fresh processes and the fastest is shown
(timeit's advice: slower runs are the machine's other work, not the code), in N rounds of one run
of each row (so a slow spell of the machine falls on all rows, not on one row's runs), pyx12 in
`--pyx12-repeat` (default 1; it takes about 25 s at 10,000 claims).
This prints figures; it never passes or fails.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = os.environ.get("SCRUBBER_BENCH_INSTALLED") == "1"
if INSTALLED:  # measuring the installed (compiled) package: the checkout only supplies bench/
    sys.path.append(str(ROOT))
else:
    sys.path.insert(0, str(ROOT))

from bench.figures import percentiles_ms, require_compiled  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, path: str) -> dict:
    data = Path(path).read_bytes()
    if kind == "naive":
        start = time.perf_counter()
        text = data.decode("utf-8")
        claims = sum(1 for segment in text.split("~") if segment.lstrip().split("*", 1)[0] == "CLM")
        return {"seconds": time.perf_counter() - start, "claims": claims, "peak_mb": _peak_mb()}
    if kind == "pyx12":
        import io
        import logging

        import pyx12.params
        import pyx12.x12n_document
        logging.getLogger("pyx12").setLevel(logging.CRITICAL)
        start = time.perf_counter()
        ok = pyx12.x12n_document.x12n_document(param=pyx12.params.params(), src_file=path,
                                               fd_997=io.StringIO(), fd_html=None)
        return {"seconds": time.perf_counter() - start, "claims": None, "ok": ok, "peak_mb": _peak_mb()}
    if INSTALLED:
        require_compiled()
    from scrubber.catalogue import catalogue
    from scrubber.checker import Checker
    from scrubber.cli import tune_gc
    from scrubber.documentation import Documentation
    from scrubber.inputs import collector_paused, read_input
    from scrubber.report import Report
    shipped = catalogue()
    tune_gc()  # as the CLI does
    start = time.perf_counter()
    read = read_input(data, path, keep_segments=False, batch=True)
    del data
    if kind == "validate":
        return {"seconds": time.perf_counter() - start, "claims": len(read.items), "peak_mb": _peak_mb()}
    checker = Checker(shipped, shipped.profiles["medicare"], Documentation())
    items, read.items = read.items, []
    latencies = []
    # the JSON report, streamed as `check --format json` does, the collector paused as it does
    with open(os.devnull, "w") as sink, collector_paused():
        report = Report(sink, "json")
        for index in range(len(items)):
            item, items[index] = items[index], None
            began = time.perf_counter()
            result = checker.check(item)
            latencies.append(time.perf_counter() - began)
            report.add(result)
        report.close()
    seconds = time.perf_counter() - start
    p50, p95, p99 = percentiles_ms(latencies)
    return {"seconds": seconds, "claims": len(latencies), "peak_mb": _peak_mb(),
            "p50_ms": p50, "p95_ms": p95, "p99_ms": p99}


def _once(kind: str, path: str, python: str | None = None) -> dict:
    """One fresh process measuring `kind` (its own peak memory and latencies)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "SCRUBBER_BENCH_INSTALLED": "1" if python else "0"}
    out = subprocess.run([python or sys.executable, __file__, "--measure", kind, path],
                         capture_output=True, text=True, check=True, env=env, cwd=tempfile.gettempdir())
    return json.loads(out.stdout)


def _rounds(rows: dict[str, tuple[str, str | None]], path: str, repeat: int) -> dict[str, dict]:
    """For each row (name -> kind, interpreter), the fastest of `repeat` runs, with the slowest
    run's time. The runs go in rounds, every row once per round, so a spell in which the machine
    is slower (a shared machine has them, lasting seconds) slows every row alike: run a row's
    repeats back to back and such a spell could fall on one row's runs only, and its ratio to the
    others would measure the machine."""
    runs: dict[str, list[dict]] = {name: [] for name in rows}
    for _ in range(repeat):
        for name, (kind, python) in rows.items():
            runs[name].append(_once(kind, path, python))
    best = {}
    for name, found in runs.items():
        best[name] = min(found, key=lambda row: row["seconds"])
        best[name]["slowest"] = max(row["seconds"] for row in found)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--pyx12-max", type=int, default=100000,
                        help="skip pyx12 above this many claims (it runs at a few hundred claims/s)")
    parser.add_argument("--compiled", metavar="PYTHON",
                        help="also measure validate and check with this interpreter's compiled install")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="measure every row but pyx12 in N fresh processes, show the fastest")
    parser.add_argument("--pyx12-repeat", type=int, default=1, metavar="N",
                        help="the same for pyx12")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    from bench.gen837 import generate
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; batches from bench/gen837.py "
          f"(seed 2026); best of {args.repeat} (pyx12: {args.pyx12_repeat})")
    header = f"{'claims':>8} {'tool':>9} {'seconds':>9} {'claims/s':>10} {'peak MB':>8}  notes"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            path = Path(folder) / f"batch{size}.837"
            with path.open("w") as out:
                for chunk in generate(size):
                    out.write(chunk)
            jobs: dict[str, tuple[str, str | None]] = {kind: (kind, None)
                                                       for kind in ("naive", "validate", "check")}
            if args.compiled:
                jobs.update({f"{kind}*": (kind, args.compiled) for kind in ("validate", "check")})
            rows = _rounds(jobs, str(path), args.repeat)
            if size <= args.pyx12_max:
                rows["pyx12"] = _rounds({"pyx12": ("pyx12", None)}, str(path), args.pyx12_repeat)["pyx12"]
            for kind, row in rows.items():
                notes = ["compiled"] if kind.endswith("*") else []
                if row["slowest"] > row["seconds"] * 1.005:
                    notes.append(f"slowest {row['slowest']:.3f} s")
                if kind.startswith("check"):
                    notes += [f"scrub latency p50 {row['p50_ms']:.3f} ms, p95 {row['p95_ms']:.3f} ms, "
                              f"p99 {row['p99_ms']:.3f} ms",
                              f"{row['seconds'] / rows['naive']['seconds']:.1f}x the naive floor"]
                    if "pyx12" in rows:
                        notes.append(f"{rows['pyx12']['seconds'] / row['seconds']:.1f}x faster than pyx12")
                elif kind.startswith("validate"):
                    if "pyx12" in rows:
                        notes.append(f"{rows['pyx12']['seconds'] / row['seconds']:.1f}x faster than pyx12")
                    notes.append(f"{row['seconds'] / rows['naive']['seconds']:.1f}x the naive floor")
                elif kind == "pyx12":
                    notes = ["valid" if row.get("ok") else "pyx12 reported errors"]
                notes = "; ".join(notes)
                print(f"{size:>8} {kind:>9} {row['seconds']:>9.3f} {size / row['seconds']:>10.0f} "
                      f"{row['peak_mb']:>8.1f}  {notes}".rstrip())


if __name__ == "__main__":
    main()
