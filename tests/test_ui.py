"""The review UI through Flask's test client on a real ledger (SQLite and PostgreSQL): log-in,
lock-out, CSRF, cookie flags, the worklist and its filters, a claim with its segments marked,
release with a reason, role checks and tenant isolation."""
import re
from datetime import UTC

import pytest
from sqlalchemy import event, select
from werkzeug.security import generate_password_hash

from scrubber.store import AuditEntry, ClaimRow, Credential, OutboxRow
from scrubber.web import create_app
from scrubber.web.ui import MAX_FAILURES, PAGE_SIZE, page_window
from tests.builders import ClaimSpec, Line, x12_837
from tests.test_web import auth, token

PASSWORD = "correct horse battery"
BATCH = x12_837([ClaimSpec("C1", [Line("99457", "20260331")]),
                 ClaimSpec("C2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-2",
                           member_id="MEMBER-2")])


def user(store, tenant: str, name: str, role: str = "reviewer") -> None:
    with store.transaction() as session:
        found = store.tenant(session, tenant, create=True)
        session.add(Credential(tenant_id=found.id, kind="password", name=name, role=role,
                               secret_hash=generate_password_hash(PASSWORD)))


@pytest.fixture
def app(store):
    app = create_app({"DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
                      "SECRET_KEY": "test-key"})
    yield app
    app.extensions["scrubber.store"].dispose()


@pytest.fixture
def browser(app):
    """A test client speaking https, so the Secure session cookie travels as in a browser, and
    sending a same-site Referer as browsers do (Flask-WTF checks it on https)."""
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/ui/"
    return client


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def log_in(client, name: str, password: str = PASSWORD):
    page = client.get("/ui/login", base_url="https://localhost")
    return client.post("/ui/login", base_url="https://localhost", data={
        "username": name, "password": password, "csrf_token": csrf(page)})


def test_log_in_sets_a_secure_session_and_bad_passwords_lock_out(store, browser):
    user(store, "acme", "rita")
    assert browser.get("/ui/", base_url="https://localhost").status_code == 302  # to the log-in page
    wrong = log_in(browser, "rita", "nope")
    assert wrong.status_code == 401 and "Unknown user or wrong password" in wrong.get_data(as_text=True)
    answer = log_in(browser, "rita")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/ui/")
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    for _ in range(MAX_FAILURES):
        log_in(browser, "rita", "wrong again")
    locked = log_in(browser, "rita")
    assert locked.status_code == 401 and "locked until" in locked.get_data(as_text=True)
    with store.transaction() as session:
        assert "locked-out" in set(session.scalars(select(AuditEntry.action)))


def test_forms_without_the_csrf_token_are_refused(store, browser):
    user(store, "acme", "rita")
    refused = browser.post("/ui/login", base_url="https://localhost",
                           data={"username": "rita", "password": PASSWORD})
    assert refused.status_code == 400 and "form expired" in refused.get_data(as_text=True)
    log_in(browser, "rita")
    assert browser.post("/ui/logout", base_url="https://localhost").status_code == 400
    assert browser.get("/ui/", base_url="https://localhost").status_code == 200  # still logged in


def test_submitters_cannot_log_in_to_the_ui(store, browser):
    user(store, "acme", "sam", role="submitter")
    assert log_in(browser, "sam").status_code == 401


