"""Calendar months, 30-day device periods and episodes (RULES.md sections 2 and 5)."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from scrubber.documentation import Episode
from scrubber.model import remembered

__all__ = ["Window", "iso_day", "month_of", "month_window", "device_window", "episode_window",
           "anchoring_episode", "PERIOD_DAYS"]

PERIOD_DAYS: Final = 30


# Memos of what claims ask for again and again (a few hundred days and periods in a batch; see
# scrubber.model.remembered)
_MEMO_LIMIT: Final = 16384
_ISO_DAYS: Final[dict[date, str]] = {}
_MONTHS: Final[dict[date, Window]] = {}
_DEVICE_PERIODS: Final[dict[tuple, Window]] = {}
_WINDOW_TEXTS: Final[dict[tuple[date, date], str]] = {}


def iso_day(day: date) -> str:
    """`day.isoformat()`, remembered: the C method formats through sprintf (about 3,000
    instructions a call), and findings name the same few hundred days claim after claim."""
    found = _ISO_DAYS.get(day)
    return found if found is not None else remembered(_ISO_DAYS, day, day.isoformat(), _MEMO_LIMIT)


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
        # remembered: findings name the same few hundred periods claim after claim
        key = (self.start, self.end)
        found = _WINDOW_TEXTS.get(key)
        if found is not None:
            return found
        if self.start == date.min and self.end == date.max:
            text = "the whole documented history"
        elif self.end == date.max:
            text = f"from {iso_day(self.start)}"
        else:
            text = f"{iso_day(self.start)} to {iso_day(self.end)}"
        return remembered(_WINDOW_TEXTS, key, text, _MEMO_LIMIT)


def month_of(day: date) -> tuple[int, int]:
    return (day.year, day.month)


def month_window(day: date) -> Window:
    found = _MONTHS.get(day)
    if found is None:
        last = calendar.monthrange(day.year, day.month)[1]
        found = remembered(_MONTHS, day, Window(day.replace(day=1), day.replace(day=last)),
                           _MEMO_LIMIT)
    return found


def anchoring_episode(day: date, episodes) -> Episode | None:
    """The RPM episode containing `day`; the latest-starting one when several do (the first of
    those listed when several start that day)."""
    found: Episode | None = None
    for episode in episodes:
        if episode.program == "RPM" and episode.contains(day) and (
                found is None or episode.start > found.start):
            found = episode
    return found


def device_window(first: date, last: date, episodes) -> Window:
    """The 30-day period of a device line dated `first`..`last` (its service date is `last`)."""
    key = (first, last, episodes)
    found = _DEVICE_PERIODS.get(key)
    if found is None:
        found = remembered(_DEVICE_PERIODS, key, _device_window(first, last, episodes), _MEMO_LIMIT)
    return found


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
        return _WHOLE_HISTORY
    return Window(episode.start, episode.end or date.max)


_WHOLE_HISTORY: Final = Window(date.min, date.max)
