"""DFT^P03 to a claim, with the documentation carried in `99RPM` OBX segments."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from hl7.errors import DATA_TYPE, REQUIRED_MISSING, SEGMENT_SEQUENCE, UNKNOWN_VALUE, HL7SyntaxError
from hl7.message import Parsed, Segment, hl7_date
from scrubber.documentation import (
    MODES,
    Consent,
    Episode,
    Interaction,
    PatientRecord,
    Performer,
    Reading,
    TimeEntry,
)
from scrubber.model import Claim, PatientIdentity, ServiceLine, SyntaxIssue, ascii_digits, whole_units

__all__ = ["claim_from_dft", "patient_of"]

_MEMBER_TYPES = ("MB", "MC", "MA", "MI")


def patient_of(parsed: Parsed) -> PatientIdentity:
    """PID-3 (MR, else the first) for the MRN; IN1-36, else PID-3 typed MB/MC/MA/MI, for the member id."""
    pid = next(iter(parsed.segments_named("PID")), None)
    if pid is None:
        return PatientIdentity()
    ids = [(parsed.component_of(r, 1), parsed.component_of(r, 5)) for r in parsed.fields(pid, 3)]
    ids = [(value, kind) for value, kind in ids if value]
    mrn = next((v for v, k in ids if k == "MR"), None) or next(
        (v for v, k in ids if k not in _MEMBER_TYPES), None)
    in1 = next(iter(parsed.segments_named("IN1")), None)
    member = (parsed.component_of(parsed.first(in1, 36), 1) if in1 is not None else "") or next(
        (v for v, k in ids if k in _MEMBER_TYPES), None)
    name = parsed.first(pid, 5)
    return PatientIdentity(mrn=mrn, member_id=member or None,
                           last_name=parsed.component_of(name, 1) or None,
                           first_name=parsed.component_of(name, 2) or None,
                           birth_date=hl7_date(parsed.first(pid, 7)))


def _npi(parsed: Parsed, value: str) -> str | None:
    identifier = parsed.component_of(value, 1)
    if not identifier:
        return None
    if parsed.component_of(value, 13) == "NPI" or (ascii_digits(identifier) and len(identifier) == 10):
        return identifier
    return None


def _dates(parsed: Parsed, value: str):
    first, last = parsed.component_of(value, 1), parsed.component_of(value, 2)
    start, end = hl7_date(first), hl7_date(last) if last else hl7_date(first)
    if not first or start is None or end is None:
        return None, None
    return start, end


def _procedure(parsed: Parsed, ft1: Segment) -> tuple[str, str]:
    """The line's procedure code and where it was read: FT1-25, else the PR1-3 of the FT1's own
    procedure group (the PR1 segments after it, before the next FT1), else FT1-7."""
    code = parsed.component_of(parsed.first(ft1, 25), 1)
    if code:
        return code, f"FT1({ft1.sequence}).25.1"
    segments = parsed.segments
    for segment in segments[segments.index(ft1) + 1:]:
        if segment.name == "FT1":
            break
        if segment.name == "PR1":
            code = parsed.component_of(parsed.first(segment, 3), 1)
            if code:
                return code, f"PR1({segment.sequence}).3.1"
    return parsed.component_of(parsed.first(ft1, 7), 1), f"FT1({ft1.sequence}).7.1"


def _line(parsed: Parsed, ft1: Segment, number: int, fallback_provider: str | None) -> ServiceLine:
    where = f"FT1({number})"
    quantity_field = 11 if parsed.version == "2.1" else 10
    code, code_location = _procedure(parsed, ft1)
    quantity = parsed.first(ft1, quantity_field)
    start, end = _dates(parsed, parsed.first(ft1, 4))
    performer = next((_npi(parsed, v) for v in parsed.fields(ft1, 20) if _npi(parsed, v)), None)
    return ServiceLine(
        number=number,
        code=code or None,
        modifiers=tuple(parsed.component_of(m, 1) for m in parsed.fields(ft1, 26) if m),
        units=whole_units(quantity), units_text=quantity or None,
        date_from=start, date_to=end, date_text=parsed.first(ft1, 4) or None,
        charge=parsed.component_of(parsed.first(ft1, 11 if quantity_field == 10 else 10), 1) or None,
        billing_provider=performer or fallback_provider,
        credit=parsed.first(ft1, 6).split(parsed.component)[0] == "CD",
        locations={"line": f"{where}.1", "code": code_location,
                   "units": f"{where}.{quantity_field}", "date": f"{where}.4.1"},
    )


def claim_from_dft(parsed: Parsed, source: str) -> Claim:
    """One DFT^P03 message is one claim; its id is MSH-10."""
    patient = patient_of(parsed)
    pv1 = next(iter(parsed.segments_named("PV1")), None)
    fallback = _npi(parsed, parsed.first(pv1, 7)) if pv1 is not None else None
    lines = tuple(_line(parsed, ft1, n, fallback)
                  for n, ft1 in enumerate(parsed.segments_named("FT1"), start=1))
    in1 = next(iter(parsed.segments_named("IN1")), None)
    issues = []
    if not parsed.segments_named("PID"):
        issues.append(SyntaxIssue("the message has no PID segment", "PID", SEGMENT_SEQUENCE))
    if not lines:
        issues.append(SyntaxIssue("the message has no FT1 segment", "FT1", SEGMENT_SEQUENCE))
    try:
        documentation = documentation_from_obx(parsed)
    except HL7SyntaxError as error:
        issues.append(SyntaxIssue(error.message, error.location, error.code))
        documentation = None
    return Claim(
        claim_id=parsed.control_id, format="hl7", source=source, patient=patient, lines=lines,
        billing_provider=None, payer_id=parsed.component_of(parsed.first(in1, 3), 1) or None
        if in1 is not None else None,
        documentation=documentation, issues=tuple(issues),
        locations={"id": "MSH(1).10"},
    )


def _time(value: str):
    digits = value[8:12]
    try:
        return datetime.strptime(digits, "%H%M").time() if len(digits) == 4 else None
    except ValueError:
        return None


def documentation_from_obx(parsed: Parsed) -> PatientRecord | None:
    """Time entries, data days, consent and episodes carried in OBX segments coded `99RPM`."""
    record = PatientRecord()
    found = False
    segments = parsed.segments
    for index, obx in enumerate(segments):
        if obx.name != "OBX":
            continue
        observation = parsed.first(obx, 3)
        if parsed.component_of(observation, 3) != "99RPM":
            continue
        found = True
        code = parsed.component_of(observation, 1)
        where = f"OBX({parsed.first(obx, 1) or index})"
        following = segments[index + 1] if index + 1 < len(segments) else None
        record = _apply(parsed, record, code, obx, where, following)
    return record if found else None


def _apply(parsed, record, code, obx, where, following) -> PatientRecord:
    values = parsed.fields(obx, 5)
    if code == "RPM-MIN":
        return replace(record, time_entries=record.time_entries + (_entry(parsed, obx, where, following),))
    read = [hl7_date(v) for v in values]
    days = [day for day in read if day is not None]
    if code in ("RPM-DAYS", "RPM-CONSENT", "RPM-EPISODE") and (not days or len(days) < len(read)):
        raise HL7SyntaxError(f"{code} needs dates (YYYYMMDD) in OBX-5", f"{where}.5",
                             DATA_TYPE if values else REQUIRED_MISSING)
    if code == "RPM-DAYS":
        return replace(record, readings=record.readings + tuple(
            Reading(day, "automatic", None, None) for day in days))
    if code == "RPM-CONSENT":
        return replace(record, consents=record.consents + (Consent(days[0], None),))
    if code == "RPM-EPISODE":
        return replace(record, episodes=record.episodes + (Episode(days[0], None, "RPM"),))
    raise HL7SyntaxError(f"unknown 99RPM observation {code!r} (RPM-MIN, RPM-DAYS, RPM-CONSENT, "
                         "RPM-EPISODE)", f"{where}.3.1", UNKNOWN_VALUE)


def _entry(parsed: Parsed, obx, where: str, following) -> TimeEntry:
    try:
        minutes = float(parsed.first(obx, 5))
    except ValueError:
        raise HL7SyntaxError("RPM-MIN needs a number of minutes in OBX-5", f"{where}.5") from None
    if minutes < 0:
        raise HL7SyntaxError("RPM-MIN minutes cannot be negative", f"{where}.5")
    stamp = parsed.first(obx, 14)
    day = hl7_date(stamp)
    if day is None:
        raise HL7SyntaxError("RPM-MIN needs the entry's date in OBX-14", f"{where}.14",
                             DATA_TYPE if stamp else REQUIRED_MISSING)
    mode = parsed.component_of(parsed.first(obx, 17), 1)
    if mode and mode not in MODES:
        raise HL7SyntaxError(f"interaction mode {mode!r} is not one of {', '.join(MODES)}",
                             f"{where}.17.1", UNKNOWN_VALUE)
    performer_id = parsed.component_of(parsed.first(obx, 16), 1)
    activity = None
    if following is not None and following.name == "NTE":
        activity = parsed.unescape(parsed.first(following, 3)) or None
    return TimeEntry(
        id=f"{parsed.control_id}/{parsed.first(obx, 1) or where}", date=day, minutes=minutes,
        program="RPM", start=_time(stamp),
        performer=Performer(performer_id) if performer_id else None, activity=activity,
        interaction=Interaction(mode) if mode else None,
    )
