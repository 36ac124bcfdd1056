"""The engine: runs the registered rules on one claim, isolates a crashing rule, orders the
findings and computes the verdict."""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from scrubber.catalogue import Catalogue, Profile
from scrubber.findings import Finding, Hit, Verdict, verdict_of
from scrubber.model import Claim
from scrubber.patient_month import PatientMonth
from scrubber.rules import INPUT_RULES, MALFORMED_RULE, REGISTRY, Rule

__all__ = ["Scope", "Outcome", "scrub"]

log = logging.getLogger(__name__)

CRASH_RULE = "rule-failed"


class Scope(enum.Enum):
    """Which rules a claim gets (RULES.md section 5, History)."""

    ALL = "all"
    INPUT_ONLY = "input"


@dataclass(frozen=True)
class Outcome:
    findings: tuple[Finding, ...]
    verdict: Verdict
    rule_set_version: str


def _selected(claim: Claim, scope: Scope) -> list[str]:
    if claim.malformed:
        return [MALFORMED_RULE]
    if scope is Scope.INPUT_ONLY:
        return list(INPUT_RULES)
    return [rule_id for rule_id in REGISTRY if rule_id != MALFORMED_RULE]


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
    registry = REGISTRY if rules is None else rules
    findings: list[Finding] = []
    for rule_id in _selected(claim, scope):
        if rule_id in registry:
            findings.extend(_run(rule_id, registry[rule_id], month, claim, profile, catalogue))
    ordered = tuple(sorted(findings, key=Finding.sort_key))
    return Outcome(ordered, verdict_of(ordered), catalogue.version)
