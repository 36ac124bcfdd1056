"""The JSON API on a real ledger (SQLite and PostgreSQL): documentation and attachment intake,
claims and findings with filters and pagination, release of a held claim, the patient-month
view, and for every endpoint: no token 401, wrong role 403, another tenant's things 404."""
import json

import pytest

from scrubber.web import create_app
from tests.builders import ClaimSpec, Line, x12_837
from tests.test_web import auth, token

DOCS = {"patients": [{
    "patient": {"id": "MRN-1", "member_id": "MEMBER-1"},
    "consent": {"date": "2026-01-02", "method": "verbal"},
    "episodes": [{"start": "2026-03-01", "program": "RPM"}],
    "time_entries": [
        {"id": "t-1", "date": "2026-03-04", "minutes": 15, "program": "RPM",
         "performer": {"id": "rn-7", "role": "clinical_staff"}, "activity": "Call",
         "interaction": {"mode": "phone", "with": "patient"}},
        {"id": "t-2", "date": "2026-03-18", "minutes": 12, "program": "RPM",
         "performer": {"id": "rn-7", "role": "clinical_staff"}, "activity": "Review"}],
    "readings": [{"date": f"2026-03-{d:02d}", "transmission": "automatic"} for d in range(2, 20)],
}]}
BATCH = x12_837([ClaimSpec("C1", [Line("99457", "20260331")]),
                 ClaimSpec("C2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-2",
                           member_id="MEMBER-2")])


@pytest.fixture
def client(store):
    app = create_app({"DATABASE_URL": str(store.engine.url.render_as_string(hide_password=False))})
    yield app.test_client()
    app.extensions["scrubber.store"].dispose()


@pytest.fixture
def tokens(store):
    return {"submitter": token(store, "acme", "submitter", "s"),
            "reviewer": token(store, "acme", "reviewer", "r"), "other": token(store, "other", "admin", "a")}


def test_documentation_intake_is_idempotent_and_names_bad_fields(client, tokens):
    first = client.post("/v1/documentation", json=DOCS, headers=auth(tokens["submitter"]))
    assert first.status_code == 200 and first.get_json() == {"patients": 1, "added": 22}
    again = client.post("/v1/documentation", json=DOCS, headers=auth(tokens["submitter"]))
    assert again.get_json() == {"patients": 1, "added": 0}
    bad = json.loads(json.dumps(DOCS))
    bad["patients"][0]["time_entries"][1]["minutes"] = -5
    refused = client.post("/v1/documentation", json=bad, headers=auth(tokens["submitter"]))
    assert refused.status_code == 422
    assert "$.patients[0].time_entries[1].minutes" in refused.get_json()["errors"]


def test_claims_findings_release_and_the_patient_month(client, tokens):
    submitter, reviewer = auth(tokens["submitter"]), auth(tokens["reviewer"])
    client.post("/v1/documentation", json=DOCS, headers=submitter)
    client.post("/v1/x12/837", data=BATCH, headers=submitter)
    listed = client.get("/v1/claims", headers=reviewer)
    assert [c["claim_id"] for c in listed.get_json()] == ["C2", "C1"]  # newest first
    assert json.loads(listed.headers["X-Pagination"])["total"] == 2
    held = client.get("/v1/claims?status=held", headers=reviewer).get_json()
    assert [c["claim_id"] for c in held] == ["C2"]
    by_rule = client.get("/v1/claims?rule=mutually-exclusive", headers=reviewer).get_json()
    assert [c["claim_id"] for c in by_rule] == ["C2"]
    page = client.get("/v1/claims?page=2&page_size=1", headers=reviewer).get_json()
    assert [c["claim_id"] for c in page] == ["C1"]
    findings = client.get("/v1/findings?severity=block", headers=reviewer).get_json()
    assert findings and all(f["severity"] == "block" and f["claim_id"] == "C2" for f in findings)

    claim_pk = held[0]["id"]
    detail = client.get(f"/v1/claims/{claim_pk}", headers=reviewer).get_json()
    assert [line["code"] for line in detail["lines"]] == ["99458", "99470"]
    assert detail["outbox"]["state"] == "held" and detail["history"][0]["action"] == "scrubbed"
    denied = client.post(f"/v1/claims/{claim_pk}/release", json={"reason": "ok"}, headers=submitter)
    assert denied.status_code == 403
    short = client.post(f"/v1/claims/{claim_pk}/release", json={"reason": ""}, headers=reviewer)
    assert short.status_code == 422
    released = client.post(f"/v1/claims/{claim_pk}/release",
                           json={"reason": "payer allows it under contract 12"}, headers=reviewer)
    assert released.status_code == 200 and released.get_json()["status"] == "released"
    after = client.get(f"/v1/claims/{claim_pk}", headers=reviewer).get_json()
    assert after["outbox"]["state"] == "pending" and after["history"][-1]["action"] == "released"
    twice = client.post(f"/v1/claims/{claim_pk}/release", json={"reason": "again"}, headers=reviewer)
    assert twice.status_code == 409

    month = client.get("/v1/patients/MRN-1/months/2026-03", headers=reviewer).get_json()
    assert month["minutes"] == 27 and month["interactive_communications"] == 1
    assert {"code": "99457", "units": 1} in month["supported"]
    assert any(p["data_days"] == 18 for p in month["device_periods"])
    assert [(b["claim_id"], b["code"]) for b in month["billed"]] == [("C1", "99457")]
    assert client.get("/v1/patients/MRN-1/months/2026-13", headers=reviewer).status_code == 400


