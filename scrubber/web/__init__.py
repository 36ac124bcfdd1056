"""The Flask app: `create_app()` with configuration from SCRUBBER_* environment variables.

    SCRUBBER_DATABASE_URL     the ledger (default: SQLite in the instance folder)
    SCRUBBER_INSTANCE_PATH    the instance folder (default ./instance)
    SCRUBBER_PROFILE          payer profile name (default medicare)
    SCRUBBER_MAX_BODY         largest request body in bytes (default 10 MiB)
"""
from __future__ import annotations

import os

from flask import Flask
from flask_smorest import Api

from scrubber.catalogue import catalogue
from scrubber.store import Store, instance_path
from scrubber.web import api as json_api
from scrubber.web import gateway, metrics, ops
from scrubber.web.auth import TokenCache
from scrubber.workflow import Workflow

__all__ = ["create_app"]

DEFAULT_MAX_BODY = 10 * 1024 * 1024


def _environment() -> dict:
    return {
        "DATABASE_URL": os.environ.get("SCRUBBER_DATABASE_URL"),
        "PROFILE": os.environ.get("SCRUBBER_PROFILE", "medicare"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("SCRUBBER_MAX_BODY", DEFAULT_MAX_BODY)),
    }


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(instance_path().resolve()))
    app.config.update(
        API_TITLE="rpm-claim-scrubber", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/v1", OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]},
        **_environment())
    app.config.update(config or {})
    store = Store(app.config["DATABASE_URL"])
    shipped = catalogue()
    app.extensions["scrubber.store"] = store
    app.extensions["scrubber.workflow"] = Workflow(store, shipped, shipped.profile(app.config["PROFILE"]))
    app.extensions["scrubber.tokens"] = TokenCache()
    api = Api(app)
    api.register_blueprint(gateway.blp)
    api.register_blueprint(json_api.blp)
    api.register_blueprint(ops.blp)
    api.register_blueprint(metrics.blp)
    metrics.instrument(app)
    return app
