"""Rendering results for people (text) and programs (JSON), and the README's rule table."""
from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Final, TextIO

from scrubber.catalogue import Catalogue
from scrubber.checker import ClaimResult
from scrubber.findings import Verdict

__all__ = ["summary", "as_json", "as_text", "rule_table", "Report"]

# one JSON encoder for every claim of a report: json.dumps makes a new one per call (and runs three
# Python-level functions to get to it), a sixth of rendering a claim. The C encoder's constructor
# is not public API: where it is missing, json.dumps does the same work. Reports hold no cycles,
# so the encoder does not look for them (markers None).
_ENCODER: Final = None if c_make_encoder is None else c_make_encoder(
    None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True)


def _encode(value: dict) -> str:
    """json.dumps(value) with its default options."""
    if _ENCODER is None:
        return json.dumps(value)
    return "".join(_ENCODER(value, 0))


def summary(results: Sequence[ClaimResult]) -> dict[str, int]:
    counts = {verdict.value: 0 for verdict in (Verdict.PASS, Verdict.FLAG, Verdict.BLOCK)}
    for result in results:
        counts[result.verdict.value] += 1
    return counts


def as_json(results: Sequence[ClaimResult]) -> str:
    """One JSON object, one claim per line (compact, so the C encoder writes it)."""
    claims = ",\n".join("  " + _encode(r.as_json()) for r in results)
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
            claim = _encode(result.as_json())
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
