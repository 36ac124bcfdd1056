"""Properties of the X12 tokenizer: serialize(tokenize(x)) == x for any delimiters."""
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from x12.reader import read_x12
from x12.tokenizer import Delimiters, Segment, serialize, tokenize

_SEPARATORS = "*|~^:>`!+_"
_TEXT = string.ascii_uppercase + string.digits + " .-"


@st.composite
def interchanges(draw):
    element, component, terminator, repetition = draw(
        st.lists(st.sampled_from(_SEPARATORS), min_size=4, max_size=4, unique=True))
    suffix = draw(st.sampled_from(["", "\n", "\r\n"]))
    delimiters = Delimiters(element, repetition, component, terminator, suffix)
    isa = Segment("ISA", ["00", " " * 10, "00", " " * 10, "ZZ", "SENDER".ljust(15), "ZZ",
                          "RECEIVER".ljust(15), "260401", "1200", repetition, "00501", "000000001", "0",
                          "T", component], 1)
    body = []
    for position in range(draw(st.integers(0, 8))):
        elements = draw(st.lists(st.text(_TEXT, max_size=6), min_size=1, max_size=5))
        segment_id = draw(st.sampled_from(["NM1", "REF", "DTP", "SV1", "HI"]))
        body.append(Segment(segment_id, elements, position + 2))
    trailer = Segment("IEA", ["0", "000000001"], len(body) + 2)
    return [isa, *body, trailer], delimiters


@settings(max_examples=150, deadline=None)
@given(interchanges())
def test_tokenize_then_serialize_gives_back_the_input(generated):
    segments, delimiters = generated
    text = serialize(segments, delimiters)
    (interchange,) = tokenize(text)
    assert interchange.delimiters == delimiters
    assert [s.id for s in interchange.segments] == [s.id for s in segments]
    assert serialize(interchange.segments, interchange.delimiters) == text
    assert not interchange.issues


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_results_or_our_own_errors(data):
    text = "ISA" + data.decode("latin-1")
    for item in read_x12(text, "fuzz"):
        for issue in item.issues:
            assert issue.location and issue.message


@settings(max_examples=200, deadline=None)
@given(st.text(string.printable, max_size=300))
def test_any_hl7_text_gives_results_or_our_own_errors(tail):
    from hl7.reader import read_hl7

    text = "MSH|^~\\&|A|B|C|D|20260401||DFT^P03|X1|P|2.5\rPID|1||M^^^^MR\r" + tail
    for item in read_hl7(text, "fuzz"):
        for issue in getattr(item, "issues", ()):
            assert issue.location and issue.message
