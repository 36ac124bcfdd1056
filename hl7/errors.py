"""The HL7 adapter's own errors."""
from __future__ import annotations

__all__ = ["HL7SyntaxError", "REQUIRED_MISSING", "DATA_TYPE", "UNKNOWN_VALUE", "SEGMENT_SEQUENCE",
           "UNSUPPORTED_TYPE", "UNSUPPORTED_EVENT", "UNSUPPORTED_VERSION"]

# HL7 table 0357 (message error condition codes), as ERR-3 carries them
SEGMENT_SEQUENCE, REQUIRED_MISSING, DATA_TYPE, UNKNOWN_VALUE = "100", "101", "102", "103"
UNSUPPORTED_TYPE, UNSUPPORTED_EVENT, UNSUPPORTED_VERSION = "200", "201", "203"


class HL7SyntaxError(Exception):
    """A message that cannot be read or is not supported. `location` is `SEG(sequence).field.component`
    (`FT1(2).25.1`); `code` is the HL7 table 0357 condition the ACK's ERR-3 reports."""

    def __init__(self, message: str, location: str, code: str = DATA_TYPE):
        self.message = message
        self.location = location
        self.code = code
        super().__init__(f"{location}: {message}")
