"""999, TA1 and 277CA built from real batches, compared whole with golden files and validated by
pyx12 (the test oracle). Set UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change,
then read the diff."""
import os
from datetime import datetime
from pathlib import Path

import pytest

from scrubber.answers import Decision, X12Answers, answer_x12, stamps_from
from scrubber.catalogue import catalogue
from scrubber.checker import Checker
from scrubber.docjson import load_documentation
from scrubber.findings import Verdict
from tests.builders import ClaimSpec, Line, x12_837
from tests.x12oracle import as_x222a1, pyx12_errors
from x12.reader import read_batch

NOW = datetime(2026, 4, 2, 9, 30)
GOLDEN = Path(__file__).parent / "data" / "golden"
DEMO = Path(__file__).resolve().parents[1] / "scrubber" / "demo"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "x12_837p"


def answers(text: str) -> X12Answers:
    """Check every claim of the batch against the demo documentation and build the answers."""
    batch = read_batch(text, "t.837")
    shipped = catalogue()
    checker = Checker(shipped, shipped.profiles["medicare"],
                      load_documentation((DEMO / "documentation.json").read_text()))
    results = {id(item): checker.check(item) for item in batch.items()}

    def decide(claim):
        return Decision(results[id(claim)].verdict, results[id(claim)].findings)

    return answer_x12(batch, decide, shipped, stamps_from(NOW, 501))


def golden(name: str, text: str | None) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text or "")
    assert text == path.read_text(), f"{name} differs from the golden file"


def valid(text: str | None) -> None:
    assert text
    assert pyx12_errors(text) == []


def demo_batch() -> str:
    return (DEMO / "batch.837").read_text()


def only(claim_ids: set[str]) -> str:
    """The demo batch cut down to some claims, through the splitter (itself tested below)."""
    from x12.split import split_batch
    batch = read_batch(demo_batch(), "demo")
    return split_batch(batch, lambda claim: claim.claim_id in claim_ids)


def two_sets(second_broken: bool) -> str:
    """One group with two transaction sets; the second's SE01 is wrong when asked."""
    text = x12_837([ClaimSpec("DEMO-1001", [Line("99457", "20260331")], mrn="MRN-1001",
                              member_id="1EG4TE5MK73")])
    head, _, rest = text.partition("ST*837*0001")
    body, _, tail = rest.partition("GE*1*1")
    first = "ST*837*0001" + body
    second = first.replace("ST*837*0001", "ST*837*0002").replace("*0001~", "*0002~")
    if second_broken:
        second = second.replace("\nSE*", "\nSE*9", 1)
    return head + first + second + "GE*2*1" + tail


def test_all_accepted():
    result = answers(only({"DEMO-1001", "DEMO-1004"}))
    golden("accepted.999", result.ack999)
    golden("accepted.277", result.ack277)
    assert result.ta1 is None
    valid(result.ack999)
    valid(result.ack277)
    assert "AK9*A*1*1*1~" in result.ack999
    assert result.ack277.count("STC*A2:20*") == 2 and "*U*" not in result.ack277


def test_partially_accepted_claims():
    result = answers(demo_batch())
    golden("partial.999", result.ack999)
    golden("partial.277", result.ack277)
    valid(result.ack999)
    valid(result.ack277)
    assert "QTY*90*2~" in result.ack277 and "QTY*AA*2~" in result.ack277
    assert "AMT*YU*150~" in result.ack277 and "AMT*YY*100~" in result.ack277
    assert "SVC*HC:99458*50*****1~" in result.ack277  # the offending line of DEMO-1003


def test_all_rejected_claims():
    result = answers(only({"DEMO-1002", "DEMO-1003"}))
    golden("rejected.277", result.ack277)
    valid(result.ack277)
    assert "QTY*90" not in result.ack277 and "QTY*AA*2~" in result.ack277
    assert result.outbound is None


def test_partially_accepted_group():
    result = answers(two_sets(second_broken=True))
    golden("partial-group.999", result.ack999)
    valid(result.ack999)
    assert "IK5*R*4~" in result.ack999 and "AK9*P*2*2*1~" in result.ack999
    assert result.ack277.count("ST*277*") == 1  # only the accepted set is acknowledged


