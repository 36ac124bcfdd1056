"""Findings and verdicts: data, never exceptions."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Severity", "Verdict", "Hit", "Finding", "verdict_of"]


class Severity(enum.Enum):
    BLOCK = "block"
    FLAG = "flag"
    INFO = "info"

    @property
    def rank(self) -> int:
        # by identity: an Enum member's hash is a Python-level call, even compiled
        return 0 if self is Severity.BLOCK else 1 if self is Severity.FLAG else 2


class Verdict(enum.Enum):
    PASS = "pass"
    FLAG = "flag"
    BLOCK = "block"


@dataclass(frozen=True, init=False)
class Hit:
    """What a rule reports; the engine stamps the rule id and the profile's severity."""

    message: str
    suggestion: str
    line: int | None = None
    code: str | None = None
    location: str | None = None
    evidence: tuple[str, ...] = ()
    minor: bool = False

    def __init__(self, message: str, suggestion: str, line: int | None = None,
                 code: str | None = None, location: str | None = None,
                 evidence: tuple[str, ...] = (), minor: bool = False) -> None:
        # written out: see model.PatientIdentity
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "suggestion", suggestion)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "evidence", evidence)
        object.__setattr__(self, "minor", minor)


@dataclass(frozen=True, init=False)
class Finding:
    rule: str
    severity: Severity
    message: str
    suggestion: str
    line: int | None = None
    code: str | None = None
    location: str | None = None
    evidence: tuple[str, ...] = field(default=())

    def __init__(self, rule: str, severity: Severity, message: str, suggestion: str,
                 line: int | None = None, code: str | None = None, location: str | None = None,
                 evidence: tuple[str, ...] = ()) -> None:
        # written out: see model.PatientIdentity
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "suggestion", suggestion)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "evidence", evidence)

    def sort_key(self) -> tuple:
        return (self.line or 0, self.severity.rank, self.rule, self.code or "", self.message)

    def as_json(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity._value_,  # not .value: see ClaimResult.as_json
            "code": self.code,
            "line": self.line,
            "message": self.message,
            "suggestion": self.suggestion,
        }


def verdict_of(findings) -> Verdict:
    severities = [f.severity for f in findings]  # compared by identity, not hashed (see rank)
    if Severity.BLOCK in severities:
        return Verdict.BLOCK
    if Severity.FLAG in severities:
        return Verdict.FLAG
    return Verdict.PASS
