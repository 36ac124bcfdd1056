"""schemathesis against /v1/openapi.json (the app in-process over WSGI, on SQLite and PostgreSQL):
requests generated from every operation's schema, valid and invalid, with a valid token and
without, never get a 5xx. (schemathesis' own pytest plugin does not load under pytest 9 here, so
each operation's hypothesis strategy is driven directly.)"""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from scrubber.web import create_app
from tests.test_web import token


@pytest.fixture
def served(store):
    admin = token(store, "acme", "admin")
    app = create_app({"DATABASE_URL": store.engine.url.render_as_string(hide_password=False)})
    yield app, admin
    app.extensions["scrubber.store"].dispose()


def test_every_operation_is_covered_and_none_answers_with_a_server_error(served):
    app, admin = served
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            for headers in ({"Authorization": f"Bearer {admin}"}, {}):
                response = case.call(headers=headers)
                assert response.status_code < 500, (case.method, case.formatted_path,
                                                    response.status_code, response.text[:300])
        no_server_error()
