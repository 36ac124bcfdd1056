"""The answers a sender gets for an X12 file, and the file that goes downstream: built from the
batch structure and the decision on each claim (shell: used by the CLI, and by the service).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from hl7.ack import ACCEPT, ERROR, REJECT, AckError, AckStamp, build_ack
from hl7.reader import Received
from scrubber.catalogue import Catalogue
from scrubber.findings import Finding, Severity, Verdict
from scrubber.model import Claim, Unreadable
from scrubber.rules import MALFORMED_RULE
from x12.ack277 import Decision, acknowledge_claims
from x12.ack999 import acknowledge
from x12.reader import Batch
from x12.split import split_batch
from x12.writer import Stamp

__all__ = ["Decision", "X12Answers", "answer_x12", "answer_hl7", "stamps_from"]


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
               stamps: Iterator[Stamp], outbound: bool = True) -> X12Answers:
    """The TA1s, 999s and 277CAs for a batch and, when `outbound`, the 837P that goes downstream
    (the service queues each claim's own instead)."""
    acks, ta1s = acknowledge(batch, stamps)
    claim_acks = acknowledge_claims(batch.interchanges, decide, catalogue, stamps)
    passing = (split_batch(batch, lambda claim: decide(claim).verdict is not Verdict.BLOCK)
               if outbound else None)
    return X12Answers("".join(ta1s) or None, "".join(acks) or None, "".join(claim_acks) or None,
                      passing)


_ERR_SEVERITY = {Severity.BLOCK: "E", Severity.FLAG: "W", Severity.INFO: "I"}
RULE_FAILED = "207"  # HL7 table 0357: application internal error (a rule refused the claim)


def _finding_error(finding: Finding, claim: Claim | None) -> AckError:
    condition = RULE_FAILED
    if finding.rule == MALFORMED_RULE and claim is not None:
        condition = next((i.code for i in claim.issues if i.location == finding.location and i.code),
                         "102")
    message = f"{finding.message}. Fix: {finding.suggestion}" if finding.suggestion else finding.message
    return AckError(finding.location, condition, _ERR_SEVERITY[finding.severity], finding.rule,
                    "; ".join(finding.evidence), message)


def answer_hl7(messages: list[Received], decide: Callable[[Claim], Decision],
               stamps: Iterator[Stamp]) -> list[str]:
    """One ACK per message, in order: AR for a message we cannot read or do not support, AE for a
    claim a rule blocks, AA otherwise (device data, passed and flagged claims; a flag's findings
    ride along as ERR with severity W)."""
    acks = []
    for received in messages:
        stamp = next(stamps)
        ack_stamp = AckStamp(stamp.now, str(stamp.control))
        item = received.item
        if received.error is not None or isinstance(item, Unreadable):
            error = received.error
            errors = [AckError(error.location, error.code, "E", None, "", error.message)] if error else []
            acks.append(build_ack(received.header, REJECT, errors, ack_stamp))
        elif isinstance(item, Claim):
            decision = decide(item)
            errors = [_finding_error(f, item) for f in decision.findings]
            code = ERROR if decision.verdict is Verdict.BLOCK else ACCEPT
            acks.append(build_ack(received.header, code, errors, ack_stamp))
        else:
            acks.append(build_ack(received.header, ACCEPT, [], ack_stamp))
    return acks
