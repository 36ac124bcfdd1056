"""The command line: `rpm-scrubber check`, `demo` and `rules`."""
from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from datetime import datetime
from importlib import resources
from pathlib import Path

import click

from scrubber.answers import Decision, answer_hl7, answer_x12, stamps_from
from scrubber.catalogue import Profile, ProfileError, catalogue, parse_profile
from scrubber.checker import Checker, ClaimResult
from scrubber.docjson import DocumentationError, load_documentation
from scrubber.documentation import Documentation
from scrubber.inputs import Input, InputError, collector_paused, read_input
from scrubber.mllp import DEFAULT_MAX_FRAME, checker_answers, workflow_answers
from scrubber.mllp import serve as serve_mllp
from scrubber.report import Report, rule_table

PROGRESS_ABOVE = 200


class _UsageFailure(click.ClickException):
    """Exit status 2 with a one-line message and no results."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"rpm-scrubber: error: {self.format_message()}", err=True)


def _read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as error:
        raise _UsageFailure(f"{name}: cannot read ({error.strerror or error})") from None


def _profile(name: str) -> Profile:
    shipped = catalogue()
    if name in shipped.profiles:
        return shipped.profiles[name]
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        try:
            return parse_profile(path.read_text("utf-8"), shipped.rules, shipped.codes)
        except (ProfileError, UnicodeDecodeError) as error:
            raise _UsageFailure(f"{name}: {error}") from None
    try:
        return shipped.profile(name)
    except ProfileError as error:
        raise _UsageFailure(str(error)) from None


def _documentation(paths: tuple[str, ...]) -> Documentation:
    documentation = Documentation()
    for name in paths:
        try:
            text = _read_bytes(name).decode("utf-8-sig")
            documentation = documentation.combined(load_documentation(text))
        except UnicodeDecodeError:
            raise _UsageFailure(f"{name}: documentation is not UTF-8 text") from None
        except DocumentationError as error:
            first_path, first_message = error.errors[0]
            more = f" (and {len(error.errors) - 1} more)" if len(error.errors) > 1 else ""
            raise _UsageFailure(f"{name}: invalid documentation at {first_path}: "
                                f"{first_message}{more}") from None
    return documentation


def run_check(files, docs, profile_name, keep_segments: bool = False, report: Report | None = None,
              keep_results: bool = True) -> tuple[list[Input], list[ClaimResult]]:
    """Read and recognise every file, then check every claim in order, handing each result to
    `report` as it comes. Results are returned only when kept (the acknowledgements need them);
    otherwise each claim is let go once checked, so memory holds the history, not the batch."""
    profile = _profile(profile_name)
    documentation = _documentation(tuple(docs))
    inputs = []
    for name in files:
        try:
            inputs.append(read_input(_read_bytes(name), name, keep_segments, batch=True))
        except InputError as error:
            raise _UsageFailure(str(error)) from None
    items = [item for read in inputs for item in read.items]
    if not keep_results:
        for read in inputs:
            read.items = []
    checker = Checker(catalogue(), profile, documentation)
    results: list[ClaimResult] = []
    show = sys.stderr.isatty() and len(items) > PROGRESS_ABOVE
    with click.progressbar(length=len(items), label="checking claims", file=sys.stderr,
                           hidden=not show) as bar, collector_paused():
        for index in range(len(items)):
            item, items[index] = items[index], None
            result = checker.check(item)
            bar.update(1)
            if result is None:
                continue
            if report is not None:
                report.add(result)
            if keep_results:
                results.append(result)
    return inputs, results


def _output_name(directory: Path, source: str, suffix: str, taken: set[Path]) -> Path:
    stem = "stdin" if source == "-" else Path(source).name
    path = directory / f"{stem}{suffix}"
    number = 1
    while path in taken:
        number += 1
        path = directory / f"{stem}.{number}{suffix}"
    taken.add(path)
    return path


def write_answers(inputs: list[Input], results: list[ClaimResult], acks: str | None,
                  split: str | None) -> None:
    """Write each X12 file's TA1, 999 and 277CA into ACKS and its outbound 837P into SPLIT, and
    each HL7 file's ACKs (one per message, in order) into ACKS as NAME.ack."""
    by_claim = {id(result.claim): result for result in results if result.claim is not None}

    def decide(claim):
        result = by_claim[id(claim)]
        return Decision(result.verdict, result.findings)

    stamps = stamps_from(datetime.now().astimezone(), int(time.time()) % 10**9)
    taken: set[Path] = set()
    for directory in filter(None, (acks, split)):
        Path(directory).mkdir(parents=True, exist_ok=True)
    for read in inputs:
        if read.messages is not None:
            if acks and read.messages:
                text = "".join(answer_hl7(read.messages, decide, stamps))
                _output_name(Path(acks), read.source, ".ack", taken).write_text(text, "utf-8")
            continue
        if read.batch is None:
            continue
        if read.batch.fatal is not None:
            click.echo(f"rpm-scrubber: {read.source}: no acknowledgement, there is no interchange to "
                       f"answer ({read.batch.fatal.message})", err=True)
            continue
        answers = answer_x12(read.batch, decide, catalogue(), stamps)
        if acks:
            for suffix, text in ((".ta1", answers.ta1), (".999", answers.ack999), (".277", answers.ack277)):
                if text:
                    _output_name(Path(acks), read.source, suffix, taken).write_text(text, "utf-8")
        if split and answers.outbound:
            _output_name(Path(split), read.source, "", taken).write_text(answers.outbound, "utf-8")


