"""Splitting HL7 v2 text into messages and reading fields through hl7apy."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from hl7.errors import HL7SyntaxError

__all__ = ["Parsed", "split_messages", "parse", "hl7_date"]

_WRAPPERS = ("FHS", "BHS", "BTS", "FTS")


def split_messages(text: str) -> list[str]:
    """Messages in a file: segments start at line breaks; batch wrappers are dropped."""
    text = text.lstrip("\ufeff")
    lines = [line.strip("\n") for line in re.split(r"\r\n|\r|\n", text)]
    messages: list[list[str]] = []
    for line in lines:
        if not line.strip() or line[:3] in _WRAPPERS:
            continue
        if line.startswith("MSH") or not messages:
            messages.append([])
        messages[-1].append(line)
    return ["\r".join(segments) for segments in messages]


@dataclass
class Parsed:
    """A parsed message: hl7apy's segments plus the encoding characters."""

    message: object
    segments: list
    field_sep: str
    component: str
    repetition: str
    subcomponent: str
    version: str
    control_id: str | None
    escape: str = "\\"

    def fields(self, segment, number: int) -> list[str]:
        """The repetitions of field `number` of `segment`, as ER7 text."""
        if segment.name == "MSH" and number <= 2:
            return [self.field_sep if number == 1 else segment.children[1].to_er7()]
        name = f"{segment.name}_{number}"
        return [f.to_er7() for f in segment.children if f.name == name]

    def first(self, segment, number: int) -> str:
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

    def segments_named(self, name: str) -> list:
        return [s for s in self.segments if s.name == name]


def parse(text: str) -> Parsed:
    """Parse one message tolerantly; raise HL7SyntaxError naming what is wrong."""
    if not text.startswith("MSH") or len(text) < 8:
        raise HL7SyntaxError("a message must start with an MSH segment", "MSH(1)")
    try:
        message = parse_message(text, find_groups=False,
                                validation_level=VALIDATION_LEVEL.TOLERANT)
    except HL7apyException as error:
        raise HL7SyntaxError(f"not a readable HL7 v2 message ({type(error).__name__}: "
                             f"{str(error)[:160]})", "MSH(1)") from None
    except (ValueError, IndexError, KeyError, AttributeError) as error:
        raise HL7SyntaxError(f"not a readable HL7 v2 message ({type(error).__name__})",
                             "MSH(1)") from None
    msh = message.msh
    encoding = msh.children[1].to_er7()
    parsed = Parsed(message, list(message.children), text[3], encoding[0], encoding[1],
                    encoding[3] if len(encoding) > 3 else "&", "", None,
                    encoding[2] if len(encoding) > 2 else "\\")
    parsed.version = parsed.first(msh, 12).split(parsed.component)[0]
    parsed.control_id = parsed.first(msh, 10) or None
    return parsed


def hl7_date(value: str) -> date | None:
    """The date of an HL7 DT/TS/DTM value (time and zone ignored)."""
    digits = value[:8]
    try:
        return datetime.strptime(digits, "%Y%m%d").date() if len(digits) == 8 else None
    except ValueError:
        return None
