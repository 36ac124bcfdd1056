"""Code-combination rules (RULES.md section 3a): the claim and the billed history only."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from scrubber.catalogue import DEVICE_CODES, MANAGEMENT_CODES, Profile
from scrubber.findings import Hit
from scrubber.model import Claim
from scrubber.patient_month import BilledLine, PatientMonth
from scrubber.periods import device_window
from scrubber.rules._common import applies_to, lines_in, lines_of, month_label, same_month, same_period

ONCE_PER_PERIOD: Final = ("99454", "99445", "99457", "99470", "99091")
_MANAGEMENT_OR_DEVICE: Final = MANAGEMENT_CODES | DEVICE_CODES
_INTERPRETATION: Final = frozenset({"99091"})
_INTERPRETATION_OR_MANAGEMENT: Final = _INTERPRETATION | MANAGEMENT_CODES


def _listing(lines: list[BilledLine]) -> str:
    return "; ".join(line.describe() for line in lines)


@applies_to("99458")
def addon_without_base(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    billed = month.all_billed(claim)
    for line in lines_of(month, claim, "99458"):
        if not any(o.code == "99457" and same_month(o, line) for o in billed):
            yield Hit(
                f"99458 is billed for {month_label(line.service_date)} but 99457 is not billed "
                "for that month on this claim or an earlier one (99470 is not a base code)",
                "Bill 99457 for the month's first 20 minutes with the 99458 units, or remove 99458",
                line=line.number, code=line.code)


@applies_to()
def mutually_exclusive(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_of(month, claim):
        excluded = month.info(line.code).excludes
        clashes = [o for o in month.earlier(claim, line)
                   if o.code in excluded and same_period(month, o, line)]
        if clashes:
            yield Hit(
                f"{line.code} cannot be billed in the same period ({month.window(line)}) as "
                f"{_listing(clashes)}",
                f"Bill only one of {line.code} and {clashes[0].code} for the period: keep the one "
                "the documentation supports and remove the other",
                line=line.number, code=line.code, evidence=tuple(o.describe() for o in clashes))


def _program_window(month: PatientMonth, line: BilledLine):
    if month.info(line.code).group == "setup":
        return device_window(line.date_from, line.date_to, month.episodes)
    return month.window(line)


@applies_to()
def rpm_with_rtm(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_of(month, claim):
        program = month.info(line.code).program
        window = _program_window(month, line)
        clashes = [o for o in month.earlier(claim, line)
                   if (other := month.code(o.code)) is not None and other.program != program
                   and (same_month(o, line) or _program_window(month, o).overlaps(window))]
        if clashes:
            yield Hit(
                f"{program} code {line.code} falls in the same month or 30-day period as "
                f"{_listing(clashes)}: a patient gets RPM or RTM in a period, not both",
                "Bill either the RPM or the RTM service for this period, not both",
                line=line.number, code=line.code, evidence=tuple(o.describe() for o in clashes))


@applies_to(*ONCE_PER_PERIOD)
def once_per_period(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_in(month, claim, ONCE_PER_PERIOD):
        repeats = [o for o in month.earlier(claim, line)
                   if o.code == line.code and same_period(month, o, line)]
        if repeats:
            yield Hit(
                f"{line.code} is billed once per period and was already billed for "
                f"{month.window(line)}: {_listing(repeats)}",
                f"Remove this {line.code} line; the period is already billed",
                line=line.number, code=line.code, evidence=tuple(o.describe() for o in repeats))


@applies_to("99453")
def setup_once_per_episode(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_of(month, claim, "99453"):
        window = month.window(line)
        repeats = [o for o in month.earlier(claim, line)
                   if o.code == "99453" and month.window(o) == window]
        if repeats:
            yield Hit(
                f"99453 is billed once per episode of care and the episode ({window}) already "
                f"has {_listing(repeats)}",
                "Remove this 99453 line; set-up is billed once per episode whatever the device count",
                line=line.number, code=line.code, evidence=tuple(o.describe() for o in repeats))


def _addon_totals(month: PatientMonth, claim: Claim) -> Iterator[tuple[BilledLine, int]]:
    """Each 99458 line of the claim with the month's 99458 units up to and including it."""
    for line in lines_of(month, claim, "99458"):
        before = [o for o in month.earlier(claim, line) if o.code == "99458" and same_month(o, line)]
        yield line, sum(o.units for o in before) + line.units


