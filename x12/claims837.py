"""837P transaction sets to format-neutral claims (2010AA, 2000B/2010BA, 2000C/2010CA, 2010BB,
2300 CLM/REF*EA/PWK, 2400 SV1/DTP*472)."""
from __future__ import annotations

from dataclasses import dataclass, field

from scrubber.model import Claim, Frequency, PatientIdentity, ServiceLine, whole_units
from x12.envelope import TransactionSet
from x12.errors import x12_location
from x12.guide837 import PRODUCT_QUALIFIERS
from x12.tokenizer import Delimiters, Segment, ccyymmdd

__all__ = ["SUPPORTED_VERSIONS", "claims_from_set"]

SUPPORTED_VERSIONS = ("005010X222A1", "005010X222A2", "005010X222")
_HANDLED = ("HL", "NM1", "DMG", "CLM", "REF", "PWK", "LX", "SV1", "DTP")
_FREQUENCIES = {"7": Frequency.REPLACEMENT, "8": Frequency.VOID}


def _where(loop: str, segment: Segment, number: int, element: int, component: int = 0) -> str:
    return x12_location(loop, segment.id, number, element, component)


_date = ccyymmdd


@dataclass
class _Draft:
    claim_id: str
    frequency: Frequency
    start: int
    end: int = 0
    mrn: str | None = None
    attachments: list[str] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)


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
        self.line: dict | None = None
        self.position = 0

    def read(self) -> tuple[list[Claim], list[tuple[int, int]]]:
        handlers = {name: getattr(self, f"_seg_{name.lower()}") for name in _HANDLED}
        for number, segment in enumerate(self.tset.segments, start=2):
            handler = handlers.get(segment.id)
            if handler is not None:
                self.position = number
                self.loop = self.loops[number - 2]
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
        self.draft.locations["CLM01"] = _where("2300", segment, number, 1)

    def _seg_ref(self, segment: Segment, number: int) -> None:
        if self.loop == "2300" and self.draft and segment.get(1) == "EA":
            self.draft.mrn = segment.get(2) or None
            self.draft.locations["MRN"] = _where("2300", segment, number, 2)

    def _seg_pwk(self, segment: Segment, number: int) -> None:
        if self.draft and segment.get(5) == "AC" and segment.get(6):
            self.draft.attachments.append(segment.get(6))
            self.draft.locations[f"PWK:{segment.get(6)}"] = _where(self.loop or "2300", segment, number, 6)

    def _seg_lx(self, segment: Segment, number: int) -> None:
        if self.draft is None or self.loop != "2400":
            return
        self._close_line()
        # the line's fields, made into a ServiceLine when the line ends
        self.line = {"number": len(self.draft.lines) + 1, "code": None,
                     "locations": {"line": _where("2400", segment, number, 1)}}

    def _seg_sv1(self, segment: Segment, number: int) -> None:
        line = self.line
        if line is None or self.loop != "2400":
            return
        parts = segment.get(1).split(self.d.component)
        known = parts[0] in PRODUCT_QUALIFIERS
        units_text = segment.get(4)
        line.update(
            code=parts[1] if known and len(parts) > 1 and parts[1] else None,
            modifiers=tuple(p for p in parts[2:6] if p),
            units=whole_units(units_text), units_text=units_text or None,
            charge=segment.get(2) or None,
            diagnosis_pointers=tuple(p for p in segment.get(7).split(self.d.component) if p))
        line["locations"]["code"] = _where("2400", segment, number, 1, 2)
        line["locations"]["units"] = _where("2400", segment, number, 4)

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
        line.update(date_from=start if valid else None, date_to=end if valid else None,
                    date_text=text or None)
        line["locations"]["date"] = _where("2400", segment, number, 3)

    def _close_line(self) -> None:
        line = self.line
        if line is not None and self.draft is not None:
            locations = line["locations"]
            if line["code"] is None and "code" not in locations:
                locations["code"] = locations["line"].replace("LX01", "SV1")
            if "date" not in locations:
                locations["date"] = locations["line"].replace("LX01", "DTP*472")
            self.draft.lines.append(ServiceLine(**line))
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
