"""The rules' applicability declarations (rules._common.applies_to) are sound: whenever the engine
would skip a rule, the rule itself, run anyway, finds nothing.

Every rule is run on every claim here; a skipped rule that yields a hit is a wrong declaration
(the engine would have lost a finding). Inputs: every rule case table, and generated claims mixing
RPM, RTM and other codes against each case's documentation."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scrubber.engine as engine
from scrubber.catalogue import catalogue
from scrubber.checker import Checker
from scrubber.rules import REGISTRY
from scrubber.rules._common import applicability
from tests.builders import ClaimSpec, Line, x12_837
from tests.rulecases import DATA, documentation_for, run_case
from x12.reader import read_x12

TABLES = ("rules_combination.json", "rules_documentation.json", "rules_history.json",
          "rules_input.json")
CASES = [case for name in TABLES for case in json.loads((DATA / name).read_text())]
CODES = ["99213", "99453", "99454", "99445", "99457", "99458", "99470", "99091", "98975", "98977",
         "98980", "98981"]
DATES = ["20260302", "20260316", "20260331", "20260301-20260330", "20260215", "20260228-20260310"]


class Watch:
    """Stands in for the engine's plan: runs every rule, noting skips that would have lost hits."""

    def __init__(self):
        self.skipped: dict[str, int] = {}
        self.wrong: list[tuple] = []

    def plan(self, selected, present, documented, catalogued):
        return tuple((rule_id, self._watched(rule_id, present, documented, catalogued))
                     for rule_id in selected if rule_id in REGISTRY)

    def _watched(self, rule_id, present, documented, catalogued):
        rule = REGISTRY[rule_id]
        skipped = not engine._can_apply(rule, present, documented, catalogued)
        if skipped:
            self.skipped[rule_id] = self.skipped.get(rule_id, 0) + 1

        def run(month, claim, profile):
            hits = list(rule(month, claim, profile))
            if skipped and hits:
                self.wrong.append((rule_id, sorted(present), documented, hits[0].message))
            return hits
        return run


@pytest.fixture
def watch(monkeypatch):
    watching = Watch()
    monkeypatch.setattr(engine, "_plan", watching.plan)
    return watching


def test_no_declared_skip_loses_a_finding_in_the_case_tables(watch):
    for case in CASES:
        run_case(case)
    assert watch.wrong == []
    declared = {rule_id for rule_id, rule in REGISTRY.items() if applicability(rule)}
    assert len(declared) >= 20
    # not vacuous: the tables make most declarations skip at least once
    assert len(set(watch.skipped) & declared) >= 15


claims = st.lists(st.tuples(st.sampled_from(CODES), st.sampled_from(DATES),
                            st.sampled_from(["1", "2", "3"])), min_size=1, max_size=4)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from([c for c in CASES if c.get("docs")] + [{}]),
       sequence=st.lists(claims, min_size=1, max_size=3))
def test_no_declared_skip_loses_a_finding_on_generated_claims(watch, case, sequence):
    shipped = catalogue()
    checker = Checker(shipped, shipped.profile("medicare"), documentation_for(case))
    for index, lines in enumerate(sequence):
        spec = ClaimSpec(f"G{index}", [Line(code, day, units) for code, day, units in lines])
        (claim,) = read_x12(x12_837([spec], control=f"{index + 1:09d}"), "generated.837")
        checker.check(claim)
    assert watch.wrong == []


def test_the_engine_skips_rules_that_cannot_apply():
    """A claim billing only 99213 for a patient with no documentation runs no RPM rule at all."""
    (claim,) = read_x12(x12_837([ClaimSpec("C1", [Line("99213", "20260301")])]), "t")
    shipped = catalogue()
    month = engine.PatientMonth(None, (), shipped)
    present = frozenset({"99213"})
    plan = engine._plan(engine._selected(claim, engine.Scope.ALL), present, False, False)
    assert {rule_id for rule_id, _ in plan} == {"invalid-service-line", "patient-unidentified"}
    # remembered for the next claim billing the same codes
    assert engine._plan(engine._selected(claim, engine.Scope.ALL), frozenset({"99213"}), False, False) is plan
    assert engine.scrub(claim, month, shipped.profile("medicare"), shipped).findings == ()
