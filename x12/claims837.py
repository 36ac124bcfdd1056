"""837P transaction sets to format-neutral claims (2010AA, 2000B/2010BA, 2000C/2010CA, 2010BB,
2300 CLM/REF*EA/PWK, 2400 SV1/DTP*472)."""
from __future__ import annotations

from datetime import date
from typing import Final

from scrubber.model import Claim, Frequency, PatientIdentity, ServiceLine, whole_units
from x12.envelope import TransactionSet
from x12.errors import x12_location, x12_place
from x12.guide837 import PRODUCT_QUALIFIERS
from x12.tokenizer import Delimiters, Segment, ccyymmdd

__all__ = ["SUPPORTED_VERSIONS", "claims_from_set"]

SUPPORTED_VERSIONS = ("005010X222A1", "005010X222A2", "005010X222")
_HANDLED = ("HL", "NM1", "DMG", "CLM", "REF", "PWK", "LX", "SV1", "DTP")
_FREQUENCIES: Final = {"7": Frequency.REPLACEMENT, "8": Frequency.VOID}

# where a claim's and a line's fields come from (an x12_location without its position): each is
# named for every claim, so the text is made once
_CLM01: Final = x12_place("2300", "CLM", 1)
_MRN: Final = x12_place("2300", "REF", 2)
_LX01: Final = x12_place("2400", "LX", 1)
_SV101_2: Final = x12_place("2400", "SV1", 1, 2)
_SV104: Final = x12_place("2400", "SV1", 4)
_DTP03: Final = x12_place("2400", "DTP", 3)
_NO_SV1: Final = x12_place("2400", "SV1")  # at the line's LX: the line has no SV1
_NO_DTP: Final = x12_place("2400", "DTP*472")  # at the line's LX: the line has no DTP*472

_date: Final = ccyymmdd


class _Draft:
    """A claim (2300) while its segments are read."""

    def __init__(self, claim_id: str, frequency: Frequency, start: int):
        self.claim_id = claim_id
        self.frequency = frequency
        self.start = start
        self.end = 0
        self.mrn: str | None = None
        self.attachments: list[str] = []
        self.lines: list[ServiceLine] = []
        self.locations: dict[str, str] = {}


class _Line:
    """A service line (2400) while its segments are read: LX, then SV1 and DTP*472."""

    def __init__(self, number: int, at: int):
        self.number = number
        self.at = at  # the LX's position
        self.code: str | None = None
        self.modifiers: tuple[str, ...] = ()
        self.units: int | None = None
        self.units_text: str | None = None
        self.charge: str | None = None
        self.pointers: tuple[str, ...] = ()
        self.sv1_at = 0  # the SV1's position (0: none yet)
        self.date_from: date | None = None
        self.date_to: date | None = None
        self.date_text: str | None = None
        self.dtp_at = 0  # the DTP*472's position (0: none yet)


class _LinePlaces:
    """A service line's locations (model.Locations), written when asked: a finding names one, most
    lines get none. Writing all four for every line was a fifth of building claims and a quarter
    of a claim's memory."""

    def __init__(self, at: int, sv1_at: int, dtp_at: int) -> None:
        self.at = at  # the LX's position
        self.sv1_at = sv1_at  # the SV1's, 0 when the line has none
        self.dtp_at = dtp_at  # the DTP*472's, 0 when the line has none

    def get(self, key: str, /) -> str | None:
        if key == "line":
            return _LX01 + str(self.at)
        if key == "code":
            return _SV101_2 + str(self.sv1_at) if self.sv1_at else _NO_SV1 + str(self.at)
        if key == "units":
            return _SV104 + str(self.sv1_at) if self.sv1_at else None
        if key == "date":
            return _DTP03 + str(self.dtp_at) if self.dtp_at else _NO_DTP + str(self.at)
        return None

    def __getitem__(self, key: str) -> str:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def as_dict(self) -> dict[str, str]:
        return {key: found for key in ("line", "code", "units", "date")
                if (found := self.get(key)) is not None}

    def __repr__(self) -> str:
        return repr(self.as_dict())


