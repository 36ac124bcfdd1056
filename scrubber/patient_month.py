"""Patient-month reconstruction (RULES.md section 2): what is known about one patient when a
claim is checked, and the questions the rules ask of it."""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from scrubber.catalogue import Catalogue, CodeInfo, Profile
from scrubber.documentation import PatientRecord, TimeEntry
from scrubber.model import Claim, line_problem
from scrubber.periods import Window, device_window, episode_window, iso_day, month_window

__all__ = ["BilledLine", "PatientMonth", "full_minutes", "supported_management",
           "supported_device"]


@dataclass(frozen=True, init=False)
class BilledLine:
    """A checked line: from the claim being scrubbed or from an accepted earlier claim."""

    code: str
    units: int
    date_from: date
    date_to: date
    billing_provider: str | None
    claim_id: str | None
    number: int
    current: bool

    def __init__(self, code: str, units: int, date_from: date, date_to: date,
                 billing_provider: str | None, claim_id: str | None, number: int,
                 current: bool) -> None:
        # written out: see model.PatientIdentity
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "date_from", date_from)
        object.__setattr__(self, "date_to", date_to)
        object.__setattr__(self, "billing_provider", billing_provider)
        object.__setattr__(self, "claim_id", claim_id)
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "current", current)

    @property
    def service_date(self) -> date:
        return self.date_to

    def describe(self) -> str:
        where = "this claim" if self.current else f"claim {self.claim_id}"
        return f"{self.code} on {iso_day(self.service_date)} ({where}, line {self.number})"


def billed_lines(claim: Claim, current: bool) -> tuple[BilledLine, ...]:
    """The checkable charge lines of a claim."""
    # line_problem is None vouches for the code, the units and the dates
    return tuple(
        BilledLine(cast(str, line.code), cast(int, line.units), cast(date, line.first_date),
                   cast(date, line.service_date), line.billing_provider or claim.billing_provider,
                   claim.claim_id, line.number, current)
        for line in claim.charge_lines if line_problem(line) is None
    )


def full_minutes(minutes: float) -> int:
    """Thresholds count full minutes only (RULES.md section 1)."""
    return math.floor(minutes + 1e-9)


