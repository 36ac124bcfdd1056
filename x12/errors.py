"""The X12 adapter's own errors: a fatal one (nothing can be read) and located findings."""
from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["X12SyntaxError", "Level", "X12Error", "x12_location", "x12_place"]


def x12_place(loop: str, segment_id: str, element: int = 0, component: int = 0) -> str:
    """`2400/SV101-2 at segment `: what x12_location says before the position."""
    prefix = f"{loop}/" if loop else ""
    element_text = f"{element:02d}" if element else ""
    component_text = f"-{component}" if component else ""
    return f"{prefix}{segment_id}{element_text}{component_text} at segment "


def x12_location(loop: str, segment_id: str, position: int, element: int = 0, component: int = 0) -> str:
    """`2400/SV101-2 at segment 20`: loop, segment, element and component, position in the set."""
    return x12_place(loop, segment_id, element, component) + str(position)


class X12SyntaxError(Exception):
    """Input that cannot be read as X12 at all; `location` names where."""

    def __init__(self, message: str, location: str):
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}")


class Level(enum.Enum):
    """Where an error is acknowledged: TA1 (interchange), AK9 (group), IK5 (set), IK3/IK4 (segment)."""

    INTERCHANGE = "interchange"
    GROUP = "group"
    SET = "set"
    SEGMENT = "segment"


@dataclass(frozen=True)
class X12Error:
    """A syntax error with its X12 coordinates and the acknowledgement code that reports it.

    `code` is TA105 (interchange), AK905 (group), IK502 (set) or IK304 (segment); for an element
    error `element_code` is IK403 and `reference` the data element reference number (IK402).
    `position` is the segment's position in its transaction set (ST = 1) for set and segment errors,
    and its position in the file for envelope errors. `claim_start` is the position of the CLM of
    the claim the error lies in (0 when it lies outside every claim). A claim edit (SNIP 3
    balancing, a diagnosis pointer to no diagnosis) is not a 999 syntax error: it rejects its claim
    in the 277CA with the category and status code `edit` holds (empty for a syntax error).
    """

    message: str
    level: Level
    code: str
    segment_id: str = ""
    position: int = 0
    loop: str = ""
    element: int = 0
    component: int = 0
    reference: str = ""
    element_code: str = ""
    value: str = ""
    claim_start: int = 0
    claim_id: str = ""
    edit: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        if not self.segment_id:
            return f"segment {self.position}" if self.position else "end of file"
        return x12_location(self.loop, self.segment_id, self.position, self.element, self.component)
