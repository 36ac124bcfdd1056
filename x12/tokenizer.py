"""Delimiters from the ISA, tokenizing into segments, and serializing back."""
from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from x12.errors import Level, X12Error, X12SyntaxError

__all__ = ["Delimiters", "Segment", "Interchange", "decode", "tokenize", "serialize"]

ISA_WIDTHS = (3, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 106
# TA105 note codes for an ISA element of the wrong width (ISA11 and ISA16 are separators)
_TA105_BY_ISA_ELEMENT = {1: "010", 2: "011", 3: "012", 4: "013", 5: "005", 6: "006", 7: "007",
                         8: "008", 9: "014", 10: "015", 11: "016", 12: "017", 13: "018", 14: "019",
                         15: "020", 16: "027"}
_NEWLINES = "\r\n"


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    repetition: str | None = "^"
    component: str = ":"
    segment: str = "~"
    suffix: str = ""


@dataclass
class Segment:
    id: str
    elements: list[str]
    position: int
    raw: str = field(repr=False, default="")

    def get(self, index: int) -> str:
        """Element `index` (1-based), or '' when absent."""
        return self.elements[index - 1] if 0 < index <= len(self.elements) else ""

    def component(self, index: int, sub: int, delimiters: Delimiters) -> str:
        parts = self.get(index).split(delimiters.component)
        return parts[sub - 1] if 0 < sub <= len(parts) else ""


@dataclass
class Interchange:
    delimiters: Delimiters
    segments: list[Segment]
    issues: list[X12Error]
    leading: str = ""


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 with or without a byte-order mark, or UTF-16 (detected)."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16")
    if len(data) > 3 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        return data.decode("utf-16-le")
    if len(data) > 3 and data[0:1] == b"\x00" and data[2:3] == b"\x00":
        return data.decode("utf-16-be")
    text = data.decode("utf-8-sig", errors="replace")
    return text


def _read_isa(text: str, start: int, position: int) -> tuple[Delimiters, int, list[X12Error]]:
    """Delimiters from the ISA at `start`; returns them, the offset after the ISA and issues."""
    where = f"ISA at segment {position}"
    if len(text) < start + 4:
        raise X12SyntaxError("the interchange ends inside the ISA segment", where)
    element = text[start + 3]
    if element.isalnum() or element in " \r\n":
        raise X12SyntaxError(f"ISA element separator {element!r} is not a delimiter", where)
    cursor = start
    widths = []
    for _ in range(16):
        found = text.find(element, cursor + 1)
        if found < 0 or found - start > 400:
            raise X12SyntaxError("the ISA segment does not have 16 elements", where)
        widths.append(found - cursor - (0 if cursor == start else 1))
        cursor = found
    widths[0] = 3
    if cursor + 2 >= len(text) + 1:
        raise X12SyntaxError("the interchange ends inside ISA16", where)
    component = text[cursor + 1]
    terminator = text[cursor + 2] if cursor + 2 < len(text) else ""
    if not terminator:
        raise X12SyntaxError("no segment terminator after ISA16", where)
    end = cursor + 3
    suffix = ""
    while end < len(text) and text[end] in _NEWLINES and terminator not in _NEWLINES:
        suffix += text[end]
        end += 1
    fields = text[start:cursor].split(element)
    repetition = fields[11] if len(fields) > 11 and fields[12:13] and fields[12] >= "00501" else None
    issues = [
        X12Error(f"ISA{index:02d} must be {want} characters wide, found {got}", Level.INTERCHANGE,
                 _TA105_BY_ISA_ELEMENT[index], "ISA", position, element=index)
        for index, (want, got) in enumerate(zip(ISA_WIDTHS[1:], widths[1:] + [1], strict=True), start=1)
        if index < 16 and want != got
    ]
    delimiters = Delimiters(element, repetition if repetition and not repetition.isalnum() else None,
                            component, terminator, suffix)
    return delimiters, end, issues


def tokenize(text: str) -> list[Interchange]:
    """Split text into interchanges of segments; each ISA sets its own delimiters."""
    interchanges: list[Interchange] = []
    offset, position = 0, 0
    while True:
        skipped = _skip_space(text, offset)
        start = text.find("ISA", skipped)
        if start < 0:
            if text[skipped:].strip() and not interchanges:
                raise X12SyntaxError("no ISA segment: an interchange must start with ISA",
                                     "segment 1")
            break
        leading = text[skipped:start]
        delimiters, offset, issues = _read_isa(text, start, position + 1)
        position += 1
        raw = text[start:offset - 1 - len(delimiters.suffix)]  # up to ISA16, without the terminator
        isa = Segment("ISA", raw.split(delimiters.element)[1:], position, raw)
        segments = [isa]
        offset, position = _body(text, offset, delimiters, segments, issues, position)
        interchanges.append(Interchange(delimiters, segments, issues, leading.strip()))
        if offset >= len(text):
            break
    return interchanges


def _skip_space(text: str, offset: int) -> int:
    while offset < len(text) and text[offset] in " \t\r\n\ufeff":
        offset += 1
    return offset


def _body(text, offset, delimiters, segments, issues, position):
    terminator = delimiters.segment
    while offset < len(text):
        offset = _skip_space(text, offset)
        if offset >= len(text):
            break
        end = text.find(terminator, offset)
        raw = text[offset:] if end < 0 else text[offset:end]
        next_offset = len(text) if end < 0 else end + 1
        raw = raw.rstrip(_NEWLINES) if terminator in _NEWLINES else raw
        if raw.startswith("ISA") and raw[3:4] == delimiters.element and segments[-1].id != "IEA":
            issues.append(X12Error("a new ISA starts before the interchange ended with IEA",
                                   Level.INTERCHANGE, "023", "ISA", position + 1))
            return offset, position
        if raw.startswith("ISA") and segments[-1].id == "IEA":
            return offset, position
        position += 1
        parts = raw.split(delimiters.element)
        if end < 0 and terminator not in _NEWLINES:
            issues.append(X12Error(f"segment {parts[0][:3]!r} is not terminated by {terminator!r}",
                                   Level.INTERCHANGE, "023", parts[0][:3], position))
        segments.append(Segment(parts[0], parts[1:], position, raw))
        offset = next_offset
        if parts[0] == "IEA":
            return _skip_space(text, offset), position
    return offset, position


def serialize(segments: list[Segment], delimiters: Delimiters) -> str:
    """Segments back to text with the interchange's own delimiters."""
    out = []
    for segment in segments:
        body = delimiters.element.join([segment.id] + segment.elements)
        out.append(body + delimiters.segment + delimiters.suffix)
    return "".join(out)
