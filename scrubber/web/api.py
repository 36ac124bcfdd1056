"""The JSON API: documentation and attachment intake, claims and findings, release of a held
claim, and the patient-month view. Every query is scoped by the token's tenant: another tenant's
claim or patient is simply not found (404)."""
from __future__ import annotations

import json
from datetime import date

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from webargs.flaskparser import FlaskParser

from scrubber.attachments import AttachmentError, check_attachment
from scrubber.catalogue import catalogue
from scrubber.docjson import DocumentationError, parse_documentation
from scrubber.monthview import month_view
from scrubber.store import (
    Attachment,
    AuditEntry,
    ClaimRow,
    OutboxRow,
    Store,
    Tenant,
    utcnow,
)
from scrubber.web.auth import requires


class _BoundedParser(FlaskParser):
    """A JSON body nested too deeply for the parser is an invalid body (400), not a server error."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            self._handle_invalid_json_error(json.JSONDecodeError("JSON nested too deeply", "", 0), req)


blp = Blueprint("api", __name__, url_prefix="/v1", description="Documentation, claims and reviews.")
blp.ARGUMENTS_PARSER = _BoundedParser()

VERDICTS = ("pass", "flag", "block")
STATUSES = ("forwarded", "held", "released", "rejected")


def _store() -> Store:
    return current_app.extensions["scrubber.store"]


def _tenant(session) -> Tenant:
    return session.get(Tenant, g.principal.tenant_id)


# -- schemas (they are the OpenAPI document as well) --------------------------------------
class FindingSchema(Schema):
    rule = fields.String()
    severity = fields.String()
    code = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    message = fields.String()
    suggestion = fields.String()
    location = fields.String(allow_none=True)
    evidence = fields.List(fields.String())


class LineSchema(Schema):
    number = fields.Integer()
    code = fields.String(allow_none=True)
    units = fields.Integer(allow_none=True)
    date_from = fields.Date(allow_none=True)
    date_to = fields.Date(allow_none=True)
    charge = fields.String(allow_none=True)
    credit = fields.Boolean()


class ClaimSchema(Schema):
    id = fields.Integer(metadata={"description": "the ledger's id of the claim"})
    claim_id = fields.String(metadata={"description": "CLM01 or MSH-10"})
    format = fields.String()
    patient = fields.String(allow_none=True)
    billing_provider = fields.String()
    verdict = fields.String()
    status = fields.String()
    rule_set_version = fields.String()
    created_at = fields.DateTime()
    findings = fields.List(fields.Nested(FindingSchema))


class ClaimDetailSchema(ClaimSchema):
    lines = fields.List(fields.Nested(LineSchema))
    history = fields.List(fields.Dict(), metadata={"description": "the claim's audit trail"})
    outbox = fields.Dict(allow_none=True)


class ClaimQuerySchema(Schema):
    verdict = fields.String(validate=validate.OneOf(VERDICTS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    rule = fields.String()
    patient = fields.String(metadata={"description": "MRN or member id"})
    claim_id = fields.String()


class FindingRowSchema(FindingSchema):
    claim = fields.Integer()
    claim_id = fields.String()


class FindingQuerySchema(Schema):
    rule = fields.String()
    severity = fields.String(validate=validate.OneOf(("block", "flag", "info")))


class ReleaseSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class IntakeResultSchema(Schema):
    patients = fields.Integer()
    added = fields.Integer()


class AttachmentResultSchema(Schema):
    control_number = fields.String()
    content_type = fields.String()
    bytes = fields.Integer()


# -- documentation ------------------------------------------------------------------------
@blp.route("/documentation", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}})
@blp.response(200, IntakeResultSchema)
@requires("submitter")
def documentation():
    """Documentation JSON v1 (see README); idempotent by time-entry id, reading, consent, episode."""
    try:
        data = json.loads(request.get_data())
    except (ValueError, RecursionError):
        abort(400, message="the body must be documentation JSON (version 1)")
    try:
        parsed = parse_documentation(data)
    except DocumentationError as error:
        abort(422, message="the documentation is not valid",
              errors={path: [message] for path, message in error.errors})
    store = _store()
    with store.transaction() as session:
        tenant = _tenant(session)
        added = store.add_all_documentation(session, tenant, parsed)
        store.audit(session, tenant, g.principal.name, "documentation", "patients",
                    patients=len(parsed.patients), added=added)
    return {"patients": len(parsed.patients), "added": added}


# -- attachments --------------------------------------------------------------------------
@blp.route("/attachments/<string:control_number>", methods=["PUT"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}},
                                                    "application/xml": {"schema": {"type": "string"}}}})
@blp.response(200, AttachmentResultSchema)
@requires("submitter")
def attachment(control_number: str):
    """The documentation a claim's PWK (AC) refers to, as JSON or XML; replaces an earlier one."""
    if not 1 <= len(control_number) <= 80:
        abort(400, message="the control number must be 1 to 80 characters")
    body = request.get_data()
    kind = request.mimetype
    try:
        check_attachment(body, kind)
    except AttachmentError as error:
        abort(error.status, message=str(error))
    store = _store()
    with store.transaction() as session:
        tenant = _tenant(session)
        row = session.scalar(select(Attachment).where(Attachment.tenant_id == tenant.id,
                                                      Attachment.control_number == control_number))
        if row is None:
            row = Attachment(tenant_id=tenant.id, control_number=control_number, content_type=kind,
                             body=body)
            session.add(row)
        else:
            row.content_type, row.body, row.received_at = kind, body, utcnow()
        store.audit(session, tenant, g.principal.name, "attachment", control_number, bytes=len(body))
    return {"control_number": control_number, "content_type": kind, "bytes": len(body)}


