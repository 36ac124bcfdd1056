"""The format-neutral claim model shared by the X12 and HL7 adapters."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, TypeVar

from scrubber.documentation import PatientRecord

__all__ = [
    "Frequency", "PatientIdentity", "Locations", "ServiceLine", "Claim", "SyntaxIssue", "Unreadable",
    "DeviceData", "line_problem", "whole_units", "ascii_digits", "remembered",
]


class Frequency(enum.Enum):
    ORIGINAL = "original"
    REPLACEMENT = "replacement"
    VOID = "void"


@dataclass(frozen=True, init=False)
class PatientIdentity:
    mrn: str | None = None
    member_id: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    birth_date: date | None = None

    def __init__(self, mrn: str | None = None, member_id: str | None = None,
                 last_name: str | None = None, first_name: str | None = None,
                 birth_date: date | None = None) -> None:
        # written out (init=False): compiled, a generated __init__ stays interpreted and costs
        # ten to twenty times as much (README, "Compiled build"); tests/test_inits.py holds each
        # written-out __init__ to its class's fields
        object.__setattr__(self, "mrn", mrn)
        object.__setattr__(self, "member_id", member_id)
        object.__setattr__(self, "last_name", last_name)
        object.__setattr__(self, "first_name", first_name)
        object.__setattr__(self, "birth_date", birth_date)

    @property
    def display_id(self) -> str | None:
        return self.mrn or self.member_id

    @property
    def identified(self) -> bool:
        return bool(self.mrn or self.member_id)


@dataclass(frozen=True)
class SyntaxIssue:
    """A reason a message or claim could not be read, in the standard's own coordinates; `code` is
    the standard's error condition when the adapter knows it (HL7 table 0357 for ERR-3)."""

    message: str
    location: str
    code: str = ""


class Locations(Protocol):
    """Where a line's fields were in its message, by field ("line", "code", "units", "date"): a
    dict, or an object that writes each when asked (X12's lines: most are never asked, and the
    texts were a quarter of a claim's memory)."""

    def get(self, key: str, /) -> str | None: ...


def _no_locations() -> Locations:
    none: dict[str, str] = {}
    return none


@dataclass(frozen=True, init=False)
class ServiceLine:
    """One SV1 or FT1. Raw text is kept where a value could not be interpreted."""

    number: int
    code: str | None
    modifiers: tuple[str, ...] = ()
    units: int | None = None
    units_text: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    date_text: str | None = None
    charge: str | None = None
    diagnosis_pointers: tuple[str, ...] = ()
    billing_provider: str | None = None
    credit: bool = False
    locations: Locations = field(default_factory=_no_locations, compare=False, hash=False)

    def __init__(self, number: int, code: str | None, modifiers: tuple[str, ...] = (),
                 units: int | None = None, units_text: str | None = None,
                 date_from: date | None = None, date_to: date | None = None,
                 date_text: str | None = None, charge: str | None = None,
                 diagnosis_pointers: tuple[str, ...] = (), billing_provider: str | None = None,
                 credit: bool = False, locations: Locations | None = None) -> None:
        # written out: see PatientIdentity
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "modifiers", modifiers)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "units_text", units_text)
        object.__setattr__(self, "date_from", date_from)
        object.__setattr__(self, "date_to", date_to)
        object.__setattr__(self, "date_text", date_text)
        object.__setattr__(self, "charge", charge)
        object.__setattr__(self, "diagnosis_pointers", diagnosis_pointers)
        object.__setattr__(self, "billing_provider", billing_provider)
        object.__setattr__(self, "credit", credit)
        object.__setattr__(self, "locations", {} if locations is None else locations)

    @property
    def service_date(self) -> date | None:
        """The date of the line, or for a range its end date (RULES.md section 5)."""
        return self.date_to or self.date_from

    @property
    def first_date(self) -> date | None:
        return self.date_from or self.date_to

    def where(self, key: str) -> str | None:
        return self.locations.get(key)

    def content(self) -> tuple:
        return (self.code, self.modifiers, self.units, self.date_from, self.date_to,
                self.billing_provider, self.credit)


