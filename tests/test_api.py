"""The JSON API on a real ledger (SQLite and PostgreSQL): documentation and attachment intake,
claims and findings with filters and pagination, release of a held claim, the patient-month
view, and for every endpoint: no token 401, wrong role 403, another tenant's things 404."""
import json

import pytest
from sqlalchemy import event, select

from scrubber.store import ClaimRow
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


CODE_MIXES = [["99457"], ["99458"], ["99458", "99470"], ["99454", "99445"], ["99453", "99454"],
              ["99091", "99457"], ["99470"], ["99213"]]


def _pages(client, path: str, headers: dict, size: int) -> tuple[list[dict], int]:
    """Every item of a listing read page by page, and the total it announced."""
    found, page = [], 1
    while True:
        joint = "&" if "?" in path else "?"
        answer = client.get(f"{path}{joint}page={page}&page_size={size}", headers=headers)
        total = json.loads(answer.headers["X-Pagination"])["total"]
        found += answer.get_json()
        if page * size >= total:
            return found, total
        page += 1


def test_listings_filter_count_and_page_in_the_database_as_over_every_claim(client, tokens, store):
    """The claims and findings listings (filtered, counted and paged by the database through the
    claim_findings rows) give exactly what filtering every claim's findings would, in the same
    order; and a page of claims loads that page's rows only, without the message bodies."""
    submitter, reviewer = auth(tokens["submitter"]), auth(tokens["reviewer"])
    claims = [ClaimSpec(f"L{n:02d}", [Line(code, f"202603{1 + n % 28:02d}") for code in CODE_MIXES[n % 8]],
                        mrn=f"MRN-L{n % 5}", member_id=f"MEMBER-L{n % 5}") for n in range(24)]
    assert client.post("/v1/x12/837", data=x12_837(claims), headers=submitter).status_code == 200
    with store.sessions() as session:
        rows = session.execute(select(ClaimRow.id, ClaimRow.claim_id, ClaimRow.findings)
                               .order_by(ClaimRow.id.desc())).all()
    every = [{**f, "claim": pk, "claim_id": claim_id} for pk, claim_id, findings in rows for f in findings]
    rules = sorted({f["rule"] for f in every})
    assert len(rules) >= 3 and {f["severity"] for f in every} >= {"block", "flag"}
    for query, wanted in [("", every)] + [
            (f"?severity={severity}", [f for f in every if f["severity"] == severity])
            for severity in ("block", "flag", "info")] + [
            (f"?rule={rule}", [f for f in every if f["rule"] == rule]) for rule in rules] + [
            (f"?rule={rules[0]}&severity=block",
             [f for f in every if f["rule"] == rules[0] and f["severity"] == "block"])]:
        assert _pages(client, f"/v1/findings{query}", reviewer, 7) == (wanted, len(wanted)), query
    for rule in rules + ["no-such-rule"]:
        wanted = [claim_id for pk, claim_id, findings in rows if any(f["rule"] == rule for f in findings)]
        listed, total = _pages(client, f"/v1/claims?rule={rule}", reviewer, 5)
        assert ([c["claim_id"] for c in listed], total) == (wanted, len(wanted)), rule

    loaded = []
    listen = lambda row, context: loaded.append("body" in row.__dict__)  # noqa: E731
    event.listen(ClaimRow, "load", listen)
    try:
        page = client.get("/v1/claims?page=2&page_size=5", headers=reviewer).get_json()
    finally:
        event.remove(ClaimRow, "load", listen)
    assert [c["claim_id"] for c in page] == [claim_id for _, claim_id, _ in rows[5:10]]
    assert loaded == [False] * 5
    for listing in ("claims", "findings"):  # a page past the end, whatever its number
        far = client.get(f"/v1/{listing}?page={10**30}", headers=reviewer)
        assert far.status_code == 200 and far.get_json() == []
        assert json.loads(far.headers["X-Pagination"])["total"] == len(rows if listing == "claims" else every)


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
    assert [c["claim_id"] for c in client.get("/v1/claims?rule=time-below-threshold",
                                              headers=reviewer).get_json()] == ["S1"]
    still = client.post(f"/v1/claims/{held['id']}/rescrub", headers=reviewer)
    assert still.status_code == 200 and still.get_json()["status"] == "held"  # nothing changed yet
    more = {"patients": [{"patient": {"id": "MRN-5"}, "time_entries": [
        {"id": "s-2", "date": "2026-03-20", "minutes": 10, "program": "RPM"}]}]}
    client.post("/v1/documentation", json=more, headers=submitter)
    assert client.post(f"/v1/claims/{held['id']}/rescrub", headers=submitter).status_code == 403
    fixed = client.post(f"/v1/claims/{held['id']}/rescrub", headers=reviewer).get_json()
    assert fixed["status"] == "forwarded" and fixed["verdict"] != "block"
    # the listings filter on the findings of the new check, not the first one
    assert client.get("/v1/claims?rule=time-below-threshold", headers=reviewer).get_json() == []
    assert client.get("/v1/findings?rule=time-below-threshold", headers=reviewer).get_json() == []
    detail = client.get(f"/v1/claims/{held['id']}", headers=reviewer).get_json()
    assert detail["outbox"]["state"] == "pending" and detail["history"][-1]["action"] == "rescrubbed"
    assert client.post(f"/v1/claims/{held['id']}/rescrub", headers=reviewer).status_code == 409
    assert client.post("/v1/claims/99999/rescrub", headers=reviewer).status_code == 404
