"""Hostile input over HTTP (a real ledger): each gets a clear 4xx, a 999 rejection or an AR/AE, and
the service keeps serving the next request. Security headers on every answer."""
import pytest

from scrubber.web import create_app
from tests.builders import ClaimSpec, Line, x12_837
from tests.test_web import auth, token

ISA = ("ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *260401*1200*^*00501*"
       "000000001*0*T*:~")
HOSTILE = {
    "deeply nested JSON": ("/v1/documentation", "[" * 100_000 + "]" * 100_000, "application/json", 400),
    "deeply nested JSON to a schema": ("/v1/claims/1/release", '{"reason":' + "[" * 100_000 + "]" * 100_000
                                       + "}", "application/json", 400),
    "a million-element segment": ("/v1/x12/837", ISA + "GS*HC*S*R*20260401*1200*1*X*005010X222A1~"
                                  "ST*837*0001*005010X222A1~BHT" + "*x" * 1_000_000 + "~SE*3*0001~GE*1*1~"
                                  "IEA*1*000000001~", "application/edi-x12", 200),
    "an unterminated interchange": ("/v1/x12/837", ISA + "GS*HC*S*R*20260401*1200*1*X*005010X222A1~ST*837",
                                    "application/edi-x12", 200),
    "a broken ISA": ("/v1/x12/837", "ISA" + "*" * 5000, "application/edi-x12", 200),
    "a two-megabyte HL7 field": ("/v1/hl7", "MSH|^~\\&|A|B|C|D|20260401||DFT^P03|X1|P|2.5\rPID|1||"
                                 + "x" * 2_000_000 + "\r", "application/hl7-v2", 200),
    "broken HL7 escapes": ("/v1/hl7", "MSH|^~\\&|A|B|C|D|20260401||DFT^P03|X2|P|2.5\rPID|1||M\\X4\\1^^^^MR"
                           "||\\E\\\\F\rFT1|1|||20260401||CG|||||1|50|||||||||||||99457\\\r",
                           "application/hl7-v2", 200),
    "a body over the limit": ("/v1/x12/837", "x" * 3_000_001, "application/edi-x12", 413),
    "a NUL in an 837P": ("/v1/x12/837", x12_837([ClaimSpec("C\x001", [Line("99457", "20260331")])]),
                         "application/edi-x12", 400),
    "a NUL in an HL7 message": ("/v1/hl7", "MSH|^~\\&|A|B|C|D|20260401||DFT^P03|H\x001|P|2.5\r",
                                "application/hl7-v2", 400),
    "a NUL in documentation JSON": ("/v1/documentation", '{"patients": [{"patient": {"id": "M\\u0000"}}]}',
                                    "application/json", 422),
    "a NUL in the query": ("/v1/check?mode=%00", "ISA", "application/edi-x12", 400),
}


@pytest.fixture
def client(store):
    app = create_app({"DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
                      "MAX_CONTENT_LENGTH": 3_000_000})
    yield app.test_client()
    app.extensions["scrubber.store"].dispose()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_refused_clearly_and_the_service_keeps_serving(store, client, name):
    path, body, media, expected = HOSTILE[name]
    headers = {**auth(token(store, "acme", "admin")), "Content-Type": media}
    if path.endswith("/release"):  # a held claim to aim at
        client.post("/v1/x12/837", headers=headers, data=x12_837([ClaimSpec(
            "H", [Line("99458", "20260331"), Line("99470", "20260331")])]))
    answer = client.post(path, data=body, headers=headers)
    assert answer.status_code == expected, answer.get_data(as_text=True)[:300]
    if expected >= 400:
        assert answer.get_json()["code"] == expected  # the one JSON error envelope
    elif path == "/v1/x12/837":
        assert answer.get_json()["summary"]["block"] >= 1  # refused as malformed, never passed
    else:
        assert "MSA|AE|" in answer.get_data(as_text=True) or "MSA|AR|" in answer.get_data(as_text=True)
    follow_up = client.post("/v1/check", headers=headers,
                            data=x12_837([ClaimSpec("OK", [Line("99457", "20260331")])]))
    assert follow_up.status_code == 200


@pytest.mark.parametrize("bearer", ["rpms_" + "9" * 5000 + "_x", "rpms_99999999999999999999999_x",
                                    "rpms_1_" + "x" * 100_000, "rpms__x", "Bearer", "rpms_1_\u00e9"])
def test_hostile_tokens_are_401(store, client, bearer):
    token(store, "acme", "admin")
    answer = client.get("/v1/claims", headers=auth(bearer))
    assert answer.status_code == 401 and answer.get_json()["code"] == 401


def test_every_answer_carries_the_security_headers(client):
    for path in ("/healthz", "/v1/openapi.json", "/ui/login", "/v1/claims"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert client.get("/ui/login").headers["Cache-Control"] == "no-store"
