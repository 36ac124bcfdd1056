"""Periods (RULES.md sections 2 and 5): the episode a day belongs to, and the windows built on it."""
from __future__ import annotations

from datetime import date

from scrubber.documentation import Episode
from scrubber.periods import Window, anchoring_episode, device_window, episode_window


def test_the_anchoring_episode_is_the_latest_starting_rpm_episode_containing_the_day():
    early = Episode(date(2026, 1, 1))
    late = Episode(date(2026, 3, 1), date(2026, 6, 30))
    same_day = Episode(date(2026, 3, 1), date(2026, 12, 31))
    rtm = Episode(date(2026, 3, 15), program="RTM")
    assert anchoring_episode(date(2026, 3, 20), (early, late, same_day, rtm)) is late  # first of a tie
    assert anchoring_episode(date(2026, 3, 20), (early, same_day, late)) is same_day
    assert anchoring_episode(date(2026, 2, 1), (late, early)) is early  # before `late` starts
    assert anchoring_episode(date(2026, 7, 1), (late, rtm)) is None  # after it ended; RTM never
    assert anchoring_episode(date(2026, 3, 20), ()) is None


def test_windows_follow_the_anchoring_episode():
    episode = Episode(date(2026, 1, 10), date(2026, 4, 30))
    assert episode_window(date(2026, 2, 1), (episode,)) == Window(date(2026, 1, 10), date(2026, 4, 30))
    assert episode_window(date(2026, 2, 1), ()) == Window(date.min, date.max)
    assert str(episode_window(date(2026, 2, 1), ())) == "the whole documented history"
    # the third 30-day period of the episode holds 2026-03-15 (periods start 01-10, 02-09, 03-11)
    assert device_window(date(2026, 3, 15), date(2026, 3, 15), (episode,)) == Window(
        date(2026, 3, 11), date(2026, 4, 9))
    # without an episode: the line's own span when under 30 days, else the 30 days ending on it
    assert device_window(date(2026, 3, 1), date(2026, 3, 15), ()) == Window(date(2026, 3, 1),
                                                                           date(2026, 3, 15))
    assert device_window(date(2026, 3, 15), date(2026, 3, 15), ()) == Window(date(2026, 2, 14),
                                                                           date(2026, 3, 15))
