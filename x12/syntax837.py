"""Checking an 837P transaction set against the implementation guide (x12.guide837): loop by loop,
segment order and repeats, required segments and loops, qualifiers, required elements, dates,
times and numbers, and SNIP type 3 balancing (CLM02 equals the sum of SV102).

Every error carries its 999 coordinates (IK3/IK4 codes, segment position in the set, loop id,
element and component) and the claim it lies in, so the 999 can name the claim in CTX.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Final, TypeVar

from scrubber.model import remembered
from x12.elements837 import RULES, ElementRule, SegmentRules, occurrence_limits, rules_for
from x12.errors import Level, X12Error
from x12.guide837 import (
    KNOWN_SEGMENTS,
    LOOPS,
    MAX_ELEMENTS,
    PRODUCT_QUALIFIERS,
    ROOT,
    Loop,
)
from x12.tokenizer import Delimiters, Segment, ascii_digits, ccyymmdd, in_charset, valid_time

__all__ = ["SetCheck", "check_set", "hl_number"]

# IK304 segment syntax error codes and IK403 element syntax error codes (X231A1)
UNRECOGNIZED, UNEXPECTED, MISSING, LOOP_OVER_MAX = "1", "2", "3", "4"
OVER_MAX_USE, NOT_IN_SET, OUT_OF_ORDER, HAS_ELEMENT_ERRORS = "5", "6", "7", "8"
EL_MISSING, EL_CONDITIONAL, EL_TOO_MANY, EL_TOO_SHORT, EL_TOO_LONG = "1", "2", "3", "4", "5"
EL_BAD_CHAR, EL_BAD_CODE, EL_BAD_DATE, EL_BAD_TIME, EL_EXCLUSION = "6", "7", "8", "9", "10"
EL_TOO_MANY_COMPONENTS, EL_NOT_USED, EL_PATTERN = "13", "I10", "I12"
# the guide's situational rules: a segment it requires in the case at hand missing (I6), one it rules
# out present (I9), an element it requires missing (IK403 I9); claim edits carry them into the JSON
IMPLEMENTATION_MISSING, IMPLEMENTATION_NOT_USED, EL_IMPLEMENTATION_MISSING = "I6", "I9", "I9"
# the 277CA category and status code of each claim edit (STC01-1, STC01-2)
BALANCING = ("A7", "400")  # rejected for invalid information: claim is out of balance
POINTER = ("A7", "21")  # rejected for invalid information: missing or invalid information
PAYER_ICN = ("A7", "21")  # the same, for the payer claim control number of a replacement or void
SUBSCRIBER_MISSING = ("A6", "21")  # rejected for missing information: the subscriber-patient's N3, N4, DMG
RELATION = ("A8", "21")  # rejected for relational field in error: SBR02 against the 2000C
ZERO_CHARGE = ("A7", "21")  # rejected for invalid information: a chargeable claim for nothing
DIAGNOSIS = ("A7", "21")  # the same: a diagnosis code not shaped as its code set's codes are sent


class _Subscriber:
    """What the situational rules need of one 2000B: SBR's position and SBR02, the segments of
    2010BA and the position after its last one, and the 2000C the claims now hang under."""

    def __init__(self) -> None:
        self.sbr = 0
        self.relationship = ""
        self.filing = ""  # SBR09, the claim filing indicator
        self.seen: set[str] = set()
        self.end = 0
        self.patient_loop = 0  # position of the HL of the 2000C the claims now hang under, 0 if none


@dataclass(init=False)
class _Frame:
    loop: Loop
    slot: int = 0
    uses: dict[int, int] = field(default_factory=dict)
    children: dict[str, int] = field(default_factory=dict)
    in_children: bool = False
    seen_codes: set[str] = field(default_factory=set)
    occurrences: dict[tuple[str, int], int] = field(default_factory=dict)  # uses per qualified occurrence
    last_child: int = -1  # the furthest child loop entered so far, by its place in the loop's table

    def __init__(self, loop: Loop, slot: int = 0, uses: dict[int, int] | None = None,
                 children: dict[str, int] | None = None, in_children: bool = False,
                 seen_codes: set[str] | None = None,
                 occurrences: dict[tuple[str, int], int] | None = None, last_child: int = -1) -> None:
        # written out (init=False): see scrubber.model.PatientIdentity
        self.loop = loop
        self.slot = slot
        self.uses = {} if uses is None else uses
        self.children = {} if children is None else children
        self.in_children = in_children
        self.seen_codes = set() if seen_codes is None else seen_codes
        self.occurrences = {} if occurrences is None else occurrences
        self.last_child = last_child


@dataclass
class SetCheck:
    """The result of checking one set: errors, and the loop and claim of every segment."""

    errors: list[X12Error] = field(default_factory=list)
    loops: list[str] = field(default_factory=list)  # loop id per body segment (ST excluded)


def _number(text: str) -> Decimal | None:
    """An amount as a Decimal, None when it is not one (a batch repeats a few hundred charges:
    they are remembered, as making a Decimal costs more than finding it)."""
    known = _AMOUNTS.get(text)
    if known is not None:
        return known
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    remembered(_AMOUNTS, text, value, _CLEAN_LIMIT)
    return value


def _valid_date(text: str) -> bool:
    return ccyymmdd(text) is not None


class _Checker:
    def __init__(self, segments: list[Segment], delimiters: Delimiters):
        self.segments = segments
        self.d = delimiters
        self.result = SetCheck()
        self.stack: list[_Frame] = [_Frame(LOOPS[ROOT], uses={0: 1})]
        self.claim_start = 0
        self.claim_id = ""
        self.claim_charge: tuple[Segment, int] | None = None
        self.line_total = _ZERO  # the current claim's SV102 charges so far
        self.claim_lines = 0
        self.diagnoses = 0  # diagnosis codes in the current claim's HI segments, in order
        self.line_numbers = 0  # LX segments in the current claim (LX01 must count them)
        self.frequency = ""  # the current claim's CLM05-3
        self.payer_icn = 0  # position of the current claim's REF*F8 (payer claim control number), 0 if none
        self.subscriber: _Subscriber | None = None  # the current 2000B, for the guide's situational rules
        self.chargeable = False  # BHT06 CH: claims for payment (RP: encounters, reporting only)
        self.hl_levels: dict[str, str] = {}
        self.hl_count = 0
        # segments found clean before under these separators, by loop (check_elements)
        self.clean = _CLEAN.setdefault((delimiters.component, delimiters.element), {})

    # -- errors -----------------------------------------------------------------------------
    def segment_error(self, message: str, code: str, segment: Segment | str, position: int,
                      loop: str) -> None:
        segment_id = segment if isinstance(segment, str) else segment.id
        self.result.errors.append(X12Error(
            message, Level.SEGMENT, code, segment_id, position, loop,
            claim_start=self.claim_start, claim_id=self.claim_id))

    def element_error(self, message: str, code: str, segment: Segment, position: int, loop: str,
                      element: int, rule: ElementRule | None = None, value: str = "",
                      component: int = 0) -> None:
        self.result.errors.append(X12Error(
            message, Level.SEGMENT, HAS_ELEMENT_ERRORS, segment.id, position, loop, element, component,
            rule.reference if rule else "", code, value[:99], self.claim_start, self.claim_id))

    # -- walking ----------------------------------------------------------------------------
    def run(self) -> SetCheck:
        segments, count = self.segments, len(self.segments)
        index = 0
        while index < count:
            segment = segments[index]
            position = index + 2
            loop = self.place(segment, position)
            self.result.loops.append(loop)
            self._check_placed(segment, position, loop)
            index += 1
            if segment.id == "HL" and loop and _fresh(self.stack[-1]):
                index = self._block(index)
        end = count + 2
        while self.stack:
            self.close(self.stack.pop(), end)
        self.close_claim()
        return self.result

    def _block(self, start: int) -> int:
        """Walk the segments after an HL up to the next HL (one subscriber or patient with its
        claims), returning the index after them.

        Where a segment goes depends only on the loops open, the segment's id and its first element
        (the qualifier that picks a loop or a slot), so a block whose sequence of those was walked
        cleanly before, from the same loops, lands in the same loops and leaves the same loop
        state: that is replayed instead of walked. Element checks and claim tracking still run on
        every segment. Blocks that met a structural error, or closed the HL's own loop, are not
        remembered."""
        segments, count = self.segments, len(self.segments)
        end = start
        while end < count and segments[end].id != "HL":
            end += 1
        component = self.d.component
        stack = self.stack
        base = len(stack) - 1
        key = (component, tuple(frame.loop.id for frame in stack),
               tuple(_structure_key(s, component) for s in segments[start:end]))
        known = _BLOCKS.get(key)
        loops = self.result.loops
        if known is not None:
            block_loops, frames = known
            stack[base:] = [_copy(frame) for frame in frames]
            loops.extend(block_loops)
            for index in range(start, end):
                self._check_placed(segments[index], index + 2, block_loops[index - start])
            return end
        base_frame, errors, clean = stack[base], self.result.errors, True
        for index in range(start, end):
            segment, position = segments[index], index + 2
            before = len(errors)
            loop = self.place(segment, position)
            clean = clean and len(errors) == before and len(stack) > base and stack[base] is base_frame
            loops.append(loop)
            self._check_placed(segment, position, loop)
        if clean:
            if len(_BLOCKS) >= _BLOCKS_LIMIT:
                _BLOCKS.clear()
            _BLOCKS[key] = (tuple(loops[len(loops) - (end - start):]),
                            tuple(_copy(frame) for frame in stack[base:]))
        return end

    def _check_placed(self, segment: Segment, position: int, loop: str) -> None:
        """What a segment gets once its loop is known, walked or replayed: its elements checked
        and, for the segments that start or add to a claim, the claim's tracking."""
        if loop:
            self.check_elements(segment, position, loop)
            if segment.id in _TRACKED:
                self.track_claim(segment, position, loop)

    def place(self, segment: Segment, position: int) -> str:
        """Find the loop the segment belongs to, updating the stack; '' when it fits nowhere."""
        top = self.stack[-1]
        slot = self._slot_in(top, segment)
        if slot is not None:
            self._use(top, slot, segment, position)
            return top.loop.id
        for strict in (True, False):
            for depth in range(len(self.stack) - 1, -1, -1):
                frame = self.stack[depth]
                child = self._child_for(frame, segment, strict)
                if child is not None:
                    while len(self.stack) > depth + 1:
                        self.close(self.stack.pop(), position)
                    self._enter(frame, child, segment, position)
                    return child.id
        self._misplaced(segment, position)
        return ""

    def _slot_in(self, frame: _Frame, segment: Segment) -> int | None:
        if frame.in_children:
            return None
        start = frame.slot if frame.slot > 1 else 1
        for index in _SLOTS_BY_ID[frame.loop.id].get(segment.id, ()):
            if index >= start:
                return index
        return None

    def _child_for(self, frame: _Frame, segment: Segment, strict: bool = False) -> Loop | None:
        candidate: Loop | None = None  # the one required child not yet seen, if only one
        candidates = 0
        for name, required, child in _CHILDREN_BY_TRIGGER[frame.loop.id].get(segment.id, _NO_CHILDREN):
            value = segment.get(child.trigger_element) if child.trigger_element else ""
            if not child.trigger_codes or value in child.trigger_codes:
                return child
            if not strict and required and frame.children.get(name, 0) == 0:
                candidate, candidates = child, candidates + 1
        return candidate if candidates == 1 and segment.id != "HL" else None

    def _enter(self, parent: _Frame, child: Loop, segment: Segment, position: int) -> None:
        if not parent.in_children:
            self._missing_slots(parent, len(parent.loop.slots), segment.id, position)
            parent.in_children = True
        count = parent.children.get(child.id, 0) + 1
        parent.children[child.id] = count
        order = _CHILD_ORDER[parent.loop.id][child.id]
        if order < parent.last_child and child.trigger != "HL":  # HL loops nest by HL02, not by place
            after = parent.loop.children[parent.last_child][0]
            self.segment_error(f"loop {child.id} ({child.trigger}) is out of order in loop {parent.loop.id}: "
                               f"the guide puts it before loop {after}", OUT_OF_ORDER, segment, position,
                               child.id)
        parent.last_child = max(parent.last_child, order)
        limit = parent.loop.children[order][2]
        if count > limit:
            self.segment_error(f"loop {child.id} occurs {count} times, more than the {limit} allowed",
                               LOOP_OVER_MAX, segment, position, child.id)
        frame = _Frame(child)
        self.stack.append(frame)
        self._use(frame, 0, segment, position)

    def _use(self, frame: _Frame, index: int, segment: Segment, position: int) -> None:
        if index > frame.slot:
            self._missing_slots(frame, index, segment.id, position)
            frame.slot = index
        slot = frame.loop.slots[index]
        uses = frame.uses.get(index, 0) + 1
        frame.uses[index] = uses
        if uses > slot.max_use:
            self.segment_error(f"{segment.id} appears {uses} times in loop {frame.loop.id}, more than "
                               f"the {slot.max_use} allowed", OVER_MAX_USE, segment, position, frame.loop.id)
        if slot.codes and index > 0:
            value = segment.get(1).split(self.d.component)[0] if segment.id == "HI" else segment.get(1)
            if value not in slot.codes:
                composite = segment.id == "HI"
                self.element_error(f"{segment.id}01{'-1' if composite else ''} {value!r} is not a valid "
                                   f"qualifier in loop {frame.loop.id}", EL_BAD_CODE if value else EL_MISSING,
                                   segment, position, frame.loop.id, 1,
                                   _HI_QUALIFIER if composite else _rule(frame.loop.id, segment.id, 1),
                                   value, component=1 if composite else 0)
            if slot.required_codes:
                frame.seen_codes.add(f"{index}:{value}")
            limits = _OCCURRENCES.get((frame.loop.id, segment.id))
            if limits is not None and value in limits:
                number, most = limits[value]
                used = frame.occurrences.get((segment.id, number), 0) + 1
                frame.occurrences[(segment.id, number)] = used
                if used > most:
                    self.segment_error(f"{segment.id}*{value} appears {used} times in loop {frame.loop.id}, "
                                       f"more than the {most} allowed", OVER_MAX_USE, segment, position,
                                       frame.loop.id)
        elif index == 0 and frame.loop.trigger_codes:
            value = segment.get(frame.loop.trigger_element)
            if value not in frame.loop.trigger_codes:
                element = frame.loop.trigger_element
                self.element_error(f"{segment.id}{element:02d} {value!r} is not valid in loop "
                                   f"{frame.loop.id} (expected {'/'.join(sorted(frame.loop.trigger_codes))})",
                                   EL_BAD_CODE if value else EL_MISSING, segment, position, frame.loop.id,
                                   element, _rule(frame.loop.id, segment.id, element), value)

    def _missing_slots(self, frame: _Frame, upto: int, next_id: str, position: int) -> None:
        slots, uses = frame.loop.slots, frame.uses
        after = frame.slot if frame.slot > 0 else 0
        for index in _REQUIRED_SLOTS[frame.loop.id]:
            if after < index < upto and not uses.get(index):
                slot = slots[index]
                self.segment_error(f"required segment {slot.segment} is missing from loop {frame.loop.id} "
                                   f"(found {next_id} instead)", MISSING, slot.segment, position,
                                   frame.loop.id)
        for index in _CODED_SLOTS[frame.loop.id]:
            if index >= upto or not uses.get(index):
                continue
            slot = slots[index]
            if not any(f"{index}:{code}" in frame.seen_codes for code in slot.required_codes):
                self.segment_error(f"required segment {slot.segment}*{'/'.join(sorted(slot.required_codes))} "
                                   f"is missing from loop {frame.loop.id}", MISSING, slot.segment,
                                   position, frame.loop.id)
                frame.seen_codes.update(f"{index}:{code}" for code in slot.required_codes)

    def close(self, frame: _Frame, position: int) -> None:
        if not frame.in_children:
            self._missing_slots(frame, len(frame.loop.slots), "the end of the loop", position)
        for name, required, _ in frame.loop.children:
            if required and not frame.children.get(name):
                trigger = LOOPS[name].trigger
                self.segment_error(f"required loop {name} ({trigger}) is missing from loop "
                                   f"{frame.loop.id}", MISSING, trigger, position, frame.loop.id)

    def _misplaced(self, segment: Segment, position: int) -> None:
        loop = self.stack[-1].loop.id
        if not (2 <= len(segment.id) <= 3 and segment.id.isalnum() and segment.id.isupper()):
            self.segment_error(f"{segment.id[:10]!r} is not a valid segment identifier", UNRECOGNIZED,
                               (segment.id[:3] or "?").ljust(2, "?"), position, loop)
        elif segment.id not in KNOWN_SEGMENTS:
            self.segment_error(f"segment {segment.id} is not part of an 837P transaction set",
                               NOT_IN_SET, segment, position, loop)
        elif any(s.segment == segment.id for s in self.stack[-1].loop.slots):
            self.segment_error(f"segment {segment.id} is out of order in loop {loop}", OUT_OF_ORDER,
                               segment, position, loop)
        else:
            self.segment_error(f"segment {segment.id} is not expected in loop {loop}", UNEXPECTED,
                               segment, position, loop)

    # -- elements ---------------------------------------------------------------------------
    def check_elements(self, segment: Segment, position: int, loop: str) -> None:
        segment_id = segment.id
        # Element checks depend only on the segment's text, its loop and the component separator
        # (HL also on the HLs before it), so a segment seen clean before is clean again: batches
        # repeat most of their segments (providers, payers, subscriber details, codes, dates).
        if segment_id == "HL":
            self._check_elements(segment, position, loop)
            return
        text = segment.text or self.d.element.join([segment_id, *segment.elements])
        texts = self.clean.get(loop)
        if texts is not None and text in texts:
            return
        errors_before = len(self.result.errors)
        self._check_elements(segment, position, loop)
        if len(self.result.errors) == errors_before:
            if texts is None:
                texts = self.clean[loop] = set()
            _CLEAN_TEXTS.add(texts, text)

    def _check_elements(self, segment: Segment, position: int, loop: str) -> None:
        segment_id, elements = segment.id, segment.elements
        count = len(elements)
        limit = MAX_ELEMENTS.get(segment_id)
        if limit is not None and count > limit:
            self.element_error(f"{segment_id} has {count} elements, at most {limit} are defined",
                               EL_TOO_MANY, segment, position, loop, limit + 1)
        elif count and not elements[-1]:
            self.segment_error(f"{segment_id} ends with an element separator: X12 does not allow "
                               "trailing separators (drop the empty elements at the end)",
                               HAS_ELEMENT_ERRORS, segment, position, loop)
        first = elements[0] if count else ""
        rules = rules_for(loop, segment_id, first.split(self.d.component)[0] if segment_id == "HI" else first)
        if rules is not None:
            self._check_rules(segment, position, loop, rules)
        if segment_id in _SPECIAL:
            getattr(self, _SPECIAL[segment_id])(segment, position, loop)

    def _check_rules(self, segment: Segment, position: int, loop: str, rules: SegmentRules) -> None:
        """Each element against its rule in this loop, then the segment's syntax rules."""
        segment_id, elements = segment.id, segment.elements
        count = len(elements)
        # checked when the segment was placed
        placed = _PLACED_QUALIFIER.get(loop, _NO_QUALIFIERS).get(segment_id, 0)
        rule_list = rules.elements
        for index in range(1, min(count, len(rule_list)) + 1):
            value, rule = elements[index - 1], rule_list[index - 1]
            if index == placed and not rule.components:
                continue
            if rule.usage == "N":
                if value and rule.reference:
                    self.element_error(f"{segment_id}{index:02d} is not used in loop {loop} (the guide "
                                       "marks it not used); leave it empty", EL_NOT_USED, segment,
                                       position, loop, index, rule, value)
            elif not value:
                if rule.usage == "R":
                    self.element_error(f"required element {segment_id}{index:02d} is empty", EL_MISSING,
                                       segment, position, loop, index, rule)
            elif rule.components:
                self._check_composite(segment, position, loop, index, rule, value)
            else:
                self._check_value(segment, position, loop, index, rule, value)
        for index in rules.required:  # required elements after the segment's last one
            if index > count and index != placed:
                self.element_error(f"required element {segment_id}{index:02d} is empty", EL_MISSING,
                                   segment, position, loop, index, rule_list[index - 1])
        for kind, positions in rules.syntax:
            self._check_syntax(segment, position, loop, kind, positions, rules)

    def _check_composite(self, segment: Segment, position: int, loop: str, index: int,
                         rule: ElementRule, value: str) -> None:
        # a composite found clean under a rule with this separator is clean again (its checks read
        # only its own components; the segment around it may be new, as a CLM's is). Rules with the
        # same text are one object, and a segment's special check may own some components (SV101's
        # qualifier, which SVD03 shares the rule of): the segment id keeps their memos apart
        key = (id(rule), self.d.component, value, segment.id)
        if key in _CLEAN_COMPOSITES:
            return
        errors = self.result.errors
        before = len(errors)
        self._check_components(segment, position, loop, index, rule, value)
        if len(errors) == before:
            _remember(_CLEAN_COMPOSITES, key)

    def _check_components(self, segment: Segment, position: int, loop: str, index: int,
                          rule: ElementRule, value: str) -> None:
        parts = value.split(self.d.component)
        components = rule.components
        if len(parts) > len(components):
            self.element_error(f"{segment.id}{index:02d} has {len(parts)} components, at most "
                               f"{len(components)} are defined", EL_TOO_MANY_COMPONENTS, segment, position,
                               loop, index, rule, value)
            return
        owned = _SPECIAL_COMPONENTS.get(segment.id, {}).get(index, ())  # a special check reports those
        for number, part in enumerate(parts, start=1):
            sub = components[number - 1]
            if sub.usage == "N":
                if part:
                    self.element_error(f"{_named(segment, index, number)} is not used in loop {loop} (the "
                                       "guide marks it not used); leave it empty", EL_NOT_USED, segment,
                                       position, loop, index, sub, part, component=number)
            elif part and number not in owned:
                self._check_value(segment, position, loop, index, sub, part, number)
            elif part and number > 1 and (sub.type == "AN" or sub.type == "ID"):  # a qualifier: its check's
                if self._check_text(segment, position, loop, index, sub, part, number):
                    self._check_length(segment, position, loop, index, sub, part, number)
        for number in range(1, len(components) + 1):
            missing = number > len(parts) or not parts[number - 1]
            if missing and components[number - 1].usage == "R" and number not in owned:
                self.element_error(f"required component {_named(segment, index, number)} is empty",
                                   EL_MISSING, segment, position, loop, index, components[number - 1],
                                   component=number)

    def _check_syntax(self, segment: Segment, position: int, loop: str, kind: str,
                      positions: tuple[int, ...], rules: SegmentRules) -> None:
        """X12.6 syntax rules: P paired, R at least one, C if the first then all, E at most one,
        L if the first then at least one of the others."""
        present = [p for p in positions if segment.get(p)]
        first = positions[0]
        if kind == "P" and present and len(present) < len(positions):
            for p in positions:
                if p not in present:
                    self._required_by_rule(segment, position, loop, rules, p, f"{_named(segment, p, 0)} is "
                                           f"required when any of {_listed(segment, positions)} is present")
        elif kind == "R" and not present:
            self._required_by_rule(segment, position, loop, rules, first,
                                   f"at least one of {_listed(segment, positions)} is required")
        elif kind == "C" and first in present:
            for p in positions[1:]:
                if p not in present:
                    self._required_by_rule(segment, position, loop, rules, p, f"{_named(segment, p, 0)} is "
                                           f"required when {_named(segment, first, 0)} is present")
        elif kind == "E" and len(present) > 1:
            second = present[1]
            self.element_error(f"only one of {_listed(segment, positions)} may be present", EL_EXCLUSION,
                               segment, position, loop, second, rules.rule_at(second), segment.get(second))
        elif kind == "L" and first in present and len(present) == 1:
            others = positions[1:]
            self._required_by_rule(segment, position, loop, rules, others[0],
                                   f"one of {_listed(segment, others)} is required when "
                                   f"{_named(segment, first, 0)} is present")

    def _required_by_rule(self, segment: Segment, position: int, loop: str, rules: SegmentRules,
                          index: int, message: str) -> None:
        self.element_error(message, EL_CONDITIONAL, segment, position, loop, index, rules.rule_at(index))

    def _check_pwk(self, segment: Segment, position: int, loop: str) -> None:
        how = segment.get(2)
        if how:
            allowed = _PWK_CT | _PWK_OTHER if segment.get(1) == "CT" else _PWK_OTHER
            if how not in allowed:
                self.element_error(f"PWK02 {how!r} is not a valid attachment transmission code "
                                   f"for report type {segment.get(1)!r}", EL_BAD_CODE, segment, position,
                                   loop, 2, _rule(loop, "PWK", 2), how)
            elif how in _PWK_SENT and segment.get(1) != "CT" and not segment.get(5):
                # the guide: PWK05 (AC) and PWK06 are required when the attachment is or will be sent,
                # so the payer can match it to the claim (P0506 pairs them)
                self.element_error(f"PWK05/PWK06 (attachment control number) are required when PWK02 is "
                                   f"{how!r}: the payer matches the attachment to the claim by that number",
                                   EL_IMPLEMENTATION_MISSING, segment, position, loop, 5,
                                   _rule(loop, "PWK", 5))

    def _check_value(self, segment: Segment, position: int, loop: str, index: int,
                     rule: ElementRule, value: str, component: int = 0) -> None:
        if not component and self.d.component in value:  # before the memo: it holds no separator
            self.element_error(f"{_named(segment, index, 0)} is a simple element but holds the component "
                               f"separator {self.d.component!r}: a delimiter cannot appear in a value",
                               EL_BAD_CHAR, segment, position, loop, index, rule, value)
            return
        # a value found clean under a rule is clean again (rules live as long as the module; a
        # date's format comes from the element before it, so 1251 is not remembered)
        clean = rule.clean
        if value in clean:
            return
        errors = self.result.errors
        before = len(errors)
        kind = rule.type
        if kind == "AN" or kind == "ID":
            if not self._check_text(segment, position, loop, index, rule, value, component):
                return  # reported: checked no further, and not remembered as clean
            if rule.codes and value not in rule.codes:
                self.element_error(f"{_named(segment, index, component)} {value!r} is not a valid code",
                                   EL_BAD_CODE, segment, position, loop, index, rule, value, component)
            elif rule.reference == "1251" and not component and segment.get(index - 1) in _PERIOD_FORMATS:
                self._check_period(segment, position, loop, index, rule, value)
                return
            else:
                self._check_length(segment, position, loop, index, rule, value, component)
        elif kind == "R" or kind == "N0":
            digits = value[1:] if value[:1] == "-" else value
            # as X12 writes numbers: ASCII digits, a leading minus, a decimal point followed by
            # digits (R); no plus sign, exponent, space or trailing point (Decimal takes all of those)
            if not (_DECIMAL if kind == "R" else _INTEGER).fullmatch(value):
                self.element_error(f"{_named(segment, index, component)} {value!r} is not a number (digits, "
                                   "an optional leading minus" + (" and decimal point followed by digits)"
                                                                  if kind == "R" else ")"),
                                   EL_BAD_CHAR, segment, position, loop, index, rule, value, component)
            elif len(digits) - digits.count(".") > rule.max_len:
                self.element_error(f"{_named(segment, index, component)} has more than {rule.max_len} "
                                   "digits", EL_TOO_LONG, segment, position, loop, index, rule, value,
                                   component)
            elif rule.codes and value not in rule.codes:  # SV107's pointers: the guide lists 1 to 12
                self.element_error(f"{_named(segment, index, component)} {value!r} is not a valid code",
                                   EL_BAD_CODE, segment, position, loop, index, rule, value, component)
        elif kind == "DT":
            if ccyymmdd(value) is None:
                self.element_error(f"{_named(segment, index, component)} {value!r} is not a valid date "
                                   "(CCYYMMDD)", EL_BAD_DATE, segment, position, loop, index, rule, value,
                                   component)
        elif kind == "TM" and not valid_time(value):
            self.element_error(f"{_named(segment, index, component)} {value!r} is not a valid time (HHMM)",
                               EL_BAD_TIME, segment, position, loop, index, rule, value, component)
        if len(errors) == before:
            _CLEAN_VALUE_SETS.add(clean, value)

    def _check_charset(self, segment: Segment, position: int, loop: str, index: int,
                       rule: ElementRule, value: str, component: int = 0) -> bool:
        """Whether an AN or ID value keeps to the X12 character set; if not, the error names the
        element, the code point and its position, not the value (a name or an address is PHI)."""
        if in_charset(value):
            return True
        at = next(i for i, character in enumerate(value) if not in_charset(character))
        self.element_error(f"{_named(segment, index, component)} has a character outside the X12 character "
                           f"set (U+{ord(value[at]):04X} at position {at + 1} of {len(value)})", EL_BAD_CHAR,
                           segment, position, loop, index, rule, value, component)
        return False

    def _check_text(self, segment: Segment, position: int, loop: str, index: int,
                    rule: ElementRule, value: str, component: int = 0) -> bool:
        """Whether an AN or ID value keeps to the character set and has no trailing spaces (X12
        suppresses them; spaces padding a value to its minimum length are allowed, as pyx12 does)."""
        if not self._check_charset(segment, position, loop, index, rule, value, component):
            return False
        if value[-1:] != " " or len(value.rstrip(" ")) < rule.min_len:
            return True
        self.element_error(f"{_named(segment, index, component)} ends with a space: X12 suppresses trailing "
                           "spaces in a value (drop them)", EL_BAD_CHAR, segment, position, loop, index, rule,
                           value, component)
        return False

    def _check_length(self, segment: Segment, position: int, loop: str, index: int,
                      rule: ElementRule, value: str, component: int = 0) -> None:
        if len(value) > rule.max_len:
            self.element_error(f"{_named(segment, index, component)} is {len(value)} characters long, at "
                               f"most {rule.max_len} allowed", EL_TOO_LONG, segment, position, loop, index,
                               rule, value, component)
        elif len(value) < rule.min_len:
            self.element_error(f"{_named(segment, index, component)} is {len(value)} characters long, at "
                               f"least {rule.min_len} needed", EL_TOO_SHORT, segment, position, loop, index,
                               rule, value, component)

    def _check_period(self, segment: Segment, position: int, loop: str, index: int,
                      rule: ElementRule, value: str) -> None:
        """A date or date range (DTP03, DMG02, PAT06, ...) in the format its qualifier names."""
        name, ranged = _named(segment, index, 0), segment.get(index - 1) == "RD8"
        if ranged:
            first, dash, last = value.partition("-")
            good = bool(dash) and _valid_date(first) and _valid_date(last)
            if good and first > last:
                self.element_error(f"{name} range {value!r} ends before it starts", EL_BAD_DATE, segment,
                                   position, loop, index, rule, value)
                return
        else:
            good = _valid_date(value)
        if not good:
            kind = "date range (CCYYMMDD-CCYYMMDD)" if ranged else "date (CCYYMMDD)"
            self.element_error(f"{name} {value!r} is not a valid {kind}", EL_BAD_DATE, segment, position,
                               loop, index, rule, value)

    def _check_sv101(self, segment: Segment, position: int, loop: str) -> None:
        parts = segment.get(1).split(self.d.component)
        qualifier = parts[0]
        if qualifier and qualifier not in PRODUCT_QUALIFIERS:
            self.element_error(_qualifier_message(qualifier, self.d), EL_BAD_CODE, segment, position, loop,
                               1, _SV101_1, qualifier, component=1)
        elif qualifier and (len(parts) < 2 or not parts[1]):
            self.element_error("SV101-2 (procedure code) is empty", EL_MISSING, segment, position, loop,
                               1, _SV101_2, component=2)
        elif not qualifier and segment.get(1):  # an empty SV101 is reported as a required element
            self.element_error("SV101-1 (product or service ID qualifier) is empty", EL_MISSING, segment,
                               position, loop, 1, _SV101_1, component=1)

    def _check_hi(self, segment: Segment, position: int, loop: str) -> None:
        first = segment.get(1).split(self.d.component)[0]
        following = _HI_FOLLOWING.get(first)
        for index, value in enumerate(segment.elements[:12], start=1):
            if not value:
                continue
            parts = value.split(self.d.component)
            if index > 1 and following is not None and parts[0] not in following:
                self.element_error(f"HI{index:02d}-1 {parts[0]!r} is not a valid qualifier after HI01-1 "
                                   f"{first!r}", EL_BAD_CODE, segment, position, loop, index,
                                   _HI_QUALIFIER, parts[0], component=1)
            elif len(parts) < 2 or not parts[1]:
                self.element_error(f"HI{index:02d}-2 (the code) is empty", EL_MISSING, segment, position,
                                   loop, index, _HI_CODE, component=2)

    def _check_hl(self, segment: Segment, position: int, loop: str) -> None:
        written, parent, level = segment.get(1), segment.get(2), segment.get(3)
        number = hl_number(written)
        self.hl_count += 1
        if number and number != str(self.hl_count):
            self.element_error(f"HL01 {written!r} is out of sequence: the guide numbers a set's HLs 1, 2, "
                               f"3, ... (expected {self.hl_count})", EL_PATTERN, segment, position, loop, 1,
                               _rule(loop, "HL", 1), written)
        expected = _PARENT_LEVEL.get(level)
        if expected and self.hl_levels.get(hl_number(parent)) != expected:
            self.element_error(f"HL02 {parent!r} does not name an earlier HL at level {expected}",
                               EL_BAD_CODE if parent else EL_MISSING, segment, position, loop, 2,
                               _rule(loop, "HL", 2), parent)
        self.hl_levels[number] = level

    # -- claims and balancing ---------------------------------------------------------------
    def track_claim(self, segment: Segment, position: int, loop: str) -> None:
        # by loop first, then by segment id: a chain of id comparisons for every segment cost more
        # than the tracking itself
        segment_id = segment.id
        if loop == "2400":
            if not self.claim_start:
                return
            if segment_id == "SV1":
                self.claim_lines += 1
                amount = _number(segment.get(2))
                if amount is not None:
                    self.line_total += amount
                else:
                    self.claim_charge = None
                self.check_pointers(segment, position)
            elif segment_id == "LX":
                self.line_numbers += 1
                number = segment.get(1)
                if number and number != str(self.line_numbers):  # empty: reported as a required element
                    self.element_error(f"LX01 {number!r} is out of sequence: the guide numbers a claim's "
                                       f"service lines 1, 2, 3, ... (expected {self.line_numbers})",
                                       EL_PATTERN, segment, position, loop, 1, _rule(loop, "LX", 1), number)
        elif loop == "2300":
            if segment_id == "CLM":
                self._open_claim(segment, position)
            elif segment_id == "REF":
                if segment.get(1) == "F8":
                    self.payer_icn = position
            elif segment_id == "HI" and self.claim_start:
                count, problems = _diagnoses_in(segment, self.d.component)
                self.diagnoses += count
                for index, code, message in problems:
                    self.result.errors.append(X12Error(
                        message, Level.SEGMENT, HAS_ELEMENT_ERRORS, "HI", position, "2300", index, 2, "1271",
                        EL_BAD_CODE, code, self.claim_start, self.claim_id, edit=DIAGNOSIS))
        elif loop == "2010BA":
            if self.subscriber is not None:
                self.subscriber.seen.add(segment_id)
                self.subscriber.end = position + 1
        elif segment_id == "HL":
            self.close_claim()
            level = segment.get(3)
            if level == "22":
                self.subscriber = _Subscriber()
            elif level == "23" and self.subscriber is not None:
                self.subscriber.patient_loop = position
        elif segment_id == "SBR":
            if loop == "2000B" and self.subscriber is not None:
                self.subscriber.sbr, self.subscriber.relationship = position, segment.get(2)
                self.subscriber.filing = segment.get(9)
        elif segment_id == "BHT":
            self.chargeable = segment.get(6) == "CH"

    def _open_claim(self, segment: Segment, position: int) -> None:
        """A CLM in 2300: the claim before it is closed, this one's tracking starts."""
        self.close_claim()
        self.claim_start, self.claim_id = position, segment.get(1)
        charge = _number(segment.get(2))
        self.claim_charge = (segment, position) if charge is not None else None
        self.line_total, self.claim_lines, self.diagnoses, self.line_numbers = _ZERO, 0, 0, 0
        self.frequency, self.payer_icn = segment.component(5, 3, self.d), 0
        # errors already recorded for this CLM belong to it: they are the last ones recorded,
        # while it was placed and its elements checked (not a pass over all the set's errors
        # per claim, which made a batch with an error in every claim quadratic)
        errors = self.result.errors
        first = len(errors)
        while first and errors[first - 1].position == position:
            first -= 1
        for at in range(first, len(errors)):
            if errors[at].segment_id == "CLM":
                errors[at] = _with_claim(errors[at], position, self.claim_id)
        self.check_subscriber(position)

    def check_pointers(self, segment: Segment, position: int) -> None:
        """SV107 points at the claim's diagnosis codes by their order in HI (1 = HI01): each pointer
        must name one the claim carries. A claim edit, as clearinghouses run it: the claim is
        rejected in the 277CA, not the set in the 999 (a missing SV107, or a pointer that is not
        one of the guide's codes 1 to 12, is a syntax error: pyx12 has it so)."""
        text = segment.get(7)
        key = (text, self.d.component, self.diagnoses)
        if key in _GOOD_POINTERS:  # most lines point at "1" of a claim with a diagnosis or more
            return
        errors = len(self.result.errors)
        pointers = text.split(self.d.component) if text else []
        for number, pointer in enumerate(pointers, start=1):
            if pointer in _POINTERS and int(pointer) > self.diagnoses:
                carries = f"carries {self.diagnoses}" if self.diagnoses else "carries no"
                self.result.errors.append(X12Error(
                    f"SV107-{number} points to diagnosis {int(pointer)}, but the claim's HI {carries} "
                    f"diagnosis code{'s' if self.diagnoses != 1 else ''}", Level.SEGMENT,
                    HAS_ELEMENT_ERRORS, "SV1", position, "2400", 7, number, "1328", EL_BAD_CODE, pointer,
                    self.claim_start, self.claim_id, edit=POINTER))
        if len(self.result.errors) == errors:
            _remember(_GOOD_POINTERS, key)

    def close_claim(self) -> None:
        if self.claim_start and self.claim_charge:
            clm, position = self.claim_charge
            total = _number(clm.get(2)) or _ZERO  # never None: claim_charge is kept for a number
            lines = self.line_total
            if self.claim_lines and total != lines:
                self.result.errors.append(X12Error(
                    f"CLM02 total charge {clm.get(2)} does not equal the sum of the SV102 line charges "
                    f"{lines} (SNIP type 3 balancing)", Level.SEGMENT, HAS_ELEMENT_ERRORS, "CLM", position,
                    "2300", 2, 0, "782", "", clm.get(2), position, clm.get(1), edit=BALANCING))
            if self.chargeable and total == 0:
                self.result.errors.append(X12Error(
                    "CLM02 total charge is 0 on a chargeable claim (BHT06 CH): payers refuse a claim for "
                    "nothing; bill the charges, or send it as a reporting (encounter) transaction",
                    Level.SEGMENT, HAS_ELEMENT_ERRORS, "CLM", position, "2300", 2, 0, "782", "",
                    clm.get(2), position, clm.get(1), edit=ZERO_CHARGE))
        if self.claim_start:
            self.check_frequency()
        self.claim_start, self.claim_id, self.claim_charge = 0, "", None

    def check_subscriber(self, position: int) -> None:
        """The guide's rules on the subscriber, checked for each claim (the CLM at `position`)
        against its 2000B: SBR02 is 18 exactly when the subscriber is the patient, that is when the
        claim hangs under the subscriber with no 2000C; then 2010BA must carry the subscriber's
        address (N3, N4) and demographics (DMG). SBR09 (claim filing indicator) is required while
        the national health plan identifier is not mandated (it never was). Claim edits, as
        clearinghouses run them: each claim of the subscriber is rejected in the 277CA, not the
        whole set in the 999. (2010BA's N3, N4 and DMG on a subscriber who is not the patient are
        left alone: the guide says not to send them, payers take them.)"""
        subscriber = self.subscriber
        if subscriber is None or not subscriber.sbr:
            return
        is_patient = subscriber.relationship == "18"
        claim_start, claim_id, errors = position, self.claim_id, self.result.errors
        if subscriber.patient_loop and is_patient:
            errors.append(X12Error(
                "2000C (patient) is sent only when the patient is not the subscriber, and SBR02 18 says "
                "the subscriber is the patient", Level.SEGMENT, IMPLEMENTATION_NOT_USED, "HL",
                subscriber.patient_loop, "2000C", claim_start=claim_start, claim_id=claim_id, edit=RELATION))
        elif not subscriber.patient_loop and not is_patient:
            errors.append(X12Error(
                "SBR02 must be 18 when the subscriber is the patient: this claim has no 2000C patient "
                "loop", Level.SEGMENT, HAS_ELEMENT_ERRORS, "SBR", subscriber.sbr, "2000B", 2, 0, "1069",
                EL_IMPLEMENTATION_MISSING, subscriber.relationship, claim_start, claim_id, edit=RELATION))
        if not subscriber.filing:
            errors.append(X12Error(
                "SBR09 (claim filing indicator, MB for Medicare Part B) is required: the guide requires "
                "it until the national PlanID is mandated, which it has not been", Level.SEGMENT,
                HAS_ELEMENT_ERRORS, "SBR", subscriber.sbr, "2000B", 9, 0, "1032", EL_IMPLEMENTATION_MISSING,
                "", claim_start, claim_id, edit=SUBSCRIBER_MISSING))
        if is_patient and subscriber.end:  # (a 2010BA missing whole is a syntax error of its own)
            for segment_id, what in (("N3", "address"), ("N4", "city, state and ZIP code"),
                                     ("DMG", "birth date and gender")):
                if segment_id not in subscriber.seen:
                    errors.append(X12Error(
                        f"2010BA {segment_id} (the subscriber's {what}) is required when the subscriber is "
                        "the patient (SBR02 18)", Level.SEGMENT, IMPLEMENTATION_MISSING, segment_id,
                        subscriber.end, "2010BA", claim_start=claim_start, claim_id=claim_id,
                        edit=SUBSCRIBER_MISSING))

    def check_frequency(self) -> None:
        """The guide's REF*F8 (2300, payer claim control number): required when CLM05-3 says the
        claim replaces (7) or voids (8) one the payer adjudicated, and not sent on an original (1).
        Claim edits: the payer could not tell which claim is replaced, or would read an original as
        a correction."""
        if self.frequency in ("7", "8") and not self.payer_icn:
            kind = "replacement" if self.frequency == "7" else "void"
            self.result.errors.append(X12Error(
                f"CLM05-3 {self.frequency} ({kind}) needs REF*F8 with the payer's claim control number of "
                "the claim it replaces or voids", Level.SEGMENT, HAS_ELEMENT_ERRORS, "CLM",
                self.claim_start, "2300", 5, 3, "1325", EL_CONDITIONAL, self.frequency, self.claim_start,
                self.claim_id, edit=PAYER_ICN))
        elif self.frequency == "1" and self.payer_icn:
            self.result.errors.append(X12Error(
                "REF*F8 (payer claim control number) is sent only with a replacement or void (CLM05-3 7 "
                "or 8); this claim is an original (1)", Level.SEGMENT, HAS_ELEMENT_ERRORS, "REF",
                self.payer_icn, "2300", 1, 0, "128", EL_NOT_USED, "F8", self.claim_start, self.claim_id,
                edit=PAYER_ICN))


