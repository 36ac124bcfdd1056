"""Read an X12 file into claims, each carrying the syntax issues that concern it."""
from __future__ import annotations

from dataclasses import replace

from scrubber.model import Claim, SyntaxIssue, Unreadable
from x12.claims837 import SUPPORTED_VERSIONS, claims_from_set
from x12.envelope import Envelope, Group, TransactionSet, structure
from x12.errors import X12SyntaxError
from x12.tokenizer import decode, tokenize

__all__ = ["read_x12", "read_x12_bytes"]


def _issues(errors: list[X12SyntaxError]) -> list[SyntaxIssue]:
    return [SyntaxIssue(e.message, e.location) for e in errors]


def read_x12_bytes(data: bytes, source: str) -> list[Claim | Unreadable]:
    return read_x12(decode(data), source)


def read_x12(text: str, source: str) -> list[Claim | Unreadable]:
    """Every claim in the file, in order. A claim in a broken set, group or interchange carries
    the issues that block it; a unit from which no claim can be read becomes `Unreadable`."""
    try:
        interchanges = tokenize(text)
    except X12SyntaxError as error:
        return [Unreadable(None, "x12", source, (SyntaxIssue(error.message, error.location),))]
    results: list[Claim | Unreadable] = []
    for interchange in interchanges:
        envelope = structure(interchange)
        results.extend(_from_envelope(envelope, source))
    return results


def _from_envelope(envelope: Envelope, source: str) -> list[Claim | Unreadable]:
    outer = _issues(envelope.issues)
    results: list[Claim | Unreadable] = []
    for group in envelope.groups:
        results.extend(_from_group(group, envelope, outer + _issues(group.issues), source))
    if not envelope.groups:
        outer = outer or [SyntaxIssue("the interchange has no functional group (GS)",
                                      f"ISA at segment {envelope.interchange.segments[0].position}")]
        results.append(Unreadable(envelope.control or None, "x12", source, tuple(outer)))
    return results


def _version_issues(group: Group, tset: TransactionSet) -> list[SyntaxIssue]:
    issues = []
    if group.gs.id == "GS" and group.gs.get(1) != "HC":
        issues.append(SyntaxIssue(f"GS01 {group.gs.get(1)!r} is not HC (health care claim)",
                                  f"GS01 at segment {group.gs.position}"))
    if tset.st.get(1) != "837":
        issues.append(SyntaxIssue(f"unsupported transaction set {tset.st.get(1)!r}: only 837 "
                                  "(professional claims) is accepted", "ST01 at segment 1"))
    version = tset.st.get(3) or group.gs.get(8)
    if version not in SUPPORTED_VERSIONS:
        issues.append(SyntaxIssue(f"unsupported version {version!r}: this scrubber reads 837P "
                                  f"{', '.join(SUPPORTED_VERSIONS)}", "ST03 at segment 1"
                                  if tset.st.get(3) else f"GS08 at segment {group.gs.position}"))
    return issues


def _from_group(group: Group, envelope: Envelope, outer: list[SyntaxIssue],
                source: str) -> list[Claim | Unreadable]:
    results: list[Claim | Unreadable] = []
    for tset in group.sets:
        version = _version_issues(group, tset)
        blocking = outer + _issues(tset.issues) + version
        delimiters = envelope.interchange.delimiters
        claims, set_issues = ([], []) if version else claims_from_set(tset, delimiters, source)
        blocking += set_issues
        if not claims:
            issues = blocking or [SyntaxIssue("the transaction set contains no claim (CLM)",
                                              "ST at segment 1")]
            results.append(Unreadable(tset.control or None, "x12", source, tuple(issues)))
            continue
        for claim in claims:
            results.append(replace(claim, issues=tuple(blocking) + claim.issues) if blocking else claim)
    if not group.sets:
        results.append(Unreadable(group.gs.get(6) or None, "x12", source, tuple(
            outer or [SyntaxIssue("the functional group contains no transaction set",
                                  f"GS at segment {group.gs.position}")])))
    return results
