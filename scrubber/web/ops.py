"""Liveness and readiness."""
from __future__ import annotations

from flask import current_app, jsonify
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from scrubber.store import migration_status

blp = Blueprint("ops", __name__, description="Health of the service.")


@blp.route("/healthz")
def healthz():
    """The process is up."""
    return jsonify({"status": "ok"})


@blp.route("/readyz")
def readyz():
    """The database answers and its schema is at the newest migration."""
    store = current_app.extensions["scrubber.store"]
    try:
        with store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, head = migration_status(store)
    except SQLAlchemyError as error:
        return jsonify({"status": "unavailable", "database": type(error).__name__}), 503
    if current != head:
        return jsonify({"status": "unavailable", "migrations": {"current": current, "head": head}}), 503
    return jsonify({"status": "ok", "migrations": {"current": current, "head": head}})
