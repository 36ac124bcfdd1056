"""Read an X12 file into claims, keeping the structure the acknowledgements and the split need.

`read_batch` gives the whole picture: interchanges, groups and transaction sets with their errors
at the level that reports them (TA1, AK9, IK5, IK3/IK4) and the claims of each set with the segment
span each came from. `read_x12` flattens it into the claims (and unreadable units) the core checks.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from scrubber.model import Claim, SyntaxIssue, Unreadable
from x12.claims837 import SUPPORTED_VERSIONS, claims_from_set
from x12.envelope import Envelope, Group, TransactionSet, structure
from x12.errors import Level, X12Error, X12SyntaxError
from x12.syntax837 import check_set
from x12.tokenizer import Delimiters, Interchange, Segment, decode, scan

__all__ = ["SetResult", "GroupResult", "InterchangeResult", "Batch", "read_batch", "read_x12",
           "read_x12_bytes"]


def _issue(error: X12Error) -> SyntaxIssue:
    return SyntaxIssue(error.message, error.location)


@dataclass
class SetResult:
    """One transaction set: its errors and the claims read from it, each with its segment span
    (positions in the set, ST = 1, from the CLM up to the next CLM, HL or SE)."""

    tset: TransactionSet
    errors: list[X12Error] = field(default_factory=list)
    items: list[Claim | Unreadable] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    loops: list[str] = field(default_factory=list)

    @property
    def syntax_errors(self) -> list[X12Error]:
        return [e for e in self.errors if not e.edit]

    @property
    def ack_code(self) -> str:
        """IK501: R when the set cannot be taken at all, E when only claims are in error, A."""
        errors = self.syntax_errors
        if any(e.level is Level.SET or not e.claim_start for e in errors):
            return "R"
        return "E" if errors else "A"

    @property
    def accepted(self) -> bool:
        """The 999 takes the set (IK5 A or E): its clean claims may go on."""
        return self.ack_code in ("A", "E")


@dataclass
class GroupResult:
    group: Group
    errors: list[X12Error] = field(default_factory=list)
    sets: list[SetResult] = field(default_factory=list)

    @property
    def ack_code(self) -> str:
        """AK901: A, E (all accepted, some with errors), P (some rejected) or R."""
        codes = {s.ack_code for s in self.sets}
        if self.errors or not self.sets or codes == {"R"}:
            return "R"
        if "R" in codes:
            return "P"
        return "E" if "E" in codes else "A"

    @property
    def accepted_sets(self) -> list[SetResult]:
        """The sets the 999 accepts (none when the group itself is in error)."""
        return [] if self.errors else [s for s in self.sets if s.accepted]


@dataclass
class InterchangeResult:
    envelope: Envelope
    errors: list[X12Error] = field(default_factory=list)
    groups: list[GroupResult] = field(default_factory=list)

    @property
    def delimiters(self) -> Delimiters:
        return self.envelope.interchange.delimiters

    @property
    def accepted(self) -> bool:
        """False when the interchange itself is rejected (a TA1 error)."""
        return not self.errors


@dataclass
class Batch:
    source: str
    interchanges: list[InterchangeResult] = field(default_factory=list)
    fatal: X12Error | None = None

    def items(self) -> list[Claim | Unreadable]:
        if self.fatal is not None:
            return [Unreadable(None, "x12", self.source, (_issue(self.fatal),))]
        results: list[Claim | Unreadable] = []
        for interchange in self.interchanges:
            for group in interchange.groups:
                for result in group.sets:
                    results.extend(result.items)
                if not group.sets:
                    issues = [_issue(e) for e in interchange.errors + group.errors] or [SyntaxIssue(
                        "the functional group contains no transaction set",
                        f"GS at segment {group.group.gs.position}")]
                    results.append(Unreadable(group.group.gs.get(6) or None, "x12", self.source,
                                              tuple(issues)))
            if not interchange.groups:
                issues = [_issue(e) for e in interchange.errors] or [SyntaxIssue(
                    "the interchange has no functional group (GS)",
                    f"ISA at segment {interchange.envelope.interchange.segments[0].position}")]
                results.append(Unreadable(interchange.envelope.control or None, "x12", self.source,
                                          tuple(issues)))
        return results


def read_x12_bytes(data: bytes, source: str) -> list[Claim | Unreadable]:
    return read_x12(decode(data), source)


def read_x12(text: str, source: str) -> list[Claim | Unreadable]:
    """Every claim in the file, in order. A claim in a broken set, group or interchange carries
    the issues that block it; a unit from which no claim can be read becomes `Unreadable`."""
    return read_batch(text, source).items()


def read_batch(text: str, source: str, keep_segments: bool = True) -> Batch:
    """Read a file set by set. Each transaction set is checked and its claims read as soon as its
    SE arrives; without `keep_segments` (only needed for acknowledgements and the split) its
    segments are let go, so memory holds the claims rather than the file's segments. Group and
    interchange errors, known at GE and IEA, are added to the claims they block at the end."""
    batch = Batch(source)
    try:
        for interchange, body in scan(text):
            batch.interchanges.append(_read_interchange(interchange, body, source, keep_segments))
    except X12SyntaxError as error:
        batch.fatal = _fatal(error)
        batch.interchanges.clear()
    return batch


class _SetReader:
    """Reads each transaction set as the envelope completes it, collecting them by group.

    A class rather than a closure: compiled, a closure and the frame it closes over refer to each
    other, and that cycle held each interchange's claims until the collector found it (`check`
    pauses the collector, relying on reading making no cycles: tests/test_cli.py)."""

    def __init__(self, delimiters: Delimiters, source: str, keep_segments: bool) -> None:
        self.delimiters = delimiters
        self.source = source
        self.keep_segments = keep_segments
        self.pending: dict[int, GroupResult] = {}

    def on_set(self, group: Group, tset: TransactionSet) -> None:
        result = self.pending.get(id(group))
        if result is None:
            result = self.pending[id(group)] = GroupResult(group)
        result.sets.append(_read_set(tset, group, self.delimiters, self.source))
        if not self.keep_segments:
            tset.segments = []
            result.sets[-1].loops = []


def _read_interchange(interchange: Interchange, body: Iterator[Segment], source: str,
                      keep_segments: bool) -> InterchangeResult:
    reader = _SetReader(interchange.delimiters, source, keep_segments)
    envelope = structure(interchange, body, reader.on_set)
    result = InterchangeResult(envelope, list(envelope.issues))
    outer = [_issue(e) for e in result.errors]
    for group in envelope.groups:
        group_result = reader.pending.get(id(group)) or GroupResult(group)
        group_result.errors = _group_errors(group)
        _block(group_result, outer + [_issue(e) for e in group_result.errors])
        result.groups.append(group_result)
    return result


def _block(group: GroupResult, outer: list[SyntaxIssue]) -> None:
    """Put the envelope issues in front of every claim of the group."""
    if not outer:
        return
    for result in group.sets:
        result.items = [replace(item, issues=tuple(outer) + item.issues) for item in result.items]


def _fatal(error: X12SyntaxError) -> X12Error:
    position = int(error.location.rsplit(" ", 1)[-1]) if error.location[-1:].isdigit() else 0
    segment = "ISA" if "ISA" in error.location else ""
    return X12Error(error.message, Level.INTERCHANGE, "024", segment, position)


def _group_errors(group: Group) -> list[X12Error]:
    errors = list(group.issues)
    gs = group.gs
    if gs.id == "GS" and gs.get(1) != "HC":
        errors.append(X12Error(f"GS01 {gs.get(1)!r} is not HC (health care claim)", Level.GROUP, "1",
                               "GS", gs.position, element=1))
    elif gs.id == "GS" and gs.get(8) not in SUPPORTED_VERSIONS:
        errors.append(X12Error(f"unsupported version {gs.get(8)!r} in GS08: this scrubber reads 837P "
                               f"{', '.join(SUPPORTED_VERSIONS)}", Level.GROUP, "2", "GS", gs.position,
                               element=8))
    return errors


def _set_errors(group: Group, tset: TransactionSet) -> list[X12Error]:
    errors = [replace(e, level=Level.SET) if e.level is Level.SEGMENT else e for e in tset.issues]
    if tset.st.get(1) != "837":
        errors.append(X12Error(f"unsupported transaction set {tset.st.get(1)!r}: only 837 "
                               "(professional claims) is accepted", Level.SET, "1", "ST", 1, element=1))
    version = tset.st.get(3) or group.gs.get(8)
    if tset.st.get(1) == "837" and version not in SUPPORTED_VERSIONS:
        errors.append(X12Error(f"unsupported version {version!r}: this scrubber reads 837P "
                               f"{', '.join(SUPPORTED_VERSIONS)}", Level.SET, "I6", "ST", 1,
                               element=3 if tset.st.get(3) else 0))
    return errors


def _read_set(tset: TransactionSet, group: Group, delimiters: Delimiters, source: str) -> SetResult:
    result = SetResult(tset, _set_errors(group, tset))
    if result.errors and any(e.code in ("1", "I6") for e in result.errors):
        result.items.append(Unreadable(tset.control or None, "x12", source,
                                       tuple(_issue(e) for e in result.errors)))
        return result
    check = check_set(tset.segments, delimiters)
    result.errors.extend(check.errors)
    result.loops = check.loops
    claims, spans = claims_from_set(tset, delimiters, source, check.loops)
    whole_set = [_issue(e) for e in result.errors
                         if e.level is Level.SET or (not e.claim_start and not e.edit)]
    if not claims:
        issues = whole_set or [SyntaxIssue("the transaction set contains no claim (CLM)",
                                           "ST at segment 1")]
        result.items.append(Unreadable(tset.control or None, "x12", source, tuple(issues)))
        return result
    for claim, span in zip(claims, spans, strict=True):
        own = [_issue(e) for e in result.errors if e.claim_start == span[0]]
        claim_issues = tuple(whole_set + own) + claim.issues
        result.items.append(replace(claim, issues=claim_issues) if claim_issues else claim)
        result.spans.append(span)
    return result