_HI_FOLLOWING: Final = {"ABK": {"ABF"}, "BK": {"BF"}, "BP": {"BO"}, "BG": {"BG"}}
_PWK_CT: Final = frozenset({"AB", "AD", "AF", "AG", "NS"})
_PWK_OTHER: Final = frozenset({"AA", "BM", "EL", "EM", "FT", "FX"})
# by mail, electronically, e-mail, file transfer, fax
_PWK_SENT: Final = frozenset({"BM", "EL", "EM", "FT", "FX"})


def hl_number(text: str) -> str:
    """An HL number as a number: leading zeros dropped (pyx12 reads HL01 and HL02 as integers)."""
    if not text.startswith("0"):  # nothing to drop (the usual case: no int made and written back)
        return text
    return str(int(text)) if ascii_digits(text) else text


def _fresh(frame: _Frame) -> bool:
    """A loop just opened by its trigger segment, with nothing else in it yet."""
    return (frame.slot == 0 and not frame.children and not frame.in_children
            and not frame.seen_codes and frame.uses == {0: 1})


def _structure_key(segment: Segment, component: str) -> tuple[str, str] | str:
    """What placing a segment reads of it: its id, and its first element where a loop trigger or
    a slot of that segment has qualifiers (the HI qualifier: its first component)."""
    segment_id = segment.id
    if segment_id not in _QUALIFIED or not segment.elements:
        return segment_id
    first = segment.elements[0]
    return segment_id, first.split(component)[0] if segment_id == "HI" else first