class _SetReader:
    """Walks one 837P transaction set segment by segment, in the loops the guide walk placed
    each segment in (x12.syntax837)."""

    def __init__(self, tset: TransactionSet, delimiters: Delimiters, source: str, loops: list[str]):
        self.tset, self.d, self.source, self.loops = tset, delimiters, source, loops
        self.loop = ""
        self.billing_provider: str | None = None
        self.payer: str | None = None
        self.subscriber: dict = {}
        self.patient: dict | None = None
        self.drafts: list[tuple[_Draft, str | None, str | None, dict, dict | None]] = []
        self.draft: _Draft | None = None
        self.line: _Line | None = None
        self.position = 0

    def read(self) -> tuple[list[Claim], list[tuple[int, int]]]:
        loops = self.loops
        handlers = {name: getattr(self, f"_seg_{name.lower()}") for name in _HANDLED}
        for number, segment in enumerate(self.tset.segments, start=2):
            handler = handlers.get(segment.id)
            if handler is not None:
                self.position = number
                self.loop = loops[number - 2]
                handler(segment, number)
        self.position = len(self.tset.segments) + 2
        self._close_claim()
        return ([self._claim(*entry) for entry in self.drafts],
                [(entry[0].start, entry[0].end) for entry in self.drafts])

    # -- hierarchy --------------------------------------------------------------------------
    def _seg_hl(self, segment: Segment, number: int) -> None:
        self._close_claim()
        level = segment.get(3)
        if level == "22":
            self.subscriber, self.patient, self.payer = {}, None, None
        elif level == "23":
            self.patient = {}
        elif level == "20":
            self.billing_provider = None

    def _seg_nm1(self, segment: Segment, number: int) -> None:
        entity = segment.get(1)
        if self.loop == "2010AA" and entity == "85":
            self.billing_provider = segment.get(9) or None
        elif self.loop == "2010BA" and entity == "IL":
            self.subscriber.update(last=segment.get(3), first=segment.get(4),
                                   member=segment.get(9) or None)
        elif self.loop == "2010BB" and entity == "PR":
            self.payer = segment.get(9) or None
        elif self.loop == "2010CA" and entity == "QC" and self.patient is not None:
            self.patient.update(last=segment.get(3), first=segment.get(4))

    def _seg_dmg(self, segment: Segment, number: int) -> None:
        target = self.subscriber if self.loop == "2010BA" else self.patient if self.loop == "2010CA" else None
        if target is not None and segment.get(1) == "D8":
            target["birth"] = _date(segment.get(2))

    # -- claim ------------------------------------------------------------------------------
    def _seg_clm(self, segment: Segment, number: int) -> None:
        self._close_claim()
        frequency = segment.component(5, 3, self.d)
        self.draft = _Draft(segment.get(1), _FREQUENCIES.get(frequency, Frequency.ORIGINAL), number)
        self.draft.locations["CLM01"] = _CLM01 + str(number)

    def _seg_ref(self, segment: Segment, number: int) -> None:
        if self.loop == "2300" and self.draft and segment.get(1) == "EA":
            self.draft.mrn = segment.get(2) or None
            self.draft.locations["MRN"] = _MRN + str(number)

    def _seg_pwk(self, segment: Segment, number: int) -> None:
        if self.draft and segment.get(5) == "AC" and segment.get(6):
            self.draft.attachments.append(segment.get(6))
            self.draft.locations[f"PWK:{segment.get(6)}"] = x12_location(self.loop or "2300", "PWK",
                                                                          number, 6)

    def _seg_lx(self, segment: Segment, number: int) -> None:
        if self.draft is None or self.loop != "2400":
            return
        self._close_line()
        self.line = _Line(len(self.draft.lines) + 1, number)

    def _seg_sv1(self, segment: Segment, number: int) -> None:
        line = self.line
        if line is None or self.loop != "2400":
            return
        parts = segment.get(1).split(self.d.component)
        known = parts[0] in PRODUCT_QUALIFIERS
        units_text = segment.get(4)
        line.code = parts[1] if known and len(parts) > 1 and parts[1] else None
        line.modifiers = tuple(p for p in parts[2:6] if p)
        line.units, line.units_text = whole_units(units_text), units_text or None
        line.charge = segment.get(2) or None
        line.pointers = tuple(p for p in segment.get(7).split(self.d.component) if p)
        line.sv1_at = number

    def _seg_dtp(self, segment: Segment, number: int) -> None:
        line = self.line
        if line is None or self.loop != "2400" or segment.get(1) != "472":
            return
        text = segment.get(3)
        if segment.get(2) == "RD8" and "-" in text:
            first, _, last = text.partition("-")
            start, end = _date(first), _date(last)
        elif segment.get(2) == "D8":
            start = end = _date(text)
        else:
            start = end = None
        valid = start is not None and end is not None
        line.date_from, line.date_to = (start, end) if valid else (None, None)
        line.date_text = text or None
        line.dtp_at = number

    def _close_line(self) -> None:
        line = self.line
        if line is not None and self.draft is not None:
            self.draft.lines.append(ServiceLine(
                line.number, line.code, line.modifiers, line.units, line.units_text, line.date_from,
                line.date_to, line.date_text, line.charge, line.pointers,
                locations=_LinePlaces(line.at, line.sv1_at, line.dtp_at)))
        self.line = None

    def _close_claim(self) -> None:
        self._close_line()
        if self.draft is not None:
            self.draft.end = self.position
            self.drafts.append((self.draft, self.billing_provider, self.payer,
                                dict(self.subscriber), dict(self.patient) if self.patient else None))
        self.draft = None

    def _claim(self, draft: _Draft, provider, payer, subscriber: dict, patient: dict | None) -> Claim:
        person = patient or subscriber
        identity = PatientIdentity(mrn=draft.mrn, member_id=subscriber.get("member"),
                                   last_name=person.get("last") or None,
                                   first_name=person.get("first") or None,
                                   birth_date=person.get("birth"))
        return Claim(
            claim_id=draft.claim_id or None, format="x12", source=self.source, patient=identity,
            lines=tuple(draft.lines), frequency=draft.frequency, billing_provider=provider,
            payer_id=payer, attachments=tuple(draft.attachments),
            locations=draft.locations,
        )



def claims_from_set(tset: TransactionSet, delimiters: Delimiters, source: str,
                    loops: list[str]) -> tuple[list[Claim], list[tuple[int, int]]]:
    """The claims of one 837P transaction set and the span of segment positions each came from
    (its CLM up to the next CLM, HL or SE). Syntax is checked by x12.syntax837, not here."""
    return _SetReader(tset, delimiters, source, loops).read()