def tune_gc() -> None:
    """Run the cyclic garbage collector every 50,000 allocations instead of every 700, for a batch
    (`check`). A batch builds hundreds of thousands of long-lived segments and claims, and at the
    default the collector walks them again and again (a third of the read time at 10,000 claims);
    the scrubber makes few reference cycles, so little garbage waits longer. Reading X12 and
    checking claims make none at all, and run with the collector paused altogether
    (inputs.collector_paused); this threshold is for the rest (documentation, HL7).

    Not for the long-running commands (serve, mllp, worker): each request's database session
    leaves cyclic garbage, and at 50,000 that of about a thousand requests was freed in one
    pass of 70-100 ms in the middle of a request, where the default frees it in passes of under
    a millisecond."""
    gc.set_threshold(50_000, 10, 10)


@click.group()
@click.version_option(package_name="rpm-claim-scrubber")
def main() -> None:
    """Claim scrubber for Remote Physiologic Monitoring (RPM) billing."""


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--docs", "docs", multiple=True, help="Documentation JSON (version 1); repeatable.")
@click.option("--profile", "profile_name", default="medicare", show_default=True,
              help="Payer profile name, or a profile TOML file.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--db", default=None, help="Check against the service's ledger (service only).")
@click.option("--acks", type=click.Path(file_okay=False), default=None,
              help="Write the acknowledgements into DIR.")
@click.option("--split", type=click.Path(file_okay=False), default=None,
              help="Write the outbound 837P into DIR.")
def check(files, docs, profile_name, output, db, acks, split) -> None:
    """Check claims in X12 837P or HL7 DFT^P03 FILES ('-' for stdin)."""
    tune_gc()
    if db is not None:
        raise _UsageFailure("--db is not available in this version yet")
    answers = bool(acks or split)
    report = Report(sys.stdout, output)
    inputs, results = run_check(files, docs, profile_name, keep_segments=answers, report=report,
                                keep_results=answers)
    report.close()
    if answers:
        write_answers(inputs, results, acks, split)
    if report.blocked:
        sys.exit(1)


@main.group()
def db() -> None:
    """The service's ledger (SCRUBBER_DATABASE_URL, else SQLite in the instance folder)."""


@db.command("purge")
@click.option("--days", type=int, default=None,
              help="Keep raw messages this many days (default SCRUBBER_RAW_RETENTION_DAYS).")
def db_purge(days) -> None:
    """Drop the verbatim text of messages older than the retention period (decisions stay)."""
    import os
    from datetime import timedelta

    days = days if days is not None else os.environ.get("SCRUBBER_RAW_RETENTION_DAYS")
    if days is None:
        raise _UsageFailure("give --days or set SCRUBBER_RAW_RETENTION_DAYS")
    store = _ledger()
    with store.transaction() as session:
        purged = store.purge_raw(session, timedelta(days=int(days)))
    store.dispose()
    click.echo(f"purged the raw text of {purged} message(s) older than {days} days")


