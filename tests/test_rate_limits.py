"""Rate limits: log-in attempts and refused tokens per client address, requests per token; a spent
limit is 429 with Retry-After (the JSON error envelope on the API, the log-in page in the UI),
and other addresses and tokens go on working."""
import pytest

from scrubber.web import create_app
from scrubber.web.throttle import DEFAULT_RATES, Throttle
from tests.test_ui import PASSWORD, log_in, user
from tests.test_web import auth, token


@pytest.fixture
def app(store):
    app = create_app({"DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
                      "SECRET_KEY": "test-key",
                      "RATE_LIMITS": {"login": "3/minute", "token_failures": "3/minute",
                                      "token": "5/minute"}})
    yield app
    app.extensions["scrubber.store"].dispose()


def client_from(app, address: str):
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=address, HTTP_REFERER="https://localhost/ui/")
    return client


def test_log_in_attempts_per_address_are_limited(store, app):
    user(store, "acme", "rita")
    attacker = client_from(app, "10.0.0.9")
    for _ in range(3):
        assert log_in(attacker, "rita", "guess").status_code == 401
    refused = log_in(attacker, "rita", PASSWORD)  # even the right password: the address is spent
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many log-in attempts" in refused.get_data(as_text=True)
    assert log_in(client_from(app, "10.0.0.10"), "rita", PASSWORD).status_code == 302


def test_refused_tokens_per_address_are_limited(store, app):
    good = token(store, "acme", "reviewer")
    prober = client_from(app, "10.0.0.9")
    for guess in range(3):
        assert prober.get("/v1/claims", headers=auth(f"rpms_1_guess{guess}")).status_code == 401
    refused = prober.get("/v1/claims", headers=auth("rpms_1_guess9"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    body = refused.get_json()
    assert body["code"] == 429 and "refused tokens" in body["message"]
    assert prober.get("/v1/claims", headers=auth(good)).status_code == 429  # not even checked
    assert client_from(app, "10.0.0.10").get("/v1/claims", headers=auth(good)).status_code == 200


def test_requests_per_token_are_limited(store, app):
    busy, other = token(store, "acme", "reviewer", "busy"), token(store, "acme", "reviewer", "other")
    client = client_from(app, "10.0.0.9")
    statuses = [client.get("/v1/claims", headers=auth(busy)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert client.get("/v1/claims", headers=auth(other)).status_code == 200
    assert client.get("/healthz").status_code == 200  # unauthenticated operations are not limited


def test_rates_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SCRUBBER_RATE_LOGIN", "2/second")
    throttle = Throttle.from_environment({"token": "7/hour"})
    assert str(throttle.rates["login"]) == "2 per 1 second"
    assert str(throttle.rates["token"]) == "7 per 1 hour"
    assert throttle.rates["token_failures"] == Throttle().rates["token_failures"]
    assert set(throttle.rates) == set(DEFAULT_RATES)