class PatientMonth:
    """One patient's documentation and billed history, queried by month or 30-day period."""

    def __init__(self, record: PatientRecord | None, history: tuple[BilledLine, ...],
                 catalogue: Catalogue, attachments: frozenset[str] = frozenset()):
        self.record = record
        self.attachments = attachments
        self.history = history
        self.catalogue = catalogue
        self.entries, self.programs_of = _dedupe(record.time_entries if record else ())
        self.episodes = tuple(e for e in (record.episodes if record else ()) if e.program == "RPM")
        # the lines of the claim asked about last: a month is built for one claim, whose rules
        # ask for its lines a dozen times (a dict by id(claim) cost an int and a hash per ask)
        self._claim: Claim | None = None
        self._claim_lines: tuple[BilledLine, ...] = ()
        self._catalogued: tuple[BilledLine, ...] | None = None  # those of them the catalogue has
        self._documented: dict[BilledLine, bool] = {}
        # `earlier` of each of its lines, by line number (rules ask it of each line, several times)
        self._earlier: dict[int, tuple[BilledLine, tuple[BilledLine, ...]]] = {}

    # -- billed lines -----------------------------------------------------------------------
    def code(self, code: str) -> CodeInfo | None:
        return self.catalogue.code(code)

    def info(self, code: str) -> CodeInfo:
        """The catalogue entry of a code the caller knows is catalogued (a line `lines_of` gave)."""
        info = self.catalogue.code(code)
        if info is None:
            raise ValueError(f"{code} is not in the catalogue")
        return info

    def window(self, line: BilledLine) -> Window:
        info = self.code(line.code)
        first, last = line.date_from, line.date_to
        if info is None or info.period == "month":
            return month_window(last)
        if info.period == "episode":
            return episode_window(last, self.episodes)
        return device_window(first, last, self.episodes)

    def lines_for(self, claim: Claim) -> tuple[BilledLine, ...]:
        if claim is not self._claim:
            self._claim_lines = billed_lines(claim, current=True)
            self._catalogued = None
            self._earlier = {}
            self._claim = claim
        return self._claim_lines

    def lines_with(self, claim: Claim, codes: Collection[str]) -> list[BilledLine]:
        """The claim's checkable lines with one of `codes` (all catalogue codes when empty). Not
        kept: rules ask for different codes (a cache of the answers missed 59 % of the time and
        cost more than filtering a claim's few lines again)."""
        lines = self.lines_for(claim)
        if codes:
            return [line for line in lines if line.code in codes]
        if self._catalogued is None:  # four rules ask for these of every claim
            self._catalogued = tuple(line for line in lines if self.code(line.code) is not None)
        return list(self._catalogued)

    def earlier(self, claim: Claim, line: BilledLine) -> tuple[BilledLine, ...]:
        """History plus the lines of this claim before `line`."""
        lines = self.lines_for(claim)  # first: a claim other than the last one empties the memo
        known = self._earlier.get(line.number)
        if known is not None and known[0] is line:
            return known[1]
        found = self.history + tuple(other for other in lines if other.number < line.number)
        self._earlier[line.number] = (line, found)
        return found

    def all_billed(self, claim: Claim) -> tuple[BilledLine, ...]:
        return self.history + self.lines_for(claim)

    # -- documentation ----------------------------------------------------------------------
    @property
    def documented(self) -> bool:
        return self.record is not None

    def entries_in(self, window: Window, program: str | None = "RPM") -> list[TimeEntry]:
        return [e for e in self.entries if window.contains(e.date)
                and (program is None or program in self.programs_of[e.id])]

    def minutes(self, window: Window, until: date | None = None) -> int:
        entries = self.entries_in(window)
        return full_minutes(sum(e.minutes for e in entries if until is None or e.date <= until))

    def interactions(self, window: Window, profile: Profile) -> list[TimeEntry]:
        return [e for e in self.entries_in(window)
                if e.interaction and e.interaction.mode in profile.qualifying_modes]

    def data_days(self, window: Window, until: date | None = None) -> list[date]:
        readings = self.record.readings if self.record else ()
        return sorted({r.date for r in readings if r.transmission == "automatic"
                       and window.contains(r.date) and (until is None or r.date <= until)})

    def readings_in(self, window: Window) -> list:
        readings = self.record.readings if self.record else ()
        return [r for r in readings if window.contains(r.date)]

    def has_documentation_for(self, line: BilledLine) -> bool:
        """RULES.md section 5: what counts as documentation for a line."""
        if self.record is None:
            return False
        known = self._documented.get(line)
        if known is None:
            known = self._documented[line] = self._has_documentation_for(line)
        return known

    def _has_documentation_for(self, line: BilledLine) -> bool:
        info = self.info(line.code)
        if info.group == "management":
            return bool(self.entries_in(month_window(line.service_date), program=None))
        if info.group in ("device", "setup"):
            return bool(self.readings_in(self.window(line)))
        return bool(self.entries_in(self.window(line), program=None))

    def consent_dates(self) -> list[date]:
        return sorted(c.date for c in (self.record.consents if self.record else ()))

    def first_documented_day(self) -> date | None:
        days = [e.date for e in self.entries] + [r.date for r in self.readings_in(
            Window(date.min, date.max))]
        return min(days, default=None)

    def day_reaching(self, window: Window, needed: int, count) -> date | None:
        """The first day in `window` on which `count(window, until=day)` reaches `needed`."""
        candidates = sorted({e.date for e in self.entries} | set(self.data_days(window)))
        for day in candidates:
            if window.contains(day) and count(window, until=day) >= needed:
                return day
        return None


def _dedupe(entries) -> tuple[tuple[TimeEntry, ...], dict[str, frozenset[str]]]:
    """Time entries counted once per id, with every program each id was given."""
    first: dict[str, TimeEntry] = {}
    programs: dict[str, set[str]] = {}
    for entry in entries:
        first.setdefault(entry.id, entry)
        programs.setdefault(entry.id, set()).add(entry.program)
    return tuple(first.values()), {k: frozenset(v) for k, v in programs.items()}


def supported_management(minutes: int, interactive: bool, day: date, profile: Profile,
                         catalogue: Catalogue) -> list[tuple[str, int]]:
    """The management codes (code, units) the month's documentation pays for."""
    if not interactive or minutes < 10:
        return []
    if minutes >= 20:
        limit = profile.unit_limit(catalogue.codes["99458"]) or 0
        units = min((minutes - 20) // 20, limit)
        return [("99457", 1)] + ([("99458", units)] if units else [])
    if _available("99470", day, profile, catalogue):
        return [("99470", 1)]
    return []


def supported_device(days: int, day: date, profile: Profile, catalogue: Catalogue) -> str | None:
    """The device-supply code a 30-day period's data days pay for."""
    if days >= 16:
        return "99454"
    if days >= 2 and _available("99445", day, profile, catalogue):
        return "99445"
    return None


def _available(code: str, day: date, profile: Profile, catalogue: Catalogue) -> bool:
    return code not in profile.not_adopted and day >= catalogue.codes[code].effective


def clock_interval(entry: TimeEntry) -> tuple[datetime, datetime] | None:
    if entry.start is None:
        return None
    begin = datetime.combine(entry.date, entry.start)
    return begin, begin + timedelta(minutes=entry.minutes)
