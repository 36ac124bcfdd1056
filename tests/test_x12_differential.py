"""Differential test: on every sample we read without an error, the claims, lines, codes, units,
charges and service dates equal what pyx12's X12ContextReader reads from the same file."""
import io
import logging
import re
from pathlib import Path

import pytest
import pyx12.error_handler
import pyx12.params
import pyx12.x12context

from scrubber.model import Claim
from tests.x12oracle import as_x222a1
from x12.reader import read_batch
from x12.tokenizer import decode

logging.getLogger("pyx12").setLevel(logging.CRITICAL)
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "x12_837p"


def ours(text: str) -> list | None:
    """The claims we read, when the file has no syntax error (a claim edit, such as a diagnosis
    pointer to no diagnosis, rejects a claim we have read whole: it is compared too)."""
    batch = read_batch(text, "sample")
    if batch.fatal or any(i.errors or g.errors or s.syntax_errors
                          for i in batch.interchanges for g in i.groups for s in g.sets):
        return None
    items = batch.items()
    if not items or not all(isinstance(i, Claim) for i in items):
        return None
    return [(c.claim_id, [(line.code, line.units_text, line.charge, line.date_text) for line in c.lines])
            for c in items]


def theirs(text: str) -> list:
    """pyx12 reads X222A1 only, from the ISA on, and not indented lines: normalise those first."""
    text = re.sub(r"(?m)^[ \t]+", "", text[text.index("ISA"):])
    text = as_x222a1(text)
    reader = pyx12.x12context.X12ContextReader(pyx12.params.params(), pyx12.error_handler.errh_null(),
                                              io.StringIO(text))
    claims = []
    for node in reader.iter_segments("2300"):
        if node.id != "2300":
            continue
        lines = [(line.get_value("SV101-2"), line.get_value("SV104"), line.get_value("SV102"),
                  line.get_value("DTP[472]03")) for line in node.select("2400")]
        claims.append((node.get_value("CLM01"), lines))
    return claims


VALID = [p for p in sorted(SAMPLES.iterdir()) if ours(decode(p.read_bytes())) is not None]


def test_most_samples_are_valid():
    assert len(VALID) >= 30


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_claims_equal_pyx12s(path):
    text = decode(path.read_bytes())
    assert ours(text) == theirs(text)
