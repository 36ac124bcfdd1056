"""Documentation rules (RULES.md section 3b): the reconstructed patient-month."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Final, cast

from scrubber.catalogue import MANAGEMENT_CODES, RPM_CODES, Profile
from scrubber.findings import Hit, Severity
from scrubber.model import Claim
from scrubber.patient_month import (
    BilledLine,
    PatientMonth,
    clock_interval,
    full_minutes,
    supported_device,
    supported_management,
)
from scrubber.periods import anchoring_episode, month_window
from scrubber.rules._common import (
    applies_to,
    days_label,
    documented,
    documented_in,
    first_management_lines,
    lines_in,
    month_label,
    units_in_month,
)

_FIRST_UNIT: Final = {"99457": 20, "99470": 10}


def _minutes_evidence(month: PatientMonth, day: date) -> str:
    entries = sorted(month.entries_in(month_window(day)), key=lambda e: (e.date, e.id))
    if not entries:
        return "no RPM time entries"
    parts = ", ".join(f"{full_minutes(e.minutes)} on {e.date.isoformat()}" for e in entries[:8])
    return parts + (f" and {len(entries) - 8} more" if len(entries) > 8 else "")


def _supported_text(month: PatientMonth, line: BilledLine, profile: Profile) -> str:
    window = month_window(line.service_date)
    minutes = month.minutes(window)
    codes = supported_management(minutes, bool(month.interactions(window, profile)),
                                 line.service_date, profile, month.catalogue)
    if not codes:
        return "no management code"
    return " + ".join(code if units == 1 else f"{units} x {code}" for code, units in codes)


@applies_to(*RPM_CODES)
def documentation_missing(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in lines_in(month, claim, RPM_CODES):
        if not month.has_documentation_for(line):
            what = ("time entries dated in " + month_label(line.service_date)
                    if line.code in MANAGEMENT_CODES
                    else ("device readings" if line.code != "99091" else "time entries")
                    + f" in {month.window(line)}")
            yield Hit(f"{line.code} is billed but there are no {what} for this patient",
                      "Send the documentation for the period before billing, or hold the line",
                      line=line.number, code=line.code)
    if lines_in(month, claim, RPM_CODES):
        for control in claim.attachments:
            if control not in month.attachments:
                yield Hit(f"the claim refers to attachment {control} (PWK) but it never arrived",
                          f"Send the attachment to PUT /v1/attachments/{control} or correct the PWK",
                          location=claim.locations.get(f"PWK:{control}"))


@applies_to("99457", "99470", documented=True)
def time_below_threshold(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in documented(month, claim, "99457", "99470"):
        minutes = month.minutes(month_window(line.service_date))
        needed = _FIRST_UNIT[line.code]
        if minutes < needed:
            supported = _supported_text(month, line, profile)
            yield Hit(f"{minutes} minutes of RPM management documented in "
                      f"{month_label(line.service_date)} ({_minutes_evidence(month, line.service_date)}); "
                      f"{line.code} needs {needed}. The minutes support {supported}",
                      f"{minutes} minutes documented: bill {supported} instead of {line.code}"
                      if supported != "no management code" else
                      f"{minutes} minutes documented: do not bill {line.code} for the month",
                      line=line.number, code=line.code)


@applies_to("99458", documented=True)
def addon_units_unsupported(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in documented(month, claim, "99458"):
        minutes = month.minutes(month_window(line.service_date))
        earlier = [o for o in month.earlier(claim, line) if o.code == "99458"]
        units = units_in_month(earlier, line.service_date, "99458") + line.units
        supported = max((minutes - 20) // 20, 0)
        if units > supported:
            yield Hit(f"99458 reaches {units} units in {month_label(line.service_date)} but "
                      f"{minutes} minutes support {supported} "
                      f"({_minutes_evidence(month, line.service_date)})",
                      f"{minutes} minutes documented: bill {supported} unit(s) of 99458"
                      if supported else f"{minutes} minutes documented: remove 99458",
                      line=line.number, code=line.code)


@applies_to("99457", "99458", "99470", documented=True)
def no_interactive_communication(month: PatientMonth, claim: Claim,
                                 profile: Profile) -> Iterator[Hit]:
    for line in documented(month, claim, "99457", "99458", "99470"):
        window = month_window(line.service_date)
        if not month.interactions(window, profile):
            modes = sorted({e.interaction.mode for e in month.entries_in(window) if e.interaction})
            seen = f" (only {', '.join(modes)}, which do not qualify)" if modes else ""
            yield Hit(f"no real-time interactive communication with the patient or caregiver is "
                      f"documented in {month_label(line.service_date)}{seen}",
                      "Document the month's live phone, video or in-person conversation, or do "
                      f"not bill {line.code}",
                      line=line.number, code=line.code)


@applies_to("99454", "99445", documented=True)
def device_days_insufficient(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in documented(month, claim, "99454", "99445"):
        window = month.window(line)
        days = month.data_days(window)
        needed = cast(int, month.info(line.code).min_data_days)  # set for every device code
        if len(days) < needed:
            better = supported_device(len(days), line.service_date, profile, month.catalogue)
            hint = (f"bill {better} instead of {line.code}" if better
                    else f"do not bill {line.code} for the period")
            yield Hit(f"{len(days)} days with automatically transmitted data in {window} "
                      f"({days_label(days)}); {line.code} needs {needed}",
                      f"{len(days)} data days: {hint}", line=line.number, code=line.code)


@applies_to("99445", documented=True)
def device_code_too_low(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in documented(month, claim, "99445"):
        window = month.window(line)
        days = month.data_days(window)
        if len(days) >= 16:
            yield Hit(f"{len(days)} data days in {window}: the period supports 99454, "
                      "but 99445 (2-15 days) is billed",
                      f"{len(days)} data days: bill 99454 instead of 99445",
                      line=line.number, code=line.code)


@applies_to("99453", documented=True)
def setup_without_monitoring(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in documented(month, claim, "99453"):
        window = month.window(line)
        days = month.data_days(window)
        if len(days) >= 16:
            continue
        yield Hit(f"{len(days)} days with automatically transmitted data in the episode "
                  f"({window}): {days_label(days)}",
                  "99453 needs device data on at least 2 days of the episode; bill it once the "
                  "monitoring has started" if len(days) < 2 else
                  "The 2026 two-day threshold for 99453 is not confirmed in CMS text: check that "
                  "the payer accepts it, or wait for 16 days",
                  line=line.number, code=line.code, minor=len(days) >= 2)


def _management_needed(month: PatientMonth, claim: Claim, line: BilledLine) -> int:
    if line.code != "99458":
        return _FIRST_UNIT[line.code]
    earlier = [o for o in month.earlier(claim, line) if o.code == "99458"]
    return 20 + 20 * (units_in_month(earlier, line.service_date, "99458") + line.units)


@applies_to(*MANAGEMENT_CODES, "99454", "99445", documented=True)
def service_before_threshold_met(month: PatientMonth, claim: Claim,
                                 profile: Profile) -> Iterator[Hit]:
    for line in documented_in(month, claim, MANAGEMENT_CODES):
        window = month_window(line.service_date)
        needed = _management_needed(month, claim, line)
        yield from _early(line, needed, month.minutes, window, "minutes", month)
    for line in documented(month, claim, "99454", "99445"):
        needed = cast(int, month.info(line.code).min_data_days)  # set for every device code
        window = month.window(line)
        yield from _early(line, needed, lambda w, until=None: len(month.data_days(w, until)),
                          window, "data days", month)


def _early(line, needed, count, window, unit, month) -> Iterator[Hit]:
    if count(window) < needed or count(window, until=line.service_date) >= needed:
        return
    reached = month.day_reaching(window, needed, count)
    yield Hit(f"{line.code} is dated {line.service_date.isoformat()} but the {needed} {unit} "
              f"it needs were only reached on {reached.isoformat() if reached else 'a later day'}",
              f"Date the line on or after {reached.isoformat() if reached else 'that day'}",
              line=line.number, code=line.code)


def _overlaps(month: PatientMonth, day: date):
    """Pairs of overlapping entries of one performer, and ids given with two programs."""
    entries = month.entries_in(month_window(day), program=None)
    pairs = []
    for i, a in enumerate(entries):
        for b in entries[i + 1:]:
            overlap = _overlap_minutes(a, b)
            if overlap and "RPM" in month.programs_of[a.id] | month.programs_of[b.id]:
                pairs.append((a, b, overlap))
    shared = [e for e in entries if "RPM" in month.programs_of[e.id] and len(month.programs_of[e.id]) > 1]
    return pairs, shared


def _overlap_minutes(a, b) -> float:
    if not (a.performer and b.performer and a.performer.id == b.performer.id):
        return 0
    ia, ib = clock_interval(a), clock_interval(b)
    if ia is None or ib is None:
        return 0
    seconds = (min(ia[1], ib[1]) - max(ia[0], ib[0])).total_seconds()
    return max(seconds / 60, 0)


@applies_to(*MANAGEMENT_CODES, documented=True)
def overlapping_time_entries(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in first_management_lines(month, claim):
        pairs, shared = _overlaps(month, line.service_date)
        if not pairs and not shared:
            continue
        doubled = sum(o for _, _, o in pairs) + sum(e.minutes for e in shared)
        minutes = month.minutes(month_window(line.service_date))
        adjusted = max(full_minutes(minutes - doubled), 0)
        names = [f"{a.id} and {b.id} overlap by {full_minutes(o)} minutes" for a, b, o in pairs]
        names += [f"{e.id} is claimed by {' and '.join(sorted(month.programs_of[e.id]))}"
                  for e in shared]
        depends = not _still_supported(month, claim, line, adjusted)
        yield Hit(f"double-counted time in {month_label(line.service_date)}: {'; '.join(names)}; "
                  f"{minutes} minutes become {adjusted} without them",
                  "Correct the time log so every minute belongs to one entry and one program"
                  + ("; the billed management codes are not supported without the double-counted "
                     "minutes" if depends else ""),
                  line=line.number, code=line.code, evidence=tuple(names), minor=not depends)


def _still_supported(month: PatientMonth, claim: Claim, line: BilledLine, minutes: int) -> bool:
    billed = [o for o in month.all_billed(claim) if month_window(line.service_date).contains(o.service_date)]
    codes = {o.code for o in billed}
    addon = units_in_month(billed, line.service_date, "99458")
    return (("99457" not in codes or minutes >= 20) and ("99470" not in codes or minutes >= 10)
            and addon <= max((minutes - 20) // 20, 0))


@applies_to(*RPM_CODES, documented=True)
def consent_missing(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    consents = month.consent_dates()
    for line in documented_in(month, claim, RPM_CODES):
        required, basis = _consent_deadline(month, line, profile)
        if consents and consents[0] <= required:
            continue
        found = f"the earliest consent is dated {consents[0].isoformat()}" if consents else \
            "no consent is recorded"
        yield Hit(f"{found}; consent is needed on or before {required.isoformat()} ({basis})",
                  "Record the patient's consent to RPM (date and method) before billing",
                  line=line.number, code=line.code)


def _consent_deadline(month: PatientMonth, line: BilledLine, profile: Profile) -> tuple[date, str]:
    if profile.consent == "episode_start":
        episode = anchoring_episode(line.service_date, month.episodes)
        if episode is not None:
            return episode.start, "the episode start"
        first = month.first_documented_day()
        if first is not None:
            return first, "the first documented reading or time entry"
    return line.service_date, "the service date"


@applies_to(*MANAGEMENT_CODES, documented=True)
def time_entry_incomplete(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in first_management_lines(month, claim):
        lacking = [e for e in month.entries_in(month_window(line.service_date))
                   if e.performer is None or not (e.activity or "").strip()]
        if lacking:
            names = [f"{e.id} on {e.date.isoformat()} lacks "
                     + " and ".join(w for w, miss in (("a performer", e.performer is None),
                                                       ("an activity", not (e.activity or "").strip()))
                                    if miss) for e in lacking]
            yield Hit(f"time entries without who or what in {month_label(line.service_date)}: "
                      + "; ".join(names),
                      "Complete each entry with who performed it and what was done",
                      line=line.number, code=line.code, evidence=tuple(names))


def _addon_cap(month: PatientMonth, profile: Profile) -> int:
    cap = profile.unit_limit(month.info("99458")) or 0
    rule = month.catalogue.rules["addon-units-high"]
    if profile.severity(rule) is Severity.BLOCK:
        cap = min(cap, profile.addon_units_high_above)
    return cap


@applies_to(*MANAGEMENT_CODES, documented=True)
def unbilled_addon_time(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in first_management_lines(month, claim):
        window = month_window(line.service_date)
        billed = [o for o in month.all_billed(claim) if window.contains(o.service_date)]
        if "99457" not in {o.code for o in billed} or not month.interactions(window, profile):
            continue
        minutes = month.minutes(window)
        supported = min(max((minutes - 20) // 20, 0), _addon_cap(month, profile))
        units = units_in_month(billed, line.service_date, "99458")
        if supported > units:
            yield Hit(f"{minutes} minutes documented in {month_label(line.service_date)} support "
                      f"{supported} unit(s) of 99458; {units} billed",
                      f"Add {supported - units} unit(s) of 99458 for the month",
                      line=line.number, code=line.code)


@applies_to(*RPM_CODES, documented=True)
def unbilled_management_time(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    billed = month.all_billed(claim)
    seen = set()
    for line in lines_in(month, claim, RPM_CODES):
        window = month_window(line.service_date)
        if window in seen:
            continue
        seen.add(window)
        if any(o.code in MANAGEMENT_CODES and window.contains(o.service_date) for o in billed):
            continue
        minutes = month.minutes(window)
        codes = supported_management(minutes, bool(month.interactions(window, profile)),
                                     line.service_date, profile, month.catalogue)
        if codes:
            yield Hit(f"{minutes} minutes of RPM management with an interactive communication are "
                      f"documented in {month_label(line.service_date)} but no management code is billed",
                      f"Bill {codes[0][0]} for {month_label(line.service_date)}", code=codes[0][0])


@applies_to(*MANAGEMENT_CODES, documented=True)
def management_code_too_low(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in first_management_lines(month, claim):
        window = month_window(line.service_date)
        billed = {o.code for o in month.all_billed(claim) if window.contains(o.service_date)}
        minutes = month.minutes(window)
        if "99470" in billed and minutes >= 20 and month.interactions(window, profile):
            yield Hit(f"99470 (10-19 minutes) is billed but {minutes} minutes with an interactive "
                      f"communication are documented in {month_label(line.service_date)}",
                      f"{minutes} minutes documented: bill 99457 instead of 99470",
                      line=line.number, code=line.code)
