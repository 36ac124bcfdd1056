"""Attachments (the documentation a claim's PWK refers to) are accepted as JSON or XML. XML goes
through one lxml parser with entity resolution, DTD loading, network access and huge trees off;
a document that declares a DTD is refused outright, so no entity expansion (billion laughs) or
external entity (XXE) can reach the ledger."""
from __future__ import annotations

import json

from lxml import etree

__all__ = ["AttachmentError", "check_attachment"]

_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                       huge_tree=False, remove_comments=False)


class AttachmentError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def check_attachment(body: bytes, media_type: str) -> None:
    """AttachmentError unless `body` is well-formed JSON or DTD-free XML of `media_type`."""
    if media_type == "application/json":
        try:
            json.loads(body)
        except (ValueError, RecursionError) as error:
            raise AttachmentError(f"the attachment is not valid JSON ({error})") from None
    elif media_type in ("application/xml", "text/xml"):
        try:
            root = etree.fromstring(body, _XML)
        except etree.XMLSyntaxError as error:
            raise AttachmentError(f"the attachment is not well-formed XML ({error})") from None
        if root.getroottree().docinfo.doctype:
            raise AttachmentError("XML with a document type declaration (DTD) is not accepted")
    else:
        raise AttachmentError("send the attachment as application/json or application/xml", 415)
