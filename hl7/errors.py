"""The HL7 adapter's own errors."""
from __future__ import annotations

__all__ = ["HL7SyntaxError"]


class HL7SyntaxError(Exception):
    """A message that cannot be read; `location` is in ERR-2 style (`FT1(2).25.1`)."""

    def __init__(self, message: str, location: str):
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}")