def test_claim_level_syntax_error_rejects_that_claim_only():
    text = x12_837([ClaimSpec("DEMO-1001", [Line("99457", "20260331")], mrn="MRN-1001"),
                    ClaimSpec("BAD-DATE", [Line("99457", "20260231")], mrn="MRN-1004")])
    result = answers(text)
    golden("claim-error.999", result.ack999)
    golden("claim-error.277", result.ack277)
    valid(result.ack999)
    valid(result.ack277)
    assert "CTX*CLM01:BAD-DATE~" in result.ack999 and "IK5*E*5~" in result.ack999
    assert "IK4*3*1251*8*20260231~" in result.ack999
    assert "TRN*2*BAD-DATE~STC*A3:21*" in result.ack277.replace("\n", "")


def without(text: str, segment: str) -> str:
    """The batch with one segment removed and SE01 recounted."""
    text = text.replace(segment + "~\n", "")
    head, _, tail = text.partition("\nSE*")
    count, _, rest = tail.partition("*")
    return f"{head}\nSE*{int(count) - 1}*{rest}"


def test_error_outside_claims_rejects_the_set():
    result = answers(without(x12_837([ClaimSpec("C1", [Line("99457", "20260331")])]), "N3*1 MAIN ST"))
    golden("rejected.999", result.ack999)
    valid(result.ack999)
    assert "IK3*N3*8*2010*3~" in result.ack999 and "IK5*R*5~" in result.ack999
    assert "AK9*R*1*1*0~" in result.ack999
    assert result.ack277 is None and result.outbound is None


def test_interchange_error_gets_a_ta1_and_no_999():
    text = x12_837([ClaimSpec("C1", [Line("99457", "20260331")])]).replace("IEA*1*", "IEA*2*")
    result = answers(text)
    golden("rejected.ta1", result.ta1)
    valid(result.ta1)
    assert "TA1*000000001*260401*1200*R*021~" in result.ta1
    assert result.ack999 is None and result.ack277 is None and result.outbound is None


def test_builders_are_deterministic():
    assert answers(demo_batch()) == answers(demo_batch())


def test_free_text_cannot_break_the_277():
    """STC12 carries our own message (with ':' and '*' in it): it comes out without a delimiter."""
    text = x12_837([ClaimSpec("A-B", [Line("99458", "20260331")], mrn="MRN-1003")])
    result = answers(text)
    valid(result.ack277)
    assert "TRN*2*A-B~" in result.ack277
    stc = next(line for line in result.ack277.splitlines() if line.startswith("STC*A8"))
    assert stc.count("*") == 12 and "addon-without-base - 99458" in stc


def test_a_claim_id_holding_the_component_separator_is_refused_in_the_999():
    """CLM01 is a simple element: a ':' in it is a delimiter where none may be (pyx12: "an invalid
    composite"), so the claim is refused in the 999 with IK403 6, never echoed into a 277CA."""
    text = x12_837([ClaimSpec("A:B", [Line("99457", "20260331")], mrn="MRN-1003"),
                    ClaimSpec("C-D", [Line("99457", "20260331")], mrn="MRN-1004")])
    assert pyx12_errors(text)
    result = answers(text)
    valid(result.ack999)
    valid(result.ack277)
    assert "IK3*CLM*" in result.ack999 and "CTX*CLM01:A B~" in result.ack999  # the copies are cleaned
    assert "IK4*1*1028*6*A B~" in result.ack999 and "IK5*E" in result.ack999
    assert "A:B" not in result.ack277 and "TRN*2*C-D~" in result.ack277


OTHER = SAMPLES.parent / "x12_other"


@pytest.mark.parametrize("path", sorted(p for p in [*SAMPLES.iterdir(), *OTHER.iterdir()]
                                        if "no_isa" not in p.name and p.suffix != ".base"),
                         ids=lambda p: p.name)
def test_acknowledgements_of_every_sample_validate(path):
    """Every X12 sample, 837P or not (999s, 277s, 835, 4010...), is answered with documents pyx12
    accepts: acknowledgements are never acknowledged, and a mangled ISA is not echoed into a TA1."""
    from x12.tokenizer import decode
    text = decode(path.read_bytes())
    result = answers(text)
    documents = [d for d in (result.ta1, result.ack999, result.ack277) if d]
    if "GS*FA*" in text:  # an acknowledgement sent to us: no 999 back
        assert result.ack999 is None
    else:
        assert documents
    for document in documents:
        assert pyx12_errors(document) == [], path.name
    if result.outbound:
        assert oracle_errors(result.outbound) == [], path.name