def _copy(frame: _Frame) -> _Frame:
    return _Frame(frame.loop, frame.slot, dict(frame.uses), dict(frame.children), frame.in_children,
                  set(frame.seen_codes), dict(frame.occurrences), frame.last_child)


# the segments track_claim acts on: the claim's, and the subscriber's for the situational rules
_TRACKED: Final = frozenset(
    {"BHT", "CLM", "HL", "HI", "REF", "LX", "SV1", "SBR", "NM1", "N3", "N4", "DMG", "PER"})
# ICD-10-CM and ICD-9-CM, principal and other
_DIAGNOSIS_QUALIFIERS: Final = frozenset({"ABK", "ABF", "BK", "BF"})
_QUALIFIED: Final = frozenset(
    {loop.trigger for loop in LOOPS.values() if loop.trigger_codes}
    | {slot.segment for loop in LOOPS.values() for slot in loop.slots if slot.codes})


class _CleanSets:
    """Sets of what was found clean, each kept by its memo (a loop's segment texts, an element
    rule's values), holding _CLEAN_LIMIT entries in all: when they are full, every one is emptied
    at once. A set is counted in from its first entry (one that is empty holds nothing to empty)."""

    def __init__(self) -> None:
        self.sets: list[set[str]] = []  # those with entries
        self.count = 0

    def add(self, found: set[str], entry: str) -> None:
        if self.count >= _CLEAN_LIMIT:
            for clean in self.sets:
                clean.clear()
            self.sets.clear()
            self.count = 0
        if not found:
            self.sets.append(found)
        found.add(entry)
        self.count += 1


