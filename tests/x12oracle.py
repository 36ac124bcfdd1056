"""pyx12 as a test oracle: the errors it finds in an X12 document we produced or read."""
from __future__ import annotations

import io
import json
import logging

import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document

logging.getLogger("pyx12").setLevel(logging.CRITICAL)


def as_x222a1(text: str) -> str:
    """pyx12 has maps for 005010X222A1 only: label X222 and X222A2 files as A1 for it (the loops and
    segments it checks are the same)."""
    return text.replace("005010X222A2", "005010X222A1").replace("005010X222~", "005010X222A1~")


def pyx12_errors(text: str) -> list[str]:
    """Every error pyx12 reports for the document, as 'where: code: text' lines ([] when valid)."""
    found = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(param=pyx12.params.params(), src_file=io.StringIO(text),
                                           fd_997=None, fd_html=None, fd_json=found)
    errors: list[str] = []
    report = json.loads(found.getvalue() or '{"interchanges": []}')
    for interchange in report["interchanges"]:
        errors += [f"ISA: {e['err_cde']}: {e['err_str']}" for e in interchange["errors"]]
        for group in interchange["groups"]:
            errors += [f"GS: {e['err_cde']}: {e['err_str']}" for e in group["errors"]]
            for tset in group["transactions"]:
                errors += [f"ST: {e['err_cde']}: {e['err_str']}" for e in tset["errors"]]
                for segment in tset["segments"]:
                    where = f"{segment['seg_id']}@{segment['seg_count']}"
                    errors += [f"{where}: {e['err_cde']}: {e['err_str']}" for e in segment["errors"]]
                    for element in segment["elements"]:
                        errors += [f"{where}/{element['ele_pos']}: {e['err_cde']}: {e['err_str']}"
                                   for e in element["errors"]]
    if not ok and not errors:
        errors.append("pyx12 rejected the document without naming an error")
    return errors
