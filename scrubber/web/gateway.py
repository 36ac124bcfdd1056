"""The gateway: senders post raw 837P or HL7 and get answers in their own protocol."""
from __future__ import annotations

from flask import Response, current_app, g, jsonify, request
from flask_smorest import Blueprint, abort

from scrubber.inputs import InputError
from scrubber.web.auth import requires
from scrubber.workflow import MODES, SubmissionOutcome, Workflow

blp = Blueprint("gateway", __name__, url_prefix="/v1",
                description="Submit claims as raw X12 837P or HL7 v2 and get the answers back.")

X12_MEDIA, HL7_MEDIA = "application/edi-x12", "application/hl7-v2"
_RAW_BODY = {"required": True, "content": {
    X12_MEDIA: {"schema": {"type": "string"}}, HL7_MEDIA: {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}}}}
_MODE_PARAMETER = {"name": "mode", "in": "query", "required": False,
                   "schema": {"type": "string", "enum": list(MODES)},
                   "description": "enforce (hold blocked claims) or monitor (shadow mode); "
                                  "default: the tenant's mode"}


def _workflow() -> Workflow:
    return current_app.extensions["scrubber.workflow"]


def _mode() -> str | None:
    mode = request.args.get("mode")
    if mode is not None and mode not in MODES:
        abort(400, message=f"mode {mode!r} is not one of {', '.join(MODES)}")
    return mode


def _body() -> bytes:
    data = request.get_data(cache=False)
    if not data.strip():
        abort(400, message="the request body is empty: send the 837P or HL7 message as the body")
    return data


def _submit(expected: str | None, dry_run: bool = False) -> SubmissionOutcome:
    data = _body()
    source = f"http:{g.principal.name}"
    try:
        outcome = _workflow().submit(g.principal.tenant, data, source,
                                     None if dry_run else _mode(), dry_run=dry_run)
    except InputError as error:
        abort(400, message=str(error).removeprefix(f"{source}: "))
    if expected is not None and outcome.kind != expected:
        # recorded and answered as what it is; the sender used the other endpoint
        current_app.logger.warning("submission %s: %s body on the %s endpoint", outcome.submission_id,
                                   outcome.kind, expected)
    return outcome


def _json(outcome: SubmissionOutcome) -> dict:
    claims = [{**c.result.as_json(), "status": c.status, "resent": c.resent} for c in outcome.claims]
    summary = {verdict: sum(1 for c in outcome.claims if c.result.verdict.value == verdict)
               for verdict in ("pass", "flag", "block")}
    body = {"submission": outcome.submission_id, "format": outcome.kind, "mode": outcome.mode,
            "claims": claims, "summary": summary}
    if outcome.kind == "x12":
        answers = outcome.x12
        body.update({"ta1": answers.ta1 if answers else None, "ack999": answers.ack999 if answers else None,
                     "ack277": answers.ack277 if answers else None})
    else:
        body["acks"] = outcome.acks
    return body


@blp.route("/x12/837", methods=["POST"])
@blp.doc(requestBody=_RAW_BODY, parameters=[_MODE_PARAMETER], responses={
    "200": {"description": "the verdicts with the 999 and 277CA (JSON), or with "
                           "`Accept: application/edi-x12` the acknowledgements alone"}})
@requires("submitter")
def submit_837():
    """Submit an 837P interchange."""
    outcome = _submit("x12")
    if request.accept_mimetypes.best_match(["application/json", X12_MEDIA]) == X12_MEDIA:
        answers = outcome.x12
        text = "".join(t for t in (answers.ta1, answers.ack999, answers.ack277) if t) if answers else ""
        return Response(text, mimetype=X12_MEDIA)
    return jsonify(_json(outcome))


@blp.route("/hl7", methods=["POST"])
@blp.doc(requestBody=_RAW_BODY, parameters=[_MODE_PARAMETER], responses={
    "200": {"description": "one ACK per message (application/hl7-v2), or JSON with "
                           "`Accept: application/json`"}})
@requires("submitter")
def submit_hl7():
    """Submit HL7 v2 messages (DFT^P03 claims, ORU^R01 device data)."""
    outcome = _submit("hl7")
    if request.accept_mimetypes.best_match([HL7_MEDIA, "application/json"]) == "application/json" \
            and HL7_MEDIA not in request.accept_mimetypes.values():
        return jsonify(_json(outcome))
    return Response("".join(outcome.acks), mimetype=HL7_MEDIA)


@blp.route("/check", methods=["POST"])
@blp.doc(requestBody=_RAW_BODY, responses={"200": {"description": "the verdicts (JSON); nothing is "
                                                                   "recorded or forwarded"}})
@requires("submitter", "reviewer")
def check():
    """Dry run: check an 837P or HL7 file against the ledger without recording anything."""
    return jsonify(_json(_submit(None, dry_run=True)))
