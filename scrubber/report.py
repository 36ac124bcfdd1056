"""Rendering results for people (text) and programs (JSON), and the README's rule table."""
from __future__ import annotations

import json

from scrubber.catalogue import Catalogue
from scrubber.checker import ClaimResult
from scrubber.findings import Verdict

__all__ = ["summary", "as_json", "as_text", "rule_table"]


def summary(results: list[ClaimResult]) -> dict[str, int]:
    counts = {verdict.value: 0 for verdict in (Verdict.PASS, Verdict.FLAG, Verdict.BLOCK)}
    for result in results:
        counts[result.verdict.value] += 1
    return counts


def as_json(results: list[ClaimResult]) -> str:
    document = {"claims": [r.as_json() for r in results], "summary": summary(results)}
    return json.dumps(document, indent=2)


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


def as_text(results: list[ClaimResult]) -> str:
    out: list[str] = []
    for result in results:
        out.extend(_claim_block(result))
        out.append("")
    counts = summary(results)
    total = sum(counts.values())
    out.append(f"{total} claim{'s' if total != 1 else ''}: {counts['pass']} pass, "
               f"{counts['flag']} flag, {counts['block']} block")
    return "\n".join(out)


def rule_table(catalogue: Catalogue) -> str:
    """The README's rule table, generated from the rule catalogue."""
    rows = ["| rule id | family | default | fires when |", "|---|---|---|---|"]
    for rule in catalogue.rules.values():
        default = rule.severity.value + (f" / {rule.minor_severity.value}" if rule.minor_severity else "")
        rows.append(f"| `{rule.id}` | {rule.family} | {default} | {rule.fires_when} |")
    return "\n".join(rows)
