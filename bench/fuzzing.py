"""The runner behind bench/fuzz_*.py: coverage-guided fuzzing with atheris (libFuzzer) for a fixed
time, the corpus seeded from ../shared/samples/. The property every harness checks: any byte
string gives a result or our own parse error. Any other exception is a crash (atheris prints it
and writes the input to fuzz-artifacts/NAME-crash-*); an input that takes longer than --timeout
seconds is a hang; a run above --rss-limit MB is a memory failure. All three stop the run with a
non-zero exit.

    .venv/bin/python bench/fuzz_x12.py --seconds 300           # a long run
    .venv/bin/python bench/fuzz_x12.py --runs 200              # a smoke run (what CI does)
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"
sys.path.insert(0, str(ROOT))


def seeds(*folders: str) -> list[Path]:
    found = []
    for folder in folders:
        found += sorted(path for path in (SAMPLES / folder).glob("*") if path.is_file())
    return found


def fuzz(name: str, make_target: Callable[[], Callable[[bytes], None]],
         corpus: Iterable[Path | bytes]) -> None:
    """Parse the command line and fuzz the target `make_target` returns; it imports the code under
    test, which happens inside atheris.instrument_imports() so libFuzzer sees its branches."""
    import atheris

    parser = argparse.ArgumentParser(description=f"fuzz {name} with atheris; " + __doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="stop after this long")
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs (0: no limit)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--rss-limit", type=int, default=2048, help="MB the process may use")
    parser.add_argument("--max-len", type=int, default=65536, help="longest input in bytes")
    args = parser.parse_args()

    with atheris.instrument_imports():
        target = make_target()
    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    try:
        for number, seed in enumerate(corpus):
            data = seed if isinstance(seed, bytes) else seed.read_bytes()
            (folder / f"seed-{number:04d}").write_bytes(data[:args.max_len])
        print(f"fuzzing {name}: {sum(1 for _ in folder.iterdir())} seeds, {args.seconds} s"
              f"{f', {args.runs} runs' if args.runs else ''}", flush=True)
        artifacts = ROOT / "fuzz-artifacts"
        artifacts.mkdir(exist_ok=True)
        libfuzzer = [sys.argv[0], f"-max_total_time={args.seconds}", f"-timeout={args.timeout}",
                     f"-artifact_prefix={artifacts}/{name}-",
                     f"-rss_limit_mb={args.rss_limit}", f"-max_len={args.max_len}", "-print_final_stats=1",
                     str(folder)]
        if args.runs:
            libfuzzer.insert(1, f"-runs={args.runs}")
        atheris.Setup(libfuzzer, target)
        atheris.Fuzz()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
