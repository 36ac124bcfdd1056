"""Writing outbound X12: an acknowledgement interchange around transaction sets we build, with the
sender and receiver of the inbound interchange swapped and its delimiters kept.

Builders are deterministic: the clock and the control number are arguments.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from x12.tokenizer import ISA_ID_QUALIFIERS, Delimiters, Segment, in_charset

__all__ = ["Stamp", "Element", "clean", "render", "ack_interchange", "ack_delimiters"]

Element = str | Sequence[str]  # a simple element, or a composite as its components


@dataclass(frozen=True)
class Stamp:
    """When the acknowledgement is made and the control number it takes (ISA13 and GS06)."""

    now: datetime
    control: int

    @property
    def isa13(self) -> str:
        return f"{self.control % 10**9:09d}"


def ack_delimiters(inbound: Delimiters) -> Delimiters:
    """The inbound delimiters; a 4010-style ISA11 (no repetition separator) gets '^' unless taken,
    and a line break used as the segment terminator becomes "~" and a new line."""
    repetition = inbound.repetition
    if repetition is None:
        taken = {inbound.element, inbound.component, inbound.segment, "~"}
        repetition = next(c for c in "^`{}|!" if c not in taken)
    if inbound.segment in "\r\n":  # a bare line break as terminator: answer with '~' and the break
        return Delimiters(inbound.element, repetition, inbound.component, "~", "\n")
    return Delimiters(inbound.element, repetition, inbound.component, inbound.segment, inbound.suffix)


def clean(value: str, delimiters: Delimiters) -> str:
    """Free text made safe to carry: delimiters, line breaks and characters outside the X12
    character set (printable ASCII) become spaces."""
    if not in_charset(value):
        value = "".join(c if in_charset(c) else " " for c in value)
    for character in {delimiters.element, delimiters.component, delimiters.segment,
                      delimiters.repetition or "", "\r", "\n"} - {""}:
        value = value.replace(character, " ")
    return " ".join(value.split())


def render(segments: list[list[Element]], delimiters: Delimiters) -> str:
    """Segments (id first, then elements) as text, trailing empty elements dropped."""
    out = []
    for segment in segments:
        fields = [e if isinstance(e, str) else delimiters.component.join(e).rstrip(delimiters.component)
                  for e in segment]
        while len(fields) > 1 and fields[-1] == "":
            fields.pop()
        out.append(delimiters.element.join(fields) + delimiters.segment + delimiters.suffix)
    return "".join(out)


def _qualifier(value: str) -> str:
    """An ISA05/ISA07 for the answer: the inbound one, or ZZ (mutually defined) when it is not a
    qualifier (the TA1 may be about exactly that, and must itself be valid)."""
    return value if value in ISA_ID_QUALIFIERS else "ZZ"


def _party(value: str) -> str:
    """An ISA06/ISA08 for the answer, 15 wide: the inbound id, or UNKNOWN when it was blank."""
    return (value if value.strip() else "UNKNOWN").ljust(15)[:15]


def ack_interchange(inbound_isa: Segment, delimiters: Delimiters, stamp: Stamp,
                    groups: list[tuple[list[Element], list[list[list[Element]]]]]) -> str:
    """An interchange back to the sender: ISA with the parties swapped, then for each group its GS
    (given without GS06, which the stamp fills) and transaction sets (ST..SE counted here)."""
    isa = inbound_isa
    segments: list[list[Element]] = [[
        "ISA", "00", " " * 10, "00", " " * 10, _qualifier(isa.get(7)), _party(isa.get(8)),
        _qualifier(isa.get(5)), _party(isa.get(6)), stamp.now.strftime("%y%m%d"), stamp.now.strftime("%H%M"),
        delimiters.repetition or "^", "00501", stamp.isa13, "0",
        isa.get(15) if isa.get(15) in ("P", "T") else "P", delimiters.component,
    ]]
    for number, (gs, sets) in enumerate(groups):
        control = str((stamp.control + number) % 10**9)
        segments.append(["GS", gs[0], gs[1], gs[2], stamp.now.strftime("%Y%m%d"),
                         stamp.now.strftime("%H%M"), control, "X", gs[3]])
        for index, body in enumerate(sets, start=1):
            st_control = f"{index:04d}"
            st = ["ST", body[0][0], st_control, body[0][1]]
            segments.append(st)
            segments.extend(body[1:])
            segments.append(["SE", str(len(body) + 1), st_control])
        segments.append(["GE", str(len(sets)), control])
    segments.append(["IEA", str(len(groups)), stamp.isa13])
    return render(segments, delimiters)
