"""The 837P element rules (x12.elements837) against pyx12, the test oracle: the table read against
pyx12's map, and single edits of every sample both accept judged as pyx12 judges them."""
import random
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
import pyx12

from scrubber.answers import stamps_from
from tests.x12oracle import as_x222a1, pyx12_errors
from x12.ack999 import build_999
from x12.elements837 import _EDITS, EXTERNAL, PLACES_OF_SERVICE, RULES, STATES
from x12.reader import read_batch
from x12.tokenizer import decode

MAPS = Path(pyx12.__file__).parent / "map"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "x12_837p"


def _map_rows() -> dict[tuple[str, str], list[ET.Element]]:
    """Each loop's segments in pyx12's map, the first time the loop appears (2300 and 2400 appear
    under both 2000B and 2000C, alike)."""
    root = ET.parse(MAPS / "837.5010.X222.A1.xml").getroot()
    rows: dict[tuple[str, str], list[ET.Element]] = {}
    seen = set()
    for loop in root.iter("loop"):
        name = {"ST_LOOP": "ST"}.get(loop.get("xid"), loop.get("xid"))
        if name in seen or name in ("ISA_LOOP", "GS_LOOP", "DETAIL"):
            continue
        seen.add(name)
        for segment in loop.findall("segment"):
            if segment.get("xid") == "SE" or (name == "ST" and segment.get("xid") != "ST"):
                continue
            rows.setdefault((name, segment.get("xid")), []).append(segment)
    return rows


def _codes(node: ET.Element) -> frozenset[str]:
    found = node.find("valid_codes")
    if found is None or found.get("external"):
        return frozenset()
    return frozenset(code.text for code in found.findall("code"))


def _expected(node: ET.Element) -> frozenset[str]:
    """The codes our rule for a map node should carry: none where not used; for an external list,
    ours where we keep it (the states with NL, QC, NU and PW, which pyx12's list lacks)."""
    found = node.find("valid_codes")
    if node.findtext("usage") == "N":
        return frozenset()
    if found is not None and found.get("external"):
        return EXTERNAL.get(found.get("external"), frozenset())
    return _codes(node)


def test_the_external_lists_we_keep_hold_pyx12s():
    lists = {c.findtext("id"): {code.text for code in c.iter("code")}
             for c in ET.parse(MAPS / "codes.xml").getroot()}
    assert lists["states"] <= STATES and lists["pos"] <= PLACES_OF_SERVICE


def test_the_table_is_pyx12s_map_with_our_edits():
    dictionary = {e.get("ele_num"): e for e in ET.parse(MAPS / "dataele.xml").getroot()}
    rows = _map_rows()
    assert set(rows) == set(RULES)
    compared = 0
    for (loop, segment_id), segments in rows.items():
        occurrences, _ = RULES[(loop, segment_id)]
        assert len(occurrences) == len(segments), (loop, segment_id)
        for ours, theirs in zip(occurrences, segments, strict=True):
            assert ours.max_use == int(theirs.findtext("max_use")), (loop, segment_id)
            assert [f"{kind}{''.join(f'{p:02d}' for p in places)}" for kind, places in ours.syntax] == \
                [s.text for s in theirs.findall("syntax")]
            for node in theirs:
                if node.tag not in ("element", "composite"):
                    continue
                index = int(node.findtext("seq"))
                rule = ours.elements[index - 1]
                where = (loop, segment_id, index)
                assert (rule.usage, rule.reference) == (node.findtext("usage"), node.findtext("data_ele")), \
                    where
                compared += 1
                if node.tag == "composite":
                    if rule.usage != "N":
                        parts = node.findall("element")
                        assert [(c.usage, c.reference, c.codes) for c in rule.components] == [
                            (p.findtext("usage"), p.findtext("data_ele"), _expected(p)) for p in parts], where
                    continue
                reference = node.findtext("data_ele")
                entry = dictionary[reference]
                assert (rule.type, rule.min_len, rule.max_len) == (
                    entry.get("data_type"), int(entry.get("min_len")), int(entry.get("max_len"))), where
                if where not in _EDITS:
                    assert rule.codes == _expected(node), where
    assert compared > 1300  # the elements and composites of the 386 segments of the map


# --- single edits of valid samples ------------------------------------------------------------

def _normalised(text: str) -> str:
    """What pyx12 can read: from the ISA on, no indentation, X222A1."""
    return as_x222a1(re.sub(r"(?m)^[ \t]+", "", text[text.index("ISA"):]))


