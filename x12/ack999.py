"""The 999 implementation acknowledgement (005010X231A1) and the TA1 interchange acknowledgement.

One 999 per functional group: AK1, then per transaction set AK2, an IK3 for each segment in error
(with CTX naming the claim by CLM01 when the segment lies in one), IK4 for each element error and
IK5; AK9 closes the group. IK5 is R when the set cannot be taken (envelope errors, or errors outside
any claim), E when only claims are in error (those claims are then rejected one by one in the
277CA) and A otherwise; AK9 is A, E, P (some sets rejected) or R.

Interchange-level problems (ISA/IEA) are answered with a TA1 instead, and that interchange gets
no 999.
"""
from __future__ import annotations

from collections.abc import Iterator

from x12.envelope import valid_group_control
from x12.errors import Level, X12Error
from x12.reader import Batch, GroupResult, InterchangeResult, SetResult
from x12.tokenizer import ascii_digits, isa_date, isa_time
from x12.writer import Element, Stamp, ack_delimiters, ack_interchange, clean, render

__all__ = ["build_999", "build_ta1", "acknowledge", "VERSION_999"]

VERSION_999 = "005010X231A1"
_MAX_IK5_CODES = 5
_HEADER_LOOPS = {"ST", "HEADER", ""}


def _set_segments(result: SetResult, delimiters) -> list[list[Element]]:
    tset = result.tset
    segments: list[list[Element]] = []
    ak2: list[Element] = ["AK2", tset.st.get(1), _set_control(tset.control, delimiters)]
    if tset.st.get(3):
        ak2.append(tset.st.get(3))
    segments.append(ak2)
    by_segment: dict[tuple[int, str], list[X12Error]] = {}
    for error in result.syntax_errors:
        if error.level is Level.SEGMENT:
            by_segment.setdefault((error.position, error.segment_id), []).append(error)
    for (position, segment_id), errors in sorted(by_segment.items()):
        segments.extend(_ik3(position, segment_id, errors, delimiters))
    codes = [e.code for e in result.syntax_errors if e.level is Level.SET]
    if result.ack_code != "A" and not codes:
        codes = ["5"]
    segments.append(["IK5", result.ack_code, *list(dict.fromkeys(codes))[:_MAX_IK5_CODES]])
    return segments


def _set_control(control: str, delimiters) -> str:
    """AK202 (AN 4-9) from ST02 as sent; a control number the sender mangled (IK5 7 says so)
    cannot be echoed as is: cleaned, cut to nine characters or zero-filled to four."""
    return clean(control, delimiters).strip()[:9].rjust(4, "0")


def _group_control(control: str) -> str:
    """AK102 (N0 1-9) from GS06 as sent; one that is not 1 to 9 digits (AK905 6 says so) is 0."""
    return control if valid_group_control(control) else "0"


def _ik3(position: int, segment_id: str, errors: list[X12Error], delimiters) -> list[list[Element]]:
    first = errors[0]
    element_errors = [e for e in errors if e.element_code]
    segment_code = next((e.code for e in errors if not e.element_code), "8")
    loop = "" if first.loop in _HEADER_LOOPS else first.loop[:4]  # IK303 is AN 1/4: "2010AA" -> "2010"
    out: list[list[Element]] = [["IK3", clean(segment_id, delimiters)[:3], str(position), loop,
                                 segment_code]]
    claim = next((e.claim_id for e in errors if e.claim_id), "")
    if claim:
        out.append(["CTX", ("CLM01", clean(claim, delimiters)[:35])])
    for error in element_errors[:99]:
        where: Element = (str(error.element), str(error.component)) if error.component else str(error.element)
        reference = error.reference if ascii_digits(error.reference) else ""
        ik4: list[Element] = ["IK4", where, reference, error.element_code]
        if error.value and error.element_code != "1":
            ik4.append(clean(error.value, delimiters)[:99])
        out.append(ik4)
    return out


