"""Packaging lives in setup.cfg. This file adds one option: with SCRUBBER_COMPILE=1 in the
environment, `pip install .` compiles the modules that read 837Ps and check claims with mypyc (the
same code, typed; about twice as fast, README "Compiled build"). Without it the package is plain
Python. Editable installs are never compiled: a compiled module is imported in preference to its
source, so an edit would silently not take effect."""
import os
import sys

from setuptools import setup

# the per-claim path of `rpm-scrubber check` and of a submission: 837P reading and guide walk,
# patient-month reconstruction, the engine and the rules, the report, and what a submission answers
# with (the 999, the 277CA, the claim queued downstream)
COMPILED = [
    "x12/errors.py", "x12/tokenizer.py", "x12/envelope.py", "x12/guide837.py", "x12/syntax837.py",
    "x12/claims837.py", "x12/reader.py", "x12/elements837.py",
    "x12/writer.py", "x12/ack999.py", "x12/ack277.py", "x12/split.py", "scrubber/answers.py",
    "scrubber/model.py", "scrubber/findings.py", "scrubber/periods.py", "scrubber/catalogue.py",
    "scrubber/documentation.py", "scrubber/patient_month.py", "scrubber/engine.py",
    "scrubber/checker.py", "scrubber/report.py",
    "scrubber/rules/_common.py", "scrubber/rules/combination.py", "scrubber/rules/documentation.py",
    "scrubber/rules/input.py", "scrubber/rules/__init__.py",
]
BUILD_REQUIRES = ["mypy>=1.10"]

if os.environ.get("SCRUBBER_COMPILE") != "1":
    setup()
elif any(command.startswith("editable") or command == "develop" for command in sys.argv[1:]):
    sys.exit("SCRUBBER_COMPILE=1 is for `pip install .` (a wheel), not for an editable install: "
             "a compiled module would shadow the source you edit")
else:
    try:
        from mypyc.build import mypycify
    except ImportError:
        # the first pass of a PEP 517 build, before mypy is installed: ask for it
        setup(setup_requires=BUILD_REQUIRES)
    else:
        setup(setup_requires=BUILD_REQUIRES,
              ext_modules=mypycify(["--ignore-missing-imports", *COMPILED], opt_level="3"))
