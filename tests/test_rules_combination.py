"""Code-combination rules (RULES.md 3a), one case table."""
import pytest

from tests.rulecases import load_cases, run_case, summarize


@pytest.mark.parametrize("case", load_cases("rules_combination.json"))
def test_combination_rules(case):
    assert summarize(run_case(case)) == case["expect"]
