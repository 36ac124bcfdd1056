"""Our ER7 reader against hl7apy: every field the adapters read (READ_FIELDS), in every segment of
every sample message, holds the same components at the same positions, and the messages hl7apy
cannot parse are the ones we reject. (Fields we do not read may differ: hl7apy drops values of
fields its version does not define, e.g. PRT-16 in 2.8, and keeps '^' literally in simple types.)"""
from pathlib import Path

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from hl7.message import parse, split_messages
from hl7.reader import read_messages
from scrubber.model import Unreadable

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
FILES = sorted(p for folder in ("hl7_dft", "hl7_oru", "hl7_other") for p in (SAMPLES / folder).iterdir())
# hapi_util_messages.txt holds // comments and non-standard encoding characters; hl7apy reads
# some of its messages, we read the same ones (checked below message by message).


def _positions(field) -> dict[int, str]:
    """hl7apy's components of one field repetition by their position (to_er7 of a whole field
    drops a leading empty component, so positions are compared, not joined text)."""
    children = [c for c in field.children if c.name.rsplit("_", 1)[-1].isdigit()]
    if not children or field.name == "MSH_2":
        return {1: field.to_er7()} if field.to_er7() else {}
    return {int(c.name.rsplit("_", 1)[1]): c.to_er7() for c in children if c.to_er7()}


def _hl7apy_fields(segment, number: int) -> list[dict[int, str]]:
    name = f"{segment.name}_{number}"
    return [p for p in (_positions(f) for f in segment.children if f.name == name) if p]


def _our_fields(parsed, segment, number: int) -> list[dict[int, str]]:
    out = []
    for value in parsed.fields(segment, number):
        parts = [value] if segment.name == "MSH" and number == 2 else value.split(parsed.component)
        positions = {i: part for i, part in enumerate(parts, start=1) if part}
        if positions:
            out.append(positions)
    return out


# what hl7/dft.py, hl7/oru.py and hl7/reader.py read
READ_FIELDS = {"MSH": (2, 3, 4, 5, 6, 9, 10, 11, 12), "PID": (3, 5, 7), "IN1": (3, 36), "PV1": (7,),
               "FT1": (1, 4, 6, 7, 10, 11, 20, 25, 26), "PR1": (3,), "OBR": (7,),
               "OBX": (1, 2, 3, 5, 14, 16, 17), "NTE": (3,)}


def _messages():
    for path in FILES:
        for index, text in enumerate(split_messages(path.read_text("utf-8", errors="replace"))):
            yield pytest.param(text, id=f"{path.name}#{index + 1}")


@pytest.mark.parametrize("text", list(_messages()))
def test_every_field_reads_as_hl7apy_reads_it(text):
    try:
        theirs = parse_message(text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT)
    except (HL7apyException, ValueError, IndexError, KeyError, AttributeError):
        # nothing hl7apy cannot read gets through as a claim or device data (e.g. an unknown DST
        # segment in a BAR^P01: we split it, but the message type is refused)
        (received,) = read_messages(text, "t")
        assert isinstance(received.item, Unreadable) and received.error is not None
        return
    ours = parse(text)
    their_segments = list(theirs.children)
    assert [s.name for s in ours.segments] == [s.name for s in their_segments]
    compared = 0
    for mine, other in zip(ours.segments, their_segments, strict=True):
        for number in READ_FIELDS.get(mine.name, ()):
            assert _our_fields(ours, mine, number) == _hl7apy_fields(other, number), (mine.name, number)
            compared += 1
    assert compared >= 9  # MSH at least
