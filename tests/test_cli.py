"""`rpm-scrubber check` and `demo` end to end, through a real subprocess."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrubber.findings import Severity, Verdict
from tests.builders import ClaimSpec, Line, dft_p03, obx_minutes, x12_837

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def run(*args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "scrubber.cli", *args], input=stdin,
                          capture_output=True, timeout=120)


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.json"
    path.write_text(json.dumps({"patients": [{
        "patient": {"id": "MRN-1", "member_id": "MEMBER-1"},
        "consent": {"date": "2026-01-02", "method": "verbal"},
        "time_entries": [{"id": "t-1", "date": "2026-03-04", "minutes": 15, "program": "RPM",
                          "performer": {"id": "rn-7", "role": "clinical_staff"}, "activity": "Call",
                          "interaction": {"mode": "phone", "with": "patient"}}]}]}))
    return path


def test_json_shape_verdicts_and_exit_status(tmp_path, docs):
    batch = tmp_path / "batch.837"
    batch.write_text(x12_837([ClaimSpec("C1", [Line("99470", "20260331")]),
                              ClaimSpec("C2", [Line("99457", "20260331")])]))
    hl7 = tmp_path / "dft.hl7"
    hl7.write_bytes(dft_p03("H1", [Line("99457", "20260415")], mrn="MRN-1",
                            obx=obx_minutes(1, 22, "202604021000", "video")).encode())
    result = run("check", "--format", "json", "--docs", str(docs), str(batch), str(hl7))
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"claims", "summary"}
    assert document["summary"] == {"pass": 2, "flag": 0, "block": 1}
    first, second, third = document["claims"]
    assert set(first) == {"id", "format", "source", "patient", "verdict", "findings"}
    assert (first["id"], first["format"], first["source"], first["patient"], first["verdict"]) == (
        "C1", "x12", str(batch), "MRN-1", "pass")
    assert second["verdict"] == "block"
    assert [(f["rule"], f["code"], f["line"]) for f in second["findings"]] == [
        ("mutually-exclusive", "99457", 1), ("time-below-threshold", "99457", 1)]
    assert set(second["findings"][0]) == {"rule", "severity", "code", "line", "message", "suggestion"}
    assert (third["id"], third["format"], third["verdict"]) == ("H1", "hl7", "pass")


def test_stdin_and_passing_exit_zero(docs):
    text = x12_837([ClaimSpec("C1", [Line("99470", "20260331")])]).encode()
    result = run("check", "--format", "json", "--docs", str(docs), "-", stdin=text)
    assert result.returncode == 0
    assert json.loads(result.stdout)["claims"][0]["source"] == "-"


def test_malformed_input_is_a_result_not_a_crash(tmp_path):
    path = tmp_path / "bad.837"
    path.write_text(x12_837([ClaimSpec("C1", [Line("99457", "20260331")])]).replace("GE*1*1", "GE*7*1"))
    result = run("check", "--format", "json", str(path))
    assert result.returncode == 1 and not result.stderr
    (claim,) = json.loads(result.stdout)["claims"]
    assert claim["verdict"] == "block"
    assert [f["rule"] for f in claim["findings"]] == ["malformed-message"]
    assert "GE01" in claim["findings"][0]["message"]


@pytest.mark.parametrize("args,phrase", [
    (["check", "--profile", "nonesuch", "{file}"], "unknown profile"),
    (["check", "--docs", "{bad}", "{file}"], "$.patients[0].time_entries"),
    (["check", "{other}"], "neither an X12"),
    (["check", "{missing}"], "cannot read"),
    (["check", "--format", "xml", "{file}"], "xml"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, args, phrase):
    good = tmp_path / "ok.837"
    good.write_text(x12_837([ClaimSpec("C1", [Line("99457", "20260331")])]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"patients": [{"patient": {"id": "M"}, "time_entries": [{"id": "t"}]}]}')
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    names = {"file": good, "bad": bad, "other": other, "missing": tmp_path / "nope.837"}
    result = run(*[a.format(**names) for a in args])
    assert result.returncode == 2
    assert not result.stdout
    assert phrase in result.stderr.decode() and b"Traceback" not in result.stderr


def test_sample_files_never_crash():
    files = sorted(str(p) for p in (SAMPLES / "x12_837p").iterdir() if "no_isa" not in p.name)
    result = run("check", "--format", "json", *files)
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    claims = json.loads(result.stdout)["claims"]
    assert len(claims) > 1500
    assert all(c["verdict"] in ("pass", "flag", "block") for c in claims)


def test_a_file_starting_at_gs_is_not_x12():
    result = run("check", str(SAMPLES / "x12_837p" / "imsweb_x12_no_isa_line.txt"))
    assert result.returncode == 2 and b"neither an X12" in result.stderr


def test_text_report_lists_fixes(tmp_path, docs):
    batch = tmp_path / "b.837"
    batch.write_text(x12_837([ClaimSpec("C2", [Line("99457", "20260331")])]))
    out = run("check", "--docs", str(docs), str(batch)).stdout.decode()
    assert "BLOCK  claim C2" in out and "fix: 15 minutes documented: bill 99470 instead of 99457" in out
    assert out.rstrip().endswith("1 claim: 0 pass, 0 flag, 1 block")


def test_demo_covers_pass_flag_and_block():
    result = run("demo", "--format", "json")
    assert result.returncode == 0
    summary = json.loads(result.stdout)["summary"]
    assert summary["pass"] and summary["flag"] and summary["block"]
    formats = {c["format"] for c in json.loads(result.stdout)["claims"]}
    assert formats == {"x12", "hl7"}


def test_acks_and_split_are_written_per_input_file(tmp_path, docs):
    from tests.x12oracle import pyx12_errors
    batch = tmp_path / "batch.837"
    batch.write_text(x12_837([ClaimSpec("C1", [Line("99470", "20260331")]),
                              ClaimSpec("C2", [Line("99458", "20260331")])]))
    acks, split = tmp_path / "acks", tmp_path / "out"
    result = run("check", "--docs", str(docs), "--acks", str(acks), "--split", str(split), str(batch))
    assert result.returncode == 1, result.stderr
    assert sorted(p.name for p in acks.iterdir()) == ["batch.837.277", "batch.837.999"]
    assert sorted(p.name for p in split.iterdir()) == ["batch.837"]
    for document in (acks / "batch.837.999", acks / "batch.837.277", split / "batch.837"):
        assert pyx12_errors(document.read_text()) == []
    outbound = (split / "batch.837").read_text()
    assert "CLM*C1*" in outbound and "CLM*C2*" not in outbound
    claim_ack = (acks / "batch.837.277").read_text()
    assert "TRN*2*C1~\nSTC*A2:20*" in claim_ack and "SVC*HC:99458*50*****1~" in claim_ack


def test_acks_for_stdin_and_hl7_files(tmp_path, docs):
    hl7 = tmp_path / "dft.hl7"
    hl7.write_bytes(dft_p03("H1", [Line("99457", "20260415")], mrn="MRN-1",
                            obx=obx_minutes(1, 22, "202604021000", "video")).encode())
    text = x12_837([ClaimSpec("C1", [Line("99470", "20260331")])]).encode()
    acks = tmp_path / "acks"
    result = run("check", "--docs", str(docs), "--acks", str(acks), "-", str(hl7), stdin=text)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in acks.iterdir()) == ["dft.hl7.ack", "stdin.277", "stdin.999"]
    ack = (acks / "dft.hl7.ack").read_bytes().decode().split("\r")
    assert ack[1] == "MSA|AA|H1" and ack[0].startswith("MSH|^~\\&|") and "|ACK^P03^ACK|" in ack[0]


def test_acks_say_why_when_there_is_no_interchange_to_answer(tmp_path):
    broken = tmp_path / "broken.837"
    broken.write_text("ISA*00*x~GS*HC~")
    acks = tmp_path / "acks"
    result = run("check", "--acks", str(acks), str(broken))
    assert result.returncode == 1
    assert list(acks.iterdir()) == []
    assert b"no acknowledgement, there is no interchange to answer" in result.stderr


def _reading_batch() -> str:
    """Three interchanges: clean, blocked and flagged claims, a re-send, a bad date and a missing
    subscriber name among them."""
    first = x12_837([ClaimSpec("C1", [Line("99457", "20260310"), Line("99458", "20260310")]),
                     ClaimSpec("C2", [Line("99458", "20260311")], mrn="MRN-2", member_id="M-2")],
                    control="000000001")
    second = x12_837([ClaimSpec("C3", [Line("99454", "20260331")]),
                      ClaimSpec("C1", [Line("99457", "20260310"), Line("99458", "20260310")])],
                     control="000000002")
    third = x12_837([ClaimSpec("C4", [Line("99453", "20261399")])], control="000000003")
    return first + second + third.replace("NM1*IL*1*", "NM1*IL*1**", 1)


def test_reading_x12_and_checking_claims_make_no_reference_cycles(tmp_path):
    """`check` reads X12 and checks claims with the cyclic collector paused (inputs.collector_paused),
    which is only safe because neither makes a reference cycle: what they let go, reference counting
    frees. Compiled, a closure in the reader made one per interchange, which held its claims."""
    import gc

    from scrubber.catalogue import catalogue
    from scrubber.checker import Checker
    from scrubber.cli import _documentation
    from scrubber.inputs import read_input
    from scrubber.report import Report
    demo = Path(__file__).resolve().parents[1] / "scrubber" / "demo"
    batch = tmp_path / "batch.837"
    batch.write_text(_reading_batch())
    # what is read before the pause: documentation (marshmallow's schemas make cycles) and HL7
    # (hl7apy's trees link children and parents)
    documentation = _documentation((str(demo / "documentation.json"),))
    hl7 = read_input((demo / "dft_p03.hl7").read_bytes(), "dft_p03.hl7").items
    shipped = catalogue()
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        for keep in (True, False):
            read = read_input(batch.read_bytes(), str(batch), keep_segments=keep)
            assert len(read.items) == 5 and read.batch is not None
            del read
            assert gc.collect() == 0
        items = [*read_input(batch.read_bytes(), str(batch)).items, *hl7,
                 *read_input((demo / "batch.837").read_bytes(), "batch.837").items]
        gc.collect()
        checker = Checker(shipped, shipped.profiles["medicare"], documentation)
        report = Report(io.StringIO(), "json")
        verdicts = set()
        for item in items:
            result = checker.check(item)
            if result is not None:
                report.add(result)
                verdicts.add(result.verdict.value)
        report.close()
        assert verdicts == {"pass", "flag", "block"}
        del checker, report, items, result
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


def test_check_reads_x12_and_checks_with_the_collector_paused(tmp_path):
    """The batch pauses the collector while it reads X12 and while it checks, and gives it back
    as it found it; HL7 is read with the collector running (its trees are full of cycles)."""
    import gc

    from scrubber.cli import run_check
    from scrubber.inputs import read_input
    from scrubber.report import Report
    demo = Path(__file__).resolve().parents[1] / "scrubber" / "demo"
    batch = tmp_path / "batch.837"
    batch.write_text(_reading_batch() * 5)

    class Watching(io.StringIO):  # the report writes each claim as it is checked
        def write(self, text):
            seen.append(gc.isenabled())
            return super().write(text)

    passes = []

    def count(phase, info):
        if phase == "start":
            passes.append(info["generation"])

    threshold = gc.get_threshold()
    enabled = gc.isenabled()
    gc.enable()
    gc.set_threshold(10)  # a pass every ten allocations, where it runs at all
    gc.callbacks.append(count)
    try:
        frozen = gc.get_freeze_count()
        read = read_input(batch.read_bytes(), str(batch), batch=True)
        paused = len(passes)  # the test's own allocations, decoding and recognising the file: a few
        assert gc.isenabled()
        # what the reading made is left out of later passes (frozen), not walked by the next one
        assert gc.get_freeze_count() > frozen + 20 * len(read.items) and gc.get_count()[0] < 10
        del read
        passes.clear()
        read_input(batch.read_bytes(), str(batch))  # the service reads with the collector running
        assert paused < 10 < 100 < len(passes)
        passes.clear()
        read_input((demo / "dft_p03.hl7").read_bytes() * 20, "dft_p03.hl7", batch=True)
        assert len(passes) > 20
        seen: list[bool] = []
        run_check([str(batch)], [], "medicare", report=Report(Watching(), "json"))
        assert seen and not any(seen) and gc.isenabled()
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
        gc.unfreeze()
        if not enabled:
            gc.disable()


def test_streamed_report_is_the_whole_report(tmp_path):
    """`check` writes each claim as it is checked; the result equals the report rendered at once,
    and the JSON has one claim per line."""
    import io

    from scrubber.cli import run_check
    from scrubber.report import Report, as_json, as_text
    demo = Path(__file__).resolve().parents[1] / "scrubber" / "demo"
    _, results = run_check([str(demo / "batch.837"), str(demo / "dft_p03.hl7")],
                           [str(demo / "documentation.json")], "medicare")
    for kind, whole in (("json", as_json), ("text", as_text)):
        for subset in (results, []):
            out = io.StringIO()
            report = Report(out, kind)
            for result in subset:
                report.add(result)
            report.close()
            assert out.getvalue() == whole(subset) + "\n"
    lines = as_json(results).splitlines()
    assert len(lines) == len(results) + 3 and json.loads(as_json(results))["summary"]["block"] == 2


_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # any character: quotes, controls, CJK, U+2028


@settings(max_examples=300, deadline=None)
@given(ids=st.none() | _TEXT, source=_TEXT, patient=st.none() | _TEXT,
       verdict=st.sampled_from(list(Verdict)),
       findings=st.lists(st.tuples(_TEXT, st.sampled_from(list(Severity)), _TEXT, _TEXT,
                                   st.none() | st.integers(min_value=-2**70, max_value=2**70),
                                   st.none() | _TEXT), max_size=3))
def test_a_claims_json_is_what_json_dumps_writes(ids, source, patient, verdict, findings):
    """The report writes each claim's JSON from its parts, remembering the strings claims repeat:
    its text is json.dumps's of the claim's dict, escapes, nulls, big numbers and all."""
    from scrubber.checker import ClaimResult
    from scrubber.findings import Finding
    from scrubber.report import claim_json

    result = ClaimResult(ids, "x12", source, patient, verdict,
                         tuple(Finding(rule, severity, message, suggestion, line, code)
                               for rule, severity, message, suggestion, line, code in findings))
    assert claim_json(result) == json.dumps(result.as_json())
    assert claim_json(result) == json.dumps(result.as_json())  # the second time from what it remembered


def test_a_claims_json_stays_right_past_what_the_report_remembers():
    """The strings remembered are let go when there are too many; the text does not change."""
    from scrubber.checker import ClaimResult
    from scrubber.findings import Finding
    from scrubber.report import claim_json

    for number in range(10_000):  # more distinct suggestions and sources than are remembered
        finding = Finding(f"rule-{number % 7}", Severity.FLAG, "m", f"fix {number} \u00e9", number)
        result = ClaimResult(f"C{number}", "x12", f"file{number % 5000}.837", None, Verdict.FLAG,
                             (finding,))
        assert claim_json(result) == json.dumps(result.as_json())


def test_check_does_not_load_the_service_stack():
    """`check` runs per file in pre-submission jobs: importing the command line must not pull in
    the ledger, the web app or the HL7 validation library (about 1 s of a 1.3 s run before)."""
    probe = ("import sys, scrubber.cli\n"
             "print(' '.join(m for m in ('sqlalchemy', 'alembic', 'psycopg', 'flask', 'gunicorn',"
             " 'lxml', 'hl7apy', 'prometheus_client') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert loaded.stdout.split() == []


def test_only_a_batch_runs_the_collector_less_often(tmp_path):
    """`check` runs the cyclic collector every 50,000 allocations (a batch's long-lived segments
    are walked less often); the other commands, the long-running serve, mllp and worker among
    them, keep the interpreter's default, under which each request's cyclic garbage is freed in
    small passes instead of a thousand requests' worth at once."""
    claims = tmp_path / "claims.837"
    claims.write_text(x12_837([ClaimSpec("C1", [Line("99457", "20260331")])]))
    probe = ("import gc, sys\nfrom scrubber.cli import main\ndefault = gc.get_threshold()[0]\n"
             "try:\n    main(sys.argv[1:], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
             "print(default, gc.get_threshold()[0], file=sys.stderr)")
    thresholds = {}
    for args in (["rules"], ["check", str(claims)]):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1], timeout=120)
        default, after = done.stderr.split()[-2:]
        thresholds[args[0]] = int(after)
    assert thresholds == {"rules": int(default), "check": 50_000}


