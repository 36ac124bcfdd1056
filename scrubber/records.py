"""Claims as JSON for the ledger, with marshmallow: what a recorded claim must keep for the claims
after it to be checked against it (patient, lines, frequency, provider, attachments). Where a
claim came from inside its message (locations) and its documentation (stored as facts) are not
part of the record."""
from __future__ import annotations

import hashlib

from marshmallow import RAISE, Schema, fields, post_load

from scrubber.model import Claim, Frequency, PatientIdentity, ServiceLine

__all__ = ["dump_claim", "load_claim", "content_hash"]


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Patient(_Strict):
    mrn = fields.String(allow_none=True)
    member_id = fields.String(allow_none=True)

    @post_load
    def _make(self, data, **kwargs) -> PatientIdentity:
        return PatientIdentity(**data)


class _Line(_Strict):
    number = fields.Integer(required=True)
    code = fields.String(allow_none=True)
    modifiers = fields.List(fields.String(), load_default=list)
    units = fields.Integer(allow_none=True)
    units_text = fields.String(allow_none=True)
    date_from = fields.Date(allow_none=True)
    date_to = fields.Date(allow_none=True)
    date_text = fields.String(allow_none=True)
    charge = fields.String(allow_none=True)
    diagnosis_pointers = fields.List(fields.String(), load_default=list)
    billing_provider = fields.String(allow_none=True)
    credit = fields.Boolean(load_default=False)

    @post_load
    def _make(self, data, **kwargs) -> ServiceLine:
        return ServiceLine(**{**data, "modifiers": tuple(data["modifiers"]),
                              "diagnosis_pointers": tuple(data["diagnosis_pointers"])})


class _Claim(_Strict):
    claim_id = fields.String(allow_none=True)
    format = fields.String(required=True)
    source = fields.String(required=True)
    patient = fields.Nested(_Patient, required=True)
    lines = fields.List(fields.Nested(_Line), required=True)
    frequency = fields.Enum(Frequency, by_value=True, load_default=Frequency.ORIGINAL)
    billing_provider = fields.String(allow_none=True)
    payer_id = fields.String(allow_none=True)
    attachments = fields.List(fields.String(), load_default=list)

    @post_load
    def _make(self, data, **kwargs) -> Claim:
        return Claim(**{**data, "lines": tuple(data["lines"]), "attachments": tuple(data["attachments"])})


_SCHEMA = _Claim()


def dump_claim(claim: Claim) -> dict:
    """The claim as JSON-ready data (no names or birth dates: the ledger keeps identifiers only)."""
    return _SCHEMA.dump(claim)


def load_claim(data: dict) -> Claim:
    return _SCHEMA.load(data)


def content_hash(claim: Claim) -> str:
    """What makes a re-send identical, as a stable digest: Claim.content, and for a replacement
    or void its frequency too (a void carries its original's lines but is no re-send of it). An
    original's digest is that of its content alone, as the ledger has always recorded it."""
    content = claim.content()
    if claim.frequency is not Frequency.ORIGINAL:
        content = (content, claim.frequency.value)
    return hashlib.sha256(repr(content).encode()).hexdigest()