@dataclass(frozen=True, init=False)
class Claim:
    claim_id: str | None
    format: str
    source: str
    patient: PatientIdentity
    lines: tuple[ServiceLine, ...]
    frequency: Frequency = Frequency.ORIGINAL
    billing_provider: str | None = None
    payer_id: str | None = None
    attachments: tuple[str, ...] = ()
    documentation: PatientRecord | None = None
    issues: tuple[SyntaxIssue, ...] = ()
    locations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __init__(self, claim_id: str | None, format: str, source: str, patient: PatientIdentity,
                 lines: tuple[ServiceLine, ...], frequency: Frequency = Frequency.ORIGINAL,
                 billing_provider: str | None = None, payer_id: str | None = None,
                 attachments: tuple[str, ...] = (), documentation: PatientRecord | None = None,
                 issues: tuple[SyntaxIssue, ...] = (), locations: dict[str, str] | None = None) -> None:
        # written out: see PatientIdentity
        object.__setattr__(self, "claim_id", claim_id)
        object.__setattr__(self, "format", format)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "patient", patient)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "frequency", frequency)
        object.__setattr__(self, "billing_provider", billing_provider)
        object.__setattr__(self, "payer_id", payer_id)
        object.__setattr__(self, "attachments", attachments)
        object.__setattr__(self, "documentation", documentation)
        object.__setattr__(self, "issues", issues)
        object.__setattr__(self, "locations", {} if locations is None else locations)

    @property
    def malformed(self) -> bool:
        return bool(self.issues)

    @property
    def charge_lines(self) -> tuple[ServiceLine, ...]:
        return tuple(line for line in self.lines if not line.credit)

    def content(self) -> tuple:
        """What makes a re-send identical (RULES.md section 5, History)."""
        identity = (self.patient.mrn, self.patient.member_id)
        return (self.claim_id, self.billing_provider, identity,
                tuple(line.content() for line in self.lines))


@dataclass(frozen=True)
class Unreadable:
    """A message or transaction set from which no claim could be read."""

    control_id: str | None
    format: str
    source: str
    issues: tuple[SyntaxIssue, ...]


def ascii_digits(text: str) -> bool:
    """Whether text is digits 0-9 only, as X12 and HL7 numbers, dates and ids are (str.isdigit
    alone takes any script's digits, and superscripts)."""
    return text.isascii() and text.isdigit()


_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


def remembered(memo: dict[_Key, _Value], key: _Key, value: _Value, limit: int) -> _Value:
    """`value`, kept in `memo` under `key`; a memo that holds `limit` entries is emptied first.
    For the memos of what batches repeat (days, periods, amounts, dates): a plain dict, where
    functools.lru_cache builds a key tuple and keeps a recency list on every call (about 600
    instructions a hit, compiled; a dict lookup is a fifth of that)."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


def whole_units(text: str) -> int | None:
    """Units as sent (SV104, FT1-10): a whole number, else None (the raw text is kept)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def line_problem(line: ServiceLine) -> tuple[str, str] | None:
    """Why a line cannot be checked, as (message, location key), or None when it can."""
    if not line.code:
        return ("the line has no procedure code", "code")
    if line.units is None:
        if line.units_text:
            return (f"units {line.units_text!r} are not a positive whole number", "units")
        return ("the line has no units", "units")
    if line.units <= 0:
        return (f"units {line.units} are not a positive whole number", "units")
    if line.service_date is None:
        if line.date_text:
            return (f"service date {line.date_text!r} is not a valid date or range", "date")
        return ("the line has no service date", "date")
    if line.date_from and line.date_to and line.date_from > line.date_to:
        return (f"the date range starts {line.date_from} after it ends {line.date_to}", "date")
    return None


@dataclass(frozen=True)
class DeviceData:
    """Device readings that arrived as a message of their own (ORU^R01); no claim."""

    control_id: str | None
    format: str
    source: str
    patient: PatientIdentity
    record: PatientRecord
