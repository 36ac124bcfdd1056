"""The 837P (005010X222A1) implementation guide as data: loops, the segments they hold in order,
their usage and repeats, and the qualifiers that open them (the element rules, loop by loop, are in
x12.elements837).

Adjacent segments of one id in a loop (the 2300 DTPs, the 2400 REFs, ...) form one slot whose
qualifiers are the union of theirs; order is checked slot by slot, and each qualifier's own repeat
limit from x12.elements837. Written from the TR3's loop table; pyx12 is the test oracle for it
(tests/test_x12_syntax.py, tests/test_x12_elements.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["Slot", "Loop", "LOOPS", "ROOT", "KNOWN_SEGMENTS", "MAX_ELEMENTS"]

MANY = 10**9


@dataclass(frozen=True)
class Slot:
    segment: str
    required: bool
    max_use: int
    codes: frozenset[str] = frozenset()  # element 1 qualifiers allowed here (empty: any)
    required_codes: frozenset[str] = frozenset()  # one of these must appear when required


@dataclass(frozen=True)
class Loop:
    id: str
    trigger: str  # the segment that opens the loop
    trigger_element: int  # the element whose value picks the loop (0: none)
    trigger_codes: frozenset[str]
    slots: tuple[Slot, ...]  # slots[0] is the trigger
    children: tuple[tuple[str, bool, int], ...] = ()  # (loop id, required, max repeats)


def _slot(text: str) -> Slot:
    """'DTP R12 472|454 !472': segment, R/S with max use, allowed codes, required code(s)."""
    parts = text.split()
    segment, usage = parts[0], parts[1]
    required = usage[0] == "R"
    max_use = MANY if usage[1:] == ">" else int(usage[1:] or 1)
    codes = frozenset(parts[2].split("|")) if len(parts) > 2 and not parts[2].startswith("!") else frozenset()
    must = next((p[1:] for p in parts[2:] if p.startswith("!")), "")
    return Slot(segment, required, max_use, codes, frozenset(must.split("|")) if must else frozenset())


def _loop(id: str, trigger: str, slots: str, children: str = "") -> Loop:
    segment, _, codes = trigger.partition(" ")
    element = 3 if segment == "HL" else (1 if codes else 0)
    parsed = tuple(_slot(s.strip()) for s in slots.split(";") if s.strip())
    kids = []
    for child in filter(None, (c.strip() for c in children.split(","))):
        name, usage = child.split()
        kids.append((name, usage[0] == "R", MANY if usage[1:] == ">" else int(usage[1:] or 1)))
    return Loop(id, segment, element, frozenset(codes.split("|")) if codes else frozenset(), parsed,
                tuple(kids))


_DATES_2300 = "431|454|304|453|439|484|455|471|314|360|361|297|296|435|096|090|091|444|050"
_DATES_2400 = "472|471|607|463|461|304|738|739|011|455|454"
_PWK_TYPES = ("03|04|05|06|07|08|09|10|11|13|15|21|A3|A4|AM|AS|B2|B3|B4|BR|BS|BT|CB|CK|CT|D2|DA|DB|DG|"
              "DJ|DS|EB|HC|HR|I5|IR|LA|M1|MT|NN|OB|OC|OD|OE|OX|OZ|P4|P5|PE|PN|PO|PQ|PY|PZ|RB|RR|RT|"
              "RX|SG|V5|XP")
_REF_2300 = "4N|F5|EW|9F|G1|F8|X4|9A|9C|LX|D9|EA|P4|1J"
_REF_2400 = "9B|9D|G1|6R|EW|X4|F4|BT|9F"

_TABLE = [
    _loop("ST", "ST", "ST R1", "HEADER R1"),
    _loop("HEADER", "BHT", "BHT R1 0019", "1000A R1, 1000B R1, 2000A R>"),
    _loop("1000A", "NM1 41", "NM1 R1 41; PER R2 IC"),
    _loop("1000B", "NM1 40", "NM1 R1 40"),
    _loop("2000A", "HL 20", "HL R1; PRV S1 BI; CUR S1 85",
          "2010AA R1, 2010AB S1, 2010AC S1, 2000B R>"),
    _loop("2010AA", "NM1 85", "NM1 R1 85; N3 R1; N4 R1; REF R3 EI|SY|0B|1G !EI|SY; PER S2 IC"),
    _loop("2010AB", "NM1 87", "NM1 R1 87; N3 R1; N4 R1"),
    _loop("2010AC", "NM1 PE", "NM1 R1 PE; N3 R1; N4 R1; REF R2 2U|FY|NF|EI !EI"),
    _loop("2000B", "HL 22", "HL R1; SBR R1; PAT S1", "2010BA R1, 2010BB R1, 2300 S100, 2000C S>"),
    _loop("2010BA", "NM1 IL", "NM1 R1 IL; N3 S1; N4 S1; DMG S1 D8; REF S2 SY|Y4; PER S1 IC"),
    _loop("2010BB", "NM1 PR", "NM1 R1 PR; N3 S1; N4 S1; REF S5 2U|EI|FY|NF|G2|LU"),
    _loop("2000C", "HL 23", "HL R1; PAT R1", "2010CA R1, 2300 R100"),
    _loop("2010CA", "NM1 QC", "NM1 R1 QC; N3 R1; N4 R1; DMG R1 D8; REF S2 Y4|1W|SY; PER S1 IC"),
    _loop("2300", "CLM",
          f"CLM R1; DTP S18 {_DATES_2300}; PWK S10 {_PWK_TYPES}; CN1 S1; AMT S1 F5; "
          f"REF S14 {_REF_2300}; K3 S10; NTE S1 ADD|CER|DCP|DGN|TPO; CR1 S1 LB; CR2 S1; "
          "CRC S8 07|E1|E2|E3|75|ZZ; HI R4 ABK|BK|BP|BO|BG|ABF|BF|ABN|BN|APR|PR|ABJ|BJ !ABK|BK; "
          "HCP S1",
          "2310A S2, 2310B S1, 2310C S1, 2310D S1, 2310E S1, 2310F S1, 2320 S10, 2400 R50"),
    _loop("2310A", "NM1 DN|P3", "NM1 R1 DN|P3; REF S3 0B|1G|G2"),
    _loop("2310B", "NM1 82", "NM1 R1 82; PRV S1 PE; REF S4 0B|1G|G2|LU"),
    _loop("2310C", "NM1 77", "NM1 R1 77; N3 R1; N4 R1; REF S3 0B|G2|LU; PER S1 IC"),
    _loop("2310D", "NM1 DQ", "NM1 R1 DQ; REF S4 0B|1G|G2|LU"),
    _loop("2310E", "NM1 PW", "NM1 R1 PW; N3 R1; N4 R1"),
    _loop("2310F", "NM1 45", "NM1 R1 45; N3 R1; N4 R1"),
    _loop("2320", "SBR", "SBR R1; CAS S5 CO|CR|OA|PI|PR; AMT S3 D|A8|EAF; OI R1; MOA S1",
          "2330A R1, 2330B R1, 2330C S2, 2330D S1, 2330E S1, 2330F S1, 2330G S1"),
    _loop("2330A", "NM1 IL", "NM1 R1 IL; N3 S1; N4 S1; REF S1 SY"),
    _loop("2330B", "NM1 PR", "NM1 R1 PR; N3 S1; N4 S1; DTP S1 573; REF S6 2U|EI|FY|NF|G1|9F|T4|F8"),
    _loop("2330C", "NM1 DN|P3", "NM1 R1 DN|P3; REF R3 0B|1G|G2"),
    _loop("2330D", "NM1 82", "NM1 R1 82; REF R3 0B|1G|G2|LU"),
    _loop("2330E", "NM1 77", "NM1 R1 77; REF R3 0B|G2|LU"),
    _loop("2330F", "NM1 DQ", "NM1 R1 DQ; REF R3 0B|1G|G2|LU"),
    _loop("2330G", "NM1 85", "NM1 R1 85; REF R2 G2|LU"),
    _loop("2400", "LX",
          f"LX R1; SV1 R1; SV5 S1; PWK S11 {_PWK_TYPES}; CR1 S1 LB; CR3 S1 I|R|S; "
          f"CRC S5 07|70|09; DTP R12 {_DATES_2400} !472; QTY S2 PT|FL; MEA S5 OG|TR; CN1 S1; "
          f"REF S17 {_REF_2400}; AMT S2 T|F4; K3 S10; NTE S2 ADD|DCP|TPO; PS1 S1; HCP S1",
          "2410 S1, 2420A S1, 2420B S1, 2420C S1, 2420D S1, 2420E S1, 2420F S2, 2420G S1, "
          "2420H S1, 2430 S15, 2440 S>"),
    _loop("2410", "LIN", "LIN R1; CTP R1; REF S1 VY|XZ"),
    _loop("2420A", "NM1 82", "NM1 R1 82; PRV S1 PE; REF S20 0B|1G|G2|LU"),
    _loop("2420B", "NM1 QB", "NM1 R1 QB; REF S20 0B|1G|G2"),
    _loop("2420C", "NM1 77", "NM1 R1 77; N3 R1; N4 R1; REF S3 0B|G2|LU"),
    _loop("2420D", "NM1 DQ", "NM1 R1 DQ; REF S20 0B|1G|G2|LU"),
    _loop("2420E", "NM1 DK", "NM1 R1 DK; N3 S1; N4 S1; REF S20 0B|1G|G2; PER S1 IC"),
    _loop("2420F", "NM1 DN|P3", "NM1 R1 DN|P3; REF S20 0B|1G|G2"),
    _loop("2420G", "NM1 PW", "NM1 R1 PW; N3 R1; N4 R1"),
    _loop("2420H", "NM1 45", "NM1 R1 45; N3 R1; N4 R1"),
    _loop("2430", "SVD", "SVD R1; CAS S5 CO|CR|OA|PI|PR; DTP R1 573 !573; AMT S1 EAF"),
    _loop("2440", "LQ", "LQ R1 AS|UT; FRM R99"),
]
LOOPS: Final[dict[str, Loop]] = {loop.id: loop for loop in _TABLE}
ROOT: Final = "ST"
KNOWN_SEGMENTS: Final = frozenset(slot.segment for loop in _TABLE for slot in loop.slots) | {"ST", "SE"}


MAX_ELEMENTS: Final = {"BHT": 6, "HL": 4, "NM1": 12, "N3": 2, "N4": 7, "REF": 4, "PER": 9, "SBR": 9,
                       "PAT": 9, "DMG": 11, "CLM": 20, "DTP": 3, "PWK": 9, "AMT": 3, "LX": 1, "SV1": 21,
                       "HI": 12, "PRV": 6, "CUR": 21, "CN1": 6, "K3": 3, "NTE": 2, "CR1": 10, "CR2": 12,
                       "CRC": 7, "HCP": 15, "CAS": 19, "OI": 6, "MOA": 9, "SV5": 7, "CR3": 5, "QTY": 4,
                       "MEA": 10, "PS1": 3, "LIN": 31, "CTP": 11, "SVD": 7, "LQ": 2, "FRM": 5}
PRODUCT_QUALIFIERS: Final = frozenset({"HC", "ER", "IV", "WK"})
