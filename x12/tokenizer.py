"""Delimiters from the ISA, tokenizing into segments, and serializing back."""
from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from scrubber.model import ascii_digits, remembered  # X12 numbers are ASCII digits, as HL7's are
from x12.errors import Level, X12Error, X12SyntaxError

__all__ = ["Delimiters", "Segment", "Interchange", "decode", "tokenize", "scan", "serialize", "ccyymmdd",
           "in_charset", "ascii_digits", "valid_time", "isa_date", "isa_time", "ISA_ID_QUALIFIERS"]

ISA_WIDTHS = (3, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 106
# TA105 note codes for an ISA element of the wrong width (ISA11 and ISA16 are separators)
_TA105_BY_ISA_ELEMENT = {1: "010", 2: "011", 3: "012", 4: "013", 5: "005", 6: "006", 7: "007",
                         8: "008", 9: "014", 10: "015", 11: "016", 12: "017", 13: "018", 14: "019",
                         15: "020", 16: "027"}
_NEWLINES: Final = "\r\n"


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    repetition: str | None = "^"
    component: str = ":"
    segment: str = "~"
    suffix: str = ""


class Segment:
    """One segment: its id, its elements (1-based through `get`) and its position in the file;
    `text`, when the tokenizer made it, is the segment as written (id and elements joined by the
    element separator), kept because one string is cheaper to remember than the parts."""

    __slots__ = ("id", "elements", "position", "text")

    def __init__(self, id: str, elements: list[str], position: int, text: str = ""):
        self.id = id
        self.elements = elements
        self.position = position
        self.text = text

    def __repr__(self) -> str:
        return f"Segment({self.id!r}, {self.elements!r}, {self.position})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Segment) and (self.id, self.elements, self.position)
                == (other.id, other.elements, other.position))

    __hash__ = None  # type: ignore[assignment]  # mutable

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


def in_charset(text: str) -> bool:
    """Whether text keeps to the X12 extended character set of 005010: printable ASCII (the set
    pyx12 checks AN and ID values against)."""
    return text.isascii() and text.isprintable()


def ccyymmdd(text: str) -> date | None:
    """An X12 date (CCYYMMDD), or None when the text is not one. Dates are remembered: a batch
    repeats a few hundred (service, birth, sent)."""
    found = _DATES.get(text)
    if found is not None:
        return found
    if len(text) != 8 or not ascii_digits(text):
        return None
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
    return remembered(_DATES, text, day, 4096)


_DATES: Final[dict[str, date]] = {}


def valid_time(text: str) -> bool:
    """An X12 time: HHMM, HHMMSS or HHMMSS with tenths or hundredths of a second."""
    if not ascii_digits(text) or len(text) not in (4, 6, 7, 8):
        return False
    return int(text[:2]) < 24 and int(text[2:4]) < 60 and (len(text) < 6 or int(text[4:6]) < 60)


def isa_date(text: str) -> bool:
    """ISA09: a date as YYMMDD."""
    return ccyymmdd("20" + text) is not None


def isa_time(text: str) -> bool:
    """ISA10: a time as HHMM."""
    return len(text) == 4 and valid_time(text)


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 with or without a byte-order mark, or UTF-16 (detected). Bytes that
    are not valid in the encoding (a cut-off UTF-16 file, a stray byte) become U+FFFD, which no
    X12 or HL7 delimiter or code is, so the parsers report where they are."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", errors="replace")
    if len(data) > 3 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        return data.decode("utf-16-le", errors="replace")
    if len(data) > 3 and data[0:1] == b"\x00" and data[2:3] == b"\x00":
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


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
    wide = {issue.element for issue in issues}
    issues += [X12Error(f"ISA{index:02d} {problem}", Level.INTERCHANGE, _TA105_BY_ISA_ELEMENT[index], "ISA",
                        position, element=index)
               for index, problem in _isa_values(fields) if index not in wide]
    delimiters = Delimiters(element, repetition if repetition and not repetition.isalnum() else None,
                            component, terminator, suffix)
    return delimiters, end, issues


