"""Billed history: replacements, voids, re-sends and patient matching (RULES.md 5)."""
import pytest

from tests.rulecases import load_cases, run_case, summarize


@pytest.mark.parametrize("case", load_cases("rules_history.json"))
def test_history(case):
    assert summarize(run_case(case)) == case["expect"]
