"""The submission workflow on a real ledger (SQLite file and PostgreSQL): decisions recorded
before answers, the outbox, re-sends, modes, dry runs, documentation intake, history rebuilt from
the ledger equal to the in-memory check, and concurrent submissions for one patient-month."""
import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from scrubber.catalogue import catalogue
from scrubber.checker import Checker
from scrubber.inputs import read_input
from scrubber.records import load_claim
from scrubber.store import (
    Acknowledgement,
    AuditEntry,
    Base,
    ClaimFinding,
    ClaimLineRow,
    ClaimRow,
    Counter,
    OutboxRow,
    Patient,
    ReadingRow,
    Store,
    Submission,
    Tenant,
    TimeEntryRow,
    migration_status,
    upgrade,
)
from scrubber.workflow import UnknownTenant, Workflow
from tests.builders import ClaimSpec, Line, dft_p03, obx_dates, obx_minutes, x12_837

REJECTED_STC = re.compile(r"STC\*A[3678]:")  # a 277CA rejection (category A3, A6, A7 or A8)
NOW = datetime(2026, 4, 30, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
SHIPPED = catalogue()


def workflow(store) -> Workflow:
    with store.transaction() as session:
        store.tenant(session, "acme", create=True)
    return Workflow(store, SHIPPED, SHIPPED.profiles["medicare"], clock=lambda: NOW)


def count(store, model, *where) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_migrations_are_current_and_match_the_models(store):
    current, head = migration_status(store)
    assert current == head == "0007"
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_member_id_index_is_not_made_over_duplicate_rows(store, tmp_path):
    """Migration 0006 refuses, naming the problem, a ledger where the race it closes already made
    two rows for one member id; merged, the upgrade goes through."""
    if store.is_postgres:
        with store.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        store = Store(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        upgrade(store, "0005")
        with store.transaction() as session:
            tenant = store.tenant(session, "acme", create=True)
            session.add_all([Patient(tenant_id=tenant.id, member_id="M-TWICE") for _ in range(2)])
        with pytest.raises(RuntimeError, match="1 member id.* more than one patient row without an MRN"):
            upgrade(store)
        assert migration_status(store)[0] == "0005"
        with store.transaction() as session:
            session.delete(session.scalars(select(Patient).order_by(Patient.id.desc())).first())
        upgrade(store)
        current, head = migration_status(store)
        assert current == head != "0005"
    finally:
        if not store.is_postgres:
            store.dispose()


def test_migration_0007_fills_the_findings_rows_as_the_workflow_writes_them(store):
    """The claim_findings rows the upgrade makes from the claims' findings (a ledger of an earlier
    version) are the rows the workflow writes for new claims: same claims, positions, rules and
    severities; a claim without findings has none."""
    from alembic import command

    from scrubber.store import _alembic_config

    flow = workflow(store)
    claims = [ClaimSpec("F1", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-F1"),
              ClaimSpec("F2", [Line("99454", "20260331"), Line("99445", "20260331")], mrn="MRN-F2"),
              ClaimSpec("F3", [Line("99213", "20260331")], mrn="MRN-F3")]
    flow.submit("acme", x12_837(claims).encode(), "test")

    def rows() -> list[tuple]:
        with store.sessions() as session:
            return session.execute(select(
                ClaimFinding.claim_pk, ClaimFinding.position, ClaimFinding.tenant_id, ClaimFinding.rule,
                ClaimFinding.severity).order_by(ClaimFinding.claim_pk, ClaimFinding.position)).all()
    written = rows()
    with store.sessions() as session:
        claims = session.execute(select(ClaimRow.id, ClaimRow.tenant_id, ClaimRow.findings)
                                 .order_by(ClaimRow.id)).all()
    expected = [(pk, position, tenant, f["rule"], f["severity"]) for pk, tenant, findings in claims
                for position, f in enumerate(findings)]
    assert len(written) >= 3 and written == expected
    with store.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0006")
    assert migration_status(store)[0] == "0006"
    upgrade(store)
    assert rows() == written


def test_decisions_are_recorded_and_only_clean_claims_queued(store):
    flow = workflow(store)
    text = x12_837([ClaimSpec("C1", [Line("99457", "20260331")]),
                    ClaimSpec("C2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-2")])
    outcome = flow.submit("acme", text.encode(), "batch.837")
    assert [(c.result.id, c.result.verdict.value, c.status) for c in outcome.claims] == [
        ("C1", "flag", "forwarded"), ("C2", "block", "held")]
    with store.transaction() as session:
        queued = session.scalars(select(OutboxRow).where(OutboxRow.state == "pending")).all()
        held = session.scalars(select(OutboxRow).where(OutboxRow.state == "held")).all()
        (raw,) = session.scalars(select(Submission.raw)).all()
        kinds = sorted(session.scalars(select(Acknowledgement.kind)).all())
    assert raw == text.encode()  # kept verbatim
    assert [q.claim_pk for q in queued] == [outcome.claims[0].claim_pk]
    assert "CLM*C1*" in queued[0].payload and "CLM*C2*" not in queued[0].payload
    # the held claim's payload waits for a reviewer's release; the worker never takes it
    assert [h.claim_pk for h in held] == [outcome.claims[1].claim_pk] and "CLM*C2*" in held[0].payload
    assert kinds == ["277", "999"]
    assert "STC*A2:20" in outcome.x12.ack277 and REJECTED_STC.search(outcome.x12.ack277)  # C2


def _rows_written(store) -> dict[str, list[tuple]]:
    """What the ledger holds of the submissions, claims, lines, findings, outbox, answers and
    audit, in id order."""
    tables = {
        "submissions": select(Submission.id, Submission.tenant_id, Submission.kind, Submission.source,
                              Submission.mode, Submission.raw).order_by(Submission.id),
        "claims": select(ClaimRow.id, ClaimRow.submission_id, ClaimRow.claim_id, ClaimRow.verdict,
                         ClaimRow.status, ClaimRow.in_history, ClaimRow.patient_initials,
                         ClaimRow.content_hash, ClaimRow.findings).order_by(ClaimRow.id),
        "lines": select(ClaimLineRow.claim_pk, ClaimLineRow.number, ClaimLineRow.code, ClaimLineRow.units,
                        ClaimLineRow.date_from, ClaimLineRow.date_to, ClaimLineRow.charge,
                        ClaimLineRow.credit).order_by(ClaimLineRow.id),
        "findings": select(ClaimFinding.claim_pk, ClaimFinding.position, ClaimFinding.tenant_id,
                           ClaimFinding.rule, ClaimFinding.severity)
        .order_by(ClaimFinding.claim_pk, ClaimFinding.position),
        "outbox": select(OutboxRow.claim_pk, OutboxRow.tenant_id, OutboxRow.idempotency_key, OutboxRow.state,
                         OutboxRow.attempts, OutboxRow.payload).order_by(OutboxRow.id),
        "answers": select(Acknowledgement.submission_id, Acknowledgement.kind, Acknowledgement.body)
        .order_by(Acknowledgement.id),
        "audit": select(AuditEntry.tenant_id, AuditEntry.actor, AuditEntry.action, AuditEntry.subject,
                        AuditEntry.detail).where(AuditEntry.actor == "gateway").order_by(AuditEntry.id),
    }
    with store.sessions() as session:
        return {name: [tuple(row) for row in session.execute(query)] for name, query in tables.items()}


def test_a_claim_alone_and_claims_in_a_batch_leave_the_rows_expected(store):
    """Every row a submission writes, exactly, on either database: a one-claim message (recorded
    in one transaction, its claim's rows in one statement on PostgreSQL) and a two-claim batch
    (recorded claim by claim)."""
    flow = workflow(store)
    alone = x12_837([ClaimSpec("A1", [Line("99454", "20260310"), Line("99458", "20260331"),
                                      Line("99470", "20260331")], mrn="MRN-A")]).encode()
    batch = x12_837([ClaimSpec("B1", [Line("99213", "20260312", charge="75.5")], mrn="MRN-B"),
                     ClaimSpec("B2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-C")]
                    ).encode()
    one = flow.submit("acme", alone, "alone.837")
    two = flow.submit("acme", batch, "batch.837", mode="monitor")
    rows = _rows_written(store)
    with store.sessions() as session:
        tenant = session.scalar(select(Tenant.id).where(Tenant.name == "acme"))
    a1, b1, b2 = (outcome.claim_pk for outcome in one.claims + two.claims)
    assert rows["submissions"] == [(one.submission_id, tenant, "x12", "alone.837", "enforce", alone),
                                   (two.submission_id, tenant, "x12", "batch.837", "monitor", batch)]
    claims = {claim.result.id: claim.result for claim in one.claims + two.claims}
    held = one.claims[0].status == "held"
    assert (claims["A1"].verdict.value, held) == ("block", True)  # a lone 99458: held
    assert [row[:7] for row in rows["claims"]] == [
        (a1, one.submission_id, "A1", "block", "held", False, "JD"),
        (b1, two.submission_id, "B1", claims["B1"].verdict.value, "forwarded", True, "JD"),
        (b2, two.submission_id, "B2", "block", "forwarded", True, "JD")]  # monitor: nothing held
    assert [row[8] for row in rows["claims"]] == [
        [{**f.as_json(), "location": f.location, "evidence": list(f.evidence)}
         for f in claims[claim_id].findings] for claim_id in ("A1", "B1", "B2")]
    assert rows["lines"] == [
        (a1, 1, "99454", 1, date(2026, 3, 10), date(2026, 3, 10), "50", False),
        (a1, 2, "99458", 1, date(2026, 3, 31), date(2026, 3, 31), "50", False),
        (a1, 3, "99470", 1, date(2026, 3, 31), date(2026, 3, 31), "50", False),
        (b1, 1, "99213", 1, date(2026, 3, 12), date(2026, 3, 12), "75.5", False),
        (b2, 1, "99458", 1, date(2026, 3, 31), date(2026, 3, 31), "50", False),
        (b2, 2, "99470", 1, date(2026, 3, 31), date(2026, 3, 31), "50", False)]
    assert rows["findings"] == [(pk, position, tenant, f.rule, f.severity.value)
                                for pk, claim_id in ((a1, "A1"), (b1, "B1"), (b2, "B2"))
                                for position, f in enumerate(claims[claim_id].findings)]
    assert len(rows["findings"]) >= 3
    hashes = {row[0]: row[7] for row in rows["claims"]}
    assert [row[:5] for row in rows["outbox"]] == [
        (a1, tenant, f"acme/{a1}/{hashes[a1][:16]}", "held", 0),
        (b1, tenant, f"acme/{b1}/{hashes[b1][:16]}", "pending", 0),
        (b2, tenant, f"acme/{b2}/{hashes[b2][:16]}", "pending", 0)]
    assert ["CLM*A1*" in rows["outbox"][0][5], "CLM*B1*" in rows["outbox"][1][5],
            "CLM*B2*" in rows["outbox"][2][5], "CLM*B1*" in rows["outbox"][2][5]] == [True, True, True, False]
    assert rows["answers"] == [(outcome.submission_id, kind, text) for outcome in (one, two)
                               for kind, text in (("999", outcome.x12.ack999), ("277", outcome.x12.ack277))]

    def scrubbed(pk, claim_id, status):
        return (tenant, "gateway", "scrubbed", f"claim {pk}", {
            "verdict": claims[claim_id].verdict.value, "status": status,
            "rules": sorted({f.rule for f in claims[claim_id].findings})})
    assert rows["audit"] == [
        (tenant, "gateway", "received", f"submission {one.submission_id}", {"kind": "x12"}),
        scrubbed(a1, "A1", "held"),
        (tenant, "gateway", "received", f"submission {two.submission_id}", {"kind": "x12"}),
        scrubbed(b1, "B1", "forwarded"), scrubbed(b2, "B2", "forwarded")]


def test_history_claims_are_loaded_once_and_decide_as_freshly_loaded_ones(store, monkeypatch):
    """A claim of the history is loaded from its body once per process and read from memory
    after that (bodies never change once recorded); the memo is emptied when full, and a
    workflow with a warm memo decides exactly as a new one that loads everything."""
    import scrubber.workflow as workflow_module

    loads = []

    def counted(body):
        loads.append(body["claim_id"])
        return load_claim(body)
    monkeypatch.setattr(workflow_module, "load_claim", counted)
    flow = workflow(store)
    for number, code in enumerate(("99454", "99457", "99458", "99213"), start=1):
        flow.submit("acme", x12_837([ClaimSpec(f"H{number}", [Line(code, f"202603{10 + number}")])]).encode(),
                    f"h{number}.837")
    # H2 reads H1; H3 reads H1 (from memory) and H2; H4 reads all three, only H3 loaded
    assert loads == ["H1", "H2", "H3"]
    probe = x12_837([ClaimSpec("P1", [Line("99454", "20260320"), Line("99458", "20260331")])]).encode()

    def decided(by: Workflow) -> list[tuple]:
        outcome = by.submit("acme", probe, "p", dry_run=True)
        return [(c.result.verdict, c.result.findings) for c in outcome.claims]
    warm = decided(flow)
    assert loads[3:] == ["H4"]
    fresh_flow = workflow(store)
    fresh = decided(fresh_flow)
    assert warm == fresh and warm[0][0].value == "block"  # 99454 billed twice in the period
    assert loads[4:] == ["H1", "H2", "H3", "H4"] and len(fresh_flow._loaded) == 4
    monkeypatch.setattr(workflow_module, "LOADED_LIMIT", 2)
    bounded = workflow(store)
    assert decided(bounded) == fresh
    assert sorted(claim.claim_id for claim in bounded._loaded.values()) == ["H3", "H4"]  # emptied at H3


def test_a_resent_claim_gets_its_recorded_decision_and_nothing_is_queued_twice(store):
    flow = workflow(store)
    text = x12_837([ClaimSpec("C1", [Line("99457", "20260331")])]).encode()
    first = flow.submit("acme", text, "a.837")
    again = flow.submit("acme", text, "b.837")
    assert again.claims[0].resent and again.claims[0].claim_pk == first.claims[0].claim_pk
    assert again.claims[0].result.verdict == first.claims[0].result.verdict
    assert again.claims[0].result.findings == first.claims[0].result.findings
    assert count(store, ClaimRow) == 1 and count(store, OutboxRow, OutboxRow.state == "pending") == 1
    assert count(store, Submission) == 2  # the re-sent message itself is recorded as received


def test_monitor_mode_holds_nothing_and_answers_as_accepted(store):
    flow = workflow(store)
    text = x12_837([ClaimSpec("C9", [Line("99458", "20260331"), Line("99470", "20260331")])])
    outcome = flow.submit("acme", text.encode(), "m.837", mode="monitor")
    (claim,) = outcome.claims
    assert claim.result.verdict.value == "block" and claim.status == "forwarded"
    assert count(store, OutboxRow, OutboxRow.state == "pending") == 1
    assert "STC*A2:20" in outcome.x12.ack277 and not REJECTED_STC.search(outcome.x12.ack277)


def test_a_dry_run_records_nothing(store):
    flow = workflow(store)
    hl7 = dft_p03("D1", [Line("99457", "20260415")], obx=obx_minutes(1, 25, "202604061000", "video"))
    outcome = flow.submit("acme", hl7.encode(), "d.hl7", dry_run=True)
    assert outcome.submission_id is None and outcome.acks[0].split("\r")[1].startswith("MSA|A")
    for model in (Submission, ClaimRow, OutboxRow, TimeEntryRow, Acknowledgement):
        assert count(store, model) == 0, model.__name__


def test_an_unknown_tenant_is_refused_before_anything_is_recorded(store):
    flow = workflow(store)
    with pytest.raises(UnknownTenant):
        flow.submit("nobody", x12_837([ClaimSpec("C1", [Line("99457", "20260331")])]).encode(), "x")
    assert count(store, Submission) == 0


def test_documentation_and_device_data_arrive_in_messages_and_count_later(store):
    flow = workflow(store)
    oru = ("MSH|^~\\&|DEV|HOME|SCRUBBER|RCM|20260420||ORU^R01^ORU_R01|O1|P|2.6\r"
           "PID|1||MRN-1^^^CLINIC^MR\rOBR|1|||182777000^monitoring^SCT|||20260402\r"
           + "".join(f"OBX|{n}|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|%|||||R|||202604{n:02d}\r"
                     for n in range(1, 17)))
    flow.submit("acme", oru.encode(), "oru.hl7")
    assert count(store, ReadingRow) == 16
    documented = dft_p03("E1", [Line("99457", "20260415")],
                         obx=obx_minutes(1, 25, "202604061000", "video")
                         + obx_dates(2, "RPM-CONSENT", ["20260301"]))
    flow.submit("acme", documented.encode(), "e.hl7")
    assert count(store, TimeEntryRow) == 1
    device = dft_p03("E2", [Line("99454", "20260416")])
    (claim,) = flow.submit("acme", device.encode(), "f.hl7").claims
    rules = {f.rule for f in claim.result.findings}
    assert "device-days-insufficient" not in rules and "documentation-missing" not in rules


def _decided_both_ways(flow: Workflow, messages: list[str]) -> list[tuple]:
    """(claim id, verdict, findings) per claim, sent one message at a time through the ledger;
    asserts `check` over the same messages in one run decides the same."""
    through_ledger = [(c.result.id, c.result.verdict, c.result.findings)
                      for text in messages for c in flow.submit("acme", text.encode(), "m").claims]
    checker = Checker(SHIPPED, SHIPPED.profiles["medicare"])
    in_memory = [(r.id, r.verdict, r.findings) for text in messages
                 for item in read_input(text.encode(), "m").items
                 if (r := checker.check(item)) is not None]
    assert through_ledger == in_memory
    return in_memory


def test_history_rebuilt_from_the_ledger_equals_the_in_memory_check(store):
    """Claims sent one submission at a time through the ledger get the decisions `check` gives
    the same claims in one run (replacements, voids and credits included)."""
    messages = [
        x12_837([ClaimSpec("A1", [Line("99454", "20260405"), Line("99457", "20260410")])]),
        x12_837([ClaimSpec("A2", [Line("99454", "20260420")])]),  # same device period: blocked
        x12_837([ClaimSpec("A3", [Line("99458", "20260412")])]),
        x12_837([ClaimSpec("A1", [Line("99454", "20260405")], frequency="7")]),  # replaces A1
        x12_837([ClaimSpec("A4", [Line("99457", "20260422")])]),  # 99457 free again after A1's replacement
        dft_p03("H1", [Line("99457", "20260512")]),
        dft_p03("H2", [Line("99457", "20260512", credit=True)]),  # credit reverses H1
        dft_p03("H3", [Line("99457", "20260514")]),
        # another MRN with the same member id, no documentation: another patient (RULES.md 5)
        x12_837([ClaimSpec("M1", [Line("99457", "20260605")], mrn="MRN-9")]),
        x12_837([ClaimSpec("M2", [Line("99457", "20260606")], mrn="MRN-1")]),
        # no MRN: matched by member id, so the same patient as both
        x12_837([ClaimSpec("M3", [Line("99457", "20260607")], mrn=None)]),
    ]
    flow = workflow(store)
    in_memory = _decided_both_ways(flow, messages)
    assert {v.value for _, v, _ in in_memory} >= {"block", "flag"}
    verdicts = {claim_id: verdict.value for claim_id, verdict, _ in in_memory}
    assert verdicts["M1"] != "block" and verdicts["M2"] != "block" and verdicts["M3"] == "block"


def test_a_void_carrying_its_originals_lines_is_recorded_not_answered_as_a_resend(store):
    """A frequency-8 claim with exactly its original's lines is a void, not a re-send: it is
    recorded and removes the original, so the device period is free again."""
    flow = workflow(store)
    flow.submit("acme", x12_837([ClaimSpec("VO", [Line("99454", "20260505")])]).encode(), "o.837")
    (void,) = flow.submit("acme", x12_837([ClaimSpec("VO", [Line("99454", "20260505")], frequency="8")])
                          .encode(), "v.837").claims
    assert (void.resent, void.result.verdict.value) == (False, "pass")
    (later,) = flow.submit("acme", x12_837([ClaimSpec("VN", [Line("99454", "20260510")])]).encode(),
                           "n.837").claims
    assert "once-per-period" not in {f.rule for f in later.result.findings}


def _years_of_history() -> list[str]:
    """One patient's claims from 2023 on, then the cases where history far from a claim's dates
    still decides it."""
    messages = [x12_837([ClaimSpec("S1", [Line("99453", "20230601")])])]  # set-up, no episode known
    for month in range(30):  # two and a half years of monthly device and management claims
        day = f"{2023 + (month + 6) // 12}{(month + 6) % 12 + 1:02d}15"
        messages.append(x12_837([ClaimSpec(f"C{month}", [Line("99454", day), Line("99457", day)])]))
    return messages + [
        x12_837([ClaimSpec("S2", [Line("99453", "20260302")])]),  # a second set-up: one episode, blocked
        x12_837([ClaimSpec("R1", [Line("99457", "20260410")])]),
        x12_837([ClaimSpec("R1", [Line("99457", "20220410")], frequency="7")]),  # replaced, dated 2022
        x12_837([ClaimSpec("R2", [Line("99457", "20260420")])]),  # April 2026 is free again
        x12_837([ClaimSpec("V1", [Line("99454", "20260505")])]),
        x12_837([ClaimSpec("V1", [Line("99454", "20260505")], frequency="8")]),  # voided
        x12_837([ClaimSpec("V2", [Line("99454", "20260520")])]),  # the period is free again
        # a claim corrected to another patient: the first patient's June is free again
        x12_837([ClaimSpec("P1", [Line("99457", "20260605")])]),
        x12_837([ClaimSpec("P1", [Line("99457", "20260605")], mrn="MRN-2", member_id="MEMBER-2",
                           frequency="7")]),
        x12_837([ClaimSpec("P2", [Line("99457", "20260610")])]),
    ]


def test_a_long_history_read_within_reach_gives_the_in_memory_decisions(store):
    """A patient with years of claims: the ledger reads only the history within reach of each
    claim's dates (plus set-ups and every replacement or void of what it reads) and decides as
    `check` does over all of it, the cases that depend on far-away history included."""
    messages = _years_of_history()
    flow = workflow(store)
    in_memory = _decided_both_ways(flow, messages)
    verdicts = [(claim_id, verdict.value) for claim_id, verdict, _ in in_memory]
    assert verdicts[-10:] == [("S2", "block"), ("R1", "flag"), ("R1", "flag"), ("R2", "flag"),
                              ("V1", "flag"), ("V1", "pass"), ("V2", "flag"), ("P1", "flag"),
                              ("P1", "flag"), ("P2", "flag")]
    rules = dict((claim_id, {f.rule for f in findings}) for claim_id, _, findings in in_memory)
    assert "setup-once-per-episode" in rules["S2"]
    # what a claim of May 2026 reads: the months around it, the set-up of 2023 (S2 was blocked),
    # R1 with its replacement dated 2022, V1 with its void, P1 with its replacement naming another
    # patient; not the claims of 2023-2025
    with store.transaction() as session:
        patients = session.scalars(select(Patient).where(Patient.mrn == "MRN-1")).all()
        tenant = store.tenant(session, "acme")
        read = [json.loads(body)["claim_id"] for _, body in store.history(
            session, tenant, patients, "NEW", "1234567893", (date(2026, 3, 10), date(2026, 7, 10)),
            flow._unbounded)]
    assert read == ["S1", "R1", "R1", "R2", "V1", "V1", "V2", "P1", "P1", "P2"], read
    with store.transaction() as session:
        everything = store.history(session, tenant, patients, "NEW", "1234567893")
    assert len(everything) > 30


def _other_patients_claims(store, start: int, stop: int) -> None:
    """Claims in history for patients other than MRN-1 (four each, 2024), written directly."""
    with store.transaction() as session:
        tenant = store.tenant(session, "acme")
        submission, _, _ = store.receive(session, "acme", "x12", "filler", "enforce", b"")
        for number in range(start, stop):
            patient = store.patient(session, tenant, f"MRN-X{number // 4}", None, create=True)
            day = date(2024, 1 + number % 4, 15)
            store.add_claim(session, tenant, {
                "submission_id": submission, "patient_id": patient.id, "claim_id": f"X{number}",
                "billing_provider": "1234567893", "content_hash": f"x{number}", "format": "x12",
                "verdict": "pass", "status": "forwarded", "in_history": True, "rule_set_version": "1",
                "body": {"claim_id": f"X{number}"}, "findings": []},
                [{"number": 1, "code": "99454", "units": 1, "date_from": day, "date_to": day,
                  "charge": "50", "credit": False}])


def _history_work(store, flow) -> tuple[list[str], int]:
    """What `history` reads for a claim of MRN-1 in May 2026, and the work it took: SQLite's
    virtual-machine instructions, or the rows PostgreSQL read from the claims tables (this
    transaction's counters). The statement runs ten times first so that PostgreSQL's cached
    generic plan is the one measured."""
    with store.transaction() as session:
        patients = session.scalars(select(Patient).where(Patient.mrn == "MRN-1")).all()
        tenant = store.tenant(session, "acme")

        def read():
            return [json.loads(body)["claim_id"] for _, body in store.history(
                session, tenant, patients, "NEW", "1234567893", (date(2026, 3, 10), date(2026, 7, 10)),
                flow._unbounded)]
        for _ in range(10):
            read()
        if store.is_postgres:
            counters = text("SELECT seq_tup_read, idx_tup_fetch FROM pg_stat_xact_user_tables "
                            "WHERE relname IN ('claims', 'claim_lines')")

            def rows_read() -> int:
                return sum(value or 0 for row in session.execute(counters) for value in row)
            before = rows_read()
            found = read()
            return found, rows_read() - before
        steps = [0]

        def step():
            steps[0] += 1
            return 0
        connection = session.connection().connection.driver_connection
        connection.set_progress_handler(step, 1)
        try:
            found = read()
        finally:
            connection.set_progress_handler(None, 1)
        return found, steps[0]


def test_the_history_read_does_not_grow_with_the_tenants_other_claims(store):
    """The history of a claim is read through indexes: ten times more claims of other patients
    leave SQLite's work unchanged, and PostgreSQL reads far fewer rows than the 1,000 other
    claims. PostgreSQL is measured with current statistics (autovacuum keeps them; README, "The
    service: HTTP gateway, tokens, forwarding")."""
    flow = workflow(store)
    for message in _years_of_history():
        flow.submit("acme", message.encode(), "m")
    work = []
    for size in (100, 1000):
        _other_patients_claims(store, len(work) and 100, size)
        if store.is_postgres:
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE claims, claim_lines"))
        found, done = _history_work(store, flow)
        assert found == ["S1", "R1", "R1", "R2", "V1", "V1", "V2", "P1", "P1", "P2"], found
        work.append(done)
    print(f"history work at 100 and 1,000 other claims: {work}")
    if store.is_postgres:  # small tables are read whole (cheaper); large ones through the indexes
        assert work[1] < 500, work
    else:
        assert work[1] < 1.5 * work[0], work


def test_a_claim_matches_documentation_by_member_id_when_its_mrn_matches_nothing(store):
    flow = workflow(store)
    documented = dft_p03("D1", [Line("99457", "20260415")], mrn="MRN-DOC", member_id="MEM-7",
                         obx=obx_minutes(1, 25, "202604061000", "video"))
    flow.submit("acme", documented.encode(), "d.hl7")
    other_mrn = dft_p03("D2", [Line("99457", "20260416")], mrn="MRN-NEW", member_id="MEM-7")
    (claim,) = flow.submit("acme", other_mrn.encode(), "e.hl7").claims
    assert "once-per-period" in {f.rule for f in claim.result.findings}


def race(flow, texts: list[str]) -> list:
    """Submit each text from its own thread, all released at once; the claims' outcomes."""
    outcomes, errors = [], []
    start = threading.Barrier(len(texts))

    def submit(number: int) -> None:
        try:
            start.wait(timeout=60)
            outcomes.extend(flow.submit("acme", texts[number].encode(), f"p{number}.hl7").claims)
        except Exception as error:  # collected: a thread's exception would vanish
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(outcomes) == len(texts)
    return outcomes


def assert_one_through(outcomes) -> None:
    through = [o for o in outcomes if o.result.verdict.value != "block"]
    assert len(through) == 1
    blocked_rules = {f.rule for o in outcomes if o not in through for f in o.result.findings
                     if f.severity.value == "block"}
    assert blocked_rules == {"once-per-period"}


def test_concurrent_submissions_for_one_patient_month_let_exactly_one_through(store):
    """20 different claims billing 99457 for one patient-month, submitted in parallel: the patient
    lock makes them queue, so once-per-period lets exactly one pass."""
    flow = workflow(store)
    # the patient exists already (so no insert conflict serializes the racers for us)
    flow.submit("acme", dft_p03("P0", [Line("99457", "20260301")]).encode(), "p0.hl7")
    assert_one_through(race(flow, [dft_p03(f"P{n + 1}", [Line("99457", f"202604{n + 1:02d}")])
                                   for n in range(20)]))
    assert count(store, OutboxRow, OutboxRow.state == "pending") == 2  # P0 and the one


def test_a_new_patient_known_only_by_member_id_is_one_patient_under_concurrency(store):
    """20 claims for a patient the ledger has never seen, with a member id and no MRN, in parallel:
    they become one patient row (a partial unique index), so exactly one 99457 passes."""
    flow = workflow(store)
    outcomes = race(flow, [dft_p03(f"M{n + 1}", [Line("99457", f"202604{n + 1:02d}")], mrn=None,
                                   member_id="MEM-RACE") for n in range(20)])
    assert count(store, Patient, Patient.member_id == "MEM-RACE") == 1
    assert_one_through(outcomes)


def test_control_numbers_never_repeat_under_concurrency(store):
    """20 transactions take 5 numbers each from a counter that does not exist yet (so several race
    to create it): the ranges are disjoint and together 1..100."""
    start, taken, errors = threading.Barrier(20), [], []

    def take() -> None:
        try:
            start.wait(timeout=60)
            with store.transaction() as session:
                first = store.next_number(session, "control/race", 5)
            taken.append(first)
        except Exception as error:  # collected: a thread's exception would vanish
            errors.append(error)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(n for first in taken for n in range(first, first + 5)) == list(range(1, 101))


def test_postgresql_control_numbers_do_not_wait_for_an_open_transaction(postgres_store):
    """On PostgreSQL a submission's control numbers are taken outside its transaction (Store.
    next_number): another submission gets its numbers while the first is still open, instead of
    queueing behind its commit, and numbers of a transaction that rolls back are not reused.
    (SQLite takes them in the caller's transaction, which holds the one write lock anyway.)"""
    store = postgres_store
    got: list[int] = []
    with store.transaction() as first:
        held = store.next_number(first, "control/open", 9)
        other = threading.Thread(target=lambda: got.append(_numbers_in_own_transaction(store)))
        other.start()
        other.join(timeout=30)
        assert got == [held + 9], "the second transaction waited for the first one's commit"
        first.rollback()
    assert _numbers_in_own_transaction(store) == held + 18


def test_postgresql_processes_take_numbers_from_blocks_of_their_own(postgres_store, monkeypatch):
    """Each process (here: two Stores on one database, and a Store's forked copy) reserves its own
    block of numbers: what they hand out never repeats, and a process that starts after another
    reserved its block does not reuse what that one had not handed out yet."""
    import scrubber.store as ledger

    monkeypatch.setattr(ledger, "NUMBER_BLOCK", 50)
    first, second = postgres_store, Store(postgres_store.url)
    try:
        taken = []
        for _ in range(30):
            for store in (first, second):
                with store.transaction() as session:
                    start = store.next_number(session, "control/blocks", 4)
                taken += range(start, start + 4)
        assert len(taken) == len(set(taken)) == 240
        assert first.next_number(None, "control/blocks", 1) == taken[-8] + 4  # its block, not the other's
        real = os.getpid()
        monkeypatch.setattr(ledger.os, "getpid", lambda: real + 1)  # the same Store, forked
        assert first.next_number(None, "control/blocks", 1) > max(taken)
    finally:
        second.dispose()


def _numbers_in_own_transaction(store) -> int:
    with store.transaction() as session:
        return store.next_number(session, "control/open", 9)


def test_a_postgresql_connection_lost_while_resting_is_replaced_before_use(postgres_url):
    """A pooled connection that rested longer than ping_after_idle is checked before it is lent:
    one the server dropped meanwhile (a restart) is replaced and the unit of work goes through.
    One lost while resting less long fails its unit of work once; the pool is renewed after."""
    checked, unchecked = Store(postgres_url, ping_after_idle=0.2), Store(postgres_url, ping_after_idle=3600)
    try:
        for store in (checked, unchecked):
            _terminate(postgres_url, _backend(store))
        time.sleep(0.5)
        assert _backend(checked) > 0
        with pytest.raises(OperationalError):
            _backend(unchecked)
        assert _backend(unchecked) > 0
    finally:
        checked.dispose()
        unchecked.dispose()


def test_a_submission_whose_postgresql_connection_was_lost_goes_through_on_a_new_one(postgres_url):
    """A single-claim submission's statements go to the driver directly (store._Direct). A lost
    connection is reported as SQLAlchemy reports its own (invalidated, so the unit of work is
    tried again on a new connection), not as a bare driver error: the claim is recorded once, and
    a statement the server refuses still raises SQLAlchemy's exception with no value in it."""
    store = Store(postgres_url, ping_after_idle=3600)
    try:
        upgrade(store)
        flow = workflow(store)
        flow.submit("acme", x12_837([ClaimSpec("K1", [Line("99457", "20260331")])]).encode(), "k1")
        _terminate(postgres_url, _backend(store))
        (claim,) = flow.submit("acme", x12_837([ClaimSpec("K2", [Line("99454", "20260331")])]).encode(),
                               "k2").claims
        assert claim.status == "forwarded" and not claim.resent
        assert count(store, ClaimRow, ClaimRow.claim_id == "K2") == 1
        with pytest.raises(IntegrityError) as refused, store.transaction() as session:
            tenant = store.tenant_ref(session, "acme")
            store.add_claim(session, tenant, {
                "submission_id": 10**6, "patient_id": None, "claim_id": "SECRET-NAME", "billing_provider": "",
                "content_hash": "0" * 64, "format": "x12", "verdict": "pass", "status": "rejected",
                "in_history": False, "rule_set_version": "t", "body": None, "findings": []}, [])
        assert "parameters hidden" in str(refused.value) and "SECRET-NAME" not in str(refused.value)
    finally:
        store.dispose()


def _backend(store) -> int:
    with store.transaction() as session:
        return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, backend: int) -> None:
    admin = Store(url)
    try:
        with admin.transaction() as session:  # waits (up to 10 s) for the backend to be gone
            stopped = session.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": backend})
            assert stopped.scalar()
    finally:
        admin.dispose()


def _impatient_sqlite(path) -> Store:
    """A migrated SQLite ledger whose connections give up on a taken write lock after 1 ms, so a
    writer that reaches BEGIN IMMEDIATE while another holds the lock fails at once."""
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    event.listen(store.engine, "connect", lambda connection, _: connection.execute("PRAGMA busy_timeout=1"))
    store.engine.dispose()
    return store


def _add_counter(store, name: str, hold: float = 0.0) -> None:
    with store.transaction() as session:
        session.execute(text("INSERT INTO counters (name, value) VALUES (:name, 0)"), {"name": name})
        time.sleep(hold)


def test_sqlite_writers_of_one_process_queue_for_the_write_lock(tmp_path):
    """8 threads write at once, each holding its transaction 50 ms: they take turns before BEGIN
    IMMEDIATE instead of meeting a taken write lock (which, with a 1 ms busy timeout, fails)."""
    store = _impatient_sqlite(tmp_path / "queue.sqlite3")
    errors: list[Exception] = []

    def write(n: int) -> None:
        try:
            _add_counter(store, f"thread/{n}", hold=0.05)
        except Exception as error:  # collected: a thread's exception would vanish
            errors.append(error)

    try:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert count(store, Counter, Counter.name.like("thread/%")) == 8
    finally:
        store.dispose()


def test_sqlite_writers_of_two_processes_queue_for_the_write_lock(tmp_path):
    """Another process holds a write transaction for a second: this one's waits its turn (the
    file lock beside the database) and goes through, where SQLite alone would fail after 1 ms."""
    path = tmp_path / "queue.sqlite3"
    store = _impatient_sqlite(path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from sqlalchemy import text\n"
        "from scrubber.store import Store\n"
        f"store = Store('sqlite:///{path}')\n"
        "with store.transaction() as session:\n"
        "    session.execute(text(\"INSERT INTO counters (name, value) VALUES ('other', 0)\"))\n"
        "    print('holding', flush=True)\n"
        "    time.sleep(1)\n"
        "store.dispose()\n")], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        assert holder.stdout.readline().strip() == "holding"
        _add_counter(store, "this")
        assert holder.wait(timeout=60) == 0
        assert count(store, Counter, Counter.name.in_(["other", "this"])) == 2
    finally:
        holder.stdout.close()
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        store.dispose()


def test_no_names_member_ids_or_birth_dates_in_the_logs(store, caplog):
    flow = workflow(store)
    caplog.set_level("DEBUG")
    text = dft_p03("L1", [Line("99458", "20260415")], mrn="MRN-777", member_id="1EG4TE5MK73")
    flow.submit("acme", text.replace("DOE^JANE", "ZYXWOLSKI^PRUDENCE").encode(), "l.hl7")
    flow.submit("acme", x12_837([ClaimSpec("L2", [Line("99457", "20260331")])]).encode(), "l.837")
    logged = caplog.text
    assert "claim" in logged and "L1" in logged  # it does log, by claim id
    for secret in ("ZYXWOLSKI", "PRUDENCE", "1EG4TE5MK73", "MRN-777", "DOE", "JANE", "19500201",
                   "1950-02-01"):
        assert secret not in logged, secret


def test_raw_messages_are_purged_after_the_retention_period_and_decisions_stay(store):
    flow = workflow(store)
    flow.submit("acme", x12_837([ClaimSpec("R1", [Line("99457", "20260331")])]).encode(), "r.837")
    with store.transaction() as session:
        assert store.purge_raw(session, timedelta(days=30)) == 0  # too recent
        session.execute(update(Submission).values(received_at=datetime.now(UTC) - timedelta(days=31)))
    with store.transaction() as session:
        assert store.purge_raw(session, timedelta(days=30)) == 1
        assert session.scalars(select(Submission.raw)).all() == [None]
        assert session.scalar(select(ClaimRow.verdict)) is not None


def test_a_malformed_claim_is_rejected_in_every_mode_and_never_queued(store):
    flow = workflow(store)
    bad = x12_837([ClaimSpec("BAD", [Line("99457", "2026")])])  # DTP03 not a date
    for mode in ("enforce", "monitor"):
        outcome = flow.submit("acme", bad.replace("CLM*BAD", f"CLM*BAD{mode}").encode(), "b.837",
                              mode=mode)
        (claim,) = outcome.claims
        assert (claim.result.verdict.value, claim.status) == ("block", "rejected")
        assert "STC*A3:21" in outcome.x12.ack277  # answered as rejected, shadow mode or not
    assert count(store, OutboxRow) == 0


def test_no_code_path_updates_or_deletes_the_audit_log():
    """The audit log is append-only: AuditEntry rows are only ever added."""
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "scrubber"
    offending = []
    for path in source.rglob("*.py"):
        text = path.read_text()
        for pattern in ("update(AuditEntry", "delete(AuditEntry", "AuditEntry).delete", "AuditEntry).update",
                        "audit_log SET", "DELETE FROM audit_log", "UPDATE audit_log"):
            if pattern in text:
                offending.append((path.name, pattern))
    assert offending == []
    assert "insert(AuditEntry.__table__)" in (source / "store.py").read_text()  # and it is written


def test_a_claim_edit_rejects_that_claim_only_and_its_neighbour_goes_downstream(store):
    """A claim the guide's situational rules reject (its subscriber is the patient and sends no
    DMG) is recorded rejected and never queued; the other claim of the same set is forwarded; the
    999 accepts the set and the 277CA says which claim was refused (A6:21)."""
    flow = workflow(store)
    text = x12_837([ClaimSpec("E1", [Line("99457", "20260331")], mrn="MRN-1"),
                    ClaimSpec("E2", [Line("99457", "20260331")], mrn="MRN-2")])
    first, second = text.split("CLM*E1*", 1)
    head, _, tail = ("".join(first.rsplit("DMG*D8*19500201*F~\n", 1)) + "CLM*E1*" + second).partition("\nSE*")
    body = head[head.index("ST*837"):]
    text = f"{head}\nSE*{body.count('~') + 1}*{tail.partition('*')[2]}"
    for mode in ("enforce", "monitor"):
        outcome = flow.submit("acme", text.replace("CLM*E", f"CLM*{mode}E").encode(), "e.837", mode=mode)
        # (in monitor mode E2 repeats the 99457 enforce just forwarded: blocked, forwarded all the same)
        assert [c.status for c in outcome.claims] == ["rejected", "forwarded"]
        assert outcome.claims[0].result.verdict.value == "block"
        assert "IK5*A~" in outcome.x12.ack999
        ack277 = outcome.x12.ack277.replace("\n", "")
        assert f"TRN*2*{mode}E1~STC*A6:21" in ack277
        assert f"TRN*2*{mode}E2~STC*A2:20" in ack277  # monitor mode answers a forwarded claim as accepted
    with store.transaction() as session:
        payloads = session.scalars(select(OutboxRow.payload)).all()
    assert len(payloads) == 2 and all("E2*" in p and "E1*" not in p for p in payloads)


def test_claims_are_counted_by_utc_day_whatever_the_sessions_zone(store):
    """The dashboard's counts come from the database by the UTC day a claim was received: one
    received at 23:30 UTC counts on that day, also in a PostgreSQL session fourteen hours ahead
    (where the moment is already the next day). Statuses and resolution times come with them."""
    batch = x12_837([ClaimSpec("Z1", [Line("99457", "20260331")]),
                     ClaimSpec("Z2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-2")])
    workflow(store).submit("acme", batch.encode(), "t")
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    with store.transaction() as session:
        session.execute(update(ClaimRow).values(created_at=late))
        held = session.scalars(select(ClaimRow).where(ClaimRow.status == "held")).one()
        store.release(session, held, "rita", "contract allows both")
    with store.transaction() as session:
        if store.is_postgres:
            session.execute(text("SET LOCAL TIME ZONE 'Etc/GMT-14'"))  # POSIX signs: UTC+14
        tenant_id = store.tenant(session, "acme").id
        counted = store.claim_counts(session, tenant_id)
        resolved = store.resolution_times(session, tenant_id)
    assert {day for day, _, _, _ in counted} == {"2026-03-31"}
    assert sorted((verdict, n) for _, verdict, _, n in counted) == sorted(
        (verdict, 1) for verdict in ("block", "flag"))
    statuses: dict[str, int] = {}
    for _, _, status, n in counted:
        statuses[status] = statuses.get(status, 0) + n
    assert statuses == {"forwarded": 1, "released": 1}
    assert len(resolved) == 1 and resolved[0] > timedelta(days=200)


def test_values_longer_than_the_ledger_keeps_are_named_where_they_were():
    """A procedure code longer than the ledger's column (the guide allows 48 characters, the ledger
    keeps 20) makes the claim malformed, with the issue at the line's own SV1 in the 837."""
    from scrubber.workflow import _bounded
    text = x12_837([ClaimSpec("C1", [Line("99457", "20260310"), Line("99454", "20260331")])])
    text = text.replace("SV1*HC:99454*", "SV1*HC:" + "9" * 21 + "*")
    (claim,) = read_input(text.encode(), "t.837").items
    assert not claim.issues  # the 837 itself is valid
    sv1 = [n for n, s in enumerate(text.split("~\n"), start=-1) if s.startswith("SV1")]
    assert [(issue.message, issue.location) for issue in _bounded(claim).issues] == [
        ("the procedure code is 21 characters long, more than the 20 the ledger keeps",
         f"2400/SV101-2 at segment {sv1[1]}")]


def _a_claim(submission: int, claim_id: str) -> dict:
    return {"submission_id": submission, "patient_id": None, "claim_id": claim_id,
            "billing_provider": "1234567893", "content_hash": f"hash-{claim_id}", "format": "x12",
            "verdict": "pass", "status": "forwarded", "in_history": False, "rule_set_version": "1",
            "body": {"claim_id": claim_id}, "findings": []}


def test_a_claim_recorded_is_read_back_by_its_unit_of_work_and_rolled_back_with_it(store):
    """On PostgreSQL a claim is written with its unit of work's appends when it commits, or just
    before the next statement the session runs. Either way, and on SQLite: the unit of work's
    later reads find it (through the driver and through the ORM), claims keep the order they
    were recorded in, the audit entry naming a claim gets its ledger id, and a unit of work
    rolled back leaves none of it."""
    workflow(store)
    with store.transaction() as session:
        tenant = store.tenant_ref(session, "acme")
        submission, _, _ = store.receive(session, "acme", "x12", "t", "enforce", b"")
        first = store.add_claim(session, tenant, _a_claim(submission, "C1"), [], "payload-1")
        store.audit(session, tenant, "test", "noted", first)
        found = store.recorded(session, tenant, "1234567893", "C1", "hash-C1")
        assert found is not None and found.id == first.id and found.status == "forwarded"
        second = store.add_claim(session, tenant, _a_claim(submission, "C2"), [])
        assert session.scalars(select(ClaimRow.id).where(ClaimRow.claim_id == "C2")).all() == [second.id]
        last = store.add_claim(session, tenant, _a_claim(submission, "C3"), [], "payload-3")
        store.audit(session, tenant, "test", "noted", last)
        store.audit(session, tenant, "test", "noted", "something else")
    assert first.id < second.id < last.id
    with store.sessions() as session:
        assert session.execute(select(ClaimRow.id, ClaimRow.claim_id).where(ClaimRow.tenant_id == tenant.id)
                               .order_by(ClaimRow.id)).all() == [(first.id, "C1"), (second.id, "C2"),
                                                                 (last.id, "C3")]
        assert session.scalars(select(AuditEntry.subject).where(AuditEntry.actor == "test")
                               .order_by(AuditEntry.id)).all() == [
            f"claim {first.id}", f"claim {last.id}", "something else"]
        outbox = select(OutboxRow.claim_pk, OutboxRow.payload).order_by(OutboxRow.id)
        assert session.execute(outbox).all() == [(first.id, "payload-1"), (last.id, "payload-3")]

    with pytest.raises(RuntimeError), store.transaction() as session:
        dropped = store.add_claim(session, tenant, _a_claim(submission, "C4"), [], "payload-4")
        store.audit(session, tenant, "test", "dropped", dropped)
        raise RuntimeError("the unit of work fails")
    assert dropped.id is None or store.engine.dialect.name == "sqlite"  # (SQLite numbers it at once)
    assert count(store, ClaimRow, ClaimRow.claim_id == "C4") == 0
    assert count(store, AuditEntry, AuditEntry.action == "dropped") == 0
    assert count(store, OutboxRow) == 2


def test_history_takes_claims_by_claim_id_and_billing_provider_together(store):
    """A claim id is a billing provider's own: the history of a new claim holds the patient's
    claims in reach and the claims sharing an id *and* a provider with one of those or with the
    new claim, never a claim of another provider that happens to use the same id."""
    workflow(store)
    with store.transaction() as session:
        tenant = store.tenant_ref(session, "acme")
        submission, _, _ = store.receive(session, "acme", "x12", "t", "enforce", b"")
        one = store.patient(session, tenant, "MRN-1", None, create=True)
        other = store.patient(session, tenant, "MRN-2", None, create=True)
        day = date(2026, 3, 15)
        line = {"number": 1, "code": "99454", "units": 1, "date_from": day, "date_to": day,
                "charge": "50", "credit": False}
        refs = {}
        for key, patient, claim_id, provider in (
                ("in reach", one, "X", "P1"), ("same id, other provider", other, "X", "P2"),
                ("its replacement", other, "X", "P1"), ("new claim's id", other, "NEW", "P1"),
                ("new id, other provider", other, "NEW", "P9")):
            refs[key] = store.add_claim(session, tenant, {
                **_a_claim(submission, claim_id), "patient_id": patient.id, "billing_provider": provider,
                "content_hash": f"{key}", "in_history": True, "body": {"key": key}}, [line])
    with store.transaction() as session:
        found = store.history(session, tenant, [one], "NEW", "P1", (date(2026, 3, 1), date(2026, 3, 31)))
    expected = ["in reach", "its replacement", "new claim's id"]
    assert [json.loads(body)["key"] for _, body in found] == expected
    assert [pk for pk, _ in found] == [refs[key].id for key in expected]