def test_db_upgrade_creates_the_ledger_and_hides_passwords(tmp_path):
    env = {**os.environ, "SCRUBBER_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("SCRUBBER_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "scrubber.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("schema at revision 0007")
    assert (tmp_path / "instance" / "scrubber.sqlite3").is_file()
    env["SCRUBBER_DATABASE_URL"] = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/none"
    failed = subprocess.run([sys.executable, "-m", "scrubber.cli", "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "s3cret" not in failed.stderr and "***" in failed.stderr


def test_db_upgrade_warns_when_postgresql_keeps_no_statistics(tmp_path, postgres_url):
    """Without autovacuum the planner's statistics go stale as the ledger grows: `db upgrade`
    says so (this server's setting decides which way the test goes; both are asserted)."""
    from sqlalchemy import create_engine

    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar()
    engine.dispose()
    env = {**os.environ, "SCRUBBER_INSTANCE_PATH": str(tmp_path / "instance"),
           "SCRUBBER_DATABASE_URL": postgres_url}
    done = subprocess.run([sys.executable, "-m", "scrubber.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warned = "warning: autovacuum is off" in done.stderr
    assert warned == (autovacuum == "off"), (autovacuum, done.stderr)


def test_users_create_and_reset_password(tmp_path):
    from sqlalchemy import select
    from werkzeug.security import check_password_hash

    from scrubber.store import Credential, Store

    env = {**os.environ, "SCRUBBER_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("SCRUBBER_DATABASE_URL", None)

    def cli(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "scrubber.cli", *args], env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    assert cli("db", "upgrade").returncode == 0
    made = cli("users", "create", "--tenant", "acme", "--role", "reviewer", "--name", "rita")
    assert made.returncode == 0 and len(made.stdout.strip()) >= 12
    assert cli("users", "create", "--tenant", "other", "--role", "admin", "--name", "rita").returncode == 2
    assert cli("users", "create", "--tenant", "acme", "--role", "submitter", "--name", "x").returncode == 2
    short = cli("users", "reset-password", "--name", "rita", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "12 characters" in short.stderr
    reset = cli("users", "reset-password", "--name", "rita", "--password-stdin", stdin="a long new secret\n")
    assert reset.returncode == 0 and "a long new secret" not in reset.stdout
    store = Store(f"sqlite:///{tmp_path / 'instance' / 'scrubber.sqlite3'}")
    with store.transaction() as session:
        row = session.scalar(select(Credential).where(Credential.name == "rita"))
        assert row.role == "reviewer" and check_password_hash(row.secret_hash, "a long new secret")
        assert not check_password_hash(row.secret_hash, made.stdout.strip())
    store.dispose()
