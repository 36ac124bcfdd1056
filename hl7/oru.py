"""ORU^R01 device observations (IHE PCD-01 / Continua) to automatically transmitted readings."""
from __future__ import annotations

from hl7.dft import patient_of
from hl7.errors import REQUIRED_MISSING, HL7SyntaxError
from hl7.message import Parsed, hl7_date
from hl7.observations import measurement_kind
from scrubber.documentation import PatientRecord, Reading
from scrubber.model import DeviceData

__all__ = ["readings_from_oru"]


def readings_from_oru(parsed: Parsed, source: str) -> DeviceData:
    """Each physiologic measurement (hl7.observations) with a value becomes an automatic reading,
    dated by its OBX-14, else by the OBX-14 of its parent in the OBX-4 hierarchy (1.0.1 for
    1.0.1.1, as PCD-01 nests a blood pressure's parts), else by its OBR-7. Other observations
    (time sync, device profiles, context, fitness sets) make no data day."""
    readings = []
    observed = None
    stamps: dict[str, str] = {}
    for segment in parsed.segments:
        if segment.name == "OBR":
            observed = hl7_date(parsed.first(segment, 7))
            stamps = {}
        if segment.name != "OBX":
            continue
        where = f"OBX({parsed.first(segment, 1) or segment.sequence})"
        value, kind = parsed.fields(segment, 5), parsed.first(segment, 2)
        if value and not kind:
            raise HL7SyntaxError("OBX-5 has a value but OBX-2 (value type) is empty", f"{where}.2",
                                 REQUIRED_MISSING)
        node, own = parsed.first(segment, 4), parsed.first(segment, 14)
        if own and node:
            stamps[node] = own
        observation = parsed.first(segment, 3)
        measured = measurement_kind(parsed.component_of(observation, 1),
                                    parsed.component_of(observation, 2),
                                    parsed.component_of(observation, 3))
        if not value or measured is None:
            continue
        day = hl7_date(own or _stamp(node, stamps)) or observed
        if day is not None:
            device = parsed.component_of(parsed.first(segment, 18), 1) or None
            readings.append(Reading(day, "automatic", measured, device))
    patient = patient_of(parsed)
    if not patient.identified:
        raise HL7SyntaxError("the device data names no patient (PID-3)", "PID(1).3", REQUIRED_MISSING)
    record = PatientRecord(id=patient.mrn, member_id=patient.member_id, readings=tuple(readings))
    return DeviceData(parsed.control_id, "hl7", source, patient, record)


def _stamp(node: str, stamps: dict[str, str]) -> str:
    """The OBX-14 of the nearest ancestor in the dotted OBX-4 hierarchy that has one."""
    node = node.rpartition(".")[0]
    while node:
        if node in stamps:
            return stamps[node]
        node = node.rpartition(".")[0]
    return ""
