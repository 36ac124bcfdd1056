"""Bounded fuzzing in the suite (hypothesis): any bytes given to a parser give a result or our own
error, never another exception. X12 and HL7 text is covered by tests/test_tokenizer_properties.py;
here: the 837P reader on mutated real samples, documentation JSON, the HL7 ACK path, and
attachment XML (well-formed, DTD-free XML is accepted; everything else is our AttachmentError,
and no entity is ever expanded)."""
import json
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hl7.reader import read_messages
from scrubber.answers import Decision, answer_hl7, stamps_from
from scrubber.attachments import AttachmentError, check_attachment
from scrubber.docjson import DocumentationError, load_documentation, parse_documentation
from scrubber.findings import Verdict
from scrubber.inputs import InputError, read_input

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
X12_SEEDS = [p.read_bytes() for p in sorted((SAMPLES / "x12_837p").iterdir())[:12]]
HL7_SEEDS = [p.read_bytes() for p in sorted((SAMPLES / "hl7_dft").iterdir())]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)


@st.composite
def mutated(draw, seeds):
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "duplicate"]))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position:position + draw(st.integers(1, 40))]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=20))
        else:
            data[position:position] = data[position:position + draw(st.integers(1, 200))]
    return bytes(data)


@SETTINGS
@given(mutated(X12_SEEDS))
def test_any_mutated_837_gives_claims_or_our_errors(data):
    try:
        read = read_input(data, "fuzz.837")
    except InputError:
        return
    assert all(item.format in ("x12", "hl7") for item in read.items)


def test_a_cut_off_utf16_837_is_read_or_refused_not_a_crash():  # found by bench/fuzz_x12.py
    for encoding in ("utf-16-le", "utf-16-be", "utf-16"):
        whole = X12_SEEDS[0].decode("utf-8-sig").encode(encoding)
        for cut in (whole[:-1], whole[:547], whole + b"\x00", whole[:200] + b"\x00\xd8" + whole[200:]):
            try:
                read = read_input(cut, "cut.837")
            except InputError:
                continue
            assert read.kind == "x12" and read.items


@SETTINGS
@given(mutated(HL7_SEEDS))
def test_any_mutated_dft_is_read_and_answered(data):
    text = data.decode("utf-8", errors="replace")
    messages = read_messages(text, "fuzz.hl7")
    passing = Decision(Verdict.PASS, ())
    acks = answer_hl7(messages, lambda claim: passing, stamps_from(datetime(2026, 1, 1), 1))
    assert len(acks) == len(messages) and all(ack.startswith("MSH") for ack in acks)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                  max_size=4), max_leaves=20)
_PATIENTS = st.fixed_dictionaries({"patients": st.lists(st.dictionaries(
    st.sampled_from(["patient", "consent", "episodes", "readings", "time_entries", "extra"]), _JSON,
    max_size=5), max_size=3)})


@SETTINGS
@given(st.one_of(_JSON, _PATIENTS))
def test_any_json_is_documentation_or_a_documentation_error(data):
    try:
        parse_documentation(data)
    except DocumentationError as error:
        assert error.errors and all(path.startswith("$") for path, _ in error.errors)  # named JSON paths


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_are_documentation_or_a_documentation_error(data):
    try:
        load_documentation(data.decode("utf-8", errors="replace"))
    except DocumentationError:
        pass
    try:
        load_documentation(json.dumps(data.decode("latin-1")))
    except DocumentationError:
        pass


_XML_SEEDS = [b'<attachment claim="C1"><note>15 min call</note></attachment>',
              b'<?xml version="1.0" encoding="UTF-8"?><a><b x="1">t&amp;</b><!-- c --><![CDATA[x]]></a>',
              b'<!DOCTYPE a [<!ENTITY e "expanded">]><a>&e;</a>',
              b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
              b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>']


@SETTINGS
@given(st.one_of(mutated(_XML_SEEDS), st.binary(max_size=300)))
def test_any_bytes_are_an_attachment_or_an_attachment_error(data):
    try:
        check_attachment(data, "application/xml")
    except AttachmentError as error:
        assert error.status == 400 and "XML" in str(error)
    else:  # accepted: no DTD, so nothing can have been expanded from one
        assert etree.fromstring(data, etree.XMLParser(resolve_entities=False, load_dtd=False,
                                                      no_network=True)).getroottree().docinfo.doctype == ""
