"""HL7 benchmark: DFT^P03 messages per second end to end through the scrub (in memory), against
hl7apy's own parse_message and python-hl7's parse on the same messages, in one run.

    .venv/bin/python bench/hl7_bench.py               # 2,000 messages
    .venv/bin/python bench/hl7_bench.py --count 5000

Rows:
  scrub       read each message (our ER7 reader), reconstruct the patient-month, run every rule
  scrub+ack   the same, plus the ACK for each message (what the MLLP listener does per message)
  hl7apy      hl7apy.parser.parse_message, default settings (full parse with groups)
  python-hl7  hl7.parse, in its own virtual environment (its import name `hl7` is our package's);
              created on first use under the system temporary folder from PyPI
Each row runs in a fresh process; peak memory is that process's maximum resident size.
Latency percentiles are per message. This prints figures; it never passes or fails.
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
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.figures import percentiles_ms  # noqa: E402

PYTHON_HL7_VENV = Path(tempfile.gettempdir()) / "rpm-scrubber-bench-python-hl7"

_PYTHON_HL7 = """
import json, resource, sys, time
import hl7
messages = json.load(open(sys.argv[1]))
latencies = []
start = time.perf_counter()
for text in messages:
    began = time.perf_counter()
    hl7.parse(text)
    latencies.append(time.perf_counter() - began)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "latencies": latencies,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, path: str) -> dict:
    messages = json.loads(Path(path).read_text())
    latencies = []
    if kind == "hl7apy":
        from hl7apy.parser import parse_message
        start = time.perf_counter()
        for text in messages:
            began = time.perf_counter()
            parse_message(text)
            latencies.append(time.perf_counter() - began)
        return {"seconds": time.perf_counter() - start, "latencies": latencies, "peak_mb": _peak_mb()}
    from datetime import datetime

    from hl7.reader import read_messages
    from scrubber.answers import Decision, answer_hl7, stamps_from
    from scrubber.catalogue import catalogue
    from scrubber.checker import Checker
    from scrubber.cli import tune_gc
    shipped = catalogue()
    checker = Checker(shipped, shipped.profiles["medicare"])
    stamps = stamps_from(datetime(2026, 4, 30, tzinfo=UTC), 1)
    tune_gc()
    verdicts = {}
    start = time.perf_counter()
    for text in messages:
        began = time.perf_counter()
        received = read_messages(text, "bench")
        for one in received:
            result = checker.check(one.item)
            if kind == "scrub+ack":
                decision = Decision(result.verdict, result.findings)
                answer_hl7([one], lambda claim, decision=decision: decision, stamps)
            verdicts[result.verdict.value] = verdicts.get(result.verdict.value, 0) + 1
        latencies.append(time.perf_counter() - began)
    return {"seconds": time.perf_counter() - start, "latencies": latencies, "peak_mb": _peak_mb(),
            "verdicts": verdicts}


def _python_hl7(path: str) -> dict:
    python = PYTHON_HL7_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PYTHON_HL7_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "hl7"], check=True)
    out = subprocess.run([str(python), "-I", "-c", _PYTHON_HL7, path], capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir())
    return json.loads(out.stdout)


def _run(kind: str, path: str) -> dict:
    if kind == "python-hl7":
        return _python_hl7(path)
    out = subprocess.run([sys.executable, __file__, "--measure", kind, path], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    from bench.genhl7 import generate
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; {args.count} DFT^P03 messages "
          "from bench/genhl7.py (seed 2026)")
    header = (f"{'tool':>11} {'seconds':>8} {'msgs/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'peak MB':>8}  notes")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "messages.json"
        path.write_text(json.dumps(generate(args.count)))
        rows = {kind: _run(kind, str(path)) for kind in ("scrub", "scrub+ack", "hl7apy", "python-hl7")}
    for kind, row in rows.items():
        p50, p95, p99 = percentiles_ms(row["latencies"])
        notes = ""
        if kind.startswith("scrub"):
            notes = (f"{rows['hl7apy']['seconds'] / row['seconds']:.1f}x hl7apy's rate; "
                     f"{row['seconds'] / rows['python-hl7']['seconds']:.1f}x python-hl7's time; "
                     f"verdicts {row['verdicts']}")
        print(f"{kind:>11} {row['seconds']:>8.3f} {args.count / row['seconds']:>8.0f} {p50:>7.3f} "
              f"{p95:>7.3f} {p99:>7.3f} {row['peak_mb']:>8.1f}  {notes}".rstrip())


if __name__ == "__main__":
    main()
