"""The Flask app: `create_app()` with configuration from SCRUBBER_* environment variables, and
`ClaimScrubber`, the same API mounted into a host Flask application (the EHR plugin).

    SCRUBBER_DATABASE_URL     the ledger (default: SQLite in the instance folder)
    SCRUBBER_INSTANCE_PATH    the instance folder (default ./instance)
    SCRUBBER_PROFILE          payer profile name (default medicare)
    SCRUBBER_MAX_BODY         largest request body in bytes (default 10 MiB)
"""
from __future__ import annotations

import os
from collections.abc import Callable

from flask import Flask, Request
from flask_smorest import Api

from scrubber.catalogue import catalogue
from scrubber.store import Store, instance_path
from scrubber.web import api as json_api
from scrubber.web import gateway, metrics, ops
from scrubber.web.auth import HostUser, TokenCache
from scrubber.workflow import Workflow

__all__ = ["create_app", "ClaimScrubber", "HostUser"]

DEFAULT_MAX_BODY = 10 * 1024 * 1024
_SECURITY = {"components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
             "security": [{"bearer": []}]}


def _environment() -> dict:
    return {
        "DATABASE_URL": os.environ.get("SCRUBBER_DATABASE_URL"),
        "PROFILE": os.environ.get("SCRUBBER_PROFILE", "medicare"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("SCRUBBER_MAX_BODY", DEFAULT_MAX_BODY)),
    }


def _install(app: Flask, database_url: str | None, profile: str, prefix: str = "") -> None:
    store = Store(database_url)
    shipped = catalogue()
    app.extensions["scrubber.store"] = store
    app.extensions["scrubber.workflow"] = Workflow(store, shipped, shipped.profile(profile))
    app.extensions["scrubber.tokens"] = TokenCache()
    api = Api(app)
    for blueprint in (gateway.blp, json_api.blp):
        api.register_blueprint(blueprint, url_prefix=f"{prefix}/v1")
    api.register_blueprint(ops.blp, url_prefix=prefix or None)
    api.register_blueprint(metrics.blp, url_prefix=prefix or None)
    metrics.instrument(app)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(instance_path().resolve()))
    app.config.update(
        API_TITLE="rpm-claim-scrubber", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/v1", OPENAPI_JSON_PATH="openapi.json", API_SPEC_OPTIONS=_SECURITY,
        **_environment())
    app.config.update(config or {})
    _install(app, app.config["DATABASE_URL"], app.config["PROFILE"])
    return app


class ClaimScrubber:
    """Mount the scrubber's API into a host Flask application under `prefix`, authenticated by the
    host: `authenticate(request)` returns a HostUser (tenant, role, name) or None (401).

        app = Flask(__name__)
        ClaimScrubber(app, prefix="/billing", authenticate=lambda request: current_user_as_host_user())

    The ledger is SCRUBBER_DATABASE_URL (or `database_url`); create it with `rpm-scrubber db
    upgrade`. A tenant the host names is created in the ledger on first use. Bearer tokens still
    work when `authenticate` returns None."""

    def __init__(self, app: Flask | None = None, *, prefix: str = "/scrubber",
                 authenticate: Callable[[Request], HostUser | None] | None = None,
                 database_url: str | None = None, profile: str | None = None):
        self.prefix = prefix.rstrip("/")
        self.authenticate = authenticate
        self.database_url = database_url
        self.profile = profile
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        for key, value in (("API_TITLE", "rpm-claim-scrubber"), ("API_VERSION", "v1"),
                           ("OPENAPI_VERSION", "3.0.3"), ("OPENAPI_URL_PREFIX", f"{self.prefix}/v1"),
                           ("OPENAPI_JSON_PATH", "openapi.json"), ("API_SPEC_OPTIONS", _SECURITY)):
            app.config.setdefault(key, value)
        environment = _environment()
        app.config.setdefault("MAX_CONTENT_LENGTH", environment["MAX_CONTENT_LENGTH"])
        _install(app, self.database_url or environment["DATABASE_URL"],
                 self.profile or environment["PROFILE"], self.prefix)
        if self.authenticate is not None:
            app.extensions["scrubber.authenticate"] = self.authenticate