def test_worklist_claim_and_release(store, app, browser):
    user(store, "acme", "rita")
    app.test_client().post("/v1/x12/837", data=BATCH, headers=auth(token(store, "acme", "submitter")))
    log_in(browser, "rita")
    page = browser.get("/ui/", base_url="https://localhost").get_data(as_text=True)
    assert "C1" in page and "C2" in page and "<strong>1</strong> held" in page
    assert ">JD</span> · MRN-1<" in page and "JANE" not in page and "DOE" not in page  # masked
    held_only = browser.get("/ui/?verdict=block", base_url="https://localhost").get_data(as_text=True)
    assert ">C2<" in held_only and ">C1<" not in held_only
    by_rule = browser.get("/ui/?rule=mutually-exclusive", base_url="https://localhost").get_data(as_text=True)
    assert ">C2<" in by_rule and ">C1<" not in by_rule
    claim_pk = int(re.search(r'href="/ui/claims/(\d+)">C2<', page).group(1))
    detail = browser.get(f"/ui/claims/{claim_pk}", base_url="https://localhost")
    text = detail.get_data(as_text=True)
    assert "mutually-exclusive" in text and "Fix:" in text
    marked = re.findall(r'<li value="(\d+)" class="marked"[^>]*><code>([^<]*)</code>', text)
    assert any(segment.startswith("SV1*HC:99470") for _, segment in marked)  # the offending line
    no_reason = browser.post(f"/ui/claims/{claim_pk}/release", base_url="https://localhost",
                             data={"reason": "", "csrf_token": csrf(detail)}, follow_redirects=True)
    assert "Give a reason" in no_reason.get_data(as_text=True)
    released = browser.post(f"/ui/claims/{claim_pk}/release", base_url="https://localhost",
                            data={"reason": "payer contract allows both", "csrf_token": csrf(detail)},
                            follow_redirects=True)
    assert "released" in released.get_data(as_text=True)
    assert ">C2<" not in browser.get("/ui/?verdict=block", base_url="https://localhost").get_data(as_text=True)
    with store.transaction() as session:
        assert session.scalar(select(OutboxRow.state).where(OutboxRow.claim_pk == claim_pk)) == "pending"


def _watched(app, browser, path: str) -> tuple[str, int, list[bool]]:
    """A page, the statements sent for it, and for each claim row loaded whether its body was."""
    engine = app.extensions["scrubber.store"].engine
    statements, loaded = [], []
    count_statement = lambda *args: statements.append(1)  # noqa: E731
    count_load = lambda row, context: loaded.append("body" in row.__dict__)  # noqa: E731
    event.listen(engine, "before_cursor_execute", count_statement)
    event.listen(ClaimRow, "load", count_load)
    try:
        page = browser.get(path, base_url="https://localhost").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
        event.remove(ClaimRow, "load", count_load)
    return page, len(statements), loaded


def test_a_worklist_page_reads_its_own_claims_only(store, app, browser):
    """The worklist's filters, counts and page are the database's work: a page loads the claims
    it shows (without their message bodies) and a fixed number of statements, whether the
    worklist holds less than a page of claims or several pages (the lines in one query, not one
    per claim)."""
    user(store, "acme", "rita")
    submitter = auth(token(store, "acme", "submitter"))
    log_in(browser, "rita")
    seen = []
    for first, count in ((0, PAGE_SIZE - 5), (PAGE_SIZE - 5, 3 * PAGE_SIZE)):  # lone 99458s: all held
        batch = x12_837([ClaimSpec(f"W{n}", [Line("99458", "20260310")], mrn=f"MRN-W{n}",
                                   member_id=f"MEMBER-W{n}") for n in range(first, count)])
        assert app.test_client().post("/v1/x12/837", data=batch, headers=submitter).status_code == 200
        page, statements, loaded = _watched(app, browser, "/ui/?rule=addon-without-base")
        assert f"<strong>{count}</strong> held" in page
        assert loaded == [False] * min(count, PAGE_SIZE)
        seen.append(statements)
    assert seen[0] == seen[1]
    second = browser.get("/ui/?page=2", base_url="https://localhost").get_data(as_text=True)
    assert '<span aria-current="page">2</span>' in second and 'page=3">3</a>' in second
    beyond = browser.get(f"/ui/?page={10**30}", base_url="https://localhost")
    assert beyond.status_code == 200
    assert f"<strong>{3 * PAGE_SIZE}</strong> held" in beyond.get_data(as_text=True)


def test_the_pager_links_the_ends_and_the_pages_near_the_current_one():
    assert page_window(1, 1) == [1]
    assert page_window(2, 3) == [1, 2, 3]
    assert page_window(1, 1100) == [1, 2, 3, 4, None, 1100]
    assert page_window(50, 1100) == [1, None, 47, 48, 49, 50, 51, 52, 53, None, 1100]
    assert page_window(1098, 1100) == [1, None, 1095, 1096, 1097, 1098, 1099, 1100]
    assert page_window(5, 9) == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_a_reviewer_cannot_open_another_tenants_claim(store, app, browser):
    user(store, "other", "oscar")
    app.test_client().post("/v1/x12/837", data=BATCH, headers=auth(token(store, "acme", "submitter")))
    log_in(browser, "oscar")
    assert "Nothing to review" in browser.get("/ui/", base_url="https://localhost").get_data(as_text=True)
    for claim_pk in (1, 2):
        assert browser.get(f"/ui/claims/{claim_pk}", base_url="https://localhost").status_code == 404
    page = browser.get("/ui/", base_url="https://localhost")
    refused = browser.post("/ui/claims/2/release", base_url="https://localhost",
                           data={"reason": "not mine", "csrf_token": csrf(page)})
    assert refused.status_code == 404