def _group_set(group: GroupResult, delimiters) -> list[list[Element]]:
    gs = group.group.gs
    body: list[list[Element]] = []
    body.append(["AK1", gs.get(1), _group_control(gs.get(6)), gs.get(8)])
    for result in group.sets:
        body.extend(_set_segments(result, delimiters))
    included = group.group.ge.get(1) if group.group.ge else ""
    accepted = len(group.accepted_sets)
    codes = list(dict.fromkeys(e.code for e in group.errors))[:5]
    body.append(["AK9", group.ack_code, included if ascii_digits(included) else str(len(group.sets)),
                 str(len(group.sets)), str(accepted), *codes])
    return [["999", VERSION_999], *body]


def _acknowledged(interchange: InterchangeResult) -> list[GroupResult]:
    """The groups a 999 answers: every one but acknowledgements (GS01 FA), which are never
    acknowledged in turn."""
    return [group for group in interchange.groups if group.group.gs.get(1) != "FA"]


def build_999(interchange: InterchangeResult, stamp: Stamp) -> str | None:
    """The 999 interchange answering every functional group of an accepted interchange, or None
    when the interchange is rejected (it gets a TA1) or has no group."""
    if not interchange.accepted or not interchange.groups:
        return None
    delimiters = ack_delimiters(interchange.delimiters)
    isa = interchange.envelope.interchange.segments[0]
    groups = _acknowledged(interchange)
    if not groups:
        return None
    first = groups[0].group.gs
    sets = [_group_set(group, delimiters) for group in groups]
    gs: list[Element] = ["FA", first.get(3), first.get(2), VERSION_999]
    return ack_interchange(isa, delimiters, stamp, [(gs, sets)])


def build_ta1(interchange: InterchangeResult, stamp: Stamp) -> str | None:
    """A TA1 when the interchange itself is in error (or asked for one in ISA14), else None."""
    isa = interchange.envelope.interchange.segments[0]
    if interchange.accepted and isa.get(14) != "1":
        return None
    delimiters = ack_delimiters(interchange.delimiters)
    code = interchange.errors[0].code if interchange.errors else "000"
    status = "R" if interchange.errors else "A"
    text = ack_interchange(isa, delimiters, stamp, [])
    ta1 = render([["TA1", *_ta1_reference(isa, stamp), status, code]], delimiters)
    head, _, tail = text.partition(delimiters.segment + delimiters.suffix)
    return head + delimiters.segment + delimiters.suffix + ta1 + tail


def _ta1_reference(isa, stamp: Stamp) -> tuple[str, str, str]:
    """TA101-TA103: the inbound ISA13, ISA09 and ISA10. A value the sender mangled (the TA1 is
    often about exactly that) cannot be echoed as is: the control number is cut or zero-filled to
    nine digits, and an impossible date or time is replaced by the acknowledgement's own."""
    control = isa.get(13).strip()
    control = control[-9:].zfill(9) if ascii_digits(control) else "000000000"
    day, hour = isa.get(9).strip(), isa.get(10).strip()
    if not isa_date(day):
        day = stamp.now.strftime("%y%m%d")
    if not isa_time(hour):
        hour = stamp.now.strftime("%H%M")
    return control, day, hour


def acknowledge(batch: Batch, stamps: Iterator[Stamp]) -> tuple[list[str], list[str]]:
    """The 999s and TA1s for every interchange of a batch, taking one stamp per document made."""
    acks: list[str] = []
    ta1s: list[str] = []
    for interchange in batch.interchanges:
        isa = interchange.envelope.interchange.segments[0]
        if not interchange.accepted or isa.get(14) == "1":
            ta1 = build_ta1(interchange, next(stamps))
            if ta1 is not None:  # (always, on this condition)
                ta1s.append(ta1)
        if interchange.accepted and _acknowledged(interchange):
            ack = build_999(interchange, next(stamps))
            if ack is not None:  # (always, on this condition)
                acks.append(ack)
    return acks, ta1s
