"""`rpm-scrubber serve`: the service under gunicorn, the ledger migrated on start, optional demo
data and an optional forwarding process. The URL is printed once every worker has loaded the app,
so what connects first is spread over all of them (a client that connected while only the first
worker was up would stay on it for as long as its connection lives)."""
from __future__ import annotations

import gc
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gunicorn.app.base import BaseApplication
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from scrubber.catalogue import catalogue
from scrubber.docjson import load_documentation
from scrubber.store import Credential, Store, Submission, upgrade, utcnow
from scrubber.workflow import Workflow

__all__ = ["DemoLogins", "prepare_demo", "serve", "DEMO_TENANT", "DEMO_REVIEWER"]

DEMO_TENANT, DEMO_REVIEWER = "demo", "reviewer"
# gthread: browsers hold idle and speculative connections open, which would pin a sync worker
# (bench/http_bench.py runs its bare-Flask floor on the same worker class)
WORKER_CLASS, THREADS = "gthread", 4


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
        from scrubber.web.auth import create_token  # (not at the top: see serve)

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
        self.on_ready = on_ready  # post_worker_init: in each worker, once the app is loaded
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key == "control_socket_disable" and key not in self.cfg.settings:
                continue  # gunicorn before 25 has no control socket to turn off
            self.cfg.set(key, value)
        self.cfg.set("post_worker_init", self.on_ready)
        self.cfg.set("child_exit", _worker_exit)

    def load(self):
        from scrubber.web import create_app

        app = create_app()
        # What the worker built to start (the catalogue, the mapped tables and statements, the
        # schemas, the imported modules: about 140,000 objects) lives as long as it does. Frozen,
        # it is left out of the collector's full passes, each of which scanned all of it (60-80 ms,
        # about once per 1,000 submissions) in the middle of whichever request set it off.
        gc.freeze()
        return app


def _empty_folder(name: str) -> Path:
    import shutil

    from scrubber.store import instance_path

    folder = instance_path() / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _metrics_folder() -> None:
    """Workers add up their latency histograms through files in one folder, emptied on start."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_empty_folder("metrics"))


def _announce_once_all_ready(workers: int, lines) -> Callable:
    """A post_worker_init hook: each worker marks itself ready in a folder emptied on start; the
    one that completes the set prints `lines(address)` (once per start, never for a worker that
    replaces a dead one)."""
    folder = _empty_folder("run")

    def ready(worker) -> None:
        (folder / f"ready-{os.getpid()}").touch()
        if len(list(folder.glob("ready-*"))) < workers:
            return
        try:
            os.close(os.open(folder / "announced", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        print("\n".join(lines(worker.sockets[0].getsockname())), file=sys.stdout, flush=True)
    return ready


def _worker_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def serve(host: str, port: int, workers: int, demo: bool, forward: bool) -> None:
    # first: prometheus_client picks its multiprocess mode once, when it is first imported (by
    # scrubber.web), and the workers inherit the choice; imported before this, each worker kept
    # its latency histogram to itself and /metrics showed none
    _metrics_folder()
    from scrubber.store import instance_path
    from scrubber.web import secret_key

    secret_key(instance_path())  # made once, before the workers start
    store = Store()
    upgrade(store)
    warning = store.statistics_warning()
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    logins = prepare_demo(store) if demo else None
    store.dispose()

    def lines(address) -> list[str]:
        bound_host, bound_port = address[:2]
        said = [f"URL: http://{bound_host}:{bound_port}",
                f"API: http://{bound_host}:{bound_port}/v1/openapi.json"]
        if logins is not None:
            said += [f"Reviewer: {logins.reviewer} / {logins.password}",
                     f"Submitter token: {logins.token}"]
        if forward:
            said.append(f"Forwarding: on (worker process {forwarder.pid})")
        return said

    options = {"bind": f"{host}:{port}", "workers": workers, "worker_class": WORKER_CLASS, "threads": THREADS,
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
    _Gunicorn(options, _announce_once_all_ready(workers, lines)).run()