def _our_errors(text: str) -> list[str]:
    batch = read_batch(text, "edit")
    if batch.fatal:
        return [batch.fatal.message]
    found = []
    for interchange in batch.interchanges:
        found += [e.message for e in interchange.errors]
        for group in interchange.groups:
            found += [e.message for e in group.errors]
            found += [f"{e.code} {e.location} {e.message}" for s in group.sets for e in s.syntax_errors]
    return found


def _valid_samples() -> list[tuple[str, str]]:
    samples = []
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix == ".md":
            continue
        try:
            text = _normalised(decode(path.read_bytes()))
        except ValueError:
            continue
        if not _our_errors(text) and not pyx12_errors(text):
            samples.append((path.name, text))
    return samples


_KINDS = ("empty", "long", "alpha", "code", "space", "character", "drop", "repeat", "trailing", "spaced",
          "component", "plus")
_OUTSIDE_THE_SET = ("\u00c9", "\u00f1", "\u20ac", "\x07", "\t", "\x7f")  # not printable ASCII


def _edit(text: str, rng: random.Random) -> tuple[str, str] | None:
    """One edit of one segment between ST and SE, with SE01 recounted: an element emptied,
    lengthened, made alphanumeric, given a made-up code, a leading or trailing space, a character
    outside the X12 character set, the component separator or a plus sign; the segment dropped,
    repeated, or given a trailing separator."""
    element, component, terminator = text[3], text[104], text[105]
    segments = text.split(terminator)
    body = [i for i, s in enumerate(segments)
            if s.strip() and s.strip().split(element)[0] not in ("ISA", "GS", "GE", "IEA", "ST", "SE")]
    index = rng.choice(body)
    segment = segments[index].strip()
    parts = segment.split(element)
    kind = rng.choice(_KINDS)
    if kind == "drop":
        new = []
    elif kind == "repeat":
        new = [segment, segment]
    elif kind == "trailing":
        new = [segment + element]
    else:
        if len(parts) < 2:
            return None
        at = rng.randrange(1, len(parts))
        old = parts[at]
        if kind == "empty" and not old:
            return None
        cut = rng.randrange(len(old) + 1)
        parts[at] = {"empty": "", "long": (old or "A") + "X" * 90, "alpha": "A1B", "code": "ZZ",
                     "space": " " + old, "spaced": old + " ", "component": old + component + "X",
                     "plus": "+" + old,
                     "character": old[:cut] + rng.choice(_OUTSIDE_THE_SET) + old[cut:]}[kind]
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        new = [element.join(parts)]
    segments[index:index + 1] = ["\n" + s for s in new]
    return _recounted(segments, element, terminator), f"{kind} {parts[0]}"


def _recounted(segments: list[str], element: str, terminator: str) -> str:
    """The segments joined again, each SE01 counting its set's segments after an edit."""
    out, count, inside = [], 0, False
    for segment in segments:
        fields = segment.strip().split(element)
        if fields[0] == "ST":
            inside, count = True, 0
        count += inside and bool(segment.strip())
        if fields[0] == "SE" and inside:
            segment, inside = "\n" + element.join([fields[0], str(count), *fields[2:]]), False
        out.append(segment)
    return terminator.join(out)


@pytest.fixture(scope="module")
def valid_samples():
    samples = _valid_samples()
    assert len(samples) >= 25
    return samples


@pytest.mark.parametrize("seed", [1, 2])
def test_single_edits_are_judged_as_pyx12_judges_them(valid_samples, seed):
    """Every edit pyx12 finds an error in, we find one in, and the 999 we answer it with validates
    under pyx12. Where we find one and pyx12 does not, it
    is one pyx12 does not look for: a required segment or loop missing after a repeated loop
    trigger (a CLM, SBR or SVD twice), a leading space in a value, or a state code in one of the six
    N402s pyx12's map leaves without the list (x12.elements837._EDITS)."""
    rng = random.Random(seed)
    judged = 0
    while judged < 30:
        name, text = rng.choice(valid_samples)
        edited = _edit(text, rng)
        if edited is None:
            continue
        text, what = edited
        ours, theirs = _our_errors(text), pyx12_errors(text)
        assert ours or not theirs, (name, what, theirs)
        if ours and not theirs:
            assert what.split()[0] == "space" or all(e.startswith("3 ") or "/N402 " in e for e in ours), \
                (name, what, ours)
        for interchange in read_batch(text, "edit").interchanges:  # the 999 naming the errors is valid
            ack = build_999(interchange, next(stamps_from(datetime(2026, 4, 2, 9, 30), 7)))
            assert ack is None or pyx12_errors(ack) == [], (name, what, ack)
        judged += 1