# -- claims and findings ------------------------------------------------------------------
def _claim_json(row: ClaimRow, patient: str | None) -> dict:
    return {"id": row.id, "claim_id": row.claim_id, "format": row.format, "patient": patient,
            "billing_provider": row.billing_provider, "verdict": row.verdict, "status": row.status,
            "rule_set_version": row.rule_set_version, "created_at": row.created_at,
            "findings": row.findings}


@blp.route("/claims")
class Claims(MethodView):
    decorators = [requires("reviewer", "submitter")]

    @blp.arguments(ClaimQuerySchema, location="query")
    @blp.response(200, ClaimSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Claims of the tenant, newest first, with filters."""
        store, page = _store(), pagination_parameters
        conditions = store.claim_conditions(g.principal.tenant_id, **args)
        with store.sessions() as session:
            page.item_count, rows = store.claims_page(session, conditions, (page.page - 1) * page.page_size,
                                                      page.page_size)
        return [_claim_json(row, patient) for row, patient in rows]


def _own_claim(session, claim_pk: int) -> ClaimRow:
    row = _store().claim_of(session, g.principal.tenant_id, claim_pk)
    if row is None:
        abort(404, message=f"no claim {claim_pk}")
    return row


@blp.route("/claims/<int:claim_pk>")
@blp.response(200, ClaimDetailSchema)
@requires("reviewer", "submitter")
def claim(claim_pk: int):
    """One claim: lines, findings, where it stands in the outbox, and its audit trail."""
    with _store().sessions() as session:
        row = _own_claim(session, claim_pk)
        lines = _store().lines_of(session, row.id)
        outbox = session.scalar(select(OutboxRow).where(OutboxRow.claim_pk == row.id))
        trail = session.scalars(select(AuditEntry).where(
            AuditEntry.tenant_id == row.tenant_id,
            AuditEntry.subject == f"claim {row.id}").order_by(AuditEntry.id)).all()
        body = _claim_json(row, _store().patient_label(session, row))
        body["lines"] = [{"number": line.number, "code": line.code, "units": line.units,
                          "date_from": line.date_from, "date_to": line.date_to, "charge": line.charge,
                          "credit": line.credit} for line in lines]
        body["history"] = [{"at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action,
                            **entry.detail} for entry in trail]
        body["outbox"] = ({"state": outbox.state, "attempts": outbox.attempts,
                           "last_error": outbox.last_error} if outbox else None)
    return body


@blp.route("/claims/<int:claim_pk>/release", methods=["POST"])
@requires("reviewer")  # before the body is validated: no token, no schema errors
@blp.arguments(ReleaseSchema)
@blp.response(200, ClaimSchema)
def release(args, claim_pk: int):
    """Release a held claim with a reason: it joins the history and goes downstream."""
    store = _store()
    with store.transaction() as session:
        row = _own_claim(session, claim_pk)
        try:
            store.release(session, row, g.principal.name, args["reason"])
        except ValueError as error:
            abort(409, message=str(error))
        return _claim_json(row, store.patient_label(session, row))


@blp.route("/claims/<int:claim_pk>/rescrub", methods=["POST"])
@requires("reviewer")
@blp.response(200, ClaimSchema)
def rescrub(claim_pk: int):
    """Check a held claim again against the ledger as it is now (after a documentation fix); if it
    no longer blocks it goes downstream."""
    workflow = current_app.extensions["scrubber.workflow"]
    try:
        row = workflow.rescrub(g.principal.tenant, claim_pk, g.principal.name)
    except LookupError:
        abort(404, message=f"no claim {claim_pk}")
    except ValueError as error:
        abort(409, message=str(error))
    with _store().sessions() as session:
        return _claim_json(row, _store().patient_label(session, row))


@blp.route("/findings")
class Findings(MethodView):
    decorators = [requires("reviewer", "submitter")]

    @blp.arguments(FindingQuerySchema, location="query")
    @blp.response(200, FindingRowSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Findings of the tenant's claims, newest claim first, by rule or severity."""
        store, page = _store(), pagination_parameters
        with store.sessions() as session:
            page.item_count, found = store.findings_page(
                session, g.principal.tenant_id, args.get("rule"), args.get("severity"),
                (page.page - 1) * page.page_size, page.page_size)
        return found


# -- the patient-month view ---------------------------------------------------------------
@blp.route("/patients/<string:patient_id>/months/<string:month>")
@requires("reviewer", "submitter")
def patient_month(patient_id: str, month: str):
    """Minutes, interactive communications, data days per 30-day period, billed and supported
    codes, and the findings of the month's claims; `patient_id` is the MRN (or member id)."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        abort(400, message=f"month {month!r} is not YYYY-MM")
    store = _store()
    profile = current_app.extensions["scrubber.workflow"].profile
    with store.sessions() as session:
        view = month_view(store, session, _tenant(session), patient_id, first, profile, catalogue())
    if view is None:
        abort(404, message=f"no patient {patient_id}")
    return view.as_json()
