"""Properties of the X12 tokenizer: serialize(tokenize(x)) == x for any delimiters."""
import string

import pytest
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


def _segments(text):
    from x12.errors import X12SyntaxError
    from x12.tokenizer import scan
    try:
        return [([(s.id, s.elements, s.position) for s in body], interchange.issues)
                for interchange, body in scan(text)]
    except X12SyntaxError as error:
        return str(error)


@settings(max_examples=150, deadline=None)
@given(interchanges(), st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(
    ["\n", "\r\n", " ", "\t", "~", "~~", "ISA*", "IEA*1*1~", ""])), max_size=6),
    st.sampled_from([1, 2, 7, 64]))
def test_the_body_is_read_the_same_whatever_the_window(generated, edits, window):
    """The tokenizer splits the text a window at a time: segments across window edges, white
    space and empty segments between them, and an unterminated end read as with one window."""
    segments, delimiters = generated
    text = serialize(segments, delimiters)
    for at, insert in edits:
        at = 106 + at % max(1, len(text) - 105)  # after the ISA, whose width is fixed
        text = text[:at] + insert + text[at:]
    whole = _segments(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("x12.tokenizer._WINDOW", window)
        assert _segments(text) == whole


def test_white_space_between_segments_is_skipped_and_an_empty_segment_kept():
    isa = serialize([Segment("ISA", ["00", " " * 10, "00", " " * 10, "ZZ", "S".ljust(15), "ZZ",
                                     "R".ljust(15), "260401", "1200", "^", "00501", "000000001",
                                     "0", "T", ":"], 1)], Delimiters())
    (tilde,) = _segments(isa + "GS*HC\n~ ~\r\n\tST*837~IEA*1*000000001~\n")
    assert tilde[0] == [("GS", ["HC\n"], 2), ("", [], 3), ("ST", ["837"], 4), ("IEA", ["1", "000000001"], 5)]
    newline = isa[:-1] + "\n"  # the ISA with a newline as its segment terminator
    (lines,) = _segments(newline + "\n\nGS*HC\r\n  \nST*837\nIEA*1*000000001")
    assert lines[0] == [("GS", ["HC"], 2), ("ST", ["837"], 3), ("IEA", ["1", "000000001"], 4)]
    assert not lines[1]  # the last segment needs no newline after it
    tab = isa[:-1] + "\t"  # white space as the terminator: runs of it are one
    (tabs,) = _segments(tab + "GS*HC\t\t ST*837\tIEA*1*000000001\t")
    assert tabs[0] == [("GS", ["HC"], 2), ("ST", ["837"], 3), ("IEA", ["1", "000000001"], 4)]
    (unterminated,) = _segments(isa + "GS*HC~IEA*1*000000001  ")
    assert [issue.message for issue in unterminated[1]] == ["segment 'IEA' is not terminated by '~'"]


@settings(max_examples=150, deadline=None)
@given(interchanges(), st.lists(st.sampled_from(["", "\n", "\r\n", " \n", "\n\n"]), min_size=1, max_size=12),
       st.sampled_from([1, 7, 64, 1 << 16]))
def test_line_breaks_after_terminators_do_not_change_the_segments(generated, breaks, window):
    """A window whose terminators are all followed by the ISA's line break is split on both;
    one where some are not (a file whose writer broke lines in places) is split on the terminator.
    Either way the segments are those of the same text with no line breaks at all."""
    segments, delimiters = generated
    bare = serialize(segments, Delimiters(delimiters.element, delimiters.repetition, delimiters.component,
                                          delimiters.segment, ""))
    isa_end = bare.index(delimiters.segment) + 1  # the ISA keeps the file's own line break
    pieces = bare[isa_end:].split(delimiters.segment)
    text = bare[:isa_end] + delimiters.suffix + "".join(
        piece + delimiters.segment + breaks[index % len(breaks)] for index, piece in enumerate(pieces[:-1]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("x12.tokenizer._WINDOW", window)
        assert _segments(text) == _segments(bare)
