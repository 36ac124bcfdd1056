"""Run a rule case table (tests/data/rules_*.json) through the real X12 reader and the checker."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from scrubber.catalogue import catalogue
from scrubber.checker import Checker
from scrubber.docjson import parse_documentation
from scrubber.documentation import Documentation
from scrubber.inputs import read_items
from tests.builders import ClaimSpec, Line, dft_p03, x12_837
from x12.reader import read_x12

DATA = Path(__file__).parent / "data"


def load_cases(name: str) -> list:
    import pytest

    cases = json.loads((DATA / name).read_text())
    return [pytest.param(case, id=case["name"]) for case in cases]


def _entry(index: int, raw) -> dict:
    if isinstance(raw, list):
        raw = dict(zip(("date", "minutes", "mode", "start"), raw, strict=False))
    entry = {"id": raw.get("id", f"t-{index}"), "date": raw["date"], "minutes": raw["minutes"],
             "program": raw.get("program", "RPM"),
             "performer": {"id": raw.get("performer", "rn-7"), "role": "clinical_staff"},
             "activity": raw.get("activity", "Reviewed readings; called patient")}
    if raw.get("activity", "") is None:
        del entry["activity"]
    if raw.get("start"):
        entry["start"] = raw["start"]
    if raw.get("mode"):
        entry["interaction"] = {"mode": raw["mode"], "with": "patient"}
    return entry


def _days(spans, transmission: str) -> list[dict]:
    readings = []
    for first, count in spans:
        start = date.fromisoformat(first)
        readings += [{"date": (start + timedelta(days=n)).isoformat(), "transmission": transmission,
                      "kind": "blood_pressure"} for n in range(count)]
    return readings


def documentation_for(case: dict) -> Documentation:
    docs = case.get("docs")
    if docs is None:
        return Documentation()
    patient = {"patient": {"id": docs.get("mrn", "MRN-1"), "member_id": "MEMBER-1"},
               "time_entries": [_entry(i, e) for i, e in enumerate(docs.get("minutes", []))],
               "readings": _days(docs.get("days", []), "automatic") + _days(docs.get("manual", []), "manual")}
    if docs.get("consent", "2025-12-01"):
        patient["consent"] = {"date": docs.get("consent", "2025-12-01"), "method": "verbal"}
    if docs.get("episode"):
        patient["episodes"] = [{"start": docs["episode"], "end": None, "program": "RPM"}]
    return parse_documentation({"patients": [patient]})


def claim_specs(case: dict) -> list[ClaimSpec]:
    specs = []
    for raw in case["claims"]:
        lines = [Line(line[0], line[1], line[2] if len(line) > 2 else "1") for line in raw["lines"]]
        specs.append(ClaimSpec(raw["id"], lines, mrn=raw.get("mrn", "MRN-1"),
                               member_id=raw.get("member_id", "MEMBER-1"),
                               provider=raw.get("provider", "1234567893"),
                               frequency=raw.get("frequency", "1")))
    return specs


def run_case(case: dict):
    """The (verdict, sorted rule ids) of every claim of the case, checked in order."""
    shipped = catalogue()
    checker = Checker(shipped, shipped.profile(case.get("profile", "medicare")), documentation_for(case))
    results = []
    for index, spec in enumerate(claim_specs(case)):
        if case.get("format") == "hl7":  # e.g. no member id: an 837P cannot leave out NM109
            message = dft_p03(spec.claim_id, spec.lines, spec.mrn, spec.member_id, spec.provider)
            (claim,) = read_items(message.encode(), "case.hl7")
        else:
            (claim,) = read_x12(x12_837([spec], control=f"{index + 1:09d}"), "case.837")
        results.append(checker.check(claim))
    return results


def summarize(results) -> list:
    return [[r.verdict.value, sorted({f.rule for f in r.findings})] for r in results]