@applies_to()
def units_exceed_limit(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_of(month, claim):
        info = month.info(line.code)
        limit = profile.unit_limit(info)
        if not info.is_rpm or limit is None or line.code == "99458" or line.units <= limit:
            continue
        yield Hit(f"{line.code} is billed with {line.units} units; the limit is {limit}",
                  f"Bill {line.code} with {limit} unit{'s' if limit > 1 else ''}",
                  line=line.number, code=line.code)
    limit = profile.unit_limit(month.info("99458"))
    for line, total in _addon_totals(month, claim):
        if limit is not None and total > limit:
            yield Hit(f"99458 reaches {total} units in {month_label(line.service_date)}; "
                      f"the limit is {limit} per month",
                      f"Reduce 99458 to at most {limit} units for the month",
                      line=line.number, code=line.code)


@applies_to("99458")
def addon_units_high(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    above = profile.addon_units_high_above
    for line, total in _addon_totals(month, claim):
        if total > above:
            yield Hit(f"99458 reaches {total} units in {month_label(line.service_date)}; more "
                      f"than {above} units is an audit signature that payer edits commonly reject",
                      f"Check the time log supports every unit, or bill at most {above} units "
                      "and consider a visit for the extra management",
                      line=line.number, code=line.code)


@applies_to()
def code_not_effective(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_of(month, claim):
        info = month.info(line.code)
        if info.code in profile.not_adopted:
            yield Hit(f"{line.code} is not adopted by this payer (profile {profile.name})",
                      _older_code_hint(line.code), line=line.number, code=line.code)
        elif line.date_from < info.effective:
            yield Hit(f"{line.code} is billed for {line.date_from.isoformat()}, before the code "
                      f"took effect on {info.effective.isoformat()}",
                      _older_code_hint(line.code), line=line.number, code=line.code)


_OLDER: Final = {"99445": "99454 (16+ days) or nothing", "99470": "99457 (20+ minutes) or nothing"}


def _older_code_hint(code: str) -> str:
    if code in _OLDER:
        return f"Bill {_OLDER[code]} for this period, as the documentation supports"
    return f"Remove {code}; bill the code in effect for the service date"


@applies_to("99091", *MANAGEMENT_CODES)
def interpretation_with_management(month: PatientMonth, claim: Claim,
                                   profile: Profile) -> Iterator[Hit]:
    for line in lines_in(month, claim, _INTERPRETATION_OR_MANAGEMENT):
        other = MANAGEMENT_CODES if line.code == "99091" else _INTERPRETATION
        clashes = [o for o in month.earlier(claim, line) if o.code in other and same_month(o, line)]
        if clashes:
            yield Hit(f"{line.code} falls in {month_label(line.service_date)} together with "
                      f"{_listing(clashes)}: CPT does not pair 99091 with RPM management",
                      "Bill 99091 or RPM management (99457/99458/99470) for the month, not both",
                      line=line.number, code=line.code, evidence=tuple(o.describe() for o in clashes))


@applies_to(*MANAGEMENT_CODES, *DEVICE_CODES)
def split_billing_practitioners(month: PatientMonth, claim: Claim,
                                profile: Profile) -> Iterator[Hit]:
    for line in lines_in(month, claim, _MANAGEMENT_OR_DEVICE):
        group = MANAGEMENT_CODES if line.code in MANAGEMENT_CODES else DEVICE_CODES
        if not line.billing_provider:
            continue
        others = [o for o in month.earlier(claim, line)
                  if o.code in group and o.billing_provider and same_period(month, o, line)
                  and o.billing_provider != line.billing_provider]
        if others:
            yield Hit(f"{line.code} is billed by provider {line.billing_provider} while "
                      f"{_listing(others)} was billed by provider {others[0].billing_provider} "
                      f"for the same period ({month.window(line)})",
                      "One practitioner bills the period: resubmit under a single billing provider",
                      line=line.number, code=line.code, evidence=tuple(o.describe() for o in others))


@applies_to(*MANAGEMENT_CODES)
def service_date_spans_months(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_in(month, claim, MANAGEMENT_CODES):
        if (line.date_from.year, line.date_from.month) != (line.date_to.year, line.date_to.month):
            yield Hit(f"{line.code} is dated {line.date_from.isoformat()} to "
                      f"{line.date_to.isoformat()}, across a month boundary; management time is "
                      "counted per calendar month",
                      f"Date the line within one calendar month (for example "
                      f"{line.date_to.replace(day=1).isoformat()} to {line.date_to.isoformat()})",
                      line=line.number, code=line.code)
