"""Read an HL7 v2 file into claims (DFT^P03) and device data (ORU^R01), keeping for each message
the header its ACK is built from."""
from __future__ import annotations

from dataclasses import dataclass

from hl7.dft import claim_from_dft
from hl7.errors import UNSUPPORTED_EVENT, UNSUPPORTED_TYPE, UNSUPPORTED_VERSION, HL7SyntaxError
from hl7.message import Parsed, parse, split_messages
from hl7.oru import readings_from_oru
from scrubber.model import Claim, DeviceData, SyntaxIssue, Unreadable

__all__ = ["Header", "Received", "read_hl7", "read_messages", "SUPPORTED_VERSIONS", "EVENTS"]

SUPPORTED_VERSIONS = ("2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1",
                      "2.8", "2.8.1", "2.8.2")
EVENTS = {"DFT": ("P03",), "ORU": ("R01",)}


@dataclass(frozen=True)
class Header:
    """What the ACK needs from the message it answers (MSH fields as ER7 text)."""

    field_sep: str = "|"
    encoding: str = "^~\\&"
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: tuple[str, ...] = ()
    control_id: str = ""
    processing_id: str = ""
    version: str = ""


@dataclass(frozen=True)
class Received:
    """One message read: what the core checks (a claim, device data or an unreadable unit), the
    header to answer it with, and the error that makes it unreadable or unsupported."""

    item: Claim | Unreadable | DeviceData
    header: Header
    error: HL7SyntaxError | None = None
    text: str = ""  # the message as received (segments separated by CR)


def read_hl7(text: str, source: str) -> list[Claim | Unreadable | DeviceData]:
    return [received.item for received in read_messages(text, source)]


def read_messages(text: str, source: str) -> list[Received]:
    return [_one(message, source) for message in split_messages(text)]


def _one(text: str, source: str) -> Received:
    header = header_of(text)
    try:
        parsed = parse(text)
        _supported(parsed)
        if parsed.message_type[0] == "DFT":
            return Received(claim_from_dft(parsed, source), header, text=text)
        return Received(readings_from_oru(parsed, source), header, text=text)
    except HL7SyntaxError as error:
        unreadable = Unreadable(header.control_id or None, "hl7", source,
                                (SyntaxIssue(error.message, error.location, error.code),))
        return Received(unreadable, header, error, text)


def _supported(parsed: Parsed) -> None:
    kind = parsed.message_type
    shown = "^".join(kind[:2])
    if kind[0] not in EVENTS:
        raise HL7SyntaxError(f"unsupported message type {shown!r}: DFT^P03 claims and ORU^R01 device "
                             "data are accepted", "MSH(1).9.1", UNSUPPORTED_TYPE)
    if kind[1:2] != EVENTS[kind[0]][:1]:
        raise HL7SyntaxError(f"unsupported event {shown!r}: DFT^P03 claims and ORU^R01 device data "
                             "are accepted", "MSH(1).9.2", UNSUPPORTED_EVENT)
    if parsed.version not in SUPPORTED_VERSIONS:
        raise HL7SyntaxError(f"unsupported HL7 version {parsed.version!r} in MSH-12 (supported: "
                             f"{', '.join(SUPPORTED_VERSIONS)})", "MSH(1).12", UNSUPPORTED_VERSION)


def header_of(text: str) -> Header:
    """The MSH fields an ACK echoes, read as far as the first line allows (a broken message is
    still answered, with whatever of its header can be read)."""
    first = text.split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 5 or first[3].isalnum():
        return Header()
    fields = first.split(first[3])
    get = lambda n: fields[n - 1] if n - 1 < len(fields) else ""  # noqa: E731  (MSH-n)
    encoding = get(2)
    component = encoding[:1] or "^"
    return Header(first[3], encoding or "^~\\&", get(3), get(4), get(5), get(6),
                  tuple(get(9).split(component)), get(10), get(11),
                  get(12).split(component)[0])
