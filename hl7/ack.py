"""HL7 v2 ACK building: one ACK per message, deterministic (clock and control id are arguments).

Version 2.5 and later: MSA-1/MSA-2 and one ERR per error with ERR-2 (location), ERR-3 (HL7 table
0357 condition), ERR-4 (severity), ERR-5 (our rule id), ERR-7 (evidence) and ERR-8 (message and
fix). Earlier versions have no ERR-2..8 and allow one ERR: the first error's text goes to MSA-3
and each error to a repetition of ERR-1 (segment^sequence^field^condition). Free text is escaped
for the sender's delimiters.

The ACK is assembled as text, not through hl7apy's element tree (5 ms for an AA, 16 ms for an AE
with three ERR there, against well under 0.1 ms here); every ACK the tests build is parsed and
validated by hl7apy at STRICT level (tests/test_hl7_acks.py).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hl7.reader import Header

__all__ = ["AckError", "AckStamp", "build_ack", "CONDITIONS", "ACCEPT", "ERROR", "REJECT"]

ACCEPT, ERROR, REJECT = "AA", "AE", "AR"
CONDITIONS = {"0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
              "102": "Data type error", "103": "Table value not found",
              "200": "Unsupported message type", "201": "Unsupported event code",
              "203": "Unsupported version id", "207": "Application internal error"}
_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})\((\d+)\)(?:\.(\d+)(?:\.(\d+))?)?")
_DEFAULT_VERSION = "2.5"


@dataclass(frozen=True)
class AckError:
    """One ERR: `location` in our `SEG(sequence).field.component` form (or None), `condition` from
    HL7 table 0357, `severity` E, W or I, `rule` our rule id (None for syntax errors)."""

    location: str | None
    condition: str
    severity: str
    rule: str | None
    diagnostic: str
    message: str


@dataclass(frozen=True)
class AckStamp:
    now: datetime
    control_id: str


def _timestamp(now: datetime) -> str:
    text = now.strftime("%Y%m%d%H%M%S")
    return text + now.strftime("%z") if now.tzinfo is not None else text


def _modern(version: str) -> bool:
    parts = version.split(".")
    return len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() and \
        (int(parts[0]), int(parts[1])) >= (2, 5)


class _Writer:
    def __init__(self, header: Header):
        self.field = header.field_sep or "|"
        encoding = header.encoding or "^~\\&"
        self.encoding = encoding
        self.component = encoding[0]
        self.repetition = encoding[1] if len(encoding) > 1 else "~"
        self.escape = encoding[2] if len(encoding) > 2 else "\\"
        self.subcomponent = encoding[3] if len(encoding) > 3 else "&"

    def text(self, value: str) -> str:
        """Free text with the message's delimiters escaped (escape character first) and line
        breaks turned into spaces."""
        e = self.escape
        value = value.replace(e, f"{e}E{e}")
        for char, code in ((self.field, "F"), (self.component, "S"), (self.subcomponent, "T"),
                           (self.repetition, "R")):
            value = value.replace(char, f"{e}{code}{e}")
        if len(self.encoding) > 4:  # 2.7 truncation character
            value = value.replace(self.encoding[4], f"{e}P{e}")
        return " ".join(value.splitlines())

    def segment(self, *fields: str) -> str:
        return self.field.join(fields).rstrip(self.field)


def _event_type(header: Header, version: str) -> str:
    event = header.message_type[1] if len(header.message_type) > 1 else ""
    if version in ("2.1",):
        return "ACK"
    if version in ("2.2", "2.3") or not event:
        return f"ACK^{event}" if event else "ACK"
    return f"ACK^{event}^ACK"


def build_ack(header: Header, code: str, errors: Sequence[AckError], stamp: AckStamp,
              application: str = "RPM-SCRUBBER") -> str:
    """The ACK for one message (segments separated by CR, the last one too)."""
    w = _Writer(header)
    version = header.version or _DEFAULT_VERSION
    modern = _modern(version)
    msh = w.segment("MSH", w.encoding, header.receiving_application or application,
                    header.receiving_facility, header.sending_application, header.sending_facility,
                    _timestamp(stamp.now), "", _event_type(header, version), stamp.control_id,
                    header.processing_id or "P", version)
    first_text = w.text(errors[0].message[:80]) if errors and code != ACCEPT and not modern else ""
    msa = w.segment("MSA", code, header.control_id, first_text)
    segments = [msh, msa]
    if modern:
        segments += [_err_modern(w, error) for error in errors]
    elif errors:  # before 2.5 an ACK has one ERR; ERR-1 repeats, one repetition per error
        segments.append(w.segment("ERR", w.repetition.join(_eld(w, error) for error in errors)))
    return "\r".join(segments) + "\r"


def _location_parts(location: str | None) -> tuple[str, str, str, str] | None:
    match = _LOCATION.fullmatch(location or "")
    return match.groups(default="") if match else None  # type: ignore[return-value]


def _err_modern(w: _Writer, error: AckError) -> str:
    c = w.component
    parts = _location_parts(error.location)
    erl = ""
    if parts:
        segment, sequence, field, component = parts
        erl = c.join(p for p in (segment, sequence, field) if p)
        if field:
            erl += f"{c}1" + (f"{c}{component}" if component else "")
    condition = f"{error.condition}{c}{w.text(CONDITIONS.get(error.condition, ''))}{c}HL70357"
    return w.segment("ERR", "", erl, condition, error.severity, w.text(error.rule or ""), "",
                     w.text(error.diagnostic), w.text(error.message))


def _eld(w: _Writer, error: AckError) -> str:
    """ERR-1 (ELD): segment^sequence^field^condition, the condition as code&text&HL70357."""
    c, s = w.component, w.subcomponent
    segment, sequence, field, _ = _location_parts(error.location) or ("", "", "", "")
    condition = f"{error.condition}{s}{w.text(CONDITIONS.get(error.condition, ''))}{s}HL70357"
    return c.join((segment, sequence, field, condition))
