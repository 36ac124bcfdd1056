"""DFT^P03 and ORU^R01 reading, and documentation carried in 99RPM OBX segments."""
from pathlib import Path

import pytest

from hl7.reader import read_hl7, read_messages
from scrubber.catalogue import catalogue
from scrubber.checker import Checker
from scrubber.model import Claim, DeviceData, Unreadable
from tests.builders import Line, dft_p03, obx_dates, obx_minutes

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"

DFT_LINES = {
    "hl7genparse_DFT_P03_Healthmatics.hl7": [("99214", 1)],
    "msfhirconv_DFT-P03-01.hl7": [("71045", 2), ("99011", 1)],
    "msfhirconv_DFT-P03-02.hl7": [("71045", 2), ("99011", 1)],
    "lfhhl7fhir_Hl7FinancialInsuranceTest_testFailingOrganizationTelecom.hl7": [("FAKE", None)],
}


def _read(folder: str, name: str):
    return read_hl7((SAMPLES / folder / name).read_text("utf-8"), name)


@pytest.mark.parametrize("name", sorted(DFT_LINES))
def test_dft_samples_yield_their_ft1_lines(name):
    (claim,) = _read("hl7_dft", name)
    assert isinstance(claim, Claim) and not claim.issues
    assert [(line.code, line.units) for line in claim.lines] == DFT_LINES[name]


def test_dft_identifiers_and_performer_npi():
    (claim,) = _read("hl7_dft", "msfhirconv_DFT-P03-01.hl7")
    assert claim.claim_id == "MSG00001"
    assert claim.patient.mrn == "PATID1234" and claim.patient.member_id == "548851236L"
    assert claim.lines[0].billing_provider == "9941339108"
    assert claim.lines[1].where("code") == "FT1(2).25.1"


@pytest.mark.parametrize("name", ["msfhirconv_DFT-P11-01.hl7", "msfhirconv_DFT-P11-02.hl7"])
def test_other_dft_events_are_rejected_clearly(name):
    (item,) = _read("hl7_dft", name)
    assert isinstance(item, Unreadable)
    assert "DFT^P11" in item.issues[0].message and item.issues[0].location == "MSH(1).9.2"


ORU_READINGS = {  # physiologic measurements only: (date, kind) of each data day the message gives
    "ipf_pcd01-request.hl7": {("2009-08-13", "blood-pressure")},
    "ipf_valid-bp-continua-wan.hl7v2": {("2009-08-13", "blood-pressure")},  # not the 2009-10-28 clock OBX
    "ipf_valid-fitness-and-activity-continua-wan.hl7v2": set(),  # fitness sets are not physiologic
    "ipf_valid-fitness-continua-wan.hl7v2": set(),
    "ipf_valid-glucose-continua-wan.hl7v2": {("2009-07-15", "glucose")},
    "ipf_valid-oximeter-continua-wan.hl7v2": {("2009-07-15", "spo2")},
    "ipf_valid-pcd01-MaximumRequest2.hl7": {("2009-08-13", "blood-pressure")},
    "ipf_valid-pcd01-request2.hl7v2": {("2008-12-11", "blood-pressure"), ("2008-12-11", "heart-rate"),
                                       ("2008-12-11", "pulse")},
    "ipf_valid-scale-continua-wan.hl7v2": {("2009-08-15", "body-weight")},  # not height or BMI
    "ipf_valid-thermometer-continua-wan.hl7v2": {("2009-07-15", "body-temperature")},
}


@pytest.mark.parametrize("path", sorted((SAMPLES / "hl7_oru").iterdir()), ids=lambda p: p.name)
def test_oru_samples_are_read_or_rejected(path):
    (item,) = read_hl7(path.read_text("utf-8"), path.name)
    if path.name.startswith("ipf_invalid"):
        assert isinstance(item, Unreadable)
        assert (item.issues[0].location, item.issues[0].code) == ("OBX(8).2", "101")
    else:
        assert isinstance(item, DeviceData)
        assert {(r.date.isoformat(), r.kind) for r in item.record.readings} == ORU_READINGS[path.name]
        assert all(r.transmission == "automatic" for r in item.record.readings)


def test_loinc_measurements_count_and_context_does_not():
    def oru(obx3: str) -> str:
        return "\r".join(["MSH|^~\\&|DEV|HOME|SCRUBBER|RCM|20260402||ORU^R01^ORU_R01|O1|P|2.6",
                          "PID|1||MRN-1^^^CLINIC^MR", "OBR|1|||182777000^monitoring^SCT|||20260402",
                          f"OBX|1|NM|{obx3}||72|kg|||||R|||20260401"]) + "\r"
    (weight,) = read_hl7(oru("29463-7^Body weight^LN"), "t")
    assert [(r.date.isoformat(), r.kind) for r in weight.record.readings] == [("2026-04-01", "body-weight")]
    (context,) = read_hl7(oru("67975^MDC_ATTR_TIME_ABS^MDC"), "t")
    assert context.record.readings == ()


def test_version_21_reads_quantity_from_ft1_11():
    text = dft_p03("M21", [Line("99457", "20260320", units="1", charge="50")], version="2.1")
    (claim,) = read_hl7(text, "t.hl7")
    assert claim.lines[0].units == 50  # FT1-10 carries the quantity from v2.2 on, FT1-11 in v2.1
    assert claim.lines[0].where("units") == "FT1(1).11"