def test_the_patient_month_page_draws_minutes_days_and_codes(store, app, browser):
    user(store, "acme", "rita")
    submitter = auth(token(store, "acme", "submitter"))
    client = app.test_client()
    client.post("/v1/documentation", headers=submitter, json={"patients": [{
        "patient": {"id": "MRN-1", "member_id": "MEMBER-1"},
        "consent": {"date": "2026-01-02"}, "episodes": [{"start": "2026-03-01", "program": "RPM"}],
        "time_entries": [
            {"id": "t-1", "date": "2026-03-04", "minutes": 15, "program": "RPM",
             "interaction": {"mode": "phone", "with": "patient"}},
            {"id": "t-2", "date": "2026-03-18", "minutes": 12, "program": "RPM"}],
        "readings": [{"date": f"2026-03-{d:02d}", "transmission": "automatic"} for d in range(2, 20)]}]})
    client.post("/v1/x12/837", data=BATCH, headers=submitter)
    log_in(browser, "rita")
    claim_page = browser.get("/ui/claims/1", base_url="https://localhost").get_data(as_text=True)
    assert 'href="/ui/patients/MRN-1/months/2026-03"' in claim_page
    page = browser.get("/ui/patients/MRN-1/months/2026-03", base_url="https://localhost")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "27 RPM minutes" in text and "1 interactive" in text
    assert text.count('class="entry interactive"') == 1 and text.count('class="entry"') == 1
    assert text.count('<li class="data"') == 18 and "<strong>18</strong> data day(s)" in text
    assert ">99457</td>" in text  # supported and billed side by side
    assert browser.get("/ui/patients/MRN-404/months/2026-03", base_url="https://localhost").status_code == 404


def test_dismiss_bulk_release_and_csv(store, app, browser):
    user(store, "acme", "rita")
    submitter = auth(token(store, "acme", "submitter"))
    batch = x12_837([ClaimSpec("F1", [Line("99457", "20260331")]),
                     ClaimSpec("H1", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-2",
                               member_id="MEMBER-2"),
                     ClaimSpec("H2", [Line("99458", "20260331"), Line("99470", "20260331")], mrn="MRN-3",
                               member_id="MEMBER-3")])
    outcome = app.test_client().post("/v1/x12/837", data=batch, headers=submitter).get_json()
    ids = {c["id"]: c for c in outcome["claims"]}
    assert ids["F1"]["verdict"] == "flag" and ids["H1"]["status"] == ids["H2"]["status"] == "held"
    log_in(browser, "rita")
    worklist = browser.get("/ui/", base_url="https://localhost")
    pks = dict((claim_id, int(pk)) for pk, claim_id in
               re.findall(r'href="/ui/claims/(\d+)">([A-Z0-9]+)<', worklist.get_data(as_text=True)))
    exported = browser.get("/ui/worklist.csv?verdict=block", base_url="https://localhost")
    assert exported.mimetype == "text/csv"
    csv_lines = exported.get_data(as_text=True).splitlines()
    assert csv_lines[0].startswith("claim_id,patient,status") and len(csv_lines) == 3
    findings = browser.get("/ui/findings.csv", base_url="https://localhost").get_data(as_text=True)
    assert "mutually-exclusive,block" in findings
    flag_page = browser.get(f"/ui/claims/{pks['F1']}", base_url="https://localhost")
    browser.post(f"/ui/claims/{pks['F1']}/dismiss", base_url="https://localhost",
                 data={"note": "minutes checked by phone", "csrf_token": csrf(flag_page)})
    bulk = browser.post("/ui/release", base_url="https://localhost", follow_redirects=True, data={
        "claim": [str(pks["H1"]), str(pks["H2"])], "reason": "contract allows both",
        "csrf_token": csrf(worklist)})
    assert "Released 2 claim(s): H1, H2." in bulk.get_data(as_text=True)
    assert "Nothing to review" in browser.get("/ui/", base_url="https://localhost").get_data(as_text=True)
    with store.transaction() as session:
        states = set(session.scalars(select(OutboxRow.state)))
    assert states == {"pending"}


