"""The atheris harnesses under bench/ (bench/fuzz_*.py) in a short run each, so they keep working:
each starts from its seed corpus, runs a few hundred coverage-guided inputs and ends cleanly. The
long runs, for a fixed time, are `bench/fuzz_*.py --seconds N` (README, "Reliability and
security")."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
HARNESSES = sorted(path.name for path in BENCH.glob("fuzz_*.py"))


def test_every_parser_has_a_harness():
    assert HARNESSES == ["fuzz_docjson.py", "fuzz_hl7.py", "fuzz_x12.py", "fuzz_xml.py"]


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris is not installed (it is in the test extra: pip install -e '.[test]')")
@pytest.mark.parametrize("harness", HARNESSES)
def test_a_harness_runs_from_its_seeds(harness):
    run = subprocess.run([sys.executable, harness, "--runs", "300", "--seconds", "120"], cwd=BENCH,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    # libFuzzer stops at the first check after 300 inputs; an input that adds coverage just then
    # can give a few more (seen: 316, 319), so the count is bounded, not exact.
    done = re.search(r"^Done (\d+) runs", run.stderr, re.MULTILINE)
    assert done and 300 <= int(done[1]) < 400, run.stderr[-3000:]
    assert f"stat::number_of_executed_units: {done[1]}" in run.stderr
    assert re.search(r"^#\d+\s+INITED ", run.stderr, re.MULTILINE), "the seed corpus was not read"