_BLOCKS: Final[dict[tuple, tuple[tuple[str, ...], tuple[_Frame, ...]]]] = {}
_BLOCKS_LIMIT: Final = 5_000  # blocks repeat a few shapes; cleared when full
# segment texts found clean: (component, element separator) -> loop -> texts. Nested rather than
# keyed by a tuple of the four: the tuple was built, hashed and compared for every segment
_CLEAN: Final[dict[tuple[str, str], dict[str, set[str]]]] = {}
_CLEAN_LIMIT: Final = 20_000  # a few MB at most each; cleared when full
_CLEAN_TEXTS: Final = _CleanSets()  # the sets of _CLEAN
_Key = TypeVar("_Key")
_CLEAN_VALUE_SETS: Final = _CleanSets()  # the element rules' values found clean (ElementRule.clean)
# (rule id, component separator, value, segment id)
_CLEAN_COMPOSITES: Final[set[tuple[int, str, str, str]]] = set()
_AMOUNTS: Final[dict[str, Decimal]] = {}  # amount text -> its value (_number)
_ZERO: Final = Decimal(0)
_POINTERS: Final = frozenset(str(number) for number in range(1, 13))  # SV107's codes in the guide
# (SV107, component separator, diagnoses on the claim)
_GOOD_POINTERS: Final[set[tuple[str, str, int]]] = set()
_Diagnoses = tuple[int, tuple[tuple[int, str, str], ...]]  # count; (element, code, problem) per bad code
_DIAGNOSES: Final[dict[tuple[str, str], _Diagnoses]] = {}  # (HI text, component separator) -> what it carries
_ICD10: Final = re.compile(r"[A-TV-Z][0-9][0-9A-Z]{1,5}")  # ICD-10-CM as a claim carries it: no decimal point
_ICD9: Final = re.compile(r"[0-9]{3,5}|V[0-9]{2,4}|E[0-9]{3,4}")
_DECIMAL: Final = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)")  # an R value, as pyx12 reads the type
_INTEGER: Final = re.compile(r"-?[0-9]+")  # an N0 value


