"""Read an HL7 v2 file into claims (DFT^P03) and device data (ORU^R01)."""
from __future__ import annotations

from hl7.dft import claim_from_dft
from hl7.errors import HL7SyntaxError
from hl7.message import parse, split_messages
from hl7.oru import readings_from_oru
from scrubber.model import Claim, DeviceData, SyntaxIssue, Unreadable

__all__ = ["read_hl7", "SUPPORTED_VERSIONS"]

SUPPORTED_VERSIONS = ("2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1",
                      "2.8", "2.8.1", "2.8.2")


def read_hl7(text: str, source: str) -> list[Claim | Unreadable | DeviceData]:
    return [_one(message, source) for message in split_messages(text)]


def _one(text: str, source: str) -> Claim | Unreadable | DeviceData:
    try:
        parsed = parse(text)
        kind = parsed.first(parsed.message.msh, 9).split(parsed.component)
        event = tuple(kind[:2])
        if parsed.version not in SUPPORTED_VERSIONS:
            raise HL7SyntaxError(f"unsupported HL7 version {parsed.version!r}", "MSH(1).12")
        if event == ("DFT", "P03"):
            return claim_from_dft(parsed, source)
        if event == ("ORU", "R01"):
            return readings_from_oru(parsed, source)
        raise HL7SyntaxError(f"unsupported message type {'^'.join(event)!r}: DFT^P03 claims and "
                             "ORU^R01 device data are accepted", "MSH(1).9")
    except HL7SyntaxError as error:
        control = parse_control(text)
        return Unreadable(control, "hl7", source, (SyntaxIssue(error.message, error.location),))


def parse_control(text: str) -> str | None:
    first = text.split("\r", 1)[0]
    parts = first.split(first[3]) if len(first) > 3 else []
    return parts[9] if len(parts) > 9 and parts[9] else None
