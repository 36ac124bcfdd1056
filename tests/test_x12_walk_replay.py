"""The guide walk replays blocks (the segments between two HLs) it walked cleanly before
(x12.syntax837._Checker._block). Replaying must give exactly what walking gives: the same errors
with the same codes and positions, and the same loop for every segment. The reference here is the
plain segment-by-segment walk (no block is ever taken as fresh)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import x12.syntax837 as syntax
from bench.gen837 import generate
from tests.builders import ClaimSpec, Line, x12_837
from x12.envelope import structure
from x12.tokenizer import scan

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "x12_837p"


def _sets(text: str):
    found = []
    for interchange, body in scan(text):
        structure(interchange, body, lambda group, tset, d=interchange.delimiters: found.append((tset, d)))
    return found


def _walk(sets, monkeypatch=None, replay=True):
    results = []
    with pytest.MonkeyPatch.context() as patch:
        if not replay:
            patch.setattr(syntax, "_fresh", lambda frame: False)
        for tset, delimiters in sets:
            check = syntax.check_set(tset.segments, delimiters)
            results.append(([(e.message, e.code, e.element_code, e.position, e.loop, e.claim_id)
                             for e in check.errors], check.loops))
    return results


def _same_both_ways(text: str) -> None:
    sets = _sets(text)
    syntax._BLOCKS.clear()
    plain = _walk(sets, replay=False)
    first = _walk(sets)   # fills the memo
    again = _walk(sets)   # replays from it
    assert first == plain and again == plain


@pytest.mark.parametrize("path", sorted(p.name for p in SAMPLES.iterdir() if p.is_file()
                                        and p.suffix != ".md"))
def test_replay_matches_the_walk_on_every_sample(path):
    text = (SAMPLES / path).read_bytes().decode("utf-8", errors="replace")
    try:
        _same_both_ways(text)
    except Exception as error:  # a sample the tokenizer rejects outright has no set to walk
        assert type(error).__name__ == "X12SyntaxError", error


def test_replay_is_used_on_a_repetitive_batch():
    text = "".join(generate(200))
    sets = _sets(text)
    syntax._BLOCKS.clear()
    _walk(sets)
    assert 0 < len(syntax._BLOCKS) < 100  # a few shapes, replayed for the other ~200 blocks
    _same_both_ways(text)


_EDITS = st.lists(st.tuples(st.sampled_from(["drop", "repeat", "swap", "requalify"]),
                            st.integers(0, 10_000)), min_size=1, max_size=4)


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(edits=_EDITS, claims=st.integers(2, 6))
def test_replay_matches_the_walk_after_random_edits(edits, claims):
    """Clean blocks first fill the memo; then edited copies of the same shapes (a segment dropped,
    repeated, swapped with its neighbour or given another qualifier) must be walked, not replayed
    wrongly."""
    specs = [ClaimSpec(f"C{n}", [Line("99457", "20260331"), Line("99454", "20260330")],
                       mrn=f"MRN-{n}") for n in range(claims)]
    clean = x12_837(specs)
    head, _, tail = clean.partition("HL*2*")
    body = ("HL*2*" + tail).split("~\n")
    for action, at in edits:
        index = 1 + at % (len(body) - 4)  # never the HL that opens the first block, nor SE/GE/IEA
        if action == "drop":
            del body[index]
        elif action == "repeat":
            body.insert(index, body[index])
        elif action == "swap":
            body[index], body[index + 1] = body[index + 1], body[index]
        else:
            segment_id, _, rest = body[index].partition("*")
            body[index] = f"{segment_id}*ZZ*{rest.partition('*')[2]}" if rest else body[index]
    syntax._BLOCKS.clear()
    _walk(_sets(clean))
    edited = head + "~\n".join(body)
    sets = _sets(edited)
    plain = _walk(sets, replay=False)
    assert _walk(sets) == plain
