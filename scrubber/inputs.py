"""Recognising an input file as X12 or HL7 and reading it into claims (the adapters' front door)."""
from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from hl7.reader import Received, read_messages
from scrubber.model import Claim, DeviceData, Unreadable
from x12.reader import Batch, read_batch
from x12.tokenizer import decode

__all__ = ["InputError", "Input", "detect", "read_input", "read_items", "collector_paused"]

_ISA_AT_LINE_START = re.compile(r"(?m)^[ \t]*ISA[^A-Za-z0-9\s]")


class InputError(Exception):
    """A file that is neither X12 nor HL7."""


@dataclass
class Input:
    """One input file read: its format, its items in order and, for X12, the batch structure the
    acknowledgements and the split are built from."""

    source: str
    kind: str
    items: list[Claim | Unreadable | DeviceData]
    batch: Batch | None = None
    messages: list[Received] | None = None  # HL7: each message with the header its ACK needs


def detect(text: str) -> str | None:
    """'x12' or 'hl7' from the content: ISA or MSH first, after a byte-order mark and white space."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("ISA"):
        return "x12"
    if head[:3] in ("MSH", "FHS", "BHS"):
        return "hl7"
    if _ISA_AT_LINE_START.search(text[:65536]):
        return "x12"
    return None


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a while, for work that makes no reference cycles.

    Reading X12 and checking claims make none (tests/test_cli.py holds both to it), so while a
    batch is read and checked the collector would only walk the batch's live objects again and
    again: 6 % of a compiled `check` of 10,000 claims even at the batch threshold (cli.tune_gc).
    Plain reference counting still frees everything they let go. What was made meanwhile is then
    frozen (gc.freeze: left out of the collector's passes, still freed when let go), or the first
    pass after would walk all of it once (13 ms at 10,000 claims); so is everything older, with
    whatever cyclic garbage it holds (a documentation file's schemas: a few hundred objects).
    Process-wide: for a command line batch, never for the threads of the service."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def read_input(data: bytes, source: str, keep_segments: bool = True, batch: bool = False) -> Input:
    """Read one file; X12 segments are kept only when asked (for acknowledgements and the split).
    `batch` (the command line's `check`): X12 is read with the collector paused (collector_paused);
    HL7 never is, as hl7apy's message trees link children and parents both ways."""
    text = decode(data)
    del data
    if "\x00" in text:  # no X12 or HL7 character set has it, and PostgreSQL text cannot hold it
        raise InputError(f"{source}: a NUL character at offset {text.index(chr(0))}: X12 and HL7 "
                         "messages carry none")
    kind = detect(text)
    if kind is None:
        raise InputError(f"{source}: neither an X12 interchange (ISA) nor HL7 v2 (MSH)")
    if kind == "x12":
        with collector_paused() if batch else nullcontext():
            read = read_batch(text, source, keep_segments)
            return Input(source, kind, list(read.items()), read)
    messages = read_messages(text, source)
    return Input(source, kind, [received.item for received in messages], messages=messages)


def read_items(data: bytes, source: str) -> list[Claim | Unreadable | DeviceData]:
    """Every claim, unreadable unit and device-data message in one file, in order."""
    return read_input(data, source).items
