"""The HTTP gateway through Flask's test client on a real ledger (SQLite file and PostgreSQL):
answers in the sender's protocol, tokens and roles, tenant isolation, one JSON error envelope,
size limits, the OpenAPI document, health and readiness."""
import pytest
from sqlalchemy import func, select

from scrubber.store import ClaimRow, Store, Submission
from scrubber.web import create_app
from scrubber.web.auth import create_token
from tests.builders import ClaimSpec, Line, dft_p03, x12_837
from tests.e2e import series

BATCH = x12_837([ClaimSpec("C1", [Line("99457", "20260331")]),
                 ClaimSpec("C2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-2")])


def token(store: Store, tenant: str, role: str, name: str = "t") -> str:
    with store.transaction() as session:
        return create_token(store, session, store.tenant(session, tenant, create=True), name, role)


@pytest.fixture
def app(store):
    app = create_app({"DATABASE_URL": store.url if store.is_postgres else str(store.engine.url),
                      "MAX_CONTENT_LENGTH": 200_000})
    yield app
    app.extensions["scrubber.store"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def auth(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


def test_an_837_gets_verdicts_and_acknowledgements(store, client):
    submitter = token(store, "acme", "submitter")
    answer = client.post("/v1/x12/837", data=BATCH, headers=auth(submitter))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert [(c["id"], c["verdict"], c["status"]) for c in body["claims"]] == [
        ("C1", "flag", "forwarded"), ("C2", "block", "held")]
    assert body["summary"] == {"pass": 0, "flag": 1, "block": 1}
    assert body["ack999"].startswith("ISA*") and "AK9*" in body["ack999"] and "STC*A2:20" in body["ack277"]
    edi = client.post("/v1/x12/837", data=BATCH, headers={**auth(submitter), "Accept": "application/edi-x12"})
    assert edi.mimetype == "application/edi-x12" and edi.get_data(as_text=True).count("ISA*") == 2


def test_hl7_gets_acks_in_hl7(store, client):
    submitter = token(store, "acme", "submitter")
    answer = client.post("/v1/hl7", data=dft_p03("H1", [Line("99458", "20260415")]), headers=auth(submitter))
    assert answer.status_code == 200 and answer.mimetype == "application/hl7-v2"
    assert answer.get_data(as_text=True).split("\r")[1] == "MSA|AE|H1"


def test_check_is_a_dry_run(store, client):
    submitter = token(store, "acme", "submitter")
    answer = client.post("/v1/check", data=BATCH, headers=auth(submitter))
    assert answer.status_code == 200 and answer.get_json()["submission"] is None
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0
        assert session.scalar(select(func.count()).select_from(ClaimRow)) == 0


@pytest.mark.parametrize("path", ["/v1/x12/837", "/v1/hl7", "/v1/check"])
def test_every_gateway_endpoint_needs_a_valid_token_of_the_right_role(store, client, path):
    assert client.post(path, data=BATCH).status_code == 401
    assert client.post(path, data=BATCH, headers=auth("rpms_1_forged")).status_code == 401
    revoked = token(store, "acme", "submitter", "old")
    from scrubber.web.auth import revoke_token
    with store.transaction() as session:
        revoke_token(store, session, int(revoked.split("_")[1]))
    assert client.post(path, data=BATCH, headers=auth(revoked)).status_code == 401
    wrong_role = {"/v1/check": None}.get(path, token(store, "acme", "reviewer", "r"))
    if wrong_role:
        denied = client.post(path, data=BATCH, headers=auth(wrong_role))
        assert denied.status_code == 403 and denied.get_json()["code"] == 403


def test_an_expired_cached_token_is_renewed_from_its_row_without_the_slow_hash(store, app, client,
                                                                              monkeypatch):
    """Once the cache's minute is up, a token is checked against its row again: still valid, it
    is renewed without hashing its secret again (each hash cost 66 ms of CPU); revoked, it is
    refused at once."""
    from scrubber.web import auth as auth_module

    hashed = []
    real_check = auth_module.check_password_hash
    monkeypatch.setattr(auth_module, "check_password_hash",
                        lambda stored, secret: hashed.append(stored) or real_check(stored, secret))
    app.extensions["scrubber.tokens"] = auth_module.TokenCache(seconds=0)  # every entry expired
    submitter = token(store, "acme", "submitter")
    for _ in range(3):
        assert client.post("/v1/check", data=BATCH, headers=auth(submitter)).status_code == 200
    assert len(hashed) == 1  # the first request only
    forged = submitter[:-4] + ("aaaa" if not submitter.endswith("aaaa") else "bbbb")
    assert client.post("/v1/check", data=BATCH, headers=auth(forged)).status_code == 401
    assert len(hashed) == 2  # a secret never verified is hashed, whatever the cache holds
    with store.transaction() as session:
        auth_module.revoke_token(store, session, int(submitter.split("_")[1]))
    assert client.post("/v1/check", data=BATCH, headers=auth(submitter)).status_code == 401
    assert client.post("/v1/check", data=BATCH, headers=auth(submitter)).status_code == 401


def test_tenants_do_not_see_each_others_decisions(store, client):
    a, b = token(store, "acme", "submitter"), token(store, "other", "submitter")
    first = client.post("/v1/x12/837", data=BATCH, headers=auth(a)).get_json()
    again = client.post("/v1/x12/837", data=BATCH, headers=auth(b)).get_json()
    assert not any(c["resent"] for c in again["claims"])  # B's claims are B's own, decided afresh
    assert again["submission"] != first["submission"]
    with store.transaction() as session:
        tenants = session.execute(select(ClaimRow.tenant_id, func.count()).group_by(ClaimRow.tenant_id)).all()
    assert sorted(n for _, n in tenants) == [2, 2]


def test_errors_share_one_json_envelope_and_name_the_problem(store, client):
    submitter = token(store, "acme", "submitter")
    empty = client.post("/v1/x12/837", data=b"", headers=auth(submitter))
    assert empty.status_code == 400 and "body is empty" in empty.get_json()["message"]
    neither = client.post("/v1/x12/837", data=b'{"not": "x12"}', headers=auth(submitter))
    assert neither.status_code == 400 and "neither an X12" in neither.get_json()["message"]
    mode = client.post("/v1/x12/837?mode=loud", data=BATCH, headers=auth(submitter))
    assert mode.status_code == 400 and "mode 'loud'" in mode.get_json()["message"]
    huge = client.post("/v1/x12/837", data=BATCH + "x" * 300_000, headers=auth(submitter))
    assert huge.status_code == 413 and huge.get_json()["code"] == 413
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["status"] == "Not Found"


def test_openapi_document_lists_the_gateway(client):
    spec = client.get("/v1/openapi.json").get_json()
    assert {"/v1/x12/837", "/v1/hl7", "/v1/check"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_health_and_readiness(client, tmp_path):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["migrations"]["current"] == "0007"
    unmigrated = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    assert unmigrated.test_client().get("/readyz").status_code == 503
    unmigrated.extensions["scrubber.store"].dispose()


def test_metrics_report_latency_and_the_ledger(store, client):
    submitter = token(store, "acme", "submitter")
    client.post("/v1/x12/837", data=BATCH, headers=auth(submitter))
    text = client.get("/metrics").get_data(as_text=True)
    scraped = series(text)  # each series once
    assert scraped['scrubber_outbox{state="dead"}'] == 0 and scraped['scrubber_outbox{state="pending"}'] == 1
    assert 'scrubber_submissions_total{kind="x12"} 1.0' in text
    assert 'scrubber_claims_total{status="held",verdict="block"} 1.0' in text
    assert 'scrubber_findings_total{rule="mutually-exclusive",severity="block"}' in text
    assert 'scrubber_outbox{state="pending"} 1.0' in text and 'scrubber_outbox{state="held"} 1.0' in text
    assert 'scrubber_request_seconds_bucket{endpoint="gateway.submit_837"' in text


def test_a_gunicorn_worker_freezes_what_it_built_to_start(tmp_path, monkeypatch):
    """The objects a worker made while loading the app are left out of the collector's full
    passes (each scanned them all, 60-80 ms in the middle of a request); the app still answers."""
    import gc

    from scrubber.service import _Gunicorn
    from scrubber.store import upgrade

    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    ledger = Store(url)
    upgrade(ledger)
    ledger.dispose()
    monkeypatch.setenv("SCRUBBER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SCRUBBER_DATABASE_URL", url)
    gc.unfreeze()
    try:
        app = _Gunicorn({}, lambda worker: None).load()
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    try:
        assert frozen > 10_000
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        app.extensions["scrubber.store"].dispose()