def test_attachments_accept_json_and_safe_xml_only(client, tokens, store):
    submitter = auth(tokens["submitter"])
    ok = client.put("/v1/attachments/ATT-1", json={"notes": "minutes log"}, headers=submitter)
    assert ok.status_code == 200 and ok.get_json()["content_type"] == "application/json"
    xml = client.put("/v1/attachments/ATT-2", data=b"<doc><minutes>22</minutes></doc>",
                     headers={**submitter, "Content-Type": "application/xml"})
    assert xml.status_code == 200
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<d>&x;</d>")
    refused = client.put("/v1/attachments/ATT-3", data=xxe,
                         headers={**submitter, "Content-Type": "application/xml"})
    assert refused.status_code == 400 and "root:" not in refused.get_data(as_text=True)
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
              b"<l>&c;</l>")
    assert client.put("/v1/attachments/ATT-4", data=laughs,
                      headers={**submitter, "Content-Type": "application/xml"}).status_code == 400
    assert client.put("/v1/attachments/ATT-5", data=b"plain",
                      headers={**submitter, "Content-Type": "text/plain"}).status_code == 415
    # a claim whose PWK names a received attachment is not missing its documentation for that
    pwk = x12_837([ClaimSpec("P1", [Line("99457", "20260331")], pwk=["PWK*OZ*EL***AC*ATT-1"])])
    claim = client.post("/v1/x12/837", data=pwk, headers=submitter).get_json()["claims"][0]
    assert "documentation-missing" not in {f["rule"] for f in claim["findings"]}


ENDPOINTS = [  # (method, path, body, roles that may)
    ("POST", "/v1/x12/837", BATCH, {"submitter"}),
    ("POST", "/v1/hl7", "MSH|^~\\&|A|B|C|D|20260401||DFT^P03|X1|P|2.5\r", {"submitter"}),
    ("POST", "/v1/check", BATCH, {"submitter", "reviewer"}),
    ("POST", "/v1/documentation", DOCS, {"submitter"}),
    ("PUT", "/v1/attachments/A1", {"a": 1}, {"submitter"}),
    ("GET", "/v1/claims", None, {"submitter", "reviewer"}),
    ("GET", "/v1/claims/{pk}", None, {"submitter", "reviewer"}),
    ("POST", "/v1/claims/{pk}/release", {"reason": "because"}, {"reviewer"}),
    ("POST", "/v1/claims/{pk}/rescrub", None, {"reviewer"}),
    ("GET", "/v1/findings", None, {"submitter", "reviewer"}),
    ("GET", "/v1/patients/MRN-2/months/2026-03", None, {"submitter", "reviewer"}),
]


