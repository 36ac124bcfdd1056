"""The submission workflow (no Flask here): what the HTTP gateway and the MLLP listener do with a
message.

The raw message is recorded first. Then, claim by claim and each in one transaction: the patient is
locked (a row lock on PostgreSQL; SQLite serializes writers), the patient-month is rebuilt from the
ledger (documentation facts and the claims that went downstream before, replayed in order), the
claim is scrubbed, and the decision is recorded with the outbound claim queued in the outbox. Only
then are the answers (999 + 277CA, or ACKs) built and recorded. Two submissions for one
patient-month therefore never both pass a once-per-period rule, and a re-sent claim (same tenant,
billing provider, claim id and content) gets its recorded decision back with nothing queued again.

Modes: `enforce` holds blocked claims; `monitor` (shadow mode) records every decision but holds
nothing and answers as if every claim passed; a dry run (`dry_run=True`) records nothing at all.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from scrubber.answers import Decision, X12Answers, answer_hl7, answer_x12, stamps_from
from scrubber.catalogue import Catalogue, Profile
from scrubber.checker import Checker, ClaimResult
from scrubber.documentation import Documentation
from scrubber.findings import Finding, Severity, Verdict
from scrubber.inputs import Input, read_input
from scrubber.model import Claim, DeviceData, ServiceLine, SyntaxIssue, Unreadable
from scrubber.records import content_hash, dump_claim, load_claim
from scrubber.store import (
    ClaimRef,
    ClaimRow,
    OutboxRow,
    Store,
    TenantRef,
    utcnow,
)
from x12.split import one_claim_files

__all__ = ["MODES", "ClaimOutcome", "SubmissionOutcome", "UnknownTenant", "Workflow"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MODES = ("enforce", "monitor")
FORWARDED, HELD, REJECTED = "forwarded", "held", "rejected"


class UnknownTenant(LookupError):
    pass


@dataclass(frozen=True)
class ClaimOutcome:
    result: ClaimResult
    status: str  # forwarded | held | rejected
    ledger: ClaimRef | None = None  # where it is recorded (none for a dry run)
    resent: bool = False  # the recorded decision of an identical earlier submission

    @property
    def claim_pk(self) -> int | None:
        """The claim's ledger id (known once its unit of work has committed)."""
        return self.ledger.id if self.ledger is not None else None


@dataclass
class SubmissionOutcome:
    submission_id: int | None
    kind: str
    mode: str
    claims: list[ClaimOutcome] = field(default_factory=list)
    x12: X12Answers | None = None
    acks: list[str] = field(default_factory=list)


def _findings_json(findings: tuple[Finding, ...]) -> list[dict]:
    return [{**f.as_json(), "location": f.location, "evidence": list(f.evidence)} for f in findings]


def _findings_from(rows: list[dict]) -> tuple[Finding, ...]:
    return tuple(Finding(r["rule"], Severity(r["severity"]), r["message"], r["suggestion"], r["line"],
                         r["code"], r.get("location"), tuple(r.get("evidence", ()))) for r in rows)


# the ledger's column widths: a longer value is refused as malformed, never cut to fit (a cut
# identifier would name another patient or provider)
_WIDTHS = {"mrn": 80, "member id": 80, "billing provider": 80, "procedure code": 20, "charge": 20}


def _bounded(claim: Claim) -> Claim:
    # (label, value, the line it is on or None, where: the line's location key, or the place)
    values: list[tuple[str, str | None, ServiceLine | None, str]] = [
        ("mrn", claim.patient.mrn, None, "patient"), ("member id", claim.patient.member_id, None, "patient"),
        ("billing provider", claim.billing_provider, None, "billing provider")]
    for line in claim.lines:
        values += [("billing provider", line.billing_provider, line, "line"),
                   ("procedure code", line.code, line, "code"), ("charge", line.charge, line, "line")]
    # a line's location is written only for a value that is too long (X12 writes them on demand)
    issues = tuple(SyntaxIssue(f"the {label} is {len(value)} characters long, more than the "
                               f"{_WIDTHS[label]} the ledger keeps",
                               where if line is None else line.where(where) or f"line {line.number}")
                   for label, value, line, where in values if value and len(value) > _WIDTHS[label])
    return replace(claim, issues=claim.issues + issues) if issues else claim


