"""Calendar months, 30-day device periods and episodes (RULES.md sections 2 and 5)."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, TypeVar

from scrubber.documentation import Episode

__all__ = ["Window", "iso_day", "month_of", "month_window", "device_window", "episode_window",
           "anchoring_episode", "PERIOD_DAYS"]

PERIOD_DAYS: Final = 30


# Memos of what claims ask for again and again (a few hundred days and periods in a batch), as
# plain dicts: functools.lru_cache builds a key tuple and keeps a recency list on every call, about
# 600 instructions a hit compiled, a dict lookup a fifth of that. Cleared when full.
_MEMO_LIMIT: Final = 16384
_ISO_DAYS: Final[dict[date, str]] = {}
_MONTHS: Final[dict[date, Window]] = {}
_DEVICE_PERIODS: Final[dict[tuple, Window]] = {}
_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


def _kept(memo: dict[_Key, _Value], key: _Key, value: _Value) -> _Value:
    """`value`, remembered under `key` in one of the memos above (emptied first when full)."""
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value


def iso_day(day: date) -> str:
    """`day.isoformat()`, remembered: the C method formats through sprintf (about 3,000
    instructions a call), and findings name the same few hundred days claim after claim."""
    found = _ISO_DAYS.get(day)
    return found if found is not None else _kept(_ISO_DAYS, day, day.isoformat())


@dataclass(frozen=True, order=True, init=False)
class Window:
    """An inclusive range of days."""

    start: date
    end: date

    def __init__(self, start: date, end: date) -> None:
        # written out: see scrubber.model.PatientIdentity
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Window) -> bool:
        return self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        if self.start == date.min and self.end == date.max:
            return "the whole documented history"
        if self.end == date.max:
            return f"from {iso_day(self.start)}"
        return f"{iso_day(self.start)} to {iso_day(self.end)}"


def month_of(day: date) -> tuple[int, int]:
    return (day.year, day.month)


def month_window(day: date) -> Window:
    found = _MONTHS.get(day)
    if found is None:
        last = calendar.monthrange(day.year, day.month)[1]
        found = _kept(_MONTHS, day, Window(day.replace(day=1), day.replace(day=last)))
    return found


def anchoring_episode(day: date, episodes) -> Episode | None:
    """The RPM episode containing `day`; the latest-starting one when several do."""
    containing = [e for e in episodes if e.program == "RPM" and e.contains(day)]
    return max(containing, key=lambda e: e.start, default=None)


def device_window(first: date, last: date, episodes) -> Window:
    """The 30-day period of a device line dated `first`..`last` (its service date is `last`)."""
    key = (first, last, episodes)
    found = _DEVICE_PERIODS.get(key)
    return found if found is not None else _kept(_DEVICE_PERIODS, key, _device_window(first, last, episodes))


def _device_window(first: date, last: date, episodes) -> Window:
    episode = anchoring_episode(last, episodes)
    if episode is not None:
        index = (last - episode.start).days // PERIOD_DAYS
        start = episode.start + timedelta(days=PERIOD_DAYS * index)
        return Window(start, start + timedelta(days=PERIOD_DAYS - 1))
    if first < last and (last - first).days < PERIOD_DAYS:
        return Window(first, last)
    return Window(last - timedelta(days=PERIOD_DAYS - 1), last)


def episode_window(day: date, episodes) -> Window:
    """The episode of care a set-up line belongs to; without one, the whole history."""
    episode = anchoring_episode(day, episodes)
    if episode is None:
        return Window(date.min, date.max)
    return Window(episode.start, episode.end or date.max)
