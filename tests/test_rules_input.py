"""Input rules (RULES.md 3c), one case table."""
import pytest

from tests.rulecases import load_cases, run_case, summarize


@pytest.mark.parametrize("case", load_cases("rules_input.json"))
def test_input_rules(case):
    assert summarize(run_case(case)) == case["expect"]
