"""The rule registry: every rule id of RULES.md mapped to its function, explicitly."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from scrubber.catalogue import Profile
from scrubber.findings import Hit
from scrubber.model import Claim
from scrubber.patient_month import PatientMonth
from scrubber.rules import combination, documentation, input

__all__ = ["Rule", "REGISTRY", "INPUT_RULES", "MALFORMED_RULE"]

Rule = Callable[[PatientMonth, Claim, Profile], Iterator[Hit]]

REGISTRY: Final[dict[str, Rule]] = {
    "addon-without-base": combination.addon_without_base,
    "mutually-exclusive": combination.mutually_exclusive,
    "rpm-with-rtm": combination.rpm_with_rtm,
    "once-per-period": combination.once_per_period,
    "setup-once-per-episode": combination.setup_once_per_episode,
    "units-exceed-limit": combination.units_exceed_limit,
    "addon-units-high": combination.addon_units_high,
    "code-not-effective": combination.code_not_effective,
    "interpretation-with-management": combination.interpretation_with_management,
    "split-billing-practitioners": combination.split_billing_practitioners,
    "service-date-spans-months": combination.service_date_spans_months,
    "documentation-missing": documentation.documentation_missing,
    "time-below-threshold": documentation.time_below_threshold,
    "addon-units-unsupported": documentation.addon_units_unsupported,
    "no-interactive-communication": documentation.no_interactive_communication,
    "device-days-insufficient": documentation.device_days_insufficient,
    "device-code-too-low": documentation.device_code_too_low,
    "setup-without-monitoring": documentation.setup_without_monitoring,
    "service-before-threshold-met": documentation.service_before_threshold_met,
    "overlapping-time-entries": documentation.overlapping_time_entries,
    "consent-missing": documentation.consent_missing,
    "time-entry-incomplete": documentation.time_entry_incomplete,
    "unbilled-addon-time": documentation.unbilled_addon_time,
    "unbilled-management-time": documentation.unbilled_management_time,
    "management-code-too-low": documentation.management_code_too_low,
    "malformed-message": input.malformed_message,
    "invalid-service-line": input.invalid_service_line,
    "patient-unidentified": input.patient_unidentified,
}

MALFORMED_RULE: Final = "malformed-message"
INPUT_RULES: Final = ("invalid-service-line", "patient-unidentified")
