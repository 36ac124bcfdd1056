"""Rendering results for people (text) and programs (JSON), and the README's rule table."""
from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Final, TextIO

from scrubber.catalogue import Catalogue
from scrubber.checker import ClaimResult
from scrubber.findings import Finding, Verdict

__all__ = ["summary", "claim_json", "as_json", "as_text", "rule_table", "Report"]

# A claim's JSON is written from its parts: the object's shape is fixed, and most of its strings
# (rule ids, severities, codes, suggestions, the format, the source) are the same on claim after
# claim, so each is escaped once and remembered. Before, the standard library's C encoder walked a
# dict built per claim and escaped every key and value again (72,000 of a compiled `check`'s
# 456,000 instructions per claim, README "Benchmarks"). The text is exactly json.dumps(as_json())
# (tests/test_cli.py holds it to that over generated claims).
_QUOTED: Final[dict[str, str]] = {}
_QUOTED_LIMIT: Final = 4096  # cleared when full: a few hundred kB at most


def _quoted(text: str | None) -> str:
    """text as JSON (a string, or null), remembered: for the strings claims repeat."""
    if text is None:
        return "null"
    found = _QUOTED.get(text)
    if found is None:
        found = encode_basestring_ascii(text)
        if len(_QUOTED) >= _QUOTED_LIMIT:
            _QUOTED.clear()
        _QUOTED[text] = found
    return found


def _escaped(text: str | None) -> str:
    """text as JSON, for the strings each claim has its own of (ids, messages)."""
    return "null" if text is None else encode_basestring_ascii(text)


def _finding_json(finding: Finding) -> str:
    line = "null" if finding.line is None else str(finding.line)
    return (f'{{"rule": {_quoted(finding.rule)}, "severity": {_quoted(finding.severity._value_)}, '
            f'"code": {_quoted(finding.code)}, "line": {line}, "message": {_escaped(finding.message)}, '
            f'"suggestion": {_quoted(finding.suggestion)}}}')


def claim_json(result: ClaimResult) -> str:
    """json.dumps(result.as_json()), written directly (see _QUOTED)."""
    findings = ", ".join([_finding_json(finding) for finding in result.findings])
    return (f'{{"id": {_escaped(result.id)}, "format": {_quoted(result.format)}, '
            f'"source": {_quoted(result.source)}, "patient": {_escaped(result.patient)}, '
            f'"verdict": {_quoted(result.verdict._value_)}, "findings": [{findings}]}}')


def summary(results: Sequence[ClaimResult]) -> dict[str, int]:
    counts = {verdict.value: 0 for verdict in (Verdict.PASS, Verdict.FLAG, Verdict.BLOCK)}
    for result in results:
        counts[result.verdict.value] += 1
    return counts


def as_json(results: Sequence[ClaimResult]) -> str:
    """One JSON object, one claim per line (compact, so the C encoder writes it)."""
    claims = ",\n".join("  " + claim_json(r) for r in results)
    body = f"[\n{claims}\n]" if results else "[]"
    return f'{{"claims": {body},\n"summary": {json.dumps(summary(results))}}}'



def _claim_block(result: ClaimResult) -> list[str]:
    patient = result.patient or "unidentified patient"
    head = (f"{result.verdict.value.upper():5}  claim {result.id or '(no id)'}  "
            f"[{result.format} {result.source}]  patient {patient}")
    lines = [head]
    for finding in result.findings:
        where = " ".join(part for part in (
            f"line {finding.line}" if finding.line else "", finding.code or "") if part)
        lines.append(f"  - {finding.severity.value:5} {finding.rule}" + (f" ({where})" if where else ""))
        lines.append(f"          {finding.message}")
        lines.append(f"          fix: {finding.suggestion}")
    return lines


def as_text(results: Sequence[ClaimResult]) -> str:
    out: list[str] = []
    for result in results:
        out.extend(_claim_block(result))
        out.append("")
    counts = summary(results)
    total = sum(counts.values())
    out.append(f"{total} claim{'s' if total != 1 else ''}: {counts['pass']} pass, "
               f"{counts['flag']} flag, {counts['block']} block")
    return "\n".join(out)


class Report:
    """Writes each result as soon as it is known, in the exact form of `as_json`/`as_text`, so a
    large batch is never held twice (once as results, once as the rendered report)."""

    def __init__(self, out: TextIO, kind: str = "text"):
        self.out, self.kind = out, kind
        self.counts = {verdict.value: 0 for verdict in (Verdict.PASS, Verdict.FLAG, Verdict.BLOCK)}

    @property
    def blocked(self) -> bool:
        return self.counts["block"] > 0

    def add(self, result: ClaimResult) -> None:
        first = sum(self.counts.values()) == 0
        self.counts[result.verdict._value_] += 1  # _value_: see ClaimResult.as_json
        if self.kind == "json":
            claim = claim_json(result)
            self.out.write(('{"claims": [\n  ' if first else ",\n  ") + claim)
        else:
            self.out.write("\n".join(_claim_block(result)) + "\n\n")

    def close(self) -> None:
        if self.kind == "json":
            start = '{"claims": []' if sum(self.counts.values()) == 0 else "\n]"
            self.out.write(f'{start},\n"summary": {json.dumps(self.counts)}}}\n')
        else:
            total = sum(self.counts.values())
            self.out.write(f"{total} claim{'s' if total != 1 else ''}: {self.counts['pass']} pass, "
                           f"{self.counts['flag']} flag, {self.counts['block']} block\n")
        self.out.flush()


def rule_table(catalogue: Catalogue) -> str:
    """The README's rule table, generated from the rule catalogue."""
    rows = ["| rule id | family | default | fires when |", "|---|---|---|---|"]
    for rule in catalogue.rules.values():
        default = rule.severity.value + (f" / {rule.minor_severity.value}" if rule.minor_severity else "")
        rows.append(f"| `{rule.id}` | {rule.family} | {default} | {rule.fires_when} |")
    return "\n".join(rows)
