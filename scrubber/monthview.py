"""The patient-month as a reviewer sees it, read from the ledger: minutes and interactive
communications, data days per 30-day period, consent and episodes, billed and supported codes,
and the findings of the month's claims. One computation for the JSON API and the review UI."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scrubber.catalogue import Catalogue, Profile
from scrubber.documentation import PatientRecord, TimeEntry
from scrubber.patient_month import PatientMonth, supported_device, supported_management
from scrubber.periods import Window, anchoring_episode, device_window, month_window
from scrubber.store import ClaimRow, Patient, Store, Tenant

__all__ = ["MonthView", "month_view"]


@dataclass
class MonthView:
    patient: str
    month: str
    window: Window
    record: PatientRecord
    minutes: int
    entries: list[TimeEntry]          # the month's RPM time entries, in date order
    interactive: list[TimeEntry]
    periods: list[tuple[Window, list[date]]]  # 30-day device periods touching the month, data days
    billed: list[dict] = field(default_factory=list)
    supported: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"patient": self.patient, "month": self.month, "minutes": self.minutes,
                "interactive_communications": len(self.interactive),
                "device_periods": [{"period": str(p), "data_days": len(days)} for p, days in self.periods],
                "billed": self.billed, "supported": self.supported, "findings": self.findings}


def month_view(store: Store, session: Session, tenant: Tenant, patient_id: str, first: date,
               profile: Profile, catalogue: Catalogue) -> MonthView | None:
    """None when the tenant has no such patient (MRN, else member id)."""
    patient: Patient | None = store.patient(session, tenant, patient_id, patient_id)
    if patient is None:
        return None
    record = store.record_of(session, patient)
    window = month_window(first)
    view = PatientMonth(record, (), catalogue)
    entries = sorted(view.entries_in(window), key=lambda e: (e.date, e.start or e.date))
    interactive = view.interactions(window, profile)
    minutes = view.minutes(window)
    periods: list[tuple[Window, list[date]]] = []
    day = window.start
    while day <= window.end:  # the fixed 30-day periods an episode anchors, as the month meets them
        if anchoring_episode(day, view.episodes) is not None:
            period = device_window(day, day, view.episodes)
            if all(period != known for known, _ in periods):
                periods.append((period, view.data_days(period)))
        day += timedelta(days=1)
    if not periods:  # no episode: the period slides with the service date; show the month-end one
        period = device_window(window.end, window.end, view.episodes)
        periods.append((period, view.data_days(period)))
    result = MonthView(patient.mrn or patient.member_id, first.strftime("%Y-%m"), window, record, minutes,
                       entries, interactive, periods)
    result.supported = [{"code": code, "units": units} for code, units in
                        supported_management(minutes, bool(interactive), window.end, profile, catalogue)]
    for period, days in periods:
        code = supported_device(len(days), period.end, profile, catalogue)
        if code:
            result.supported.append({"code": code, "units": 1, "period": str(period)})
    claims = select(ClaimRow).where(ClaimRow.patient_id == patient.id).order_by(ClaimRow.id)
    for row in session.scalars(claims):
        lines = store.lines_of(session, row.id)
        in_month = [line for line in lines if (line.date_to or line.date_from)
                    and window.contains(line.date_to or line.date_from)]
        if not in_month:
            continue
        result.billed += [{"claim": row.id, "claim_id": row.claim_id, "status": row.status, "code": line.code,
                           "units": line.units, "date": (line.date_to or line.date_from).isoformat()}
                          for line in in_month]
        result.findings += [{**f, "claim": row.id} for f in row.findings]
    return result
