"""The documentation model: what a practice recorded about a patient's monitoring."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, time
from functools import cached_property

__all__ = [
    "PROGRAMS", "ROLES", "MODES", "TRANSMISSIONS", "PARTIES",
    "Performer", "Interaction", "TimeEntry", "Reading", "Episode", "Consent",
    "PatientRecord", "Documentation",
]

PROGRAMS = ("RPM", "RTM", "CCM", "PCM", "BHI", "TCM")
ROLES = ("clinical_staff", "physician", "qhp")
MODES = ("phone", "video", "in_person", "realtime_chat", "portal_message", "sms", "email",
         "voicemail", "automated")
TRANSMISSIONS = ("automatic", "manual")
PARTIES = ("patient", "caregiver")


@dataclass(frozen=True)
class Performer:
    id: str
    role: str | None = None


@dataclass(frozen=True)
class Interaction:
    mode: str
    with_: str = "patient"


@dataclass(frozen=True)
class TimeEntry:
    id: str
    date: date
    minutes: float
    program: str
    start: time | None = None
    performer: Performer | None = None
    activity: str | None = None
    interaction: Interaction | None = None


@dataclass(frozen=True)
class Reading:
    date: date
    transmission: str
    kind: str | None = None
    device_id: str | None = None


@dataclass(frozen=True)
class Episode:
    start: date
    end: date | None = None
    program: str = "RPM"

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Consent:
    date: date
    method: str | None = None


@dataclass(frozen=True)
class PatientRecord:
    """Everything documented for one patient. `id` is the practice's MRN."""

    id: str | None = None
    member_id: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    birth_date: date | None = None
    consents: tuple[Consent, ...] = ()
    episodes: tuple[Episode, ...] = ()
    readings: tuple[Reading, ...] = ()
    time_entries: tuple[TimeEntry, ...] = ()

    def matches_mrn(self, mrn: str | None) -> bool:
        return bool(mrn) and self.id == mrn

    def matches_member(self, member_id: str | None) -> bool:
        return bool(member_id) and self.member_id == member_id

    def merged(self, other: PatientRecord) -> PatientRecord:
        """This record plus the facts of `other`; identifiers already known are kept."""
        return replace(
            self,
            id=self.id or other.id,
            member_id=self.member_id or other.member_id,
            last_name=self.last_name or other.last_name,
            first_name=self.first_name or other.first_name,
            birth_date=self.birth_date or other.birth_date,
            consents=_union(self.consents, other.consents),
            episodes=_union(self.episodes, other.episodes),
            readings=_union(self.readings, other.readings),
            time_entries=_union(self.time_entries, other.time_entries),
        )


def _union(first: tuple, second: tuple) -> tuple:
    seen = set(first)
    return first + tuple(item for item in second if item not in seen)


@dataclass(frozen=True)
class Documentation:
    """All documented patients of one practice."""

    patients: tuple[PatientRecord, ...] = ()

    def find(self, mrn: str | None, member_id: str | None) -> int | None:
        """Index of the patient a claim matches: by MRN first, then by member id."""
        by_mrn, by_member = self._indexes
        if mrn and mrn in by_mrn:
            return by_mrn[mrn]
        if member_id and member_id in by_member:
            return by_member[member_id]
        return None

    @cached_property
    def _indexes(self) -> tuple[dict[str, int], dict[str, int]]:
        """First record per MRN and per member id (built once; the value is immutable)."""
        by_mrn: dict[str, int] = {}
        by_member: dict[str, int] = {}
        for index, record in enumerate(self.patients):
            if record.id:
                by_mrn.setdefault(record.id, index)
            if record.member_id:
                by_member.setdefault(record.member_id, index)
        return by_mrn, by_member

    def with_record(self, record: PatientRecord) -> Documentation:
        """Add a record, merging it into the patient it matches."""
        index = self.find(record.id, record.member_id)
        if index is None:
            return Documentation(self.patients + (record,))
        patients = list(self.patients)
        patients[index] = patients[index].merged(record)
        return Documentation(tuple(patients))

    def combined(self, other: Documentation) -> Documentation:
        result = self
        for record in other.patients:
            result = result.with_record(record)
        return result
