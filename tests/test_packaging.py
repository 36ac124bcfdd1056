"""setup.py's optional compiled build (README, "Compiled build"): what it compiles exists and is
type-clean enough to be listed, and it refuses editable installs. The compiled wheel itself is
built and tested by .ci/compiled."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _compiled_modules() -> list[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    (listed,) = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and any(getattr(target, "id", "") == "COMPILED" for target in node.targets)]
    return ast.literal_eval(listed)


def test_the_compiled_modules_exist_and_include_the_per_claim_path():
    modules = _compiled_modules()
    assert all((ROOT / module).is_file() for module in modules), modules
    for hot in ("x12/reader.py", "x12/syntax837.py", "scrubber/engine.py", "scrubber/checker.py",
                "scrubber/rules/combination.py"):
        assert hot in modules
    # the shell around the core stays interpreted (Flask, SQLAlchemy, click call into it)
    assert not any(module.startswith(("scrubber/web", "scrubber/store", "scrubber/workflow",
                                      "scrubber/cli")) for module in modules)


@pytest.mark.parametrize("command", ["develop", "editable_wheel"])
def test_a_compiled_build_is_refused_for_an_editable_install(command):
    run = subprocess.run([sys.executable, "setup.py", command], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "SCRUBBER_COMPILE": "1"}, timeout=60)
    assert run.returncode != 0
    assert "not for an editable install" in run.stderr
