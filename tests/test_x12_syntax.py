"""837P syntax checks against the implementation guide, each error with its 999 code and its
X12 location (loop/segment+element at the segment's position in the set)."""
from datetime import datetime
from pathlib import Path

import pytest

from scrubber.model import Claim, Unreadable
from tests.builders import ClaimSpec, Line, x12_837
from tests.x12oracle import pyx12_errors
from x12.errors import Level
from x12.reader import read_batch
from x12.tokenizer import decode

OTHER = Path(__file__).resolve().parents[2] / "shared" / "samples" / "x12_other"
SAMPLES = OTHER.parent / "x12_837p"


def recount(text: str) -> str:
    """Fix SE01 after a test edited the body."""
    head, _, tail = text.partition("\nSE*")
    body = head[head.index("ST*837"):]
    count = body.count("~") + 1
    return f"{head}\nSE*{count}*{tail.partition('*')[2]}"


def base(*specs: ClaimSpec) -> str:
    return x12_837(list(specs) or [ClaimSpec("C1", [Line("99457", "20260331")])])


def _stamp():
    """The answers' clock and control numbers, fixed (the builders are deterministic)."""
    from scrubber.answers import stamps_from

    return next(stamps_from(datetime(2026, 4, 2, 9, 30), 7))


def _all_errors(text: str):
    """Every error of every set of the text, in order."""
    return [e for i in read_batch(text, "t").interchanges for g in i.groups for s in g.sets for e in s.errors]


def errors(text: str) -> list[tuple[str, str, str, str]]:
    """(location, IK304 or IK502 code, IK403 code, claim id) of every error of the one set."""
    (interchange,) = read_batch(text, "t").interchanges
    (group,) = interchange.groups
    (result,) = group.sets
    return [(e.location, e.code, e.element_code, e.claim_id) for e in result.errors]


