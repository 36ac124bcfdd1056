"""The 837P element rules by loop and segment, read from the tables in x12.x222_tables: usage,
type, length, codes and components of every element, and the segment's syntax rules (X12.6:
P paired, R required, C conditional, E exclusion, L list conditional).

A loop may hold several occurrences of a segment id that differ by their qualifier (the 2300 DTPs,
the 2400 REFs, the HIs by their first qualifier); `rules_for` picks the one the segment's first
element (HI: its first component) names, and falls back to all of them merged (an element required
only where every occurrence requires it, not used only where none uses it, codes their union, the
syntax rules they share) when none does: the qualifier itself is reported by the loop walk (x12.syntax837).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Final

from x12.x222_tables import DICTIONARY, SEGMENTS

__all__ = ["ElementRule", "SegmentRules", "RULES", "rules_for", "occurrence_limits", "STATES",
           "PLACES_OF_SERVICE", "EXTERNAL"]


@dataclass(frozen=True)
class ElementRule:
    """One element (or component) of one segment occurrence."""

    reference: str  # data element reference number (IK402), 'C...' for a composite
    usage: str  # R, S or N
    type: str = "AN"  # AN, ID, DT, TM, R, N0; '' for a composite
    min_len: int = 1
    max_len: int = 264
    codes: frozenset[str] = frozenset()  # empty: any value (or an external code list)
    components: tuple[ElementRule, ...] = ()
    # the values found clean under this rule: x12.syntax837's memo, kept here because an attribute
    # is read directly where a memo keyed by the rule's id made and hashed an int per value checked
    clean: set[str] = field(default_factory=set, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class SegmentRules:
    """The rules of one segment occurrence in one loop."""

    qualifiers: frozenset[str]  # the codes of its first element (HI: first component)
    elements: tuple[ElementRule, ...]
    syntax: tuple[tuple[str, tuple[int, ...]], ...] = ()  # ('P', (8, 9)), ...
    max_use: int = 1
    required: tuple[int, ...] = ()  # the positions of the required elements

    def rule_at(self, index: int, component: int = 0) -> ElementRule | None:
        """Element `index` (1-based), or its component `component`; None beyond the segment."""
        rule = self.elements[index - 1] if 0 < index <= len(self.elements) else None
        if rule is None or not component:
            return rule
        return rule.components[component - 1] if component <= len(rule.components) else None


def _segment(qualifiers: frozenset[str], elements: tuple[ElementRule, ...],
             syntax: tuple[tuple[str, tuple[int, ...]], ...], max_use: int) -> SegmentRules:
    return SegmentRules(qualifiers, elements, syntax, max_use,
                        tuple(i for i, rule in enumerate(elements, start=1) if rule.usage == "R"))


# X12 data element 156 as the guide uses it: USPS state, district, territory and military codes and
# the Canadian provinces and territories, with the retired NF and PQ that older systems still send
# (an external code list, not in the generated table).
STATES = frozenset("""
AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC
ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI FM MH PW AA AE AP
AB BC MB NB NL NS NT NU ON PE QC SK YT NF PQ
""".split())
# CMS place of service codes (CLM05-1, SV105), as of 2026.
PLACES_OF_SERVICE = frozenset("""
01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 31 32 33 34 41 42 49
50 51 52 53 54 55 56 57 58 60 61 62 65 66 71 72 81 99
""".split())
# The external lists we check; countries, currencies and remark codes are not checked.
EXTERNAL = {"states": STATES, "pos": PLACES_OF_SERVICE}

# Where we read the guide differently from the generated table (README, "X12: what is checked").
# PWK02 is checked by x12.syntax837 with the DME certificate codes the second 2400 PWK allows.
# BHT06 '31' (subrogation demand) is added by the X222A2 errata, which we read.
# The map leaves the state list off six N402s (it has it on every other): the guide does not.
_EDITS: dict[tuple[str, str, int], dict] = {
    ("2300", "PWK", 2): {"codes": frozenset()},
    ("2400", "PWK", 2): {"codes": frozenset()},
    ("HEADER", "BHT", 6): {"add": frozenset({"31"})},
    **{(loop, "N4", 2): {"codes": STATES}
       for loop in ("2010AA", "2010AC", "2310E", "2310F", "2420G", "2420H")},
}

_TYPES: dict[str, tuple[str, int, int]] = {}
for _line in DICTIONARY.strip().splitlines():
    _reference, _kind, _low, _high = _line.split()
    _TYPES[_reference] = (_kind, int(_low), int(_high))


@cache
def _element(text: str) -> ElementRule:
    """One element of a row (rows repeat most of their elements: each text is read once)."""
    text = text.strip()
    if "(" in text:
        head, _, inner = text.partition("(")
        usage, reference = head.split()
        components = tuple(_element(part) for part in inner.rstrip(")").split(","))
        return ElementRule(reference, usage, "", 0, 0, frozenset(), components)
    usage, reference, *codes = text.split()
    if reference == "-" or reference.startswith("C"):
        return ElementRule(reference if reference != "-" else "", usage, "")
    kind, low, high = _TYPES[reference]
    if codes and codes[0].startswith("@"):  # an external code list: ours where we keep it
        return ElementRule(reference, usage, kind, low, high, EXTERNAL.get(codes[0][1:], frozenset()))
    return ElementRule(reference, usage, kind, low, high, frozenset(codes))


def _edited(loop: str, segment: str, index: int, rule: ElementRule) -> ElementRule:
    edit = _EDITS.get((loop, segment, index))
    if edit is None:
        return rule
    codes = edit.get("codes", rule.codes | edit.get("add", frozenset()))
    return ElementRule(rule.reference, rule.usage, rule.type, rule.min_len, rule.max_len, codes,
                       rule.components)


def _syntax(text: str) -> tuple[str, tuple[int, ...]]:
    return text[0], tuple(int(text[i:i + 2]) for i in range(1, len(text), 2))


def _first_codes(elements: tuple[ElementRule, ...]) -> frozenset[str]:
    first = elements[0]
    return first.components[0].codes if first.components else first.codes


def _merged(occurrences: list[SegmentRules]) -> SegmentRules:
    """The loosest reading of several occurrences (see the module's docstring)."""
    width = max(len(o.elements) for o in occurrences)
    elements = []
    for index in range(width):
        rules = [o.elements[index] for o in occurrences if index < len(o.elements)]
        usages = {r.usage for r in rules} | ({"N"} if len(rules) < len(occurrences) else set())
        usage = "R" if usages == {"R"} else "N" if usages == {"N"} else "S"
        codes = (frozenset() if any(not r.codes for r in rules)
                 else frozenset().union(*(r.codes for r in rules)))
        base = next((r for r in rules if r.usage != "N"), rules[0])
        components = base.components if all(r.components == base.components for r in rules) else ()
        elements.append(ElementRule(base.reference, usage, base.type, base.min_len, base.max_len, codes,
                                    components if usage != "N" else ()))
    syntax = tuple(rule for rule in occurrences[0].syntax if all(rule in o.syntax for o in occurrences))
    return _segment(frozenset().union(*(o.qualifiers for o in occurrences)), tuple(elements), syntax,
                    sum(o.max_use for o in occurrences))


def _read() -> dict[tuple[str, str], tuple[tuple[SegmentRules, ...], SegmentRules]]:
    occurrences: dict[tuple[str, str], list[SegmentRules]] = {}
    for row in re.sub(r"\n\s+", " ", SEGMENTS.strip()).splitlines():
        head, _, body = row.partition(" = ")
        loop, segment, max_use = head.split()
        elements_text, _, syntax_text = body.partition(" ; ")
        elements = tuple(_edited(loop, segment, index, _element(text))
                         for index, text in enumerate(elements_text.split(" | "), start=1))
        syntax = tuple(_syntax(rule) for rule in syntax_text.split())
        occurrences.setdefault((loop, segment), []).append(
            _segment(_first_codes(elements), elements, syntax, int(max_use)))
    return {key: (tuple(found), _merged(found) if len(found) > 1 else found[0])
            for key, found in occurrences.items()}


RULES: Final = _read()
_element.cache_clear()


def occurrence_limits() -> dict[tuple[str, str], dict[str, tuple[int, int]]]:
    """For each loop and segment id with several occurrences: qualifier -> (occurrence number, its
    maximum use). Two qualifiers of one occurrence share its count (2010AA REF*EI or REF*SY: one)."""
    limits: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for key, (occurrences, _) in RULES.items():
        if len(occurrences) > 1:
            limits[key] = {code: (number, occurrence.max_use)
                           for number, occurrence in enumerate(occurrences) for code in occurrence.qualifiers}
    return limits


# RULES by loop, then segment id: for rules_for, which a (loop, segment id) tuple made, hashed and
# compared for every segment it was asked about
_BY_LOOP: Final[dict[str, dict[str, tuple[tuple[SegmentRules, ...], SegmentRules]]]] = {}
for (_loop, _segment_id), _found in RULES.items():
    _BY_LOOP.setdefault(_loop, {})[_segment_id] = _found


def rules_for(loop: str, segment_id: str, qualifier: str) -> SegmentRules | None:
    """The rules of the occurrence of `segment_id` in `loop` that `qualifier` names (see above)."""
    in_loop = _BY_LOOP.get(loop)
    found = in_loop.get(segment_id) if in_loop is not None else None
    if found is None:
        return None
    occurrences, merged = found
    if len(occurrences) > 1:
        for occurrence in occurrences:
            if qualifier in occurrence.qualifiers:
                return occurrence
    return merged