def _ledger():
    """The service's store, refusing a database whose schema is not current."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from scrubber.store import Store, migration_status

    store = Store()
    shown = make_url(store.url).render_as_string(hide_password=True)
    try:
        current, head = migration_status(store)
    except SQLAlchemyError as error:
        store.dispose()
        raise _UsageFailure(f"{shown}: {type(error).__name__}: {str(error).splitlines()[0]}") from None
    if current != head:
        store.dispose()
        raise _UsageFailure(f"{shown}: the ledger is at revision {current or 'none'}, this version needs "
                            f"{head}: run rpm-scrubber db upgrade")
    return store


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the ledger or bring its schema up to date."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from scrubber.store import Store, migration_status, upgrade

    store = Store()
    shown = make_url(store.url).render_as_string(hide_password=True)
    try:
        upgrade(store)
        current, _ = migration_status(store)
        warning = store.statistics_warning()
    except SQLAlchemyError as error:
        raise _UsageFailure(f"{shown}: {type(error).__name__}: {str(error).splitlines()[0]}") from None
    finally:
        store.dispose()
    click.echo(f"{shown}: schema at revision {current}")
    if warning:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port (0 picks a free one).")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--demo", is_flag=True, help="Load the demo tenant and print a reviewer login and a "
                                           "submitter token.")
@click.option("--forward", is_flag=True, help="Also run a forwarding worker process "
                                              "(SCRUBBER_DOWNSTREAM_URL).")
def serve(host, port, workers, demo, forward) -> None:
    """Run the service (gunicorn); the ledger is created or migrated first."""
    from sqlalchemy.exc import SQLAlchemyError

    from scrubber.service import serve as run

    if forward:
        _downstream_or_fail()
    try:
        run(host, port, workers, demo, forward)
    except SQLAlchemyError as error:
        raise _UsageFailure(f"the database is not usable: {str(error).splitlines()[0]}") from None


def _downstream_or_fail() -> None:
    from scrubber.forwarder import from_environment

    try:
        from_environment().store.dispose()
    except ValueError as error:
        raise _UsageFailure(str(error)) from None


@main.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--interval", default=1.0, show_default=True, type=float,
              help="Seconds between passes when idle.")
def worker(once, interval) -> None:
    """Deliver the outbox to SCRUBBER_DOWNSTREAM_URL until SIGTERM."""
    import signal
    import threading

    from scrubber.forwarder import from_environment

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        forwarder = from_environment(_ledger())
    except ValueError as error:
        raise _UsageFailure(str(error)) from None
    if once:
        click.echo(f"attempted {forwarder.run_once(limit=10_000)} deliveries")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("rpm-scrubber worker: forwarding", err=True)
    forwarder.run(stop, interval)


@main.group()
def users() -> None:
    """Review UI logins (username and password; reviewer or admin)."""


def _new_password(from_stdin: bool) -> str:
    import secrets

    if not from_stdin:
        return secrets.token_urlsafe(12)
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise _UsageFailure("a password needs at least 12 characters")
    return password


@users.command("create")
@click.option("--tenant", required=True, help="Tenant name (created when new).")
@click.option("--role", required=True, type=click.Choice(["reviewer", "admin"]))
@click.option("--name", required=True, help="The username (unique across tenants).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of "
                                                     "generating one.")
def users_create(tenant, role, name, password_stdin) -> None:
    """Create a login and print its password (generated unless given on stdin)."""
    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from scrubber.store import Credential

    password = _new_password(password_stdin)
    store = _ledger()
    with store.transaction() as session:
        taken = select(Credential.id).where(Credential.kind == "password", Credential.name == name)
        if session.scalar(taken):
            raise _UsageFailure(f"the username {name!r} is taken")
        found = store.tenant(session, tenant, create=True)
        session.add(Credential(tenant_id=found.id, kind="password", name=name, role=role,
                               secret_hash=generate_password_hash(password)))
        store.audit(session, found, "cli", "user-created", f"user {name}", role=role)
    store.dispose()
    click.echo(password if not password_stdin else f"user {name} created")


@users.command("reset-password")
@click.option("--name", required=True, help="The username.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
def users_reset_password(name, password_stdin) -> None:
    """Set a new password (and lift a lock-out); prints it unless given on stdin."""
    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from scrubber.store import Credential, Tenant

    password = _new_password(password_stdin)
    store = _ledger()
    with store.transaction() as session:
        row = session.scalar(select(Credential).where(Credential.kind == "password", Credential.name == name))
        if row is None:
            raise _UsageFailure(f"no user {name!r}")
        row.secret_hash, row.failed_logins, row.locked_until = generate_password_hash(password), 0, None
        store.audit(session, session.get(Tenant, row.tenant_id), "cli", "password-reset", f"user {name}")
    store.dispose()
    click.echo(password if not password_stdin else f"password of {name} reset")


@main.group()
def tokens() -> None:
    """Bearer tokens for the HTTP API (each bound to one tenant and one role)."""


@tokens.command("create")
@click.option("--tenant", required=True, help="Tenant name (created when new).")
@click.option("--role", required=True, type=click.Choice(["submitter", "reviewer", "admin"]))
@click.option("--name", required=True, help="What the token is for (shown in lists and audit).")
def tokens_create(tenant, role, name) -> None:
    """Create a token and print it (it is shown this once; only its hash is kept)."""
    from sqlalchemy.exc import IntegrityError

    from scrubber.web.auth import create_token

    store = _ledger()
    try:
        with store.transaction() as session:
            token = create_token(store, session, store.tenant(session, tenant, create=True), name, role)
    except IntegrityError:
        raise _UsageFailure(f"tenant {tenant!r} already has a token named {name!r}") from None
    finally:
        store.dispose()
    click.echo(token)


@tokens.command("list")
@click.option("--tenant", required=True)
def tokens_list(tenant) -> None:
    """The tenant's tokens: id, role, name, created, revoked."""
    from scrubber.web.auth import list_tokens

    store = _ledger()
    with store.transaction() as session:
        found = store.tenant(session, tenant)
        if found is None:
            raise _UsageFailure(f"no tenant {tenant!r}")
        for row in list_tokens(session, found):
            revoked = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "-"
            click.echo(f"{row.id}\t{row.role}\t{row.name}\t"
                       f"{row.created_at.isoformat(timespec='seconds')}\t{revoked}")
    store.dispose()


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id) -> None:
    """Revoke a token by its id (effective within a minute in running processes)."""
    from scrubber.web.auth import revoke_token

    store = _ledger()
    with store.transaction() as session:
        done = revoke_token(store, session, token_id)
    store.dispose()
    if not done:
        raise _UsageFailure(f"no active token with id {token_id}")
    click.echo(f"token {token_id} revoked")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2575, show_default=True, type=int, help="Port (0 picks a free one).")
