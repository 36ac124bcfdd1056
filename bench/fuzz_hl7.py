"""Fuzz the HL7 v2 reader (DFT^P03 and ORU^R01 to claims and readings) and the ACK builder:
any text gives messages, each with an error or a result, and each gets an ACK."""
from datetime import datetime

from fuzzing import fuzz, seeds


def make_target():
    from hl7.reader import read_messages
    from scrubber.answers import Decision, answer_hl7, stamps_from
    from scrubber.findings import Verdict

    passing = Decision(Verdict.PASS, ())

    def target(data: bytes) -> None:
        messages = read_messages(data.decode("utf-8", errors="replace"), "fuzz.hl7")
        acks = answer_hl7(messages, lambda claim: passing, stamps_from(datetime(2026, 1, 1), 1))
        if len(acks) != len(messages):
            raise AssertionError(f"{len(messages)} messages but {len(acks)} ACKs")
    return target


if __name__ == "__main__":
    fuzz("hl7", make_target, seeds("hl7_dft", "hl7_oru", "hl7_other"))