def _diagnoses_in(segment: Segment, component: str) -> _Diagnoses:
    """How many diagnosis codes an HI carries, and those not shaped as their code set's codes are
    sent (a batch repeats a few HI texts: remembered by the text the tokenizer kept; a segment built
    elsewhere has none and is read each time)."""
    key = (segment.text, component)
    found = _DIAGNOSES.get(key) if segment.text else None
    if found is None:
        count, problems = 0, []
        for index, value in enumerate(segment.elements[:12], start=1):
            parts = value.split(component)
            qualifier = parts[0]
            if qualifier not in _DIAGNOSIS_QUALIFIERS:
                continue
            count += 1
            code = parts[1] if len(parts) > 1 else ""
            ten = qualifier in ("ABK", "ABF")
            if code and not (_ICD10 if ten else _ICD9).fullmatch(code):
                kind = "ICD-10-CM" if ten else "ICD-9-CM"
                if "." in code:
                    message = (f"HI{index:02d}-2 {code!r}: an {kind} code is sent without its decimal point "
                               f"({code.replace('.', '')})")
                else:
                    shape = ("a letter, a digit, then 1 to 5 letters or digits" if ten
                             else "3 to 5 digits, or V or E and digits")
                    message = f"HI{index:02d}-2 {code!r} is not an {kind} code as claims carry it ({shape})"
                problems.append((index, code, message))
        found = (count, tuple(problems))
        if segment.text:
            remembered(_DIAGNOSES, key, found, _CLEAN_LIMIT)
    return found


