"""The X12 adapter's own errors."""
from __future__ import annotations

__all__ = ["X12SyntaxError"]


class X12SyntaxError(Exception):
    """Input that cannot be read as X12 at all; `location` names where."""

    def __init__(self, message: str, location: str):
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}")
