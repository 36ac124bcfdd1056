"""Splitting HL7 v2 text into messages and reading ER7 fields.

Reading is our own: a DFT^P03 needs a handful of fields, and splitting on the message's own
delimiters is two orders of magnitude cheaper than building hl7apy's element tree (see README,
"HL7 speed"). hl7apy stays the model that validates what we build and that the tests read
every sample with to prove the two agree field by field (tests/test_hl7_differential.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from hl7.errors import REQUIRED_MISSING, HL7SyntaxError
from scrubber.model import ascii_digits

__all__ = ["Segment", "Parsed", "split_messages", "parse", "hl7_date", "WRAPPERS"]

WRAPPERS = ("FHS", "BHS", "BTS", "FTS")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")


def split_messages(text: str) -> list[str]:
    """Messages in a file: segments start at line breaks; batch wrappers (FHS/BHS/BTS/FTS) and
    blank lines are dropped."""
    messages: list[list[str]] = []
    for line in _LINE_BREAK.split(text.lstrip("\ufeff")):
        if not line.strip() or line[:3] in WRAPPERS:
            continue
        if line.startswith("MSH") or not messages:
            messages.append([])
        messages[-1].append(line)
    return ["\r".join(segments) for segments in messages]


class Segment:
    """One segment: its name, its fields as ER7 text (`raw[n]` is field n; for MSH, field n is
    `raw[n - 1]` because MSH-1 is the separator itself) and its sequence among same-named segments."""

    __slots__ = ("name", "raw", "sequence")

    def __init__(self, name: str, raw: list[str], sequence: int):
        self.name = name
        self.raw = raw
        self.sequence = sequence

    def __repr__(self) -> str:
        return f"Segment({self.name!r}, {self.sequence})"


@dataclass
class Parsed:
    """A message split on its own encoding characters."""

    segments: list[Segment]
    field_sep: str
    component: str
    repetition: str
    escape: str
    subcomponent: str
    version: str = ""
    control_id: str | None = None
    message_type: tuple[str, ...] = ()
    _by_name: dict[str, list[Segment]] = field(default_factory=dict, repr=False)

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def field_text(self, segment: Segment, number: int) -> str:
        """Field `number` of `segment` as ER7 text, repetitions included ('' when absent)."""
        if segment.name == "MSH":
            if number == 1:
                return self.field_sep
            number -= 1
        raw = segment.raw
        return raw[number] if 0 < number < len(raw) else ""

    def fields(self, segment: Segment, number: int) -> list[str]:
        """The repetitions of field `number` of `segment`, as ER7 text (empty ones dropped)."""
        text = self.field_text(segment, number)
        if not text:
            return []
        if segment.name == "MSH" and number <= 2:
            return [text]
        return [value for value in text.split(self.repetition) if value]

    def first(self, segment: Segment | None, number: int) -> str:
        if segment is None:
            return ""
        values = self.fields(segment, number)
        return values[0] if values else ""

    def component_of(self, value: str, index: int) -> str:
        parts = value.split(self.component)
        return self.unescape(parts[index - 1]) if 0 < index <= len(parts) else ""

    def unescape(self, value: str) -> str:
        """Resolve HL7 escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ and \\Xhh\\); others are dropped."""
        if self.escape not in value:
            return value
        table = {"F": self.field_sep, "S": self.component, "T": self.subcomponent,
                 "R": self.repetition, "E": self.escape}
        parts = value.split(self.escape)
        out = [parts[0]]
        for index in range(1, len(parts), 2):
            code = parts[index]
            if code in table:
                out.append(table[code])
            elif code[:1] == "X" and len(code) % 2 == 1:
                try:
                    out.append(bytes.fromhex(code[1:]).decode("latin-1"))
                except ValueError:
                    pass
            out.append(parts[index + 1] if index + 1 < len(parts) else "")
        return "".join(out)

    def segments_named(self, name: str) -> list[Segment]:
        return self._by_name.get(name, [])


def parse(text: str) -> Parsed:
    """Split one message on its encoding characters; raise HL7SyntaxError naming what is wrong."""
    if not text.startswith("MSH") or len(text) < 8:
        raise HL7SyntaxError("a message must start with an MSH segment", "MSH(1)", REQUIRED_MISSING)
    separator = text[3]
    if separator.isalnum() or separator in " \t\r\n":
        raise HL7SyntaxError(f"MSH-1 field separator {separator!r} is not a delimiter", "MSH(1).1")
    encoding = text[4:].split(separator, 1)[0].split("\r", 1)[0]
    if not 2 <= len(encoding) <= 5 or len(set(encoding)) != len(encoding) or separator in encoding \
            or any(c.isalnum() or c.isspace() for c in encoding):
        raise HL7SyntaxError(f"MSH-2 encoding characters {encoding!r} are not 2 to 5 distinct "
                             "delimiters", "MSH(1).2")
    component, repetition = encoding[0], encoding[1]
    escape = encoding[2] if len(encoding) > 2 else "\\"
    subcomponent = encoding[3] if len(encoding) > 3 else "&"
    segments: list[Segment] = []
    by_name: dict[str, list[Segment]] = {}
    for line in text.split("\r"):
        if not line:
            continue
        raw = line.split(separator)
        name = raw[0]
        if not _SEGMENT_ID.fullmatch(name):
            shown = name[:10] or line[:10]
            raise HL7SyntaxError(f"segment {len(segments) + 1} ({shown!r}) does not start with a segment "
                                 "id (three capital letters or digits)", f"{shown[:3]}({len(segments) + 1})")
        same = by_name.setdefault(name, [])
        segment = Segment(name, raw, len(same) + 1)
        same.append(segment)
        segments.append(segment)
    parsed = Parsed(segments, separator, component, repetition, escape, subcomponent, _by_name=by_name)
    msh = parsed.msh
    kind = parsed.first(msh, 9).split(component)
    parsed.message_type = tuple(part for part in kind[:3])
    parsed.version = parsed.first(msh, 12).split(component)[0]
    parsed.control_id = parsed.first(msh, 10) or None
    for number, label in ((9, "message type"), (10, "message control id"), (12, "version id")):
        if not parsed.first(msh, number):
            raise HL7SyntaxError(f"MSH-{number} ({label}) is empty", f"MSH(1).{number}",
                                 REQUIRED_MISSING)
    return parsed


def hl7_date(value: str) -> date | None:
    """The date of an HL7 DT/TS/DTM value (time and zone ignored)."""
    digits = value[:8]
    if len(digits) != 8 or not ascii_digits(digits):
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
