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
from x12.syntax837 import hl_number
from x12.tokenizer import Segment, serialize

__all__ = ["one_claim_files", "split_batch", "split_interchange"]


@dataclass
class _Node:
    hl: Segment
    parent: _Node | None = None
    own: list[Segment] = field(default_factory=list)
    claims: list[list[Segment]] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)

    @property
    def kept(self) -> bool:
        return bool(self.claims) or any(child.kept for child in self.children)


@dataclass
class _Tree:
    """A transaction set's HL hierarchy: the segments before the first HL, the root loops, and
    each claim with the loop it sits in (None before any HL) and its segments."""

    header: list[Segment]
    roots: list[_Node]
    claims: list[tuple[Claim, _Node | None, list[Segment]]]


def _tree(result: SetResult) -> _Tree:
    segments = result.tset.segments
    claim_at = {start: (item, end) for item, (start, end) in zip(
        (i for i in result.items if isinstance(i, Claim)), result.spans, strict=True)}
    tree = _Tree([], [], [])
    nodes: dict[str, _Node] = {}
    current: _Node | None = None
    position = 2
    while position < len(segments) + 2:
        segment = segments[position - 2]
        if segment.id == "HL":
            parent = nodes.get(hl_number(segment.get(2)))  # HL02 3 names HL01 003, as the check reads them
            current = _Node(segment, parent)
            (parent.children if parent else tree.roots).append(current)
            nodes[hl_number(segment.get(1))] = current
        elif position in claim_at:
            item, end = claim_at[position]
            tree.claims.append((item, current, segments[position - 2:end - 2]))
            position = end
            continue
        elif current is None:
            tree.header.append(segment)
        else:
            current.own.append(segment)
        position += 1
    return tree


def _hl(node: _Node, number: int, parent: int | None, children: bool) -> Segment:
    elements = list(node.hl.elements) + [""] * (4 - len(node.hl.elements))
    elements[0], elements[1] = str(number), str(parent) if parent else ""
    elements[3] = "1" if children else "0"
    return Segment("HL", elements, 0)


def _closed(result: SetResult, body: list[Segment]) -> list[Segment]:
    """ST, the body, and an SE counting them."""
    se = result.tset.se
    control = se.get(2) if se else result.tset.control
    return [result.tset.st, *body, Segment("SE", [str(len(body) + 2), control], 0)]


def _split_set(result: SetResult, keep: Callable[[Claim], bool]) -> list[Segment] | None:
    tree = _tree(result)
    kept = [(node, claim) for item, node, claim in tree.claims if keep(item)]
    if not kept:
        return None
    for node, claim in kept:  # a claim before any HL loop has nowhere to go and is dropped
        if node is not None:
            node.claims.append(claim)
    body = list(tree.header)
    counter = 0

    def emit(node: _Node, parent: int | None) -> None:
        nonlocal counter
        counter += 1
        number = counter
        kids = [child for child in node.children if child.kept]
        body.append(_hl(node, number, parent, bool(kids)))
        body.extend(node.own)
        for claim in node.claims:
            body.extend(claim)
        for child in kids:
            emit(child, number)

    for root in tree.roots:
        if root.kept:
            emit(root, None)
    return _closed(result, body)


def one_claim_files(batch: Batch) -> dict[int, str]:
    """Each claim of the batch's accepted sets as an outbound file of its own, by `id(claim)`:
    what `split_batch(batch, lambda other: other is claim)` gives, from one walk of each set
    (split_batch walks every set once per claim, so a set of n claims cost n walks)."""
    files: dict[int, str] = {}
    for interchange in batch.interchanges:
        if not interchange.accepted:
            continue
        for group in interchange.groups:
            for result in group.accepted_sets:
                tree = _tree(result)
                for item, node, claim in tree.claims:
                    chain: list[_Node] = []
                    while node is not None:  # the claim's loop and its ancestors, root first
                        chain.insert(0, node)
                        node = node.parent
                    body = list(tree.header)
                    for number, loop in enumerate(chain, 1):
                        body.append(_hl(loop, number, number - 1, number < len(chain)))
                        body.extend(loop.own)
                    if chain:
                        body.extend(claim)
                    files[id(item)] = _enveloped(interchange, [(group.group.gs, [_closed(result, body)])])
    return files


def _enveloped(interchange: InterchangeResult, groups: list[tuple[Segment, list[list[Segment]]]]) -> str:
    """The interchange's ISA, each group's GS with its sets and a GE counting them, and an IEA
    counting the groups, written with the interchange's delimiters."""
    isa = interchange.envelope.interchange.segments[0]
    out = [isa]
    for gs, sets in groups:
        out.append(gs)
        for tset in sets:
            out.extend(tset)
        out.append(Segment("GE", [str(len(sets)), gs.get(6)], 0))
    out.append(Segment("IEA", [str(len(groups)), isa.get(13)], 0))
    return serialize(out, interchange.delimiters)


def split_interchange(interchange: InterchangeResult, keep: Callable[[Claim], bool]) -> str | None:
    """The outbound interchange holding only the kept claims, or None when none is left."""
    if not interchange.accepted:
        return None
    groups = []
    for group in interchange.groups:
        sets = [s for s in (_split_set(r, keep) for r in group.accepted_sets) if s]
        if sets:
            groups.append((group.group.gs, sets))
    return _enveloped(interchange, groups) if groups else None


def split_batch(batch: Batch, keep: Callable[[Claim], bool]) -> str | None:
    """The outbound file for a whole input file: its split interchanges, or None when empty."""
    parts = [text for text in (split_interchange(i, keep) for i in batch.interchanges) if text]
    return "".join(parts) or None
