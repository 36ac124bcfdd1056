"""The 277CA claim acknowledgement (005010X214): one transaction set per accepted 837 set.

2000A is us (the information source), 2000B the submitter with the batch totals, 2000C each billing
provider with its totals, 2000D each claim: STC A2:20 with WQ when it passed or was flagged (the
277CA has no warning status), or the rejection category and status of its first blocking rule (per
the rule catalogue) with U, the rule id and the fix in STC12, and a 2220D SVC/STC for each line a
blocking finding names. Totals count and add the claims as sent (CLM02).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from scrubber.catalogue import Catalogue
from scrubber.findings import Finding, Severity, Verdict
from scrubber.model import Claim
from x12.reader import InterchangeResult, SetResult
from x12.tokenizer import Segment
from x12.writer import Element, Stamp, ack_delimiters, ack_interchange, clean

__all__ = ["VERSION_277CA", "Decision", "build_277ca", "ACCEPTED"]

VERSION_277CA = "005010X214"
SOURCE_NAME = "RPM CLAIM SCRUBBER"
ACCEPTED = ("A2", "20")  # acknowledgement/acceptance into adjudication; accepted for processing
_STC12_MAX = 264


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    findings: tuple[Finding, ...]


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def _amount(value: Decimal) -> str:
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class _ClaimRow:
    claim: Claim
    clm: Segment
    provider: Segment | None
    decision: Decision
    edits: tuple[tuple[str, ...], ...] = ()  # its X12 errors' 277CA statuses, when all are claim edits

    @property
    def charge(self) -> Decimal:
        return _money(self.clm.get(2))

    @property
    def accepted(self) -> bool:
        return self.decision.verdict is not Verdict.BLOCK


def _rows(result: SetResult, decide: Callable[[Claim], Decision]) -> list[_ClaimRow]:
    segments = result.tset.segments
    providers: dict[int, Segment | None] = {}
    provider: Segment | None = None
    for position, segment in enumerate(segments, start=2):
        if segment.id == "NM1" and segment.get(1) == "85" and result.loops[position - 2] == "2010AA":
            provider = segment
        elif segment.id == "CLM":
            providers[position] = provider
    rows = []
    for item, (start, _) in zip(
            (i for i in result.items if isinstance(i, Claim)), result.spans, strict=True):
        own = [e for e in result.errors if e.claim_start == start]
        edits = tuple(dict.fromkeys(e.edit for e in own)) if all(e.edit for e in own) else ()
        rows.append(_ClaimRow(item, segments[start - 2], providers.get(start), decide(item), edits))
    return rows


class _Builder:
    def __init__(self, result: SetResult, rows: list[_ClaimRow], catalogue: Catalogue, stamp: Stamp,
                 delimiters):
        self.result, self.rows, self.catalogue = result, rows, catalogue
        self.stamp, self.d = stamp, delimiters
        self.segments: list[list[Element]] = []
        self.hl = 0

    def text(self, value: str | None, limit: int = 60) -> str:
        return clean(value or "", self.d)[:limit]

    def add_hl(self, parent: int | None, level: str, children: bool | None) -> int:
        self.hl += 1
        segment: list[Element] = ["HL", str(self.hl), str(parent) if parent else "", level]
        if children is not None:
            segment.append("1" if children else "0")
        self.segments.append(segment)
        return self.hl

    def totals(self, rows: list[_ClaimRow], codes: tuple[str, str, str, str]) -> None:
        accepted = [r for r in rows if r.accepted]
        rejected = [r for r in rows if not r.accepted]
        if accepted:
            self.segments.append(["QTY", codes[0], str(len(accepted))])
        if rejected:
            self.segments.append(["QTY", codes[1], str(len(rejected))])
        if accepted:
            self.segments.append(["AMT", codes[2], _amount(sum((r.charge for r in accepted), Decimal(0)))])
        if rejected:
            self.segments.append(["AMT", codes[3], _amount(sum((r.charge for r in rejected), Decimal(0)))])

    def build(self, interchange: InterchangeResult) -> list[list[Element]]:
        today = self.stamp.now.strftime("%Y%m%d")
        tset = self.result.tset
        bht = next((s for s in tset.segments if s.id == "BHT"), None)
        submitter = next((s for s in tset.segments if s.id == "NM1" and s.get(1) == "41"), None)
        reference = self.text(bht.get(3) if bht else tset.control, 50) or tset.control
        self.segments.append(["BHT", "0085", "08", reference, today, self.stamp.now.strftime("%H%M"), "TH"])
        source = self.add_hl(None, "20", True)
        receiver_id = interchange.envelope.interchange.segments[0].get(8).strip() or "UNKNOWN"
        self.segments += [["NM1", "AY", "2", SOURCE_NAME, "", "", "", "", "46", self.text(receiver_id, 80)],
                          ["TRN", "1", self.stamp.isa13],
                          ["DTP", "050", "D8", today], ["DTP", "009", "D8", today]]
        receiver = self.add_hl(source, "21", bool(self.rows))
        name = self.text(submitter.get(3) if submitter else "", 60) or "SUBMITTER"
        kind = submitter.get(2) if submitter and submitter.get(2) in ("1", "2") else "2"
        self.segments += [["NM1", "41", kind, name, "", "", "", "", "46",
                           self.text(submitter.get(9) if submitter else "", 80) or "UNKNOWN"],
                          ["TRN", "2", reference],
                          ["STC", ("A1", "19"), today, "WQ", _amount(sum((r.charge for r in self.rows),
                                                                       Decimal(0)))]]
        self.totals(self.rows, ("90", "AA", "YU", "YY"))
        for rows in self.by_provider():
            self.provider(receiver, rows, today)
        return self.segments

    def by_provider(self) -> list[list[_ClaimRow]]:
        """Claims grouped by their 2010AA billing provider, in file order."""
        groups: dict[int, list[_ClaimRow]] = {}
        for row in self.rows:
            groups.setdefault(id(row.provider), []).append(row)
        return list(groups.values())

    def provider(self, parent: int, rows: list[_ClaimRow], today: str) -> None:
        nm1 = rows[0].provider
        level = self.add_hl(parent, "19", True)
        kind = nm1.get(2) if nm1 and nm1.get(2) in ("1", "2") else "2"
        npi = nm1.get(9) if nm1 and nm1.get(9) else (rows[0].claim.billing_provider or "UNKNOWN")
        segment: list[Element] = ["NM1", "85", kind, self.text(nm1.get(3) if nm1 else "", 60) or "PROVIDER"]
        if kind == "1" and nm1:
            segment += [self.text(nm1.get(4), 35), self.text(nm1.get(5), 25), "", self.text(nm1.get(7), 10)]
        else:
            segment += ["", "", "", ""]
        segment += ["XX" if (nm1 and nm1.get(8) == "XX") or not nm1 else "FI", self.text(npi, 80)]
        self.segments += [segment, ["TRN", "1", "0"],
                          ["STC", ("A1", "19", "85"), "", "WQ",
                           _amount(sum((r.charge for r in rows), Decimal(0)))]]
        self.totals(rows, ("QA", "QC", "YU", "YY"))
        for row in rows:
            self.patient(level, row, today)

    def patient(self, parent: int, row: _ClaimRow, today: str) -> None:
        claim = row.claim
        self.add_hl(parent, "PT", None)
        person = claim.patient
        self.segments.append(["NM1", "QC", "1", self.text(person.last_name, 60) or "UNKNOWN",
                              self.text(person.first_name, 35), "", "", "", "MI",
                              self.text(person.member_id, 80) or "UNKNOWN"])
        self.segments.append(["TRN", "2", self.text(claim.claim_id, 50) or "UNKNOWN"])
        blocking = [f for f in row.decision.findings if f.severity is Severity.BLOCK]
        charge = _amount(row.charge)
        if row.accepted:
            self.segments.append(["STC", ACCEPTED, today, "WQ", charge])
        else:
            statuses = self.statuses(row, blocking)
            stc: list[Element] = ["STC", statuses[0], today, "U", charge, "", "", "", "", "",
                                  statuses[1] if len(statuses) > 1 else "",
                                  statuses[2] if len(statuses) > 2 else "", self.explain(blocking)]
            self.segments.append(stc)
        self.segments.append(self.service_dates(claim.lines, today))
        if not row.accepted:
            for line in claim.lines:
                line_findings = [f for f in blocking if f.line == line.number]
                if line_findings:
                    self.line(line, line_findings, today)

    def statuses(self, row: _ClaimRow, blocking: list[Finding]) -> list[tuple[str, ...]]:
        if row.edits and all(f.rule == "malformed-message" for f in blocking):
            return list(row.edits[:3])
        return self.rule_statuses(blocking) or [("A3", "21")]

    def rule_statuses(self, findings: list[Finding]) -> list[tuple[str, ...]]:
        """Up to three distinct category:status pairs of the findings' rules (STC01, STC10, STC11)."""
        out: list[tuple[str, ...]] = []
        for finding in findings:
            rule = self.catalogue.rules.get(finding.rule)
            status = (rule.ack277_category, rule.ack277_status) if rule else ("A3", "21")
            if status not in out:
                out.append(status)
        return out[:3]

    def explain(self, blocking: list[Finding]) -> str:
        if not blocking:
            return ""
        first = blocking[0]
        more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
        text = f"{first.rule} - {first.message} - fix - {first.suggestion}{more}"
        return self.text(text, _STC12_MAX)

    def service_dates(self, lines, today: str) -> list[Element]:
        starts = [line.first_date for line in lines if line.first_date]
        ends = [line.service_date for line in lines if line.service_date]
        if not starts:
            return ["DTP", "472", "D8", today]
        first, last = min(starts), max(ends)
        return _dtp(first, last)

    def line(self, line, findings: list[Finding], today: str) -> None:
        modifiers = [self.text(m, 2) for m in line.modifiers[:4]]
        code: list[str] = ["HC", self.text(line.code, 48) or "UNKNOWN", *modifiers]
        svc: list[Element] = ["SVC", tuple(code), _amount(_money(line.charge or "0")), "", "", "", "",
                              str(line.units) if line.units is not None else ""]
        statuses = self.rule_statuses(findings)
        self.segments.append(svc)
        more = [*statuses[1:], "", ""][:2]
        self.segments.append(["STC", statuses[0], today, "U", "", "", "", "", "", "", *more])
        if line.first_date:
            self.segments.append(_dtp(line.first_date, line.service_date))