def test_csv_cells_never_start_a_formula():
    from scrubber.web.ui import _cell

    assert [_cell(v) for v in ("=SUM(A1)", "+1", "-2", "@x", "C1", 12.5)] == [
        "'=SUM(A1)", "'+1", "'-2", "'@x", "C1", "12.5"]


def test_the_dashboard_counts_verdicts_rules_money_and_resolution(store, app, browser):
    user(store, "acme", "rita")
    submitter = auth(token(store, "acme", "submitter"))
    client = app.test_client()
    client.post("/v1/documentation", headers=submitter, json={"patients": [{
        "patient": {"id": "MRN-7", "member_id": "MEMBER-7"}, "consent": {"date": "2026-01-02"},
        "time_entries": [{"id": "d-1", "date": "2026-03-04", "minutes": 65, "program": "RPM",
                          "interaction": {"mode": "phone", "with": "patient"}}]}]})
    claims = x12_837([ClaimSpec("U1", [Line("99457", "20260331")], mrn="MRN-7", member_id="MEMBER-7")])
    client.post("/v1/x12/837", data=claims, headers=submitter)  # 65 minutes: 2 units of 99458 unbilled
    client.post("/v1/x12/837", data=BATCH, headers=submitter)  # C2 is held (99458 + 99470)
    log_in(browser, "rita")
    held = browser.get("/ui/?verdict=block", base_url="https://localhost")
    pk = int(re.search(r'href="/ui/claims/(\d+)">C2<', held.get_data(as_text=True)).group(1))
    browser.post(f"/ui/claims/{pk}/release", base_url="https://localhost",
                 data={"reason": "contract", "csrf_token": csrf(held)})
    page = browser.get("/ui/dashboard", base_url="https://localhost").get_data(as_text=True)
    # 99458 pays 41.50 in the catalogue: two unbilled units are $83.00
    assert "$83.00</strong> revenue opportunities" in page
    assert "<strong>100 %</strong> of held claims released" in page
    assert "<code>unbilled-addon-time</code>" in page and "<code>mutually-exclusive</code>" in page
    assert re.search(r"<td>\d{4}-\d{2}-\d{2}</td><td class=\"num\">\d+</td>", page)
    # the database's counts per UTC day and month equal the claims' own verdicts and dates
    with store.transaction() as session:
        rows = session.execute(select(ClaimRow.created_at, ClaimRow.verdict)).all()
    expected: dict[str, dict[str, int]] = {}
    for created, verdict in rows:
        day = created.astimezone(UTC).date().isoformat()
        for key in (day, day[:7]):
            counts = expected.setdefault(key, {"pass": 0, "flag": 0, "block": 0})
            counts[verdict] += 1
    assert len(rows) == 3
    for key, counts in expected.items():
        assert (f'<td>{key}</td><td class="num">{counts["pass"]}</td><td class="num">{counts["flag"]}</td>'
                f'<td class="num">{counts["block"]}</td>') in page
    assert "<strong>0</strong> claims held" in page


def test_uploading_corrected_documentation_on_the_claim_page_checks_it_again(store, app, browser):
    import io
    import json

    user(store, "acme", "rita")
    submitter = auth(token(store, "acme", "submitter"))
    patient = {"id": "MRN-5", "member_id": "MEMBER-5"}
    phone = {"mode": "video", "with": "patient"}
    short = {"patients": [{"patient": patient, "consent": {"date": "2026-01-02"}, "time_entries": [
        {"id": "u-1", "date": "2026-03-04", "minutes": 12, "program": "RPM", "interaction": phone}]}]}
    app.test_client().post("/v1/documentation", json=short, headers=submitter)
    batch = x12_837([ClaimSpec("S1", [Line("99457", "20260331")], mrn="MRN-5", member_id="MEMBER-5")])
    app.test_client().post("/v1/x12/837", data=batch, headers=submitter)  # 12 minutes: held
    log_in(browser, "rita")
    held = browser.get("/ui/?verdict=block", base_url="https://localhost")
    pk = int(re.search(r'href="/ui/claims/(\d+)">S1<', held.get_data(as_text=True)).group(1))
    page = browser.get(f"/ui/claims/{pk}", base_url="https://localhost")
    assert "Check again" in page.get_data(as_text=True)
    bad = browser.post(f"/ui/claims/{pk}/rescrub", base_url="https://localhost", follow_redirects=True,
                       data={"csrf_token": csrf(page), "documentation": (io.BytesIO(b'{"patients": 1}'),
                                                                          "docs.json")})
    assert "was not accepted" in bad.get_data(as_text=True)
    docs = {"patients": [{"patient": patient, "time_entries": [
        {"id": "u-2", "date": "2026-03-21", "minutes": 10, "program": "RPM"}]}]}
    done = browser.post(f"/ui/claims/{pk}/rescrub", base_url="https://localhost", follow_redirects=True,
                        data={"csrf_token": csrf(page),
                              "documentation": (io.BytesIO(json.dumps(docs).encode()), "docs.json")})
    assert "goes downstream" in done.get_data(as_text=True)
    with store.transaction() as session:
        assert session.scalar(select(OutboxRow.state).where(OutboxRow.claim_pk == pk)) == "pending"