_OCCURRENCES: Final = occurrence_limits()
_PARENT_LEVEL: Final = {"22": "20", "23": "22"}  # HL03 -> the level its HL02 must name
_PERIOD_FORMATS: Final = frozenset({"D8", "RD8"})  # date time period format qualifiers (1250) we read
_SPECIAL: Final = {"SV1": "_check_sv101", "HI": "_check_hi", "PWK": "_check_pwk", "HL": "_check_hl"}
# components whose presence and codes a special check reports (with its own message)
_SPECIAL_COMPONENTS: Final = {"SV1": {1: (1, 2)}, "HI": {index: (1, 2) for index in range(1, 13)}}
# the element whose code placing the segment checks: a loop's trigger element, a slot's qualifier
# (loop -> segment id -> element; nested: a (loop, segment id) tuple was made and hashed per segment)
_PLACED_QUALIFIER: Final[dict[str, dict[str, int]]] = {
    name: {**({loop.trigger: loop.trigger_element} if loop.trigger_codes else {}),
           **{slot.segment: 1 for slot in loop.slots[1:] if slot.codes}}
    for name, loop in LOOPS.items()}
_NO_QUALIFIERS: Final[dict[str, int]] = {}
_SLOTS_BY_ID: Final[dict[str, dict[str, tuple[int, ...]]]] = {
    name: {segment: tuple(i for i, slot in enumerate(loop.slots) if slot.segment == segment)
           for segment in {slot.segment for slot in loop.slots}} for name, loop in LOOPS.items()}
