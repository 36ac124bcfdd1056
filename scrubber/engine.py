"""The engine: runs the registered rules on one claim, isolates a crashing rule, orders the
findings and computes the verdict."""
from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from scrubber.catalogue import Catalogue, Profile
from scrubber.findings import Finding, Hit, Verdict, verdict_of
from scrubber.model import Claim
from scrubber.patient_month import PatientMonth
from scrubber.rules import INPUT_RULES, MALFORMED_RULE, REGISTRY, Rule
from scrubber.rules._common import applicability

__all__ = ["Scope", "Outcome", "scrub"]

log = logging.getLogger(__name__)

CRASH_RULE: Final = "rule-failed"


class Scope(enum.Enum):
    """Which rules a claim gets (RULES.md section 5, History)."""

    ALL = "all"
    INPUT_ONLY = "input"


@dataclass(frozen=True, init=False)
class Outcome:
    findings: tuple[Finding, ...]
    verdict: Verdict
    rule_set_version: str

    def __init__(self, findings: tuple[Finding, ...], verdict: Verdict, rule_set_version: str) -> None:
        # written out: see model.PatientIdentity
        object.__setattr__(self, "findings", findings)
        object.__setattr__(self, "verdict", verdict)
        object.__setattr__(self, "rule_set_version", rule_set_version)


_ALL_RULES: Final = tuple(rule_id for rule_id in REGISTRY if rule_id != MALFORMED_RULE)


def _selected(claim: Claim, scope: Scope) -> tuple[str, ...]:
    if claim.malformed:
        return (MALFORMED_RULE,)
    if scope is Scope.INPUT_ONLY:
        return INPUT_RULES
    return _ALL_RULES


def _can_apply(rule: Rule, present: frozenset[str], documented: bool, catalogued: bool) -> bool:
    """False when the rule's declaration (rules._common.applies_to) says it cannot find anything
    on a claim billing the codes `present` (`catalogued`: one of them is in the catalogue); rules
    without a declaration always run."""
    applies = applicability(rule)
    if applies is None:
        return True
    codes, needs_documentation = applies
    if needs_documentation and not documented:
        return False
    if codes is None:
        return catalogued
    return not codes.isdisjoint(present)


def _runnable(registry: Mapping[str, Rule], selected: tuple[str, ...], present: frozenset[str],
              documented: bool, catalogued: bool) -> tuple[tuple[str, Rule], ...]:
    """The selected rules of `registry` that can find something on the claim, in order."""
    return tuple((rule_id, registry[rule_id]) for rule_id in selected
                 if rule_id in registry and _can_apply(registry[rule_id], present, documented, catalogued))


@functools.lru_cache(maxsize=1024)
def _plan(selected: tuple[str, ...], present: frozenset[str], documented: bool,
          catalogued: bool) -> tuple[tuple[str, Rule], ...]:
    """The shipped rules to run for one combination of billed codes (claims repeat a handful)."""
    return _runnable(REGISTRY, selected, present, documented, catalogued)


def _stamp(rule_id: str, hit: Hit, claim: Claim, profile: Profile,
           catalogue: Catalogue) -> Finding | None:
    severity = profile.severity(catalogue.rules[rule_id], minor=hit.minor)
    if severity is None:
        return None
    location = hit.location
    if location is None and hit.line is not None:
        line = next((l for l in claim.lines if l.number == hit.line), None)
        location = line.where("code") if line else None
    return Finding(rule_id, severity, hit.message, hit.suggestion, hit.line, hit.code, location,
                   hit.evidence)


def _run(rule_id: str, rule: Rule, month: PatientMonth, claim: Claim, profile: Profile,
         catalogue: Catalogue) -> list[Finding]:
    try:
        hits = list(rule(month, claim, profile))
    except Exception as error:  # a broken rule is reported, never swallowed
        log.exception("rule %s failed on claim %s", rule_id, claim.claim_id)
        hit = Hit(f"rule {rule_id} could not check this claim ({type(error).__name__}); the claim "
                  "needs a manual review for that rule",
                  "Review the claim by hand for this rule and report the failure")
        return [f for f in [_stamp(CRASH_RULE, hit, claim, profile, catalogue)] if f]
    if not hits:
        return []
    stamped = (_stamp(rule_id, hit, claim, profile, catalogue) for hit in hits)
    return [finding for finding in stamped if finding is not None]


def scrub(claim: Claim, month: PatientMonth, profile: Profile, catalogue: Catalogue,
          scope: Scope = Scope.ALL, rules: dict[str, Rule] | None = None) -> Outcome:
    """Check one claim against its patient-month under a profile."""
    present = frozenset(line.code for line in month.lines_for(claim))
    selected = _selected(claim, scope)
    documented = month.record is not None
    catalogued = any(catalogue.code(code) is not None for code in present)
    plan = (_plan(selected, present, documented, catalogued) if rules is None
            else _runnable(rules, selected, present, documented, catalogued))
    findings: list[Finding] = []
    for rule_id, rule in plan:
        findings.extend(_run(rule_id, rule, month, claim, profile, catalogue))
    ordered = tuple(sorted(findings, key=Finding.sort_key))
    return Outcome(ordered, verdict_of(ordered), catalogue.version)