def _dtp(first: date, last: date | None) -> list[Element]:
    if last is None or last == first:
        return ["DTP", "472", "D8", first.strftime("%Y%m%d")]
    return ["DTP", "472", "RD8", f"{first:%Y%m%d}-{last:%Y%m%d}"]


def accepted_sets(interchange: InterchangeResult) -> list[SetResult]:
    """The 837 sets the 999 accepted (IK5 A or E in a group and interchange without errors)."""
    if not interchange.accepted:
        return []
    return [result for group in interchange.groups for result in group.accepted_sets
            if any(isinstance(i, Claim) for i in result.items)]


def build_277ca(interchange: InterchangeResult, decide: Callable[[Claim], Decision],
                catalogue: Catalogue, stamp: Stamp) -> str | None:
    """The 277CA interchange for the accepted sets of an interchange, or None when none was."""
    sets = accepted_sets(interchange)
    if not sets:
        return None
    delimiters = ack_delimiters(interchange.delimiters)
    bodies: list[list[list[Element]]] = []
    for result in sets:
        builder = _Builder(result, _rows(result, decide), catalogue, stamp, delimiters)
        bodies.append([["277", VERSION_277CA], *builder.build(interchange)])
    first = interchange.groups[0].group.gs
    gs: list[Element] = ["HN", first.get(3), first.get(2), VERSION_277CA]
    isa = interchange.envelope.interchange.segments[0]
    return ack_interchange(isa, delimiters, stamp, [(gs, bodies)])


def acknowledge_claims(interchanges: list[InterchangeResult], decide: Callable[[Claim], Decision],
                       catalogue: Catalogue, stamps: Iterator[Stamp]) -> list[str]:
    """A 277CA for each interchange with an accepted set, taking one stamp per document made."""
    return [text for interchange in interchanges if accepted_sets(interchange)
            for text in [build_277ca(interchange, decide, catalogue, next(stamps))] if text]