def test_obx_documentation_becomes_time_entries_and_days():
    obx = (obx_minutes(1, 25, "202603041005", "phone")
           + obx_dates(2, "RPM-DAYS", ["20260301", "20260302"]) + obx_dates(3, "RPM-CONSENT", ["20260101"]))
    (claim,) = read_hl7(dft_p03("M1", [Line("99457", "20260331")], obx=obx), "t.hl7")
    record = claim.documentation
    (entry,) = record.time_entries
    assert (entry.id, entry.minutes, entry.interaction.mode) == ("M1/1", 25, "phone")
    assert entry.activity == "Reviewed readings; adjusted plan" and entry.start.isoformat() == "10:05:00"
    assert [r.date.isoformat() for r in record.readings] == ["2026-03-01", "2026-03-02"]
    assert record.consents[0].date.isoformat() == "2026-01-01"


def test_bad_obx_mode_is_malformed_with_location():
    obx = obx_minutes(4, 25, "202603041005", "carrier_pigeon")
    (claim,) = read_hl7(dft_p03("M1", [Line("99457", "20260331")], obx=obx), "t.hl7")
    assert claim.issues[0].location == "OBX(4).17.1"


def _check(messages):
    shipped = catalogue()
    checker = Checker(shipped, shipped.profile("medicare"))
    results = []
    for text in messages:
        for item in read_hl7(text, "t.hl7"):
            result = checker.check(item)
            if result is not None:
                results.append((result.verdict.value, sorted({f.rule for f in result.findings})))
    return results


def test_obx_documentation_supports_the_claim_and_a_resend_adds_nothing():
    obx = obx_minutes(1, 12, "202603041005", "phone") + obx_dates(2, "RPM-CONSENT", ["20260101"])
    message = dft_p03("M1", [Line("99457", "20260331")], obx=obx)
    again = dft_p03("M2", [Line("99457", "20260331")], obx=obx).replace("|M2|", "|M1|", 1)
    assert _check([message]) == [("block", ["time-below-threshold"])]
    # the same message sent twice: its 12 minutes are counted once
    assert _check([message, again]) == [("block", ["time-below-threshold"])] * 2


def test_a_credit_reverses_the_charge():
    obx = obx_minutes(1, 25, "202603041005", "phone") + obx_dates(2, "RPM-CONSENT", ["20260101"])
    charge = dft_p03("M1", [Line("99457", "20260331")], obx=obx)
    correction = dft_p03("M2", [Line("99457", "20260331", credit=True), Line("99457", "20260330")])
    duplicate = dft_p03("M3", [Line("99457", "20260329")])
    assert _check([charge, correction, duplicate]) == [
        ("pass", []), ("pass", []), ("block", ["once-per-period"])]


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1",
                                     "2.8", "2.8.1", "2.8.2"])
def test_dft_is_read_in_every_supported_version(version):
    (claim,) = read_hl7(dft_p03("V1", [Line("99457", "20260415", units="1", charge="52")],
                                version=version), "t")
    assert isinstance(claim, Claim) and not claim.issues
    (line,) = claim.lines
    assert (line.code, line.units, line.charge) == ("99457", 1, "52")


def test_an_unsupported_version_is_refused_with_its_condition_code():
    (received,) = read_messages(dft_p03("V9", [Line("99457", "20260415")], version="2.9"), "t")
    assert isinstance(received.item, Unreadable)
    assert (received.error.code, received.error.location) == ("203", "MSH(1).12")


def test_pr1_gives_the_code_when_ft1_25_is_empty():
    text = dft_p03("P1", [Line("99454", "20260415"), Line("99457", "20260415")])
    first, second = [s for s in text.split("\r") if s.startswith("FT1")]
    emptied = first.replace("|99454^RPM^C4", "|")
    text = text.replace(first, emptied + "\rPR1|1||99454^Device supply^C4||20260415")
    text = text.replace(second, second.replace("|99457^RPM^C4", "|") + "\rPR1|2||99457^Mgmt^C4")
    (claim,) = read_hl7(text, "t")
    assert [(line.code, line.locations["code"]) for line in claim.lines] == [
        ("99454", "PR1(1).3.1"), ("99457", "PR1(2).3.1")]


def test_batch_wrappers_are_unwrapped_and_each_message_read():
    messages = [dft_p03(c, [Line("99457", "20260415")]).rstrip("\r") for c in ("B1", "B2")]
    text = "\r".join(["FHS|^~\\&|PM", "BHS|^~\\&|PM", *messages, "BTS|2", "FTS|1"]) + "\r"
    received = read_messages(text, "t")
    assert [r.item.claim_id for r in received] == ["B1", "B2"]
    assert all(r.error is None for r in received)


def test_dates_and_npis_are_ascii_digits_only():
    """str.isdigit (and int) take any script's digits; HL7 dates and NPIs are 0-9 only. A date
    of service or a performer NPI written in Arabic-Indic digits is not read as one."""
    arabic = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
    (plain,) = read_hl7(dft_p03("M1", [Line("99457", "20260331")], provider="1234567893"), "m")
    assert plain.lines[0].date_from is not None and plain.lines[0].billing_provider == "1234567893"
    text = dft_p03("M1", [Line("99457", "20260331".translate(arabic))],
                   provider="1234567893".translate(arabic)).replace("^^^^^^^^^^NPI", "")
    (claim,) = read_hl7(text, "m")
    assert claim.lines[0].date_from is None
    assert claim.lines[0].billing_provider != "1234567893".translate(arabic)
