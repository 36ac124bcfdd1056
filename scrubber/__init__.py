"""rpm-claim-scrubber: a claim scrubber for Remote Physiologic Monitoring billing.

The pure core (no I/O): the claim and documentation models, the catalogue and profiles, periods,
patient-month reconstruction, the rules and the engine. The CLI (`scrubber.cli`) and the input
front door (`scrubber.inputs`) form the shell around it.
"""
from scrubber.catalogue import Catalogue, Profile, catalogue
from scrubber.checker import Checker, ClaimResult
from scrubber.docjson import DocumentationError, load_documentation, parse_documentation
from scrubber.documentation import Documentation, PatientRecord
from scrubber.engine import Outcome, Scope, scrub
from scrubber.findings import Finding, Severity, Verdict
from scrubber.model import Claim, Frequency, PatientIdentity, ServiceLine

__all__ = [
    "Catalogue", "Profile", "catalogue", "Checker", "ClaimResult", "DocumentationError",
    "load_documentation", "parse_documentation", "Documentation", "PatientRecord", "Outcome",
    "Scope", "scrub", "Finding", "Severity", "Verdict", "Claim", "Frequency", "PatientIdentity",
    "ServiceLine",
]
