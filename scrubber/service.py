"""`rpm-scrubber serve`: the service under gunicorn, the ledger migrated on start, optional demo
data and an optional forwarding thread."""
from __future__ import annotations

import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources

from gunicorn.app.base import BaseApplication
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from scrubber.catalogue import catalogue
from scrubber.docjson import load_documentation
from scrubber.store import Credential, Store, Submission, upgrade, utcnow
from scrubber.web.auth import create_token
from scrubber.workflow import Workflow

__all__ = ["DemoLogins", "prepare_demo", "serve", "DEMO_TENANT", "DEMO_REVIEWER"]

DEMO_TENANT, DEMO_REVIEWER = "demo", "reviewer"


@dataclass(frozen=True)
class DemoLogins:
    reviewer: str
    password: str
    token: str


def prepare_demo(store: Store) -> DemoLogins:
    """The demo tenant with the shipped documentation and claims (loaded once), a reviewer login
    with a fresh password and a fresh submitter token (older demo tokens are revoked)."""
    folder = resources.files("scrubber.demo")
    with store.transaction() as session:
        tenant = store.tenant(session, DEMO_TENANT, create=True)
        first_time = not session.scalar(select(func.count()).select_from(Submission)
                                        .where(Submission.tenant_id == tenant.id))
        if first_time:
            documentation = load_documentation((folder / "documentation.json").read_text("utf-8"))
            store.add_all_documentation(session, tenant, documentation)
        password = secrets.token_urlsafe(12)
        login = session.scalar(select(Credential).where(
            Credential.tenant_id == tenant.id, Credential.kind == "password",
            Credential.name == DEMO_REVIEWER))
        if login is None:
            login = Credential(tenant_id=tenant.id, kind="password", name=DEMO_REVIEWER, role="reviewer",
                               secret_hash="")
            session.add(login)
        login.secret_hash = generate_password_hash(password)
        for old in session.scalars(select(Credential).where(
                Credential.tenant_id == tenant.id, Credential.kind == "token",
                Credential.name.like("demo-submitter%"), Credential.revoked_at.is_(None))):
            old.revoked_at = utcnow()
        token = create_token(store, session, tenant, f"demo-submitter-{secrets.token_hex(3)}", "submitter")
    if first_time:
        shipped = catalogue()
        flow = Workflow(store, shipped, shipped.profiles["medicare"])
        for name in ("batch.837", "dft_p03.hl7"):
            flow.submit(DEMO_TENANT, (folder / name).read_bytes(), f"demo:{name}")
    return DemoLogins(DEMO_REVIEWER, password, token)


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict, on_ready):
        self.options = options
        self.on_ready = on_ready
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key == "control_socket_disable" and key not in self.cfg.settings:
                continue  # gunicorn before 25 has no control socket to turn off
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self.on_ready)
        self.cfg.set("child_exit", _worker_exit)

    def load(self):
        from scrubber.web import create_app

        return create_app()


def _metrics_folder() -> None:
    """Workers add up their latency histograms through files in one folder, emptied on start."""
    import os
    import shutil

    from scrubber.store import instance_path

    folder = instance_path() / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _worker_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def serve(host: str, port: int, workers: int, demo: bool, forward: bool) -> None:
    from scrubber.store import instance_path
    from scrubber.web import secret_key

    _metrics_folder()
    secret_key(instance_path())  # made once, before the workers start
    store = Store()
    upgrade(store)
    logins = prepare_demo(store) if demo else None
    store.dispose()

    def ready(server) -> None:
        bound_host, bound_port = server.LISTENERS[0].getsockname()[:2]
        lines = [f"URL: http://{bound_host}:{bound_port}",
                 f"API: http://{bound_host}:{bound_port}/v1/openapi.json"]
        if logins is not None:
            lines += [f"Reviewer: {logins.reviewer} / {logins.password}",
                      f"Submitter token: {logins.token}"]
        if forward:
            lines.append(f"Forwarding: on (worker process {forwarder.pid})")
        print("\n".join(lines), file=sys.stdout, flush=True)

    # gthread: browsers hold idle and speculative connections open, which would pin a sync worker
    options = {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": 4,
               "accesslog": None,
               "errorlog": "-", "loglevel": "info", "proc_name": "rpm-scrubber",
               "graceful_timeout": 30, "timeout": 120,
               "control_socket_disable": True}  # several services may run on one machine
    # Forwarding runs in a process of its own beside gunicorn: a thread in gunicorn's master would
    # be copied, with whatever locks it held, into every worker forked after it started.
    forwarder = subprocess.Popen([sys.executable, "-m", "scrubber.cli", "worker"]) if forward else None

    def stop_forwarding(server) -> None:
        if forwarder is not None:
            forwarder.send_signal(signal.SIGTERM)
            try:
                forwarder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                forwarder.kill()

    options["on_exit"] = stop_forwarding
    _Gunicorn(options, ready).run()