ISA_ID_QUALIFIERS = frozenset({"01", "14", "20", "27", "28", "29", "30", "33", "ZZ"})  # ISA05/ISA07 (I05)
# ISA elements with a code list (X12.5 and the 837P guide's ISA): element -> (codes, what they mean)
_ISA_CODES = {1: ({"00", "03"}, "authorization information qualifier"),
              3: ({"00", "01"}, "security information qualifier"),
              5: (ISA_ID_QUALIFIERS, "interchange ID qualifier"),
              7: (ISA_ID_QUALIFIERS, "interchange ID qualifier"),
              14: ({"0", "1"}, "acknowledgment requested code"), 15: ({"P", "T"}, "usage indicator (P or T)")}


def _isa_values(fields: list[str]) -> Iterator[tuple[int, str]]:
    """(element, problem) for each ISA value that its width fits but its content does not (the
    TA1 note code is the element's, as for widths): codes, the sender and receiver ids, the date
    (YYMMDD), the time (HHMM), the version (five digits) and the control number (nine digits)."""
    for index, (codes, meaning) in _ISA_CODES.items():
        value = fields[index] if index < len(fields) else ""
        if value not in codes:
            yield index, f"{value!r} is not a valid {meaning}"
    for index in (6, 8):
        if index < len(fields) and not fields[index].strip():
            yield index, f"is blank: the interchange {'sender' if index == 6 else 'receiver'} ID is required"
    day, hour = fields[9:10], fields[10:11]
    if day and not isa_date(day[0]):
        yield 9, f"{day[0]!r} is not a valid date (YYMMDD)"
    if hour and not isa_time(hour[0]):
        yield 10, f"{hour[0]!r} is not a valid time (HHMM)"
    version = fields[12] if len(fields) > 12 else ""
    if not (version[:2] == "00" and ascii_digits(version)):  # X12 has 00200 to 00801
        yield 12, f"{version!r} is not an interchange control version (00501 for 5010)"
    control = fields[13] if len(fields) > 13 else ""
    if not ascii_digits(control):
        yield 13, f"{control!r} is not nine digits"


def tokenize(text: str) -> list[Interchange]:
    """Split text into interchanges of segments; each ISA sets its own delimiters."""
    interchanges = []
    for interchange, body in scan(text):
        interchange.segments.extend(body)
        interchanges.append(interchange)
    return interchanges


def scan(text: str) -> Iterator[tuple[Interchange, Iterator[Segment]]]:
    """Interchanges one at a time, each with an iterator over its segments after the ISA (read
    lazily, so a consumer that keeps only what it needs holds one transaction set at a time).
    Issues found while scanning are added to the interchange as its segments are read."""
    state = {"offset": 0, "position": 0}
    seen = False
    while True:
        skipped = _skip_space(text, state["offset"])
        start = text.find("ISA", skipped)
        if start < 0:
            if text[skipped:].strip() and not seen:
                raise X12SyntaxError("no ISA segment: an interchange must start with ISA",
                                     "segment 1")
            return
        seen = True
        leading = text[skipped:start]
        delimiters, offset, issues = _read_isa(text, start, state["position"] + 1)
        state["position"] += 1
        raw = text[start:offset - 1 - len(delimiters.suffix)]  # up to ISA16, without the terminator
        isa = Segment("ISA", raw.split(delimiters.element)[1:], state["position"])
        interchange = Interchange(delimiters, [isa], issues, leading.strip())
        state["offset"] = offset
        body = _body(text, delimiters, issues, state)
        yield interchange, body
        for _ in body:  # the consumer stopped early: read on to the end of the interchange
            pass
        if state["offset"] >= len(text):
            return


_SPACE: Final = " \t\r\n\ufeff"


def _skip_space(text: str, offset: int) -> int:
    while offset < len(text) and text[offset] in _SPACE:
        offset += 1
    return offset


# the body is split a window at a time (C-speed splitting, memory bounded by the window)
_WINDOW = 1 << 16


