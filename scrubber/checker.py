"""Checking claims in order against documentation and the claims accepted before them.

This is the in-memory world of `rpm-scrubber check`: the documentation given plus the claims in
the files, taken in order. A claim that passes or is flagged joins the history of the ones after
it; a blocked claim never does (RULES.md section 5, History).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scrubber.catalogue import Catalogue, Profile
from scrubber.documentation import Documentation, PatientRecord
from scrubber.engine import Scope, scrub
from scrubber.findings import Finding, Severity, Verdict
from scrubber.model import Claim, DeviceData, Frequency, PatientIdentity, Unreadable
from scrubber.patient_month import BilledLine, PatientMonth, billed_lines
from scrubber.rules import MALFORMED_RULE
from scrubber.rules.input import malformed_hits

__all__ = ["ClaimResult", "Checker"]


@dataclass(frozen=True, init=False)
class ClaimResult:
    id: str | None
    format: str
    source: str
    patient: str | None
    verdict: Verdict
    findings: tuple[Finding, ...]
    claim: Claim | None = None

    def __init__(self, id: str | None, format: str, source: str, patient: str | None,
                 verdict: Verdict, findings: tuple[Finding, ...], claim: Claim | None = None) -> None:
        # written out: see model.PatientIdentity
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "format", format)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "patient", patient)
        object.__setattr__(self, "verdict", verdict)
        object.__setattr__(self, "findings", findings)
        object.__setattr__(self, "claim", claim)

    def as_json(self) -> dict:
        return {
            "id": self.id, "format": self.format, "source": self.source, "patient": self.patient,
            # _value_, the member's value as stored: `.value` is a Python-level property call
            "verdict": self.verdict._value_, "findings": [f.as_json() for f in self.findings],
        }


@dataclass(eq=False, init=False)
class _Accepted:
    claim: Claim
    lines: list[BilledLine] = field(default_factory=list)
    number: int = 0

    def __init__(self, claim: Claim, lines: list[BilledLine] | None = None, number: int = 0) -> None:
        # written out: see scrubber.model.PatientIdentity
        self.claim = claim
        self.lines = [] if lines is None else lines
        self.number = number


class Checker:
    """Scrubs claims one after another, keeping documentation and accepted history in memory."""

    def __init__(self, catalogue: Catalogue, profile: Profile,
                 documentation: Documentation | None = None,
                 attachments: frozenset[str] = frozenset()):
        self.catalogue = catalogue
        self.profile = profile
        self.documentation = documentation or Documentation()
        self.attachments = attachments
        self._accepted: dict[int, _Accepted] = {}  # by arrival, oldest first
        self._sequence = 0
        self._by_mrn: dict[str, list[int]] = {}
        self._by_member: dict[str, list[int]] = {}
        self._by_claim: dict[tuple, list[int]] = {}

    def _live(self, numbers) -> list[_Accepted]:
        found = {n for n in numbers if n in self._accepted}
        return [self._accepted[n] for n in sorted(found)]

    def check(self, item: Claim | Unreadable | DeviceData) -> ClaimResult | None:
        """Scrub a claim; device data joins the documentation and gives no result."""
        if isinstance(item, DeviceData):
            self._add_documentation(item.patient, item.record)
            return None
        if isinstance(item, Unreadable):
            return self._unreadable(item)
        if item.documentation is not None and item.patient.identified and not item.malformed:
            self._add_documentation(item.patient, item.documentation)
        return self._claim(item)

    def _unreadable(self, item: Unreadable) -> ClaimResult:
        findings = tuple(Finding(MALFORMED_RULE, Severity.BLOCK, hit.message, hit.suggestion,
                                 location=hit.location) for hit in malformed_hits(item.issues))
        return ClaimResult(item.control_id, item.format, item.source, None, Verdict.BLOCK, findings)

    def _add_documentation(self, patient: PatientIdentity, record: PatientRecord) -> None:
        index = self.documentation.find(patient.mrn, patient.member_id)
        if index is not None:
            known = self.documentation.patients[index]
            record = PatientRecord(id=known.id, member_id=known.member_id).merged(record)
        else:
            record = PatientRecord(id=patient.mrn, member_id=patient.member_id).merged(record)
        self.documentation = self.documentation.with_record(record)

    def _record_for(self, patient: PatientIdentity) -> PatientRecord | None:
        if not patient.identified:
            return None
        index = self.documentation.find(patient.mrn, patient.member_id)
        return None if index is None else self.documentation.patients[index]

    def same_patient(self, a: PatientIdentity, b: PatientIdentity) -> bool:
        """RULES.md section 5, The same patient."""
        if not a.identified or not b.identified:
            return False
        index_a = self.documentation.find(a.mrn, a.member_id)
        index_b = self.documentation.find(b.mrn, b.member_id)
        if index_a is not None and index_b is not None:
            return index_a == index_b
        if a.mrn and b.mrn:
            return a.mrn == b.mrn
        return bool(a.member_id) and a.member_id == b.member_id

    def _targets(self, claim: Claim) -> list[_Accepted]:
        """Accepted claims this one replaces: an identical re-send, or, for frequency 7 and 8,
        every claim with the same claim id and billing provider (whatever patient it named)."""
        same_id = self._live(self._by_claim.get((claim.claim_id, claim.billing_provider), ()))
        if claim.frequency is Frequency.ORIGINAL:
            return [a for a in same_id if a.claim.content() == claim.content()]
        return same_id

    def _candidates(self, patient: PatientIdentity) -> list[_Accepted]:
        """Accepted claims that may be the same patient: sharing an MRN or member id with the
        claim or with the documentation record it matches (same_patient decides)."""
        if not patient.identified:
            return []
        record = self._record_for(patient)
        numbers: list[int] = []  # a claim found twice is one candidate (_live)
        for mrn in (patient.mrn, record.id if record is not None else None):
            if mrn:
                numbers.extend(self._by_mrn.get(mrn, ()))
        for member in (patient.member_id, record.member_id if record is not None else None):
            if member:
                numbers.extend(self._by_member.get(member, ()))
        return self._live(numbers) if numbers else []

    def _credited(self, claim: Claim, mine: list[_Accepted]) -> list[tuple[_Accepted, BilledLine]]:
        """For each credit (FT1-6 CD), the most recent accepted charge it reverses."""
        taken: list[tuple[_Accepted, BilledLine]] = []
        for credit in (line for line in claim.lines if line.credit):
            for accepted in reversed(mine):
                match = next((b for b in accepted.lines if b.code == credit.code
                              and b.service_date == credit.service_date
                              and (accepted, b) not in taken), None)
                if match is not None:
                    taken.append((accepted, match))
                    break
        return taken

    def _effects(self, claim: Claim):
        """The claim's own accepted history, the claims it replaces or voids, the charges its
        credits reverse, and whether it is a void."""
        mine = [a for a in self._candidates(claim.patient)
                if self.same_patient(a.claim.patient, claim.patient)]
        targets = [] if claim.malformed else self._targets(claim)
        credited = [] if claim.malformed else self._credited(claim, mine)
        voiding = claim.frequency is Frequency.VOID and bool(targets)
        return mine, targets, credited, voiding

    def _claim(self, claim: Claim) -> ClaimResult:
        mine, targets, credited, voiding = self._effects(claim)
        history = tuple(line for a in mine if a not in targets for line in a.lines
                        if (a, line) not in credited)
        month = PatientMonth(self._record_for(claim.patient), history, self.catalogue,
                             self.attachments)
        outcome = scrub(claim, month, self.profile, self.catalogue,
                        Scope.INPUT_ONLY if voiding else Scope.ALL)
        if outcome.verdict is not Verdict.BLOCK:
            self._commit(claim, targets, credited, voiding)
        return ClaimResult(claim.claim_id, claim.format, claim.source, claim.patient.display_id,
                           outcome.verdict, outcome.findings, claim)

    def remember(self, claim: Claim) -> None:
        """Add a claim that went downstream earlier (read back from a ledger) to the history,
        with the effects it had then (replacing, voiding, crediting), without checking it again.
        Replaying a ledger's claims in their order rebuilds the history `check` would hold."""
        _, targets, credited, voiding = self._effects(claim)
        self._commit(claim, targets, credited, voiding)

    def _commit(self, claim: Claim, targets, credited, voiding: bool) -> None:
        for accepted, line in credited:
            accepted.lines.remove(line)
        for target in targets:
            del self._accepted[target.number]
        if not voiding:
            self._sequence += 1
            number = self._sequence
            self._accepted[number] = _Accepted(claim, list(billed_lines(claim, current=False)), number)
            if claim.patient.mrn:
                self._by_mrn.setdefault(claim.patient.mrn, []).append(number)
            if claim.patient.member_id:
                self._by_member.setdefault(claim.patient.member_id, []).append(number)
            self._by_claim.setdefault((claim.claim_id, claim.billing_provider), []).append(number)