CASES = {
    "required segment missing": (
        lambda t: t.replace("N3*1 MAIN ST~\n", ""), ("2010AA/N3 at segment 8", "3", "", "")),
    "segments out of order": (
        lambda t: t.replace("N3*1 MAIN ST~\nN4*SPRINGFIELD*IL*627010000~",
                            "N4*SPRINGFIELD*IL*627010000~\nN3*1 MAIN ST~"),
        ("2010AA/N3 at segment 9", "7", "", "")),
    "bad qualifier": (
        lambda t: t.replace("REF*EA*", "REF*ZZ*"), ("2300/REF01 at segment 19", "8", "7", "C1")),
    "bad date": (
        lambda t: t.replace("D8*20260331", "D8*20261331"), ("2400/DTP03 at segment 23", "8", "8", "C1")),
    "non-numeric charge": (
        lambda t: t.replace("SV1*HC:99457*50*", "SV1*HC:99457*5O*"),
        ("2400/SV102 at segment 22", "8", "6", "C1")),
    "non-numeric units": (
        lambda t: t.replace("*UN*1***1", "*UN*ONE***1"), ("2400/SV104 at segment 22", "8", "6", "C1")),
    "unknown segment": (
        lambda t: t.replace("HI*ABK:I10~", "HI*ABK:I10~\nZZZ*1~"), ("2300/ZZZ at segment 21", "6", "", "C1")),
    "garbage segment id": (
        lambda t: t.replace("HI*ABK:I10~", "HI*ABK:I10~\nn3*1~"), ("2300/n3 at segment 21", "1", "", "C1")),
    "required element missing": (
        lambda t: t.replace("CLM*C1*50*", "CLM*C1**"), ("2300/CLM02 at segment 18", "8", "1", "C1")),
    "wrong HL parent": (
        lambda t: t.replace("HL*2*1*22*0", "HL*2*7*22*0"), ("2000B/HL02 at segment 11", "8", "7", "")),
    # element rules by loop (x12.elements837)
    "not used element present": (
        lambda t: t.replace("NM1*85*2*DEMO CLINIC*****XX", "NM1*85*2*DEMO CLINIC***DR**XX"),
        ("2010AA/NM106 at segment 7", "8", "I10", "")),
    "element too short": (
        lambda t: t.replace("*IL*627010000~", "*IL*62~"), ("2010AA/N403 at segment 9", "8", "4", "")),
    "element too long": (
        lambda t: t.replace("NM1*IL*1*DOE*JANE*", "NM1*IL*1*DOE*" + "J" * 36 + "*"),
        ("2010BA/NM104 at segment 13", "8", "5", "")),
    "paired element missing (P0809)": (
        lambda t: t.replace("*XX*1234567893~", "*XX~"), ("2010AA/NM109 at segment 7", "8", "2", "")),
    "exclusive elements both present (E0207)": (
        lambda t: t.replace("*IL*627010000~", "*IL*627010000*US***ON~"),
        ("2010AA/N407 at segment 9", "8", "10", "")),
    "state code": (
        lambda t: t.replace("*IL*627010000~", "*ZZ*627010000~"), ("2010AA/N402 at segment 9", "8", "7", "")),
    "birth date": (
        lambda t: t.replace("DMG*D8*19500201", "DMG*D8*19501301"),
        ("2010BA/DMG02 at segment 16", "8", "8", "")),
    "code of the loop's occurrence": (
        lambda t: t.replace("DMG*D8*19500201*F", "DMG*D8*19500201*X"),
        ("2010BA/DMG03 at segment 16", "8", "7", "")),
    "too many components": (
        lambda t: t.replace("*11:B:1*", "*11:B:1:9*"), ("2300/CLM05 at segment 18", "8", "13", "C1")),
    "required component missing": (
        lambda t: t.replace("*11:B:1*", "*11::1*"), ("2300/CLM05-2 at segment 18", "8", "1", "C1")),
    "qualified segment repeated": (
        lambda t: t.replace("DTP*472*D8*20260331~", "DTP*472*D8*20260331~\nDTP*472*D8*20260330~"),
        ("2400/DTP at segment 24", "5", "", "C1")),
    "trailing separator": (
        lambda t: t.replace("REF*EA*MRN-1~", "REF*EA*MRN-1*~"), ("2300/REF at segment 19", "8", "", "C1")),
    "HL out of sequence": (
        lambda t: t.replace("HL*2*1*22*0", "HL*3*1*22*0"), ("2000B/HL01 at segment 11", "8", "I12", "")),
    "place of service": (
        lambda t: t.replace("*11:B:1*", "*00:B:1*"), ("2300/CLM05-1 at segment 18", "8", "7", "C1")),
    "number with a space": (
        lambda t: t.replace("*UN*1***1", "*UN* 1***1"), ("2400/SV104 at segment 22", "8", "6", "C1")),
    # the X12 character set of 005010: printable ASCII (pyx12's check on AN and ID values)
    "letter outside the character set": (
        lambda t: t.replace("NM1*IL*1*DOE*", "NM1*IL*1*DO\u00c9*"),
        ("2010BA/NM103 at segment 13", "8", "6", "")),
    "control character": (
        lambda t: t.replace("REF*EA*MRN-1~", "REF*EA*MRN\x07-1~"),
        ("2300/REF02 at segment 19", "8", "6", "C1")),
    "attachment sent without its control number": (
        lambda t: t.replace("REF*EA*MRN-1~", "PWK*OZ*EL~\nREF*EA*MRN-1~"),
        ("2300/PWK05 at segment 19", "8", "I9", "C1")),
    "digits of another script in a number": (
        lambda t: t.replace("*UN*1***1", "*UN*\u0663***1"), ("2400/SV104 at segment 22", "8", "6", "C1")),
    "tab in an address": (
        lambda t: t.replace("N3*1 MAIN ST~", "N3*1 MAIN\tST~"), ("2010AA/N301 at segment 8", "8", "6", "")),
    # what pyx12 rejects in a value beyond the character set (its single-edit probe, 2026-11-24)
    "trailing space in a name": (
        lambda t: t.replace("NM1*IL*1*DOE*", "NM1*IL*1*DOE *"), ("2010BA/NM103 at segment 13", "8", "6", "")),
    "trailing space in a procedure code": (
        lambda t: t.replace("SV1*HC:99457*", "SV1*HC:99457 *"),
        ("2400/SV101-2 at segment 22", "8", "6", "C1")),
    "component separator in a simple element": (
        lambda t: t.replace("REF*EA*MRN-1~", "REF*EA*MRN:1~"), ("2300/REF02 at segment 19", "8", "6", "C1")),
    "plus sign in a number": (
        lambda t: t.replace("*UN*1***1", "*UN*+1***1"), ("2400/SV104 at segment 22", "8", "6", "C1")),
    "exponent in an amount": (
        lambda t: t.replace("CLM*C1*50*", "CLM*C1*5E1*"), ("2300/CLM02 at segment 18", "8", "6", "C1")),
    "amount ending in its decimal point": (
        lambda t: t.replace("CLM*C1*50*", "CLM*C1*50.*"), ("2300/CLM02 at segment 18", "8", "6", "C1")),
    "procedure code without its qualifier": (
        lambda t: t.replace("SV1*HC:99457*", "SV1*:99457*"), ("2400/SV101-1 at segment 22", "8", "1", "C1")),
    "service line numbers out of sequence": (
        lambda t: t.replace("LX*1~", "LX*2~"), ("2400/LX01 at segment 21", "8", "I12", "C1")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_error_has_its_code_and_location(name):
    edit, expected = CASES[name]
    found = errors(recount(edit(base())))
    assert expected in found, found


def test_a_valid_batch_has_no_error():
    assert errors(base()) == []


# pyx12's map has no state list on 2010AA's N402 (it has one on most others; x12.elements837 adds
# it), pyx12 raises IndexError reading a composite with more components than its map defines, and
# it does not check the guide's situational rules (PWK05/06 required when PWK02 says it is sent).
_ORACLE_SILENT = {"state code", "too many components", "attachment sent without its control number"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_error_is_one_pyx12_finds_and_its_999_validates(name):
    """Each edit is an error for pyx12 too, and the 999 naming it is one pyx12 accepts (the IK403
    codes I10, 10 and 13 included)."""
    from x12.ack999 import build_999

    text = recount(CASES[name][0](base()))
    if name not in _ORACLE_SILENT:
        assert pyx12_errors(text), f"pyx12 accepts the edit {name!r}"
    (interchange,) = read_batch(text, "t").interchanges
    ack = build_999(interchange, _stamp())
    assert "IK3*" in ack and pyx12_errors(ack) == []


def test_balancing_is_a_claim_edit_not_a_syntax_error():
    text = base().replace("CLM*C1*50*", "CLM*C1*60*")
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    (error,) = result.errors
    assert error.edit and "SNIP type 3" in error.message and error.location == "2300/CLM02 at segment 18"
    assert result.ack_code == "A"  # the 999 accepts the set; the 277CA rejects the claim (A7:400)
    (claim,) = result.items
    assert claim.malformed


def test_error_in_one_claim_leaves_the_other_readable():
    text = base(ClaimSpec("GOOD", [Line("99457", "20260331")]), ClaimSpec("BAD", [Line("99457", "2026")]))
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    good, bad = result.items
    assert not good.issues and bad.issues and result.ack_code == "E"
    assert "DTP03 '2026' is not a valid date" in bad.issues[0].message


def test_envelope_errors_are_reported_at_their_level():
    text = base().replace("GE*1*1", "GE*3*1").replace("\nSE*24*", "\nSE*2*")
    (interchange,) = read_batch(text, "t").interchanges
    (group,) = interchange.groups
    assert [(e.level, e.code) for e in group.errors] == [(Level.GROUP, "5")]
    assert [(e.level, e.code) for e in group.sets[0].errors] == [(Level.SET, "4")]
    assert group.ack_code == "R" and interchange.accepted


def test_4010_is_unsupported_not_misread():
    text = decode((OTHER / "pyx12_simple_837p_4010A1.txt").read_bytes())
    items = read_batch(text, "t").items()
    assert items and all(isinstance(i, Unreadable) or i.malformed for i in items)
    assert any("unsupported version '004010X098A1'" in issue.message for i in items for issue in i.issues)


def test_x222a2_is_read():
    text = base().replace("005010X222A1", "005010X222A2")
    (claim,) = read_batch(text, "t").items()
    assert isinstance(claim, Claim) and not claim.issues


def test_isa16_contradicted_by_the_body_is_rejected_with_the_reason():
    samples = OTHER.parent / "x12_837p"
    (claim,) = read_batch(decode((samples / "lfhx12_demo.example6.837").read_bytes()), "t").items()
    assert any("separated by '>' but ISA16 declares ':'" in i.message for i in claim.issues)


def test_every_occurrence_of_a_bad_segment_is_reported():
    # Segments found clean are remembered and not re-checked; errors never are.
    specs = [ClaimSpec(f"C{n}", [Line("99457", "2026")]) for n in (1, 2, 3)]
    (result,) = read_batch(base(*specs), "t").interchanges[0].groups[0].sets
    bad_dates = [(e.claim_id, e.element_code) for e in result.errors if e.segment_id == "DTP"]
    assert bad_dates == [("C1", "8"), ("C2", "8"), ("C3", "8")]


def test_a_segment_clean_under_one_separator_is_checked_again_under_another():
    clean = base()
    assert errors(clean) == []
    # the same SV1 text read with ISA16 '>' no longer has a composite: SV101 qualifier is wrong
    other = clean.replace("*:~", "*>~", 1)
    assert ("2400/SV101-1 at segment 22", "8", "7", "C1") in errors(other)


def test_a_composite_with_another_separator_is_one_error_not_one_per_check():
    text = base().replace("SV1*HC:99457", "SV1*HC>99457")
    assert errors(text) == [("2400/SV101-1 at segment 22", "8", "7", "C1")]


def test_a_character_outside_the_set_is_named_by_code_point_not_by_the_value():
    """The message locates the character; it does not repeat the value (a name is PHI), and the
    999's copy of the bad element (IK404) carries only characters of the set."""
    from x12.ack999 import build_999

    text = base().replace("NM1*IL*1*DOE*", "NM1*IL*1*MU\u00d1OZ*")
    (interchange,) = read_batch(text, "t").interchanges
    (error,) = interchange.groups[0].sets[0].errors
    assert error.message == ("NM103 has a character outside the X12 character set (U+00D1 at position 3 "
                             "of 5)")
    ack = build_999(interchange, _stamp())
    assert "IK4*3*1035*6*MU OZ~" in ack and ack.isascii() and pyx12_errors(ack) == []


def test_the_whole_extended_set_is_accepted():
    """Every printable ASCII character but the interchange's own separators (*, :, ^, ~) is part of
    005010's extended set: lower case and the specials pass in a name, as pyx12 lets them pass."""
    specials = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "*:^~")
    text = base().replace("NM1*IL*1*DOE*JANE*", f"NM1*IL*1*{specials[:60]}*{specials[60:]}*")
    assert errors(text) == [] and pyx12_errors(text) == []


def _edits(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    return [(e.location, e.message, e.edit) for e in result.errors]


def test_diagnosis_pointers_must_name_a_diagnosis_of_the_claim():
    """SV107 points at HI's diagnosis codes by position (HI01 = 1); a claim edit, not a syntax
    error: the set is accepted and the claim rejected in the 277CA (A7:21)."""
    two = base().replace("HI*ABK:I10~", "HI*ABK:I10*ABF:E119~")
    assert errors(two.replace("***1~", "***2:1~")) == []  # the second diagnosis, then the first
    found = _edits(base().replace("***1~", "***1:3~"))
    assert found == [("2400/SV107-2 at segment 22", "SV107-2 points to diagnosis 3, but the claim's HI "
                      "carries 1 diagnosis code", ("A7", "21"))]
    (result,) = read_batch(base().replace("***1~", "***1:12~"), "t").interchanges[0].groups[0].sets
    assert result.ack_code == "A" and result.items[0].malformed
    assert [e.message for e in result.errors] == [
        "SV107-2 points to diagnosis 12, but the claim's HI carries 1 diagnosis code"]


@pytest.mark.parametrize("pointer", ["0", "13", "-1", "01"])
def test_a_pointer_outside_the_guides_codes_is_a_syntax_error(pointer):
    """SV107's components are the codes 1 to 12 in the guide: another value is refused in the 999
    (IK403 7), as pyx12 refuses it, and is not also a claim edit."""
    text = base().replace("***1~", f"***{pointer}~")
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    assert [(e.location, e.element_code, e.edit) for e in result.errors] == [
        ("2400/SV107-1 at segment 22", "7", ())]
    assert result.ack_code == "E" and pyx12_errors(text)


def test_pointers_count_the_diagnoses_of_their_own_claim_only():
    """Diagnoses do not carry over from one claim to the next (HI is in each 2300)."""
    text = base(ClaimSpec("C1", [Line("99457", "20260331")]), ClaimSpec("C2", [Line("99457", "20260331")]))
    first, second = text.split("CLM*C2", 1)
    text = first.replace("HI*ABK:I10~", "HI*ABK:I10*ABF:E119~") + "CLM*C2" + second.replace("***1~", "***2~")
    assert [(e[0], e[2]) for e in _edits(recount(text))] == [("2400/SV107-1 at segment 35", ("A7", "21"))]


@pytest.mark.parametrize("frequency", ["7", "8"])
def test_a_replacement_or_void_names_the_claim_it_replaces(frequency):
    """REF*F8 (the payer's claim control number) is required with CLM05-3 7 or 8: a claim edit."""
    text = base(ClaimSpec("C1", [Line("99457", "20260331")], frequency=frequency))
    assert "REF*F8*ICN-C1~" in text and errors(text) == []
    (found,) = _edits(recount(text.replace("REF*F8*ICN-C1~\n", "")))
    kind = {"7": "replacement", "8": "void"}[frequency]
    assert found == ("2300/CLM05-3 at segment 18", f"CLM05-3 {frequency} ({kind}) needs REF*F8 with the "
                     "payer's claim control number of the claim it replaces or voids", ("A7", "21"))


def test_an_original_claim_does_not_carry_a_payer_claim_control_number():
    text = recount(base().replace("REF*EA*MRN-1~", "REF*F8*ICN-1~\nREF*EA*MRN-1~"))
    (found,) = _edits(text)
    assert found[0] == "2300/REF01 at segment 19" and found[2] == ("A7", "21")
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    assert result.ack_code == "A" and result.items[0].malformed


def _patient_loop(text: str, relationship: str) -> str:
    """The claim moved under a 2000C patient (a dependant) of a subscriber with SBR02 `relationship`."""
    patient = "HL*3*2*23*0~\nPAT*19~\nNM1*QC*1*DOE*JOHN~\nN3*2 OAK AVE~\nN4*CHICAGO*IL*606010000~\n" \
              "DMG*D8*20100101*M~\n"
    text = text.replace("HL*2*1*22*0~", "HL*2*1*22*1~").replace("SBR*P*18*", f"SBR*P*{relationship}*")
    return recount(text.replace("CLM*C1*", patient + "CLM*C1*"))


def test_a_patient_loop_needs_a_subscriber_who_is_not_the_patient():
    dependant = _patient_loop(base(), "")
    assert errors(dependant) == [] and _edits(dependant) == []
    assert pyx12_errors(dependant) == []
    (found,) = _edits(_patient_loop(base(), "18"))
    assert found == ("2000C/HL at segment 18", "2000C (patient) is sent only when the patient is not the "
                     "subscriber, and SBR02 18 says the subscriber is the patient", ("A8", "21"))


def test_a_claim_under_the_subscriber_needs_sbr02_18():
    text = base().replace("SBR*P*18*", "SBR*P**")
    (found,) = _edits(text)
    assert found == ("2000B/SBR02 at segment 12", "SBR02 must be 18 when the subscriber is the patient: "
                     "this claim has no 2000C patient loop", ("A8", "21"))


@pytest.mark.parametrize("dropped", ["N3*2 OAK AVE~\n", "N4*CHICAGO*IL*606010000~\n", "DMG*D8*19500201*F~\n"])
def test_a_subscriber_who_is_the_patient_needs_address_and_demographics(dropped):
    """Claim edits (the X12 RFIs 1496 and 2281: 2010BA N3, N4 and DMG are required when the patient
    is the subscriber): the set is accepted, the claim rejected in the 277CA with A6:21."""
    text = recount(base().replace(dropped, ""))
    segment_id = dropped.split("*")[0]
    (found,) = _edits(text)
    assert found[0].startswith(f"2010BA/{segment_id} at segment ") and found[2] == ("A6", "21")
    assert "required when the subscriber is the patient (SBR02 18)" in found[1]
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    assert result.ack_code == "A" and result.items[0].malformed


def test_each_claim_of_the_subscriber_gets_the_edit():
    text = base(ClaimSpec("C1", [Line("99457", "20260331")]))
    second = ("CLM*C2*50***11:B:1*Y*A*Y*Y~\nHI*ABK:I10~\nLX*1~\nSV1*HC:99457*50*UN*1***1~\n"
              "DTP*472*D8*20260331~\n")
    text = recount(text.replace("DMG*D8*19500201*F~\n", "").replace("\nSE*", "\n" + second + "SE*", 1))
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    assert [(e.claim_id, e.segment_id) for e in result.errors] == [("C1", "DMG"), ("C2", "DMG")]
    assert all(claim.malformed for claim in result.items)


def test_a_bad_pointer_is_reported_on_every_claim_that_repeats_it():
    # pointers found good for a number of diagnoses are remembered; bad ones never are
    specs = [ClaimSpec(f"C{n}", [Line("99457", "20260331")]) for n in (1, 2, 3)]
    text = base(*specs).replace("***1~", "***1:2~")
    assert [(e[0].split(" at ")[0], e[2]) for e in _edits(text)] == [("2400/SV107-2", ("A7", "21"))] * 3
    assert _edits(base(*specs)) == []


def test_a_subscriber_needs_a_claim_filing_indicator():
    """SBR09 is 'required prior to mandated use of PlanID', which never came: a claim edit."""
    (found,) = _edits(base().replace("SBR*P*18*******MB~", "SBR*P*18~"))
    assert found[0] == "2000B/SBR09 at segment 12" and found[2] == ("A6", "21")
    assert found[1].startswith("SBR09 (claim filing indicator, MB for Medicare Part B) is required")


def test_a_chargeable_claim_for_nothing_is_rejected():
    """CLM02 0 with BHT06 CH (a claim for payment): a claim edit; an encounter (RP) may be 0."""
    text = base().replace("CLM*C1*50*", "CLM*C1*0*").replace("SV1*HC:99457*50*", "SV1*HC:99457*0*")
    (found,) = _edits(text)
    assert found[0] == "2300/CLM02 at segment 18" and found[2] == ("A7", "21")
    assert _edits(text.replace("*1200*CH~", "*1200*RP~")) == []


@pytest.mark.parametrize(("hi", "problem"), [
    ("HI*ABK:E11.9~", "HI01-2 'E11.9': an ICD-10-CM code is sent without its decimal point (E119)"),
    ("HI*ABK:I10*ABF:1234~", "HI02-2 '1234' is not an ICD-10-CM code as claims carry it (a letter, a "
                             "digit, then 1 to 5 letters or digits)"),
    ("HI*BK:250.00~", "HI01-2 '250.00': an ICD-9-CM code is sent without its decimal point (25000)"),
])
def test_a_diagnosis_code_is_sent_as_its_code_set_sends_it(hi, problem):
    """The guide: ICD codes go without their decimal point. A claim edit (A7:21); the codes of
    every valid sample pass (68 of them, ICD-10-CM and ICD-9-CM)."""
    (found,) = _edits(base().replace("HI*ABK:I10~", hi))
    assert found[1] == problem and found[2] == ("A7", "21") and found[0].startswith("2300/HI")
    assert _edits(base().replace("HI*ABK:I10~", "HI*ABK:E119*ABF:Z7982~")) == []


def test_a_value_padded_to_its_minimum_length_is_not_a_trailing_space():
    """Spaces that make a value as long as its minimum are padding, not trailing spaces (pyx12 lets
    them pass too); the same value with one space more is refused."""
    padded = base().replace("N4*SPRINGFIELD*IL*627010000~", "N4*SPRINGFIELD*IL*62 ~")
    assert errors(padded) == [] and pyx12_errors(padded) == []
    longer = base().replace("N4*SPRINGFIELD*IL*627010000~", "N4*SPRINGFIELD*IL*627 ~")
    assert errors(longer) == [("2010AA/N403 at segment 9", "8", "6", "")] and pyx12_errors(longer)


def test_numbers_as_x12_writes_them_are_accepted():
    """A leading minus, a point followed by digits, no digit before the point (CLM02 -0.5, SV102 -.50)."""
    text = base(ClaimSpec("C1", [Line("99457", "20260331", charge="-.50")]))
    assert "CLM*C1*-0.5*" in text and "*-.50*UN*" in text
    assert errors(text) == [] and pyx12_errors(text) == []


def test_each_claim_numbers_its_service_lines_from_one():
    """LX01 counts the claim's lines (pyx12 checks the same): the second claim starts again at 1,
    and a line numbered as the other claim's was is reported, not remembered clean from there."""
    two = base(ClaimSpec("C1", [Line("99457", "20260331"), Line("99458", "20260331")]),
               ClaimSpec("C2", [Line("99457", "20260331")], mrn="MRN-2"))
    assert errors(two) == []
    wrong = two.replace("LX*1~\nSV1*HC:99457*50*UN*1***1~\nDTP*472*D8*20260331~\nSE*",
                        "LX*2~\nSV1*HC:99457*50*UN*1***1~\nDTP*472*D8*20260331~\nSE*")
    assert wrong != two
    assert [e[1:] for e in errors(wrong)] == [("8", "I12", "C2")] and pyx12_errors(wrong)


def test_hl_numbers_are_read_as_numbers():
    """HL01 003 is the third HL and HL02 1 names HL01 001 (pyx12 reads both as integers); the split
    renumbers them plainly."""
    from x12.split import split_batch

    text = base().replace("HL*1**20*1~", "HL*001**20*1~").replace("HL*2*1*22*0~", "HL*02*1*22*0~")
    assert errors(text) == [] and pyx12_errors(text) == []
    outbound = split_batch(read_batch(text, "t"), lambda claim: True)
    assert [line for line in outbound.splitlines() if line.startswith("HL*")] == ["HL*1**20*1~",
                                                                                  "HL*2*1*22*0~"]
    assert errors(text.replace("HL*02*", "HL*03*")) == [("2000B/HL01 at segment 11", "8", "I12", "")]


def _isa(text: str, index: int, value: str) -> str:
    """The builder's interchange with ISA`index` replaced by `value` (of the same width)."""
    end = text.index("~")
    fields = text[:end].split("*")
    assert len(value) == len(fields[index])
    fields[index] = value
    return "*".join(fields) + text[end:]


@pytest.mark.parametrize("index, value, note", [
    (1, "99", "010"), (3, "99", "012"), (5, "QQ", "005"), (6, " " * 15, "006"), (7, "QQ", "007"),
    (8, " " * 15, "008"), (9, "261399", "014"), (10, "2599", "015"), (12, "A0501", "017"),
    (12, "26139", "017"), (13, "00000000A", "018"), (14, "7", "019"), (15, "Z", "020")])
def test_an_isa_value_out_of_its_list_is_answered_with_its_ta1_note(index, value, note):
    """ISA values a width cannot catch (codes, ids, date, time, version, control number): the
    interchange is rejected with the TA1 note code of the element (pyx12 rejects each too, but for a
    blank sender or receiver id, which it reads as present), and the TA1 echoes nothing it cannot
    carry."""
    from x12.ack999 import build_ta1

    text = _isa(base(), index, value)
    if index == 13:
        text = text.replace("IEA*1*000000001~", f"IEA*1*{value}~")
    (interchange,) = read_batch(text, "t").interchanges
    assert [(e.code, e.element) for e in interchange.errors] == [(note, index)]
    assert bool(pyx12_errors(text)) is (index not in (6, 8))
    ta1 = build_ta1(interchange, _stamp())
    assert f"*R*{note}~" in ta1 and pyx12_errors(ta1) == []


def _answer_999(text: str) -> str:
    from x12.ack999 import build_999

    (interchange,) = read_batch(text, "t").interchanges
    ack = build_999(interchange, _stamp())
    assert pyx12_errors(ack) == []
    return ack


def test_control_numbers_must_be_control_numbers_and_unique():
    """GS06 is 1-9 digits (AK905 6) and unique in the interchange (19); ST02 is 4-9 characters
    (IK502 7) and unique in the group (23). The 999 answering them stays valid: a mangled number is
    not echoed as is (AK102 0, AK202 zero-filled)."""
    text = base()
    st = text[text.index("ST*837"):text.index("GE*")]
    two_sets = text.replace("GE*1*", st + "GE*2*")
    ack = _answer_999(two_sets)
    assert "IK5*A~" in ack and "IK5*R*23~" in ack and "AK9*P*2*2*1~" in ack
    assert pyx12_errors(two_sets)

    ack = _answer_999(text.replace("*1200*1*X*", "*1200*A*X*").replace("GE*1*1~", "GE*1*A~"))
    assert "AK1*HC*0*005010X222A1~" in ack and "AK9*R*1*1*0*6~" in ack

    short = text.replace("ST*837*0001", "ST*837*01").replace("SE*24*0001", "SE*24*01")
    ack = _answer_999(short)
    assert "AK2*837*0001*005010X222A1~" in ack and "IK5*R*7~" in ack

    group = text[text.index("GS*"):text.index("IEA*")]
    two_groups = text.replace("IEA*1*", group + "IEA*2*")
    (interchange,) = read_batch(two_groups, "t").interchanges
    assert [e.code for g in interchange.groups for e in g.errors] == ["19"]


@pytest.mark.parametrize("edit", [("GS*HC*SUBMITTER*", "GS*HC**"),
                                  ("*20260401*1200*1*X*", "*20261399*1200*1*X*"),
                                  ("*20260401*1200*1*X*", "*20260401*2599*1*X*"),
                                  ("*20260401*1200*1*X*", "*20260401*1200*1*T*")],
                         ids=["GS02", "GS04", "GS05", "GS07"])
def test_a_gs_value_no_999_code_reports_rejects_the_interchange(edit):
    """The 999 answers a group by GS01, GS06 and GS08 only; a bad sender code, date, time or agency
    is TA1 note 024, "invalid interchange content (e.g., invalid GS segment)" (pyx12 rejects each)."""
    from x12.ack999 import build_999, build_ta1

    text = base().replace(*edit)
    (interchange,) = read_batch(text, "t").interchanges
    assert [e.code for e in interchange.errors] == ["024"] and not interchange.accepted
    assert pyx12_errors(text)
    stamp = _stamp()
    assert build_999(interchange, stamp) is None
    ta1 = build_ta1(interchange, stamp)
    assert "*R*024~" in ta1 and pyx12_errors(ta1) == []


def test_a_date_in_digits_of_another_script_is_not_a_date():
    """BHT04 is a DT element (DTP03, an AN, is caught by the character set already)."""
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in "20260401")
    text = base().replace("BHT*0019*00*0123*20260401", f"BHT*0019*00*0123*{arabic_indic}")
    assert errors(text) == [("HEADER/BHT04 at segment 2", "8", "8", "")]


@pytest.mark.parametrize("tail, rejected", [("IEA*1*000000001~\n", True), ("CLM*C9*50~", True),
                                            ("\x1a", False), ("\x00\x00\n", False), ("\n\n  ", False)])
def test_text_after_the_last_iea_is_not_dropped_unread(tail, rejected):
    """A second IEA or a stray segment after the interchange (pyx12 fails on it) rejects the
    interchange with TA1 024; the padding and end-of-file markers transfer tools leave do not."""
    (interchange,) = read_batch(base() + tail, "t").interchanges
    assert [e.code for e in interchange.errors] == (["024"] if rejected else [])
    if rejected:
        assert "after the IEA are not part of an interchange" in interchange.errors[0].message


def test_a_composite_a_special_check_owns_in_one_segment_is_checked_whole_in_another():
    """SV101 and SVD03 share one rule; SV1's own check reports SV101's qualifier, so a qualifier
    seen in an SV1 first was once remembered as clean for the SVD03 after it (pyx12 probe)."""
    text = decode((SAMPLES / "lfhx12_demo.cob.example3.B.837").read_bytes())
    text = text.replace("SV1*HC:99213*", "SV1*ZZ:99213*", 1).replace("SVD*999996666*40.00*HC:99213*",
                                                                   "SVD*999996666*40.00*ZZ:99213*", 1)
    found = [(e.location.split(" ")[0], e.element_code) for e in _all_errors(text)]
    assert ("2400/SV101-1", "7") in found and ("2430/SVD03-1", "7") in found


def test_a_loop_out_of_the_guides_order_is_reported():
    """Loops within a loop come in the guide's order: an ordering provider (2420E) moved before the
    drug identification (2410) of its line is out of order (pyx12 cannot place the LIN after it)."""
    (path,) = SAMPLES.glob("stupidedi_home-infusion-therapy-pharmacy-(adjudicated-with-HCPCS*")
    text = decode(path.read_bytes())
    assert _all_errors(text) == []
    segments = text.split("~")
    lin = next(i for i, s in enumerate(segments) if s.strip().startswith("LIN*"))
    provider = next(i for i in range(lin, len(segments)) if segments[i].strip().startswith("NM1*DK*"))
    assert provider - lin == 3  # LIN, CTP, REF, then the 2420E
    segments.insert(lin, segments.pop(provider))
    moved = "~".join(segments)
    assert pyx12_errors(moved)
    assert [(e.location.split(" ")[0], e.code) for e in _all_errors(moved)] == [("2410/LIN", "7")]


def test_each_clms_own_errors_name_its_claim_and_no_other():
    """A CLM's errors found while it was placed and checked are given its claim id, those of
    earlier claims keep theirs, and a loop missing before a CLM is that claim's."""
    specs = [ClaimSpec(f"C{n}", [Line("99457", "20260331")], mrn=f"MRN-{n}", member_id=f"M-{n}")
             for n in (1, 2, 3, 4)]
    text = base(*specs)
    text = text.replace("CLM*C1*50*", "CLM*C1*5E1*").replace("CLM*C3*50*", "CLM*C3**")
    text = text.replace("CLM*C4*50***11:B:1*", "CLM*C4*50***11:B:1:9*")
    # claim C2's payer loop is gone: found at C2's CLM
    head, tail = text.split("CLM*C2*", 1)
    cut = head.rindex("NM1*PR*")
    text = recount(head[:cut] + head[head.index("~", cut) + 2:] + "CLM*C2*" + tail)
    (result,) = read_batch(text, "t").interchanges[0].groups[0].sets
    found = [(e.segment_id, e.claim_id, e.element) for e in result.errors]
    assert ("CLM", "C1", 2) in found and ("CLM", "C3", 2) in found and ("CLM", "C4", 5) in found
    assert [c for s, c, _ in found if s == "CLM"] == ["C1", "C3", "C4"]
    assert [(s, c) for s, c, _ in found if s == "NM1"] == [("NM1", "C2")]


def test_the_memos_of_clean_segments_and_values_stay_bounded():
    """What the element checks remember is emptied, every loop's and rule's at once, when it holds
    _CLEAN_LIMIT entries in all; the next entry starts the count again, and a set emptied and
    filled again is emptied again (counted in once, from its first entry)."""
    from x12 import syntax837
    from x12.elements837 import ElementRule
    limit = syntax837._CLEAN_LIMIT
    by_loop = syntax837._CLEAN.setdefault(("\x01", "\x02"), {})  # separators no test uses
    texts = by_loop.setdefault("2300", set())
    other_texts = by_loop.setdefault("2400", set())
    values, other_values = ElementRule("9999", "R").clean, ElementRule("9998", "R").clean  # no guide's
    try:
        for sets, first, second in ((syntax837._CLEAN_TEXTS, texts, other_texts),
                                    (syntax837._CLEAN_VALUE_SETS, values, other_values)):
            for _ in range(2):
                for number in range(limit - sets.count):
                    sets.add(first if number % 2 else second, f"entry {number}")
                assert sets.count == limit and len(first) + len(second) <= limit
                sets.add(first, "one more")
                assert first == {"one more"} and second == set() and sets.count == 1
                assert len(sets.sets) == 1
    finally:
        del syntax837._CLEAN[("\x01", "\x02")]