def _call(client, method, path, body, headers):
    if isinstance(body, dict):
        return client.open(path, method=method, json=body, headers=headers)
    return client.open(path, method=method, data=body, headers=headers)


def test_every_endpoint_is_authenticated_role_checked_and_tenant_scoped(client, tokens):
    client.post("/v1/x12/837", data=BATCH, headers=auth(tokens["submitter"]))
    (claim_pk,) = [c["id"] for c in client.get("/v1/claims?status=held",
                                                headers=auth(tokens["reviewer"])).get_json()]
    app_paths = {rule.rule for rule in client.application.url_map.iter_rules()
                 if rule.rule.startswith("/v1/") and "openapi" not in rule.rule}
    covered = {path.replace("{pk}", "<int:claim_pk>").replace("A1", "<string:control_number>")
               .replace("MRN-2", "<string:patient_id>").replace("2026-03", "<string:month>")
               for _, path, _, _ in ENDPOINTS}
    assert app_paths == covered  # a new endpoint must join this table
    for method, path, body, allowed in ENDPOINTS:
        path = path.format(pk=claim_pk)
        assert _call(client, method, path, body, {}).status_code == 401, path
        for role in ("submitter", "reviewer"):
            answer = _call(client, method, path, body, auth(tokens[role]))
            assert (answer.status_code != 403) == (role in allowed), (path, role, answer.status_code)
    # another tenant (even an admin) finds none of acme's claims or patients
    other = auth(tokens["other"])
    assert client.get(f"/v1/claims/{claim_pk}", headers=other).status_code == 404
    assert client.post(f"/v1/claims/{claim_pk}/release", json={"reason": "mine now"},
                       headers=other).status_code == 404
    assert client.get("/v1/patients/MRN-2/months/2026-03", headers=other).status_code == 404
    assert client.get("/v1/claims", headers=other).get_json() == []
    assert client.get("/v1/findings", headers=other).get_json() == []


def test_a_held_claim_passes_after_its_documentation_is_fixed_and_it_is_checked_again(client, tokens):
    submitter, reviewer = auth(tokens["submitter"]), auth(tokens["reviewer"])
    video = {"mode": "video", "with": "patient"}
    short = {"patients": [{"patient": {"id": "MRN-5", "member_id": "MEMBER-5"},
                           "consent": {"date": "2026-01-02"}, "time_entries": [
                               {"id": "s-1", "date": "2026-03-04", "minutes": 12, "program": "RPM",
                                "interaction": video}]}]}
    client.post("/v1/documentation", json=short, headers=submitter)
    batch = x12_837([ClaimSpec("S1", [Line("99457", "20260331")], mrn="MRN-5", member_id="MEMBER-5")])
    (claim,) = client.post("/v1/x12/837", data=batch, headers=submitter).get_json()["claims"]
    assert claim["status"] == "held" and "time-below-threshold" in {f["rule"] for f in claim["findings"]}
    (held,) = client.get("/v1/claims?claim_id=S1", headers=reviewer).get_json()
    still = client.post(f"/v1/claims/{held['id']}/rescrub", headers=reviewer)
    assert still.status_code == 200 and still.get_json()["status"] == "held"  # nothing changed yet
    more = {"patients": [{"patient": {"id": "MRN-5"}, "time_entries": [
        {"id": "s-2", "date": "2026-03-20", "minutes": 10, "program": "RPM"}]}]}
    client.post("/v1/documentation", json=more, headers=submitter)
    assert client.post(f"/v1/claims/{held['id']}/rescrub", headers=submitter).status_code == 403
    fixed = client.post(f"/v1/claims/{held['id']}/rescrub", headers=reviewer).get_json()
    assert fixed["status"] == "forwarded" and fixed["verdict"] != "block"
    detail = client.get(f"/v1/claims/{held['id']}", headers=reviewer).get_json()
    assert detail["outbox"]["state"] == "pending" and detail["history"][-1]["action"] == "rescrubbed"
    assert client.post(f"/v1/claims/{held['id']}/rescrub", headers=reviewer).status_code == 409
    assert client.post("/v1/claims/99999/rescrub", headers=reviewer).status_code == 404
