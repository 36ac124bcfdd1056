"""Helpers shared by the rule families."""
from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date

from scrubber.model import Claim
from scrubber.patient_month import BilledLine, PatientMonth
from scrubber.periods import iso_day, month_window

__all__ = ["applies_to", "applicability", "lines_of", "lines_in", "same_month", "same_period",
           "month_label", "days_label", "first_management_lines", "documented", "documented_in",
           "units_in_month"]


# rule function -> (codes or None for any catalogue code, needs documentation); kept beside the
# functions rather than on them, as compiled functions (README, "Compiled build") take no attributes
_APPLIES: dict[Callable, tuple[frozenset[str] | None, bool]] = {}


def applies_to(*codes: str, documented: bool = False):
    """Declare when a rule can find anything at all: only when the claim has a checkable line with
    one of `codes` (any catalogue code when none are given), and with `documented` only when the
    patient has documentation. The engine does not call the rule otherwise, which spares most of
    the 27 calls per claim; the declaration mirrors the rule's own first test (its `lines_of` or
    `documented` call), and tests/test_rule_applicability.py checks each one against the rule."""
    def declare(rule):
        _APPLIES[rule] = (frozenset(codes) or None, documented)
        return rule
    return declare


def applicability(rule: Callable) -> tuple[frozenset[str] | None, bool] | None:
    """What `applies_to` declared for `rule`, or None when it declared nothing (it always runs)."""
    return _APPLIES.get(rule)


def lines_of(month: PatientMonth, claim: Claim, *codes: str) -> list[BilledLine]:
    """The claim's checkable lines with one of `codes` (all catalogue codes when none given)."""
    return month.lines_with(claim, codes)


def lines_in(month: PatientMonth, claim: Claim, codes: Collection[str]) -> list[BilledLine]:
    """lines_of for a set of codes kept in a constant: `lines_of(..., *CONSTANT)` would unpack it
    into a new tuple and, compiled, call through the generic path on every claim."""
    return month.lines_with(claim, codes)


def same_month(a: BilledLine, b: BilledLine) -> bool:
    return (a.service_date.year, a.service_date.month) == (b.service_date.year, b.service_date.month)


def same_period(month: PatientMonth, a: BilledLine, b: BilledLine) -> bool:
    return month.window(a).overlaps(month.window(b))


def month_label(day: date) -> str:
    return iso_day(day)[:7]  # YYYY-MM (isoformat pads the year to four digits)


def days_label(days: list[date]) -> str:
    if not days:
        return "none"
    shown = ", ".join(d.isoformat() for d in days[:6])
    return shown + (f" and {len(days) - 6} more" if len(days) > 6 else "")


def documented(month: PatientMonth, claim: Claim, *codes: str) -> list[BilledLine]:
    """The claim's lines of `codes` that have documentation; the others are skipped."""
    return documented_in(month, claim, codes)


def documented_in(month: PatientMonth, claim: Claim, codes: Collection[str]) -> list[BilledLine]:
    """documented for a set of codes kept in a constant (see lines_in)."""
    return [line for line in month.lines_with(claim, codes) if month.has_documentation_for(line)]


def first_management_lines(month: PatientMonth, claim: Claim) -> list[BilledLine]:
    """The claim's first documented management line of each month it bills."""
    firsts: dict[tuple[int, int], BilledLine] = {}
    for line in documented(month, claim, "99457", "99458", "99470"):
        firsts.setdefault((line.service_date.year, line.service_date.month), line)
    return list(firsts.values())


def units_in_month(lines, day: date, code: str) -> int:
    window = month_window(day)
    return sum(line.units for line in lines if line.code == code and window.contains(line.service_date))
