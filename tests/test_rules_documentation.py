"""Documentation rules (RULES.md 3b), one case table."""
import pytest

from tests.rulecases import load_cases, run_case, summarize


@pytest.mark.parametrize("case", load_cases("rules_documentation.json"))
def test_documentation_rules(case):
    assert summarize(run_case(case)) == case["expect"]
