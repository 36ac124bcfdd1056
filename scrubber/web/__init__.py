"""The Flask app: `create_app()` with configuration from SCRUBBER_* environment variables, and
`ClaimScrubber`, the same API mounted into a host Flask application (the EHR plugin).

    SCRUBBER_DATABASE_URL     the ledger (default: SQLite in the instance folder)
    SCRUBBER_INSTANCE_PATH    the instance folder (default ./instance)
    SCRUBBER_PROFILE          payer profile name (default medicare)
    SCRUBBER_MAX_BODY         largest request body in bytes (default 10 MiB)
    SCRUBBER_SECRET_KEY       signs the review UI's session cookies (default: a random key kept
                              in the instance folder, shared by every worker)
    SCRUBBER_INSECURE_COOKIES set to 1 only to use the UI over plain http from another host
    SCRUBBER_RATE_*           rate limits on log-in and token use (scrubber.web.throttle)
"""
from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Request, jsonify, redirect, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api, abort
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import OperationalError

from scrubber.catalogue import catalogue
from scrubber.store import Store, instance_path
from scrubber.web import api as json_api
from scrubber.web import gateway, metrics, ops, ui
from scrubber.web.auth import HostUser, TokenCache
from scrubber.web.throttle import Throttle
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


class _BoundedJSON(DefaultJSONProvider):
    """JSON bodies nested too deeply for the parser are bad input (400), not a server error."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _secure_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/ui/") and response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")  # pages hold patient data
    return response


def _refuse_nul(prefix: str):
    """A NUL character in the path or the query is bad input (400): no identifier carries one, and
    PostgreSQL text cannot hold it. (Bodies are checked where they are read.)"""
    def check():
        if not request.path.startswith(prefix or "/"):
            return None  # the host application's own routes (EHR plugin)
        if "\x00" in request.path or any("\x00" in key or "\x00" in value
                                           for key, values in request.args.lists() for value in values):
            abort(400, message="the request's path or query contains a NUL character")
        return None
    return check


def _ledger_unavailable(prefix: str):
    """The database went away (restart, fail-over, network): 503 with Retry-After. Each claim is
    recorded in its own transaction, so a sender that sends the request again gets the claims
    recorded before the failure answered from the ledger and the rest scrubbed afresh. (The host
    application's own routes, under the EHR plugin, keep their own error handling.)"""
    def handle(error: OperationalError):
        if not request.path.startswith(prefix or "/"):
            raise error
        logging.getLogger("scrubber.web").warning("ledger unavailable on %s %s (%s)", request.method,
                                                  request.path, type(error.orig).__name__)
        headers = {"Retry-After": "2"}
        if request.path.startswith(f"{prefix}/ui/"):
            return render_template("ui/error.html", message="The ledger is unavailable for a moment; "
                                   "try again."), 503, headers
        return jsonify(code=503, status="Service Unavailable",
                       message="the ledger is unavailable for a moment; send the request again"), 503, headers
    return handle


def _install(app: Flask, database_url: str | None, profile: str, prefix: str = "") -> None:
    store = Store(database_url)
    shipped = catalogue()
    app.extensions["scrubber.store"] = store
    app.extensions["scrubber.workflow"] = Workflow(store, shipped, shipped.profile(profile))
    app.extensions["scrubber.tokens"] = TokenCache()
    app.extensions["scrubber.throttle"] = Throttle.from_environment(app.config.get("RATE_LIMITS"))
    api = Api(app)
    for blueprint in (gateway.blp, json_api.blp):
        api.register_blueprint(blueprint, url_prefix=f"{prefix}/v1")
    api.register_blueprint(ops.blp, url_prefix=prefix or None)
    api.register_blueprint(metrics.blp, url_prefix=prefix or None)
    metrics.instrument(app)
    app.before_request(_refuse_nul(prefix))
    app.register_error_handler(OperationalError, _ledger_unavailable(prefix))


def secret_key(folder: Path) -> str:
    """SCRUBBER_SECRET_KEY, else a random key made once and kept in the instance folder (created
    without a race, so gunicorn workers started together share it)."""
    if os.environ.get("SCRUBBER_SECRET_KEY"):
        return os.environ["SCRUBBER_SECRET_KEY"]
    path = folder / "secret_key"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(handle, "w") as out:
        out.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(instance_path().resolve()))
    app.config.update(
        API_TITLE="rpm-claim-scrubber", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/v1", OPENAPI_JSON_PATH="openapi.json", API_SPEC_OPTIONS=_SECURITY,
        SESSION_COOKIE_SECURE=os.environ.get("SCRUBBER_INSECURE_COOKIES") != "1",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_CHECK_DEFAULT=False,  # the UI's forms check it; the token-authenticated API has no cookies
        **_environment())
    app.config.update(config or {})
    app.json = _BoundedJSON(app)
    app.after_request(_secure_headers)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(Path(app.instance_path))
    _install(app, app.config["DATABASE_URL"], app.config["PROFILE"])
    CSRFProtect(app)
    app.register_blueprint(ui.blp)
    app.add_url_rule("/", "index", lambda: redirect(url_for("ui.worklist")))
    return app


class ClaimScrubber:
    """Mount the scrubber's API and review UI into a host Flask application under `prefix`,
    authenticated by the host: `authenticate(request)` returns a HostUser (tenant, role, name) or
    None (401 from the API; the UI then offers its own log-in).

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
        # the review UI under PREFIX/ui: the host's reviewers are signed in by `authenticate`;
        # its forms need the host's SECRET_KEY (sessions) and carry CSRF tokens
        app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
        if "csrf" not in app.extensions:
            CSRFProtect(app)
        app.register_blueprint(ui.blp, url_prefix=f"{self.prefix}/ui")