@click.option("--docs", "docs", multiple=True, help="Documentation JSON (version 1); repeatable.")
@click.option("--profile", "profile_name", default="medicare", show_default=True,
              help="Payer profile name, or a profile TOML file.")
@click.option("--max-frame", default=DEFAULT_MAX_FRAME, show_default=True, type=int,
              help="Largest frame accepted, in bytes.")
@click.option("--tenant", default=None, help="Record and check through the service's ledger as this "
                                             "tenant (SCRUBBER_DATABASE_URL); without it, in memory.")
def mllp(host, port, docs, profile_name, max_frame, tenant) -> None:
    """Listen for HL7 v2 messages over MLLP and answer each with an ACK."""
    if tenant is not None:
        from scrubber.workflow import Workflow

        if docs:
            raise _UsageFailure("--docs is for in-memory checks; send documentation to the ledger")
        store = _ledger()
        with store.transaction() as session:
            if store.tenant(session, tenant) is None:
                raise _UsageFailure(f"no tenant {tenant!r} in the ledger (rpm-scrubber tokens create "
                                    "--tenant creates one)")
        answer = workflow_answers(Workflow(store, catalogue(), _profile(profile_name)), tenant)
    else:
        answer = checker_answers(Checker(catalogue(), _profile(profile_name), _documentation(tuple(docs))))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def ready(address: str, bound: int) -> None:
        click.echo(f"rpm-scrubber mllp: listening on {address}:{bound}", err=True)

    try:
        asyncio.run(serve_mllp(answer, host, port, max_frame, ready))
    except OSError as error:
        raise _UsageFailure(f"cannot listen on {host}:{port} ({error.strerror or error})") from None


@main.command()
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def demo(output) -> None:
    """Check the demo set shipped with the package and print the report."""
    folder = resources.files("scrubber.demo")
    with resources.as_file(folder) as path:
        files = [str(path / "batch.837"), str(path / "dft_p03.hl7")]
        report = Report(sys.stdout, output)
        run_check(files, [str(path / "documentation.json")], "medicare", report=report, keep_results=False)
        report.close()
    if output == "text":
        click.echo("\nThis was the demo set shipped in scrubber/demo/. Check your own files with:\n"
                   "  rpm-scrubber check --docs DOCUMENTATION.json FILE...")


@main.command()
def rules() -> None:
    """Print the rule table (Markdown), generated from the rule catalogue."""
    click.echo(rule_table(catalogue()))


if __name__ == "__main__":
    main()