# How far from a claim's dates billed history can matter: a line's month, 30-day period or date
# range lies within 30 days of its own dates (RULES.md section 2), so two lines whose windows
# overlap are dated within 60 days of each other; two days more for safety. Episodes are unbounded
# and read whole (Workflow._unbounded).
REACH = timedelta(days=62)
LOADED_LIMIT = 5_000  # history claims kept loaded (Workflow._loaded), a few MB


def _reach(claim: Claim) -> tuple[date, date]:
    """The dates of billed history the rules can compare this claim's lines with; all of them
    when the claim has no readable date."""
    days = [day for line in claim.lines for day in (line.date_from, line.date_to) if day is not None]
    if not days:
        return date.min, date.max
    first, last = min(days), max(days)
    return (first - REACH if first - date.min > REACH else date.min,
            last + REACH if date.max - last > REACH else date.max)


def _retried(work: Callable[[], _T]) -> _T:
    """Run one transaction's work, again (up to three times in all) when it hits a unique key (an
    identical claim or a new patient recorded by a concurrent submission a moment ago, which the
    next attempt finds) or a database connection that turned out dead (the server restarted; the
    pool is renewed, and should the lost commit have gone through after all, the next attempt
    finds the claim recorded and answers as for a re-send, queueing nothing twice)."""
    for attempt in range(3):
        try:
            return work()
        except IntegrityError:
            if attempt == 2:
                raise
        except DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise
            log.warning("database connection lost; trying the unit of work again")
    raise AssertionError("unreachable")


def _logged(outcome: ClaimOutcome | None) -> ClaimOutcome | None:
    """A claim's outcome, logged (by ids, never names) once its unit of work has committed and
    its ledger id is known; a re-sent claim's was logged when first recorded."""
    if outcome is not None and outcome.claim_pk is not None and not outcome.resent:
        log.info("claim %s (%s): %s, %s", outcome.claim_pk, (outcome.result.id or "")[:80],
                 outcome.result.verdict.value, outcome.status)
    return outcome


def _each_item(read: Input, outcome: SubmissionOutcome,
               check: Callable[[object], ClaimOutcome | None]) -> dict[int, ClaimOutcome]:
    """Check every item of the message in order, adding each claim's outcome to `outcome`; the
    outcomes by item (device data gives none)."""
    by_item: dict[int, ClaimOutcome] = {}
    for item in read.items:
        result = check(item)
        if result is not None:
            outcome.claims.append(result)
            by_item[id(item)] = result
    return by_item


@dataclass
class _Identity:
    """What makes a claim the same claim in the ledger (its billing provider, claim id and content
    hash, of the claim with its values bounded), and the decision recorded for it, once looked
    up."""

    claim: Claim
    provider: str
    claim_id: str
    digest: str
    known: object = None

    @classmethod
    def of(cls, item: Claim) -> _Identity:
        claim = _bounded(item)
        return cls(claim, claim.billing_provider or "", claim.claim_id or "", content_hash(claim))


class _Outbound:
    """What goes downstream for each claim of one input: a one-claim 837P (the sender's envelope
    and delimiters, HL renumbered), or the HL7 message it came in. Made for every claim at the
    first asking, in one walk of each transaction set."""

    def __init__(self, read: Input):
        self.read = read
        self._files: dict[int, str] | None = None

    def of(self, claim: Claim) -> str | None:
        if self._files is None:
            read = self.read
            if read.batch is not None:
                self._files = one_claim_files(read.batch)
            else:
                self._files = {id(m.item): m.text for m in read.messages or () if m.item is not None}
        return self._files.get(id(claim))


