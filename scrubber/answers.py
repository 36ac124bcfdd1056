"""The answers a sender gets for an X12 file, and the file that goes downstream: built from the
batch structure and the decision on each claim (shell: used by the CLI, and by the service).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from scrubber.catalogue import Catalogue
from scrubber.findings import Verdict
from scrubber.model import Claim
from x12.ack277 import Decision, acknowledge_claims
from x12.ack999 import acknowledge
from x12.reader import Batch
from x12.split import split_batch
from x12.writer import Stamp

__all__ = ["Decision", "X12Answers", "answer_x12", "stamps_from"]


@dataclass(frozen=True)
class X12Answers:
    ta1: str | None
    ack999: str | None
    ack277: str | None
    outbound: str | None


def stamps_from(now: datetime, first_control: int) -> Iterator[Stamp]:
    """Stamps at one clock reading with consecutive control numbers."""
    control = first_control
    while True:
        yield Stamp(now, control)
        control += 1


def answer_x12(batch: Batch, decide: Callable[[Claim], Decision], catalogue: Catalogue,
               stamps: Iterator[Stamp]) -> X12Answers:
    acks, ta1s = acknowledge(batch, stamps)
    claim_acks = acknowledge_claims(batch.interchanges, decide, catalogue, stamps)
    outbound = split_batch(batch, lambda claim: decide(claim).verdict is not Verdict.BLOCK)
    return X12Answers("".join(ta1s) or None, "".join(acks) or None, "".join(claim_acks) or None,
                      outbound)
