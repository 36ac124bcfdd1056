"""The EHR plugin: the scrubber's API mounted into a host Flask application under a prefix, with
the host's own authentication, on a real ledger."""
import re
from pathlib import Path

from flask import Flask

from scrubber.web import ClaimScrubber, HostUser
from tests.builders import ClaimSpec, Line, x12_837

USERS = {"s3ss10n-billing": HostUser("clinic-a", "submitter", "billing-office"),
         "s3ss10n-rcm": HostUser("clinic-a", "reviewer", "rcm-team")}


def host_app(store) -> Flask:
    app = Flask("ehr")
    app.secret_key = "the host's own key"

    @app.route("/")
    def home():
        return "the EHR's own page"

    ClaimScrubber(app, prefix="/billing", database_url=str(store.engine.url.render_as_string(
        hide_password=False)), authenticate=lambda req: USERS.get(req.cookies.get("ehr_session", "")))
    return app


def test_the_api_runs_inside_the_host_with_the_hosts_login(store):
    app = host_app(store)
    try:
        _exercise(app.test_client())
    finally:
        app.extensions["scrubber.store"].dispose()


def _exercise(client):
    assert client.get("/").get_data(as_text=True) == "the EHR's own page"
    batch = x12_837([ClaimSpec("E1", [Line("99457", "20260331")])])
    assert client.post("/billing/v1/x12/837", data=batch).status_code == 401
    client.set_cookie("ehr_session", "s3ss10n-billing")
    answer = client.post("/billing/v1/x12/837", data=batch)
    assert answer.status_code == 200 and answer.get_json()["claims"][0]["id"] == "E1"
    assert client.get("/billing/v1/claims").status_code == 200  # submitters may read
    denied = client.post(f"/billing/v1/claims/{1}/release", json={"reason": "fine"})
    assert denied.status_code == 403  # the host's submitter is not a reviewer
    client.set_cookie("ehr_session", "s3ss10n-rcm")
    assert [c["claim_id"] for c in client.get("/billing/v1/claims").get_json()] == ["E1"]
    spec = client.get("/billing/v1/openapi.json").get_json()
    assert "/billing/v1/x12/837" in spec["paths"]
    assert client.get("/billing/healthz").get_json() == {"status": "ok"}
    # the review UI, signed in by the host as well
    page = client.get("/billing/ui/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Worklist" in text and "rcm-team · clinic-a" in text
    client.set_cookie("ehr_session", "s3ss10n-billing")  # a submitter: the UI sends to its log-in
    assert client.get("/billing/ui/").status_code == 302


def test_the_readme_example_runs(store, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (example,) = re.findall(r"<!-- plugin-example -->\n```python\n(.*?)```", readme, re.S)
    monkeypatch.setenv("SCRUBBER_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    app = namespace["app"]
    try:
        client = app.test_client()
        client.set_cookie("session_user", "dr-who")
        batch = x12_837([ClaimSpec("R1", [Line("99457", "20260331")])])
        assert client.post("/billing/v1/check", data=batch).status_code == 200
        client.delete_cookie("session_user")
        assert client.post("/billing/v1/check", data=batch).status_code == 401
    finally:
        app.extensions["scrubber.store"].dispose()