_CHILD_ORDER: Final = {name: {child: order for order, (child, _, _) in enumerate(loop.children)}
                       for name, loop in LOOPS.items()}
_CHILDREN_BY_TRIGGER: Final[dict[str, dict[str, list[tuple[str, bool, Loop]]]]] = {}
_NO_CHILDREN: Final[list[tuple[str, bool, Loop]]] = []  # a list: the compiled loop takes lists only
for _name, _loop in LOOPS.items():
    for _child, _required, _ in _loop.children:
        _CHILDREN_BY_TRIGGER.setdefault(_name, {}).setdefault(LOOPS[_child].trigger, []).append(
            (_child, _required, LOOPS[_child]))
    _CHILDREN_BY_TRIGGER.setdefault(_name, {})
_REQUIRED_SLOTS: Final = {name: tuple(i for i, slot in enumerate(loop.slots) if slot.required)
                          for name, loop in LOOPS.items()}
_CODED_SLOTS: Final = {name: tuple(i for i, slot in enumerate(loop.slots) if slot.required_codes)
                       for name, loop in LOOPS.items()}


def _remember(clean: set[_Key], key: _Key) -> None:
    """Add what was found clean to one of the clean caches, emptying it first when it is full."""
    if len(clean) >= _CLEAN_LIMIT:
        clean.clear()
    clean.add(key)