# pyx12 matches PWK*CT to the first 2400 PWK (Line Supplemental Information) and then rejects the
# DME certificate codes (AB, AD, ...) that the second PWK allows: not an error in the file.
_PYX12_PWK_MISREAD = "is not a valid code for Attachment Transmission Code (PWK02)"


def oracle_errors(text: str) -> list[str]:
    """pyx12's errors for an outbound 837P: it has maps for X222A1 only and cannot read a line
    break as the segment terminator, so versions and terminator are normalised first."""
    from x12.tokenizer import Delimiters, serialize, tokenize
    parts = []
    for interchange in tokenize(text):
        d = interchange.delimiters
        parts.append(serialize(interchange.segments, Delimiters(d.element, d.repetition, d.component,
                                                                  "~" if d.segment in "\r\n" else d.segment,
                                                                  "\n")))
    normalised = as_x222a1("".join(parts))
    return [e for e in pyx12_errors(normalised) if _PYX12_PWK_MISREAD not in e]


def test_verdict_of_each_claim_is_what_the_277_says():
    result = answers(demo_batch())
    batch = read_batch(demo_batch(), "demo")
    assert [c.claim_id for c in batch.items()] == ["DEMO-1001", "DEMO-1002", "DEMO-1003", "DEMO-1004"]
    text = result.ack277.replace("\n", "")
    assert "TRN*2*DEMO-1001~STC*A2:20" in text and "TRN*2*DEMO-1004~STC*A2:20" in text
    assert "TRN*2*DEMO-1002~STC*A7:454" in text and "TRN*2*DEMO-1003~STC*A8:454" in text
    assert Verdict.BLOCK.value == "block"


def test_out_of_balance_claim_is_rejected_in_the_277_not_the_999():
    text = x12_837([ClaimSpec("DEMO-1001", [Line("99457", "20260331")], mrn="MRN-1001")])
    result = answers(text.replace("CLM*DEMO-1001*50*", "CLM*DEMO-1001*75*"))
    valid(result.ack999)
    valid(result.ack277)
    assert "IK5*A~" in result.ack999
    assert "STC*A7:400*20260402*U*75" in result.ack277 and "SNIP type 3" in result.ack277


def test_a_diagnosis_pointer_to_no_diagnosis_rejects_that_claim_in_the_277():
    """SV107-2 points at a second diagnosis the claim does not carry: the 999 accepts the set, the
    277CA rejects that claim (A7:21, the pointer named in STC12) and accepts the other."""
    text = x12_837([ClaimSpec("DEMO-1001", [Line("99457", "20260331")], mrn="MRN-1001"),
                    ClaimSpec("DEMO-1004", [Line("99457", "20260331")], mrn="MRN-1004")])
    first, rest = text.split("CLM*DEMO-1004", 1)
    result = answers(first.replace("***1~", "***1:2~", 1) + "CLM*DEMO-1004" + rest)
    valid(result.ack999)
    valid(result.ack277)
    assert "IK5*A~" in result.ack999 and "IK3" not in result.ack999
    text277 = result.ack277.replace("\n", "")
    assert "TRN*2*DEMO-1001~STC*A7:21*20260402*U*50" in text277
    assert "SV107-2 points to diagnosis 2, but the claim's HI carries 1 diagnosis code" in text277
    assert "TRN*2*DEMO-1004~STC*A2:20" in text277


def test_numbers_the_sender_wrote_in_other_scripts_digits_are_not_echoed():
    """str.isdigit takes any script's digits; X12 numbers are 0-9 only. An ISA13 or GE01 written
    with Arabic-Indic digits is not copied into TA101 or AK902, which must be numeric."""
    text = x12_837([ClaimSpec("C1", [Line("99457", "20260331")])])
    isa13 = text.split("*")[13]
    result = answers(text.replace(f"*{isa13}*", f"*{isa13[:-1]}\u0663*", 1))
    assert "TA1*000000000*" in result.ta1
    valid(result.ta1)
    result = answers(text.replace("GE*1*", "GE*\u0661*", 1))
    assert "AK9*R*1*1*0" in result.ack999
    assert "\u0661" not in result.ack999.split("AK9*", 1)[1]