def _body(text: str, delimiters: Delimiters, issues: list[X12Error], state: dict) -> Iterator[Segment]:
    terminator, element = delimiters.segment, delimiters.element
    strip = terminator in _NEWLINES  # a newline terminator: CRs before it are not part of a segment
    skip_empty = terminator in _SPACE  # white space between segments is skipped, terminators too
    # the terminator with the line break the ISA is followed by ("~\n"): where every terminator of a
    # window is followed by it, the window is split on both, and no segment's text is copied to
    # strip the line break in front of it
    joint = terminator + delimiters.suffix if delimiters.suffix and not strip else terminator
    length = len(text)
    offset: int = state["offset"]  # typed: the compiled build then counts in machine integers
    position: int = state["position"]
    try:
        while offset < length:
            stop = text.rfind(terminator, offset, offset + _WINDOW)
            if stop < 0:
                stop = text.find(terminator, offset + _WINDOW)
            gap = 1  # the characters between one piece and the next
            if stop >= 0:
                window, terminated = text[offset:stop], True
                pieces = window.split(joint)
                if len(joint) > 1 and window.count(terminator) == len(pieces) - 1:
                    gap = len(joint)
                else:
                    pieces = window.split(terminator)
            elif text[offset:].lstrip(_SPACE):
                pieces, terminated = [text[offset:]], strip
            else:  # only white space after the last segment
                offset = length
                break
            for piece in pieces:
                begin = offset
                offset += len(piece) + gap
                raw = piece.lstrip(_SPACE)
                if strip:
                    raw = raw.rstrip(_NEWLINES)
                if skip_empty and not raw:
                    continue
                parts = raw.split(element)
                segment_id = parts[0]
                if segment_id == "ISA" and len(parts) > 1:
                    issues.append(X12Error("a new ISA starts before the interchange ended with IEA",
                                           Level.INTERCHANGE, "023", "ISA", position + 1))
                    offset = begin
                    return
                position += 1
                if not terminated:
                    issues.append(X12Error(f"segment {segment_id[:3]!r} is not terminated by {terminator!r}",
                                           Level.INTERCHANGE, "023", segment_id[:3], position))
                del parts[0]
                yield Segment(segment_id, parts, position, raw)
                if segment_id == "IEA":  # after its terminator (and the line break, white space)
                    offset = _skip_space(text, min(begin + len(piece) + 1, length))
                    _after_iea(text, offset, position, element, issues)
                    return
            if stop >= 0:  # the last piece ends at the terminator found, without a line break
                offset = stop + 1
    finally:
        state["offset"], state["position"] = min(offset, length), position


# what may follow the last IEA without a word: white space, and the NUL padding and Ctrl-Z end-of-file
# marker some transfer tools leave
_TRAILER: Final = _SPACE + "\x00\x1a"


def _after_iea(text: str, offset: int, position: int, element: str, issues: list[X12Error]) -> None:
    """Text after an IEA that no ISA follows is not part of any interchange (a second IEA, a
    truncated copy): the interchange is rejected for it rather than the text dropped unread. Text
    before a following ISA is that interchange's leading text, reported there. The message names
    a segment id if the text starts with one, never the text (it may be anything)."""
    rest = text[offset:offset + 200].strip(_TRAILER)
    if rest and text.find("ISA", offset) < 0:
        left = len(text[offset:].strip(_TRAILER))
        head = rest.split(element, 1)[0]
        segment = 2 <= len(head) <= 3 and head.isalnum() and head.isupper()
        what = f" (a {head} segment first)" if segment else ""
        issues.append(X12Error(f"{left} characters after the IEA are not part of an interchange{what}",
                               Level.INTERCHANGE, "024", "IEA", position))


def serialize(segments: Sequence[Segment], delimiters: Delimiters) -> str:
    """Segments back to text with the interchange's own delimiters."""
    out = []
    for segment in segments:
        body = delimiters.element.join([segment.id] + segment.elements)
        out.append(body + delimiters.segment + delimiters.suffix)
    return "".join(out)