def _named(segment: Segment, index: int, component: int) -> str:
    """An element's name in messages: SV104, CLM05-2."""
    return f"{segment.id}{index:02d}" + (f"-{component}" if component else "")


def _listed(segment: Segment, positions: tuple[int, ...]) -> str:
    """Elements in messages: NM108/NM109."""
    return "/".join(_named(segment, p, 0) for p in positions)


def _rule(loop: str, segment_id: str, index: int, component: int = 0) -> ElementRule | None:
    """An element's rule in a loop whatever the segment's qualifier, for the IK402 of an error: the
    occurrences of a segment in a loop share their elements' references, so the first one serves."""
    found = RULES.get((loop, segment_id))
    return None if found is None else found[0][0].rule_at(index, component)


# the rules the special checks report with (x12.elements837 holds every element's)
_SV101_1, _SV101_2 = _rule("2400", "SV1", 1, 1), _rule("2400", "SV1", 1, 2)
_HI_QUALIFIER, _HI_CODE = _rule("2300", "HI", 1, 1), _rule("2300", "HI", 1, 2)


def _with_claim(error: X12Error, start: int, claim_id: str) -> X12Error:
    return replace(error, claim_start=start, claim_id=claim_id)


def _qualifier_message(qualifier: str, delimiters: Delimiters) -> str:
    message = f"SV101-1 product/service id qualifier {qualifier!r} is not valid"
    for candidate in (":", ">", "^", "|", "\\"):
        head, _, _ = qualifier.partition(candidate)
        if candidate != delimiters.component and candidate in qualifier and head in PRODUCT_QUALIFIERS:
            return (f"{message}: the composite is separated by {candidate!r} but ISA16 declares "
                    f"{delimiters.component!r} as the component separator; the claim is rejected "
                    "rather than read with a guessed separator")
    return message


def check_set(segments: list[Segment], delimiters: Delimiters) -> SetCheck:
    """Check the body of one 837P set (the segments between ST and SE)."""
    return _Checker(segments, delimiters).run()