def test_worklist_filters_by_payer_provider_and_service_month(store, app, browser):
    user(store, "acme", "rita")
    batch = x12_837([
        ClaimSpec("A1", [Line("99458", "20260331"), Line("99470", "20260331")], payer="AETNA"),
        ClaimSpec("A2", [Line("99458", "20260415"), Line("99470", "20260415")], mrn="MRN-2",
                  member_id="MEMBER-2", provider="1999999984")])
    app.test_client().post("/v1/x12/837", data=batch, headers=auth(token(store, "acme", "submitter")))
    log_in(browser, "rita")

    def shown(query: str) -> set[str]:
        page = browser.get(f"/ui/?{query}", base_url="https://localhost").get_data(as_text=True)
        return set(re.findall(r'href="/ui/claims/\d+">([A-Z0-9]+)<', page))

    assert shown("") == {"A1", "A2"}
    assert shown("payer=AETNA") == {"A1"}
    assert shown("provider=1999999984") == {"A2"}
    assert shown("month=2026-04") == {"A2"}
    detail = browser.get("/ui/claims/1", base_url="https://localhost").get_data(as_text=True)
    assert "received by gateway" in detail and "scrubbed by gateway" in detail


@pytest.mark.parametrize("path", ["/ui/claims/{pk}/release", "/ui/claims/{pk}/dismiss",
                                  "/ui/claims/{pk}/rescrub", "/ui/release", "/ui/logout"])
def test_every_form_action_refuses_a_post_without_its_csrf_token(store, app, browser, path):
    user(store, "acme", "rita")
    app.test_client().post("/v1/x12/837", data=BATCH, headers=auth(token(store, "acme", "submitter")))
    log_in(browser, "rita")
    answer = browser.post(path.format(pk=2), base_url="https://localhost",
                          data={"reason": "no token", "claim": "2"})
    assert answer.status_code == 400
    with store.transaction() as session:
        assert session.scalar(select(OutboxRow.state).where(OutboxRow.claim_pk == 2)) == "held"


def test_another_tenants_patient_month_and_exports_stay_hidden(store, app, browser):
    user(store, "other", "oscar")
    app.test_client().post("/v1/x12/837", data=BATCH, headers=auth(token(store, "acme", "submitter")))
    log_in(browser, "oscar")
    assert browser.get("/ui/patients/MRN-1/months/2026-03", base_url="https://localhost").status_code == 404
    exported = browser.get("/ui/worklist.csv", base_url="https://localhost").get_data(as_text=True)
    assert exported.count("\n") == 1  # the header only
    assert "C1" not in browser.get("/ui/findings.csv", base_url="https://localhost").get_data(as_text=True)
    assert "<strong>0</strong> claims held" in browser.get("/ui/dashboard",
                                                          base_url="https://localhost").get_data(as_text=True)


def test_bulk_release_ignores_claim_values_that_are_not_ledger_ids(store, app, browser):
    """The form's claim values are ledger ids: ASCII digits, ten at most. Another script's digits
    (which int() reads) and a number longer than int() converts are not selected, never a 500."""
    user(store, "acme", "rita")
    log_in(browser, "rita")
    worklist = browser.get("/ui/", base_url="https://localhost")
    for value in ["\u0661", "9" * 5000]:
        answer = browser.post("/ui/release", base_url="https://localhost", follow_redirects=True, data={
            "claim": [value], "reason": "contract allows both", "csrf_token": csrf(worklist)})
        assert answer.status_code == 200
        assert "Select held claims and give a reason" in answer.get_data(as_text=True)
