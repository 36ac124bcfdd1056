"""Input rules (RULES.md section 3c): what the message itself says."""
from __future__ import annotations

from collections.abc import Iterator

from scrubber.catalogue import Profile
from scrubber.findings import Hit
from scrubber.model import Claim, line_problem
from scrubber.patient_month import PatientMonth


def malformed_hits(issues) -> Iterator[Hit]:
    """One hit per syntax issue; shared by claims and by messages with no readable claim."""
    for issue in issues:
        yield Hit(f"{issue.location}: {issue.message}",
                  "Correct the message at the named segment and field and send it again",
                  location=issue.location)


def malformed_message(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    yield from malformed_hits(claim.issues)


def invalid_service_line(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    for line in claim.charge_lines:
        problem = line_problem(line)
        if problem is None:
            continue
        message, key = problem
        location = line.where(key) or line.where("line")
        yield Hit(f"line {line.number}: {message}" + (f" ({location})" if location else ""),
                  "Send the line with a procedure code, a positive whole number of units and a "
                  "valid service date or range",
                  line=line.number, code=line.code, location=location)


def patient_unidentified(month: PatientMonth, claim: Claim, profile: Profile) -> Iterator[Hit]:
    if not claim.patient.identified:
        where = "2300 REF*EA or 2010BA NM109" if claim.format == "x12" else "PID-3 or IN1-36"
        yield Hit("the claim carries neither a medical record number nor a member id, so no "
                  "documentation or billed history can be matched",
                  f"Send the patient's MRN or member id ({where})")
