"""HL7 ACKs: golden files compared whole (AA, AA with warnings, AE with several ERR, AR for
unsupported and unreadable messages), every ACK validated by hl7apy at STRICT level, across the
versions a DFT^P03 arrives in. Set UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate
change, then read the diff."""
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from hl7.ack import AckError, AckStamp, build_ack
from hl7.reader import Header, read_messages
from scrubber.answers import Decision, answer_hl7, stamps_from
from scrubber.catalogue import catalogue
from scrubber.checker import Checker
from tests.builders import Line, dft_p03, obx_dates, obx_minutes

GOLDEN = Path(__file__).parent / "data" / "golden"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
NOW = datetime(2026, 4, 30, 9, 15, 0, tzinfo=timezone(timedelta(hours=-5)))
# every version hl7apy can validate: it has no 2.7.1, and at STRICT level it refuses even a minimal
# ACK of 2.1, 2.2 or 2.3 ("Cannot instantiate an unknown Element"); those get a structural test below
STRICT_VERSIONS = ("2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8", "2.8.1", "2.8.2")


def strict(ack: str) -> None:
    """hl7apy parses the ACK at STRICT level and finds nothing wrong with it."""
    message = parse_message(ack, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    message.validate()


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(text.encode())
    assert text == path.read_bytes().decode(), f"{name} differs from its golden file"


def answers(text: str) -> list[str]:
    """Read, check and answer one HL7 file as `check --acks` does (clock and control ids fixed)."""
    shipped = catalogue()
    checker = Checker(shipped, shipped.profiles["medicare"])
    received = read_messages(text, "t")
    results = {id(r.item): checker.check(r.item) for r in received}
    decide = lambda claim: Decision(results[id(claim)].verdict, results[id(claim)].findings)  # noqa: E731
    return answer_hl7(received, decide, stamps_from(NOW, 900))


DOCUMENTED = (obx_minutes(1, 25, "202604061000", "video")
              + obx_dates(2, "RPM-CONSENT", ["20260301"]) + obx_dates(3, "RPM-EPISODE", ["20260301"]))


def test_accepted_claim():
    (ack,) = answers(dft_p03("P1", [Line("99457", "20260415")], obx=DOCUMENTED))
    golden("dft_accepted.ack", ack)
    assert ack.split("\r")[1] == "MSA|AA|P1"
    strict(ack)


def test_blocked_claim_gets_one_err_per_finding():
    (ack,) = answers(dft_p03("B1", [Line("99458", "20260415", units="3"), Line("99470", "20260415")]))
    golden("dft_blocked.ack", ack)
    segments = ack.rstrip("\r").split("\r")
    assert segments[1] == "MSA|AE|B1"
    errs = [s.split("|") for s in segments if s.startswith("ERR")]
    assert len(errs) >= 3
    assert all(e[3].startswith("207^") and e[4] in ("E", "W", "I") and e[5] for e in errs)
    assert any(e[2] == "FT1^1^25^1^1" for e in errs)
    strict(ack)


def test_unsupported_event_is_rejected():
    text = (SAMPLES / "hl7_dft" / "msfhirconv_DFT-P11-01.hl7").read_text()
    (ack,) = answers(text)
    golden("dft_p11_rejected.ack", ack)
    assert ack.split("\r")[1] == "MSA|AR|MSG00001"
    assert "|MSH^1^9^1^2|201^Unsupported event code^HL70357|E|" in ack
    strict(ack)


def test_unreadable_message_is_rejected_naming_the_field():
    text = dft_p03("R1", [Line("99457", "20260415")]).replace("|DFT^P03|R1|P|2.5", "|DFT^P03|R1|P|")
    (ack,) = answers(text)
    golden("dft_unreadable.ack", ack)
    assert "MSA|AR|R1" in ack and "|MSH^1^12^1|101^Required field missing^HL70357|E|" in ack


def test_device_data_is_accepted():
    text = (SAMPLES / "hl7_oru" / "ipf_valid-bp-continua-wan.hl7v2").read_text()
    (ack,) = answers(text)
    assert ack.split("\r")[1].startswith("MSA|AA|")
    assert "|ACK^R01^ACK|" in ack.split("\r")[0]
    strict(ack)


def test_invalid_glucose_oru_is_rejected():
    text = (SAMPLES / "hl7_oru" / "ipf_invalid-glucose-continua-wan.hl7v2").read_text()
    (ack,) = answers(text)
    assert "MSA|AR|" in ack and "|OBX^8^2^1|101^Required field missing^HL70357|E|" in ack
    strict(ack)


@pytest.mark.parametrize("version", STRICT_VERSIONS)
def test_acks_of_every_version_validate_strictly(version):
    text = dft_p03("V1", [Line("99458", "20260415", units="3")], version=version)
    (ack,) = answers(text)
    assert f"|{version}\r" in ack.split("\r")[0] + "\r" and "MSA|AE|V1" in ack
    strict(ack)


@pytest.mark.parametrize("version", ["2.3", "2.4"])
def test_older_versions_carry_msa3_and_err1(version):
    text = dft_p03("O1", [Line("99458", "20260415", units="3")], version=version)
    (ack,) = answers(text)
    msh, msa, err = ack.rstrip("\r").split("\r")  # one ERR only before 2.5
    assert msa.startswith("MSA|AE|O1|") and len(msa.split("|")[3]) <= 80
    (eld,) = err.split("|")[1:]  # ERR-1 only, one repetition per finding
    assert len(eld.split("~")) >= 2 and "FT1^1^25^207&Application internal error&HL70357" in eld


def test_free_text_is_escaped():
    header = Header(control_id="X1", version="2.5", message_type=("DFT", "P03"))
    error = AckError("FT1(1).25.1", "207", "E", "rule-x", "a|b^c&d~e\\f", "line one\nline two")
    ack = build_ack(header, "AE", [error], AckStamp(NOW, "7"))
    err = ack.split("\r")[2]
    assert err.endswith("|a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f|line one line two")
    strict(ack)


def test_ack_is_deterministic():
    text = dft_p03("D1", [Line("99458", "20260415", units="3")])
    assert answers(text) == answers(text)
