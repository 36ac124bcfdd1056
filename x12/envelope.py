"""Envelope structure and checks: ISA/IEA, GS/GE, ST/SE counts and control numbers."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from x12.errors import Level, X12Error
from x12.tokenizer import Interchange, Segment, ascii_digits, ccyymmdd, in_charset, valid_time

__all__ = ["TransactionSet", "Group", "Envelope", "structure", "valid_group_control"]

_ENVELOPE = frozenset({"SE", "GE", "IEA", "GS", "ST", "ISA"})


@dataclass
class TransactionSet:
    st: Segment
    segments: list[Segment] = field(default_factory=list)
    se: Segment | None = None
    issues: list[X12Error] = field(default_factory=list)

    @property
    def control(self) -> str:
        return self.st.get(2)


@dataclass
class Group:
    gs: Segment
    sets: list[TransactionSet] = field(default_factory=list)
    ge: Segment | None = None
    issues: list[X12Error] = field(default_factory=list)


@dataclass
class Envelope:
    interchange: Interchange
    groups: list[Group] = field(default_factory=list)
    iea: Segment | None = None
    issues: list[X12Error] = field(default_factory=list)

    @property
    def control(self) -> str:
        return self.interchange.segments[0].get(13)


def _err(message: str, segment: Segment | None, element: str = "", level: Level = Level.SET,
         code: str = "") -> X12Error:
    if segment is None:
        return X12Error(message, level, code)
    return X12Error(message, level, code, segment.id, segment.position, element=int(element or 0))


def structure(interchange: Interchange, body: Iterable[Segment] | None = None,
              on_set: Callable[[Group, TransactionSet], None] | None = None) -> Envelope:
    """Nest segments into groups and transaction sets and check the envelope counts.

    `body` (default: the interchange's own segments after the ISA) may be a lazy iterator; each
    transaction set is handed to `on_set` as soon as it is complete, so a caller can process it
    and let its segments go.
    """
    envelope = Envelope(interchange)
    if interchange.leading:
        envelope.issues.append(X12Error(
            f"{len(interchange.leading)} characters of text before the ISA segment", Level.INTERCHANGE,
            "022", "ISA", interchange.segments[0].position))
    group: Group | None = None
    current: TransactionSet | None = None
    owner: Group | None = None  # the group the current set belongs to

    def finish(tset: TransactionSet | None) -> None:
        if tset is not None and on_set is not None and owner is not None:
            on_set(owner, tset)

    for segment in interchange.segments[1:] if body is None else body:
        segment_id = segment.id
        if current is not None and segment_id not in _ENVELOPE:
            current.segments.append(segment)
        elif segment_id == "GS":
            group = _open_group(envelope, group, current, segment)
            finish(current)
            current = None
        elif segment_id == "ST":
            previous = current
            current = _open_set(envelope, group, current, segment)  # notes a missing SE first
            finish(previous)
            owner = group = envelope.groups[-1]
        elif segment_id == "SE":
            _close_set(current, segment, envelope)
            finish(current)
            current = None
        elif segment_id == "GE":
            _close_group(group, current, segment, envelope)
            finish(current)
            group, current = None, None
        elif segment_id == "IEA":
            envelope.iea = segment
        else:
            envelope.issues.append(_err("segment outside a transaction set", segment, "",
                                        Level.INTERCHANGE, "024"))
    if current is not None and current.se is None:
        current.issues.append(_err("transaction set has no SE trailer", current.st, code="2"))
        finish(current)
    if group is not None and group.ge is None:
        group.issues.append(_err("functional group has no GE trailer", group.gs, "", Level.GROUP, "3"))
    _check_iea(envelope)
    envelope.issues[:0] = interchange.issues  # found while the segments were read
    return envelope


def _open_group(envelope, group, current, segment) -> Group:
    if group is not None and group.ge is None:
        group.issues.append(_err("functional group has no GE trailer before the next GS", group.gs, "",
                                 Level.GROUP, "3"))
    if current is not None and current.se is None:
        current.issues.append(_err("transaction set has no SE trailer", current.st, code="2"))
    new = Group(segment)
    envelope.issues.extend(_err(f"{problem}: the GS segment is invalid", segment, element, Level.INTERCHANGE,
                                "024") for element, problem in _gs_values(segment))
    control = segment.get(6)
    if not valid_group_control(control):
        new.issues.append(_err(f"GS06 {control!r} is not a group control number (1 to 9 digits)", segment,
                               "06", Level.GROUP, "6"))
    elif any(other.gs.id == "GS" and other.gs.get(6) == control for other in envelope.groups):
        new.issues.append(_err(f"GS06 {control!r} is used by an earlier group of the interchange", segment,
                               "06", Level.GROUP, "19"))
    envelope.groups.append(new)
    return new


def valid_group_control(text: str) -> bool:
    """GS06 (and AK102, which echoes it): 1 to 9 digits."""
    return ascii_digits(text) and len(text) <= 9


def _gs_values(gs: Segment) -> list[tuple[str, str]]:
    """(element, problem) for GS values that no 999 code reports (the 999 answers a group by GS01,
    GS06 and GS08): the application sender and receiver codes (2-15 characters), the date, the time
    and the agency code X. An interchange with such a GS is rejected with TA1 note 024, "invalid
    interchange content (e.g., invalid GS segment)", as pyx12 rejects the document."""
    problems = []
    for index, what in ((2, "application sender's code"), (3, "application receiver's code")):
        value = gs.get(index)
        if not 2 <= len(value.strip()) <= 15 or len(value) > 15:
            problems.append((f"{index:02d}", f"GS{index:02d} {value!r} is not an {what} "
                                             "(2 to 15 characters)"))
    if ccyymmdd(gs.get(4)) is None:
        problems.append(("04", f"GS04 {gs.get(4)!r} is not a valid date (CCYYMMDD)"))
    if not valid_time(gs.get(5)):
        problems.append(("05", f"GS05 {gs.get(5)!r} is not a valid time (HHMM)"))
    if gs.get(7) != "X":
        problems.append(("07", f"GS07 {gs.get(7)!r} is not X (Accredited Standards Committee X12)"))
    return problems


def _open_set(envelope, group, current, segment) -> TransactionSet:
    if current is not None and current.se is None:
        current.issues.append(_err("transaction set has no SE trailer before the next ST", current.st,
                                   code="2"))
    new = TransactionSet(segment)
    if group is None:
        orphan = _err("transaction set outside a functional group (no GS)", segment, "", Level.GROUP, "18")
        group = Group(segment, issues=[orphan])
        envelope.groups.append(group)
    control = segment.get(2)
    if not (4 <= len(control) <= 9 and in_charset(control)):
        new.issues.append(_err(f"ST02 {control!r} is not a transaction set control number (4 to 9 "
                               "characters)", segment, "02", code="7"))
    elif any(other.control == control for other in group.sets):
        new.issues.append(_err(f"ST02 {control!r} is used by an earlier transaction set of the group",
                               segment, "02", code="23"))
    group.sets.append(new)
    return new


def _close_set(current, segment, envelope) -> None:
    if current is None:
        envelope.issues.append(_err("SE without a matching ST", segment, "", Level.INTERCHANGE, "024"))
        return
    current.se = segment
    count = len(current.segments) + 2
    if segment.get(1) != str(count):
        current.issues.append(_err(f"SE01 says {segment.get(1) or 'nothing'} segments but the "
                                   f"transaction set has {count}", segment, "01", code="4"))
    if segment.get(2) != current.control:
        current.issues.append(_err(f"SE02 {segment.get(2)!r} does not match ST02 "
                                   f"{current.control!r}", segment, "02", code="3"))


def _close_group(group, current, segment, envelope) -> None:
    if current is not None and current.se is None:
        current.issues.append(_err("transaction set has no SE trailer before GE", current.st, code="2"))
    if group is None:
        envelope.issues.append(_err("GE without a matching GS", segment, "", Level.INTERCHANGE, "024"))
        return
    group.ge = segment
    if segment.get(1) != str(len(group.sets)):
        group.issues.append(_err(f"GE01 says {segment.get(1) or 'nothing'} transaction sets but "
                                 f"the group has {len(group.sets)}", segment, "01", Level.GROUP, "5"))
    if segment.get(2) != group.gs.get(6):
        group.issues.append(_err(f"GE02 {segment.get(2)!r} does not match GS06 "
                                 f"{group.gs.get(6)!r}", segment, "02", Level.GROUP, "4"))


def _check_iea(envelope: Envelope) -> None:
    iea = envelope.iea
    if iea is None:
        envelope.issues.append(_err("interchange has no IEA trailer", envelope.interchange.segments[0], "",
                                    Level.INTERCHANGE, "023"))
        return
    if iea.get(1) != str(len(envelope.groups)):
        envelope.issues.append(_err(f"IEA01 says {iea.get(1) or 'nothing'} functional groups but "
                                    f"the interchange has {len(envelope.groups)}", iea, "01",
                                    Level.INTERCHANGE, "021"))
    if iea.get(2) != envelope.control:
        envelope.issues.append(_err(f"IEA02 {iea.get(2)!r} does not match ISA13 "
                                    f"{envelope.control!r}", iea, "02", Level.INTERCHANGE, "001"))
