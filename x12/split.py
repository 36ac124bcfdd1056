"""Splitting a batch: the 837P that goes downstream holds only the claims that passed or were
flagged. The HL hierarchy is renumbered, billing-provider and subscriber loops left without a
claim are dropped, SE/GE/IEA counts are recomputed and the original delimiters are kept. Only
claims of sets the 999 accepted can go downstream; nothing left means no outbound file.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scrubber.model import Claim
from x12.reader import Batch, InterchangeResult, SetResult
from x12.tokenizer import Segment, serialize

__all__ = ["split_batch", "split_interchange"]


@dataclass
class _Node:
    hl: Segment
    own: list[Segment] = field(default_factory=list)
    claims: list[list[Segment]] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)

    @property
    def kept(self) -> bool:
        return bool(self.claims) or any(child.kept for child in self.children)


def _split_set(result: SetResult, keep: Callable[[Claim], bool]) -> list[Segment] | None:
    segments = result.tset.segments
    kept_spans = {span for item, span in zip((i for i in result.items if isinstance(i, Claim)),
                                             result.spans, strict=True) if keep(item)}
    if not kept_spans:
        return None
    claim_at = {start: end for start, end in result.spans}
    header: list[Segment] = []
    roots: list[_Node] = []
    nodes: dict[str, _Node] = {}
    current: _Node | None = None
    position = 2
    while position < len(segments) + 2:
        segment = segments[position - 2]
        if segment.id == "HL":
            current = _Node(segment)
            parent = nodes.get(segment.get(2))
            (parent.children if parent else roots).append(current)
            nodes[segment.get(1)] = current
        elif position in claim_at:
            end = claim_at[position]
            if current is not None and (position, end) in kept_spans:
                current.claims.append(segments[position - 2:end - 2])
            position = end
            continue
        elif current is None:
            header.append(segment)
        else:
            current.own.append(segment)
        position += 1
    body = list(header)
    counter = 0

    def emit(node: _Node, parent: int | None) -> None:
        nonlocal counter
        counter += 1
        number = counter
        kids = [child for child in node.children if child.kept]
        elements = list(node.hl.elements) + [""] * (4 - len(node.hl.elements))
        elements[0], elements[1] = str(number), str(parent) if parent else ""
        elements[3] = "1" if kids else "0"
        body.append(Segment("HL", elements, 0))
        body.extend(node.own)
        for claim in node.claims:
            body.extend(claim)
        for child in kids:
            emit(child, number)

    for root in roots:
        if root.kept:
            emit(root, None)
    se = result.tset.se
    control = se.get(2) if se else result.tset.control
    return [result.tset.st, *body, Segment("SE", [str(len(body) + 2), control], 0)]


def split_interchange(interchange: InterchangeResult, keep: Callable[[Claim], bool]) -> str | None:
    """The outbound interchange holding only the kept claims, or None when none is left."""
    if not interchange.accepted:
        return None
    out: list[Segment] = []
    groups = 0
    for group in interchange.groups:
        sets = [s for s in (_split_set(r, keep) for r in group.accepted_sets) if s]
        if not sets:
            continue
        groups += 1
        out.append(group.group.gs)
        for tset in sets:
            out.extend(tset)
        out.append(Segment("GE", [str(len(sets)), group.group.gs.get(6)], 0))
    if not groups:
        return None
    isa = interchange.envelope.interchange.segments[0]
    out = [isa, *out, Segment("IEA", [str(groups), isa.get(13)], 0)]
    return serialize(out, interchange.delimiters)


def split_batch(batch: Batch, keep: Callable[[Claim], bool]) -> str | None:
    """The outbound file for a whole input file: its split interchanges, or None when empty."""
    parts = [text for text in (split_interchange(i, keep) for i in batch.interchanges) if text]
    return "".join(parts) or None
