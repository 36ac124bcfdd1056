"""Every 837P sample is read with the right counts, or rejected with a location."""
from pathlib import Path

import pytest

from scrubber.model import Claim, Unreadable
from tests.builders import ClaimSpec, Line, x12_837
from x12.reader import read_x12, read_x12_bytes
from x12.tokenizer import serialize, tokenize

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "x12_837p"

# file: (claims, lines, codes of the first claim) for files that must read cleanly
VALID = {
    "uhin_837.edi": (1, 1, ["90834"]),
    "lfhx12_demo.837": (1, 4, ["99213", "87070", "99214", "86663"]),
    "oopx12_Example1_HealthInsurance.txt": (1, 4, ["99213", "87070", "99214", "86663"]),
    "oopx12_ST1309-XX.txt": (1, 2, ["99204", "73610"]),
    "stupidedi_COB-claim-from-billing-provider-to-payer-a.edi": (1, 3, ["99213", "90782", "J3301"]),
    "stupidedi_anesthesia.edi": (1, 1, ["00142"]),
    "stupidedi_ambulance.edi": (1, 4, ["A0427", "A0425", "A0422", "A0382"]),
    "stupidedi_wheelchair.edi": (1, 1, ["K0001"]),
}
# file: (claims read despite the errors, a phrase of one issue of the first claim)
BROKEN = {
    "imsweb_x12_valid.txt": (2, "SE01 says 25 segments"),
    "imsweb_x12_valid_different_separators.txt": (2, "SE01 says 25 segments"),
    "imsweb_x12_many_claims.txt": (820, "SE01"),
    "imsweb_x12_multiple_isa.txt": (4, "SE01"),
    "imsweb_x12_multiple_gs.txt": (6, "IEA01 says 1 functional groups"),
    "imsweb_x12_bad_first_line.txt": (2, "ISA02 must be 10 characters"),
    "imsweb_x12_bad_segment_identifier.txt": (2, "is not a valid segment identifier"),
    "lfhx12_demo.example6.837": (1, "ISA16 declares ':'"),
    "stupidedi_X222-case-1.edi": (1, "text before the ISA"),
}


def _sample(name: str) -> list:
    return read_x12_bytes((SAMPLES / name).read_bytes(), name)


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_samples_read_cleanly(name):
    claims, lines, codes = VALID[name]
    items = _sample(name)
    assert all(isinstance(item, Claim) and not item.issues for item in items)
    assert len(items) == claims
    assert sum(len(c.lines) for c in items) == lines
    assert [line.code for line in items[0].lines] == codes


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_samples_are_blocked_with_a_location(name):
    claims, phrase = BROKEN[name]
    items = _sample(name)
    assert len([i for i in items if isinstance(i, Claim)]) == claims
    assert all(item.issues for item in items)
    assert any(phrase in issue.message + issue.location for issue in items[0].issues)
    assert all("segment" in issue.location for item in items for issue in item.issues)


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda p: p.name)
def test_every_sample_reads_or_names_a_location(path):
    items = read_x12_bytes(path.read_bytes(), path.name)
    assert items
    for item in items:
        assert isinstance(item, (Claim, Unreadable))
        for issue in item.issues:
            assert issue.location and issue.message


def test_no_isa_is_unreadable():
    (item,) = _sample("imsweb_x12_no_isa_line.txt")
    assert isinstance(item, Unreadable)
    assert "ISA" in item.issues[0].message


def test_utf16_fragment_is_rejected_not_misread():
    items = _sample("oopx12_UnicodeExample.txt")
    assert all(isinstance(i, Unreadable) for i in items)


def test_claim_fields_and_locations():
    text = x12_837([ClaimSpec("C-7", [Line("99457", "20260320"), Line("99454", "20260301-20260330")],
                              mrn="MRN-9", member_id="MEM-9", provider="1999999984", frequency="7")])
    (claim,) = read_x12(text, "t.837")
    assert claim.claim_id == "C-7" and claim.frequency.value == "replacement"
    assert (claim.patient.mrn, claim.patient.member_id) == ("MRN-9", "MEM-9")
    assert claim.billing_provider == "1999999984" and claim.payer_id == "MEDICARE"
    second = claim.lines[1]
    assert (second.date_from.isoformat(), second.date_to.isoformat()) == ("2026-03-01", "2026-03-30")
    assert second.where("code") == "2400/SV101-2 at segment 26"  # after the replacement's REF*F8
    assert second.where("units") == "2400/SV104 at segment 26"
    assert not claim.issues


def test_each_lines_locations_are_written_when_asked():
    """A line's locations are written on demand, as the segments that gave its fields were placed:
    LX01 for the line, SV101-2 and SV104 from its SV1, DTP03 from its DTP*472, and the LX's place
    for a line without an SV1 or a DTP*472."""
    text = x12_837([ClaimSpec("C-7", [Line("99457", "20260320"), Line("99454", "20260301-20260330"),
                                      Line("99458", "20260320")])])
    text = text.replace("DTP*472*D8*20260320~\nLX*2~", "LX*2~").replace("SV1*HC:99458*50*UN*1***1~\n", "")
    (claim,) = read_x12(text, "t.837")
    first, second, third = claim.lines
    positions = {segment: [n for n, s in enumerate(text.split("~\n"), start=-1) if s.startswith(segment)]
                 for segment in ("LX", "SV1", "DTP*472")}  # positions in the set: ST is 1
    lx, sv1, dtp = positions["LX"], positions["SV1"], positions["DTP*472"]
    assert [first.where(key) for key in ("line", "code", "units", "date")] == [
        f"2400/LX01 at segment {lx[0]}", f"2400/SV101-2 at segment {sv1[0]}",
        f"2400/SV104 at segment {sv1[0]}", f"2400/DTP*472 at segment {lx[0]}"]
    assert second.where("date") == f"2400/DTP03 at segment {dtp[0]}"
    assert (third.where("code"), third.where("units"), third.where("date")) == (
        f"2400/SV1 at segment {lx[2]}", None, f"2400/DTP03 at segment {dtp[1]}")
    assert second.locations["line"] == f"2400/LX01 at segment {lx[1]}" and first.where("other") is None
    with pytest.raises(KeyError):
        third.locations["units"]


def test_se_count_mismatch_blocks_every_claim_of_the_set():
    text = x12_837([ClaimSpec("A", [Line("99457", "20260320")]), ClaimSpec("B", [Line("99457", "20260320")])])
    broken = text.replace("\nSE*", "\nSE*9", 1)
    items = read_x12(broken, "t.837")
    assert [i.claim_id for i in items] == ["A", "B"]
    assert all("SE01" in i.issues[0].location for i in items)


def test_tokenize_serialize_round_trip():
    text = x12_837([ClaimSpec("A", [Line("99457", "20260320")])])
    (interchange,) = tokenize(text)
    assert serialize(interchange.segments, interchange.delimiters) == text


def test_isa16_survives_a_line_break_terminator():
    """ST1309-XX ends segments with CR only: the ISA keeps its component separator element."""
    text = (SAMPLES / "oopx12_ST1309-XX.txt").read_bytes().decode("utf-8-sig")
    (interchange,) = tokenize(text)
    assert interchange.delimiters.segment == "\r"
    assert interchange.segments[0].get(16) == ":"
    assert serialize(interchange.segments[:1], interchange.delimiters) == text[:text.index("\r") + 1]
