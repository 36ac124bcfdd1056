"""ORU^R01 device observations (IHE PCD-01 / Continua) to automatically transmitted readings."""
from __future__ import annotations

from hl7.dft import patient_of
from hl7.errors import REQUIRED_MISSING, HL7SyntaxError
from hl7.message import Parsed, hl7_date
from scrubber.documentation import PatientRecord, Reading
from scrubber.model import DeviceData

__all__ = ["readings_from_oru"]


def readings_from_oru(parsed: Parsed, source: str) -> DeviceData:
    """Each OBX with a value becomes a reading dated by OBX-14, else by its OBR-7."""
    readings = []
    observed = None
    for index, segment in enumerate(parsed.segments):
        if segment.name == "OBR":
            observed = hl7_date(parsed.first(segment, 7))
        if segment.name != "OBX":
            continue
        where = f"OBX({parsed.first(segment, 1) or index})"
        value, kind = parsed.fields(segment, 5), parsed.first(segment, 2)
        if value and not kind:
            raise HL7SyntaxError("OBX-5 has a value but OBX-2 (value type) is empty", f"{where}.2",
                                 REQUIRED_MISSING)
        day = hl7_date(parsed.first(segment, 14)) or observed
        if value and day is not None:
            readings.append(Reading(day, "automatic",
                                    parsed.component_of(parsed.first(segment, 3), 2) or None, None))
    patient = patient_of(parsed)
    if not patient.identified:
        raise HL7SyntaxError("the device data names no patient (PID-3)", "PID(1).3", REQUIRED_MISSING)
    record = PatientRecord(id=patient.mrn, member_id=patient.member_id, readings=tuple(readings))
    return DeviceData(parsed.control_id, "hl7", source, patient, record)