class Workflow:
    def __init__(self, store: Store, catalogue: Catalogue, profile: Profile,
                 clock: Callable[[], datetime] = lambda: datetime.now().astimezone()):
        self.store = store
        self.catalogue = catalogue
        self.profile = profile
        self.clock = clock
        # codes whose period has no end date (99453's episode): their history is read whatever its age
        self._unbounded = tuple(code for code, info in catalogue.codes.items() if info.period == "episode")
        # claims of the history as loaded from their bodies, by ledger id: a claim's body is never
        # changed once recorded, and a patient's later claims read the same earlier ones again
        # (loading one cost about as much as three statements); emptied when full
        self._loaded: dict[int, Claim] = {}

    def submit(self, tenant_name: str, data: bytes, source: str, mode: str | None = None,
               dry_run: bool = False) -> SubmissionOutcome:
        """Check every claim of one message or file and record it; InputError for a body that is
        neither X12 nor HL7, UnknownTenant for a tenant that does not exist. `mode` defaults to
        the tenant's own.

        A message with one claim (most of what the gateway and the MLLP listener get) is recorded
        in one transaction: the raw message, the decision with its outbound claim, and the
        answers, committed together before anyone sees the answers. A file of several claims is
        recorded first, then claim by claim (so a patient is locked only while its own claim is
        checked), then its answers."""
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        read = read_input(data, source, keep_segments=True)
        outbound = _Outbound(read)
        # control numbers for every acknowledgement this submission can need
        needed = 1 + 4 * len(read.items) + 4 * len(read.batch.interchanges if read.batch else ())
        if dry_run:
            with self.store.sessions() as session:
                tenant = self._tenant(session, tenant_name)
            outcome = SubmissionOutcome(None, read.kind, "enforce")
            by_item = _each_item(read, outcome,
                                 lambda item: self._one(tenant, item, outbound, None, "enforce", True))
            self._build_answers(read, outcome, by_item, 1)
            return outcome
        if len(read.items) <= 1:
            return self._submit_at_once(tenant_name, data, source, mode, outbound, needed)
        with self.store.transaction() as session:
            submission_id, tenant, mode = self._receive(session, tenant_name, read, source, mode, data)
            first_control = self.store.next_number(session, f"control/{tenant.name}", needed)
        outcome = SubmissionOutcome(submission_id, read.kind, mode)
        by_item = _each_item(read, outcome,
                             lambda item: self._one(tenant, item, outbound, submission_id, mode, False))
        self._build_answers(read, outcome, by_item, first_control)
        with self.store.transaction() as session:
            self._record_answers(session, outcome)
        return outcome

    def _submit_at_once(self, tenant_name: str, data: bytes, source: str, mode: str | None,
                        outbound: _Outbound, needed: int) -> SubmissionOutcome:
        read = outbound.read

        # a claim's identity is known before anything is recorded: the re-send check goes with the
        # message's own row (one statement on PostgreSQL)
        (item,) = read.items or (None,)
        identity = _Identity.of(item) if isinstance(item, Claim) else None

        def work() -> SubmissionOutcome:
            with self.store.transaction() as session:
                submission_id, tenant, mode_used = self._receive(session, tenant_name, read, source, mode,
                                                                 data, identity)
                outcome = SubmissionOutcome(submission_id, read.kind, mode_used)
                by_item = _each_item(read, outcome, lambda item: self._in_transaction(
                    session, tenant, item, outbound, submission_id, mode_used, False, identity))
                # last: on SQLite the counter is then locked for the fewest statements (on
                # PostgreSQL it is bumped outside this transaction, see Store.next_number)
                first_control = self.store.next_number(session, f"control/{tenant.name}", needed)
                self._build_answers(read, outcome, by_item, first_control)
                self._record_answers(session, outcome)
            return outcome
        outcome = _retried(work)
        for claim in outcome.claims:
            _logged(claim)
        return outcome

    def _receive(self, session: Session, tenant_name: str, read: Input, source: str, mode: str | None,
                 data: bytes, identity: _Identity | None = None) -> tuple[int, TenantRef, str]:
        """Record the raw message (the tenant is looked up by the same statement); its
        submission id, the tenant, and the mode used (`mode`, else the tenant's). With the
        `identity` of the message's one claim, its recorded decision is looked up too (kept in
        `identity.known`)."""
        if identity is None:
            received = self.store.receive(session, tenant_name, read.kind, source[:200], mode, data)
        else:
            received = self.store.receive_claim(session, tenant_name, read.kind, source[:200], mode, data,
                                                identity.provider, identity.claim_id, identity.digest)
            if received is not None:
                *received, identity.known = received
        if received is None:
            raise UnknownTenant(tenant_name)
        submission_id, tenant, _ = received
        self.store.audit(session, tenant, "gateway", "received", f"submission {submission_id}",
                         kind=read.kind)
        return received

    def _tenant(self, session: Session, name: str) -> TenantRef:
        tenant = self.store.tenant_ref(session, name)
        if tenant is None:
            raise UnknownTenant(name)
        return tenant

    # -- one item, one transaction ----------------------------------------------------------
    def _one(self, tenant: TenantRef, item, outbound: _Outbound, submission_id: int | None, mode: str,
             dry_run: bool) -> ClaimOutcome | None:
        def work() -> ClaimOutcome | None:
            with self.store.sessions() as session, session.begin():
                outcome = self._in_transaction(session, tenant, item, outbound, submission_id, mode,
                                               dry_run)
                if dry_run:  # nothing of a dry run is kept (documentation it carried included)
                    session.rollback()
            return outcome
        return _logged(_retried(work))

    def _in_transaction(self, session: Session, tenant: TenantRef, item, outbound: _Outbound,
                        submission_id: int | None, mode: str, dry_run: bool,
                        identity: _Identity | None = None) -> ClaimOutcome | None:
        store = self.store
        if isinstance(item, DeviceData):
            patient = store.patient(session, tenant, item.patient.mrn, item.patient.member_id,
                                    lock=True, create=True)
            if patient is not None:
                store.add_documentation(session, tenant, patient, item.record)
            return None
        if isinstance(item, Unreadable):
            result = Checker(self.catalogue, self.profile).check(item)
            digest = hashlib.sha256(f"{submission_id}/{id(item)}/{result.findings}".encode()).hexdigest()
            return self._record(session, tenant, submission_id, None, item.control_id or "", "",
                                digest, item.format, result, REJECTED, None, None, dry_run)
        if identity is None:
            identity = _Identity.of(item)
            identity.known = store.recorded(session, tenant, identity.provider, identity.claim_id,
                                            identity.digest)
        claim, digest, known = identity.claim, identity.digest, identity.known
        provider, claim_id = identity.provider, identity.claim_id
        if known is not None:
            result = ClaimResult(claim.claim_id, claim.format, claim.source, claim.patient.display_id,
                                 Verdict(known.verdict), _findings_from(known.findings), claim)
            return ClaimOutcome(result, known.status, ClaimRef(known.id), resent=True)
        patient, related = None, []
        if not claim.malformed:  # a malformed claim is refused whoever it names: no patient row
            # (read-only rows unless documentation is to be added to the patient's)
            patient, related = store.patients(session, tenant, claim.patient.mrn, claim.patient.member_id,
                                              lock=True, create=True, plain=claim.documentation is None)
        if patient is not None and claim.documentation is not None and not claim.malformed:
            store.add_documentation(session, tenant, patient, claim.documentation)
        result = self._checker(session, tenant, related, claim, claim_id, provider).check(claim)
        if claim.malformed:  # it cannot go downstream in any mode, nor be released
            status, payload = REJECTED, None
        else:
            forwarded = mode == "monitor" or result.verdict is not Verdict.BLOCK
            status = FORWARDED if forwarded else HELD
            payload = outbound.of(claim)  # a held claim's too: a reviewer may release it
        return self._record(session, tenant, submission_id, patient, claim_id, provider, digest,
                            claim.format, result, status, claim, payload, dry_run)

    def _checker(self, session: Session, tenant: TenantRef, related: list, claim: Claim,
                 claim_id: str, provider: str) -> Checker:
        """A checker holding what the ledger knows about the patient: the documentation of every
        row that may be them, the claims that went downstream before, replayed in order, and which
        of the attachments the claim refers to have arrived."""
        store = self.store
        documentation = Documentation()
        for row in related:
            if row.documented:
                documentation = documentation.with_record(store.record_of(session, row))
        checker = Checker(self.catalogue, self.profile, documentation,
                          store.attachment_numbers(session, tenant, claim.attachments))
        loaded = self._loaded
        for pk, body in store.history(session, tenant, related, claim_id, provider, _reach(claim),
                                      self._unbounded):
            earlier = loaded.get(pk)
            if earlier is None:
                if len(loaded) >= LOADED_LIMIT:
                    loaded.clear()
                earlier = loaded[pk] = load_claim(json.loads(body))
            checker.remember(earlier)
        return checker

    def rescrub(self, tenant_name: str, claim_pk: int, actor: str) -> ClaimRow:
        """Check a held claim again against what the ledger holds now (documentation corrected
        or added since): its verdict and findings are replaced; if it no longer blocks, it joins
        the history and its queued payload becomes due. ValueError unless the claim is held."""
        with self.store.transaction() as session:
            tenant = self._tenant(session, tenant_name)
            row = self.store.claim_of(session, tenant.id, claim_pk)
            if row is None:
                raise LookupError(claim_pk)
            if row.status != HELD or row.body is None:
                raise ValueError(f"claim {claim_pk} is {row.status}, only a held claim is checked again")
            claim = load_claim(row.body)
            _, related = self.store.patients(session, tenant, claim.patient.mrn, claim.patient.member_id,
                                             lock=True)
            result = self._checker(session, tenant, related, claim, row.claim_id,
                                   row.billing_provider).check(claim)
            before = row.verdict
            row.verdict = result.verdict.value
            self.store.replace_findings(session, row, _findings_json(result.findings))
            row.rule_set_version = self.catalogue.version
            if result.verdict is not Verdict.BLOCK:
                row.status, row.in_history = FORWARDED, True
                outbox = session.scalar(select(OutboxRow).where(OutboxRow.claim_pk == row.id))
                if outbox is not None:
                    outbox.state, outbox.next_attempt_at = "pending", utcnow()
            self.store.audit(session, tenant, actor, "rescrubbed", f"claim {row.id}", before=before,
                             verdict=row.verdict, rules=sorted({f.rule for f in result.findings}))
            return row

    def _record(self, session: Session, tenant: TenantRef, submission_id: int | None, patient,
                claim_id: str, provider: str, digest: str, kind: str, result: ClaimResult,
                status: str, claim: Claim | None, payload: str | None, dry_run: bool) -> ClaimOutcome:
        if dry_run:
            return ClaimOutcome(result, status)
        initials = ""
        if claim is not None:
            initials = "".join(part[:1] for part in (claim.patient.first_name, claim.patient.last_name)
                               if part).upper()
        values = dict(submission_id=submission_id, patient_initials=initials,
                      patient_id=patient.id if patient is not None else None, claim_id=claim_id[:80],
                      billing_provider=provider[:80], content_hash=digest, format=kind,
                      verdict=result.verdict.value, status=status,
                      in_history=status == FORWARDED and claim is not None,
                      rule_set_version=self.catalogue.version,
                      body=dump_claim(claim) if claim is not None else None,
                      findings=_findings_json(result.findings))
        lines = [dict(number=line.number, code=line.code[:20] if line.code else None,  # cut only when
                      units=line.units, date_from=line.date_from, date_to=line.date_to,  # malformed
                      charge=line.charge[:20] if line.charge else None, credit=line.credit)
                 for line in (claim.lines if claim is not None else ())]
        queued = payload if status in (FORWARDED, HELD) else None
        ledger = self.store.add_claim(session, tenant, values, lines, queued, due=status == FORWARDED)
        self.store.audit(session, tenant, "gateway", "scrubbed", ledger, verdict=result.verdict.value,
                         status=status, rules=sorted({f.rule for f in result.findings}))
        return ClaimOutcome(result, status, ledger)

    # -- answers ----------------------------------------------------------------------------
    def _build_answers(self, read: Input, outcome: SubmissionOutcome,
                       by_item: dict[int, ClaimOutcome], first_control: int) -> None:
        def decide(claim: Claim) -> Decision:
            found = by_item[id(claim)]
            if outcome.mode == "monitor" and found.status == FORWARDED:
                return Decision(Verdict.PASS, ())  # shadow mode: the sender sees no rule at work
            return Decision(found.result.verdict, found.result.findings)

        stamps = stamps_from(self.clock(), first_control)
        if read.batch is not None and read.batch.fatal is None:
            outcome.x12 = answer_x12(read.batch, decide, self.catalogue, stamps, outbound=False)
        elif read.messages is not None:
            outcome.acks = answer_hl7(read.messages, decide, stamps)

    def _record_answers(self, session: Session, outcome: SubmissionOutcome) -> None:
        texts = []
        if outcome.x12 is not None:
            texts = [("ta1", outcome.x12.ta1), ("999", outcome.x12.ack999), ("277", outcome.x12.ack277)]
        texts += [("ack", ack) for ack in outcome.acks]
        self.store.add_acknowledgements(session, outcome.submission_id,
                                        [(kind, text) for kind, text in texts if text])
