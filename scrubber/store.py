"""The store: the ledger on SQLAlchemy 2, the only module that talks to the database.

SQLite by default (a file in the instance folder, WAL mode, writers serialized with BEGIN
IMMEDIATE); PostgreSQL through `SCRUBBER_DATABASE_URL` (`postgresql+psycopg://...`), where a
patient is serialized by a row lock (SELECT ... FOR UPDATE). The schema is created and changed only
by the Alembic migrations in `scrubber/migrations` (`rpm-scrubber db upgrade`).
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections import namedtuple
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import NamedTuple

from psycopg.types.json import Json
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
    any_,
    bindparam,
    case,
    cast,
    column,
    create_engine,
    delete,
    event,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, defer, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from scrubber.documentation import (
    Consent,
    Episode,
    Interaction,
    PatientRecord,
    Performer,
    Reading,
    TimeEntry,
)

__all__ = ["Base", "ClaimFinding", "Store", "TenantRef", "database_url", "instance_path", "utcnow",
           "upgrade", "migration_status"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def instance_path() -> Path:
    """Where the embedded database lives: SCRUBBER_INSTANCE_PATH, else ./instance."""
    return Path(os.environ.get("SCRUBBER_INSTANCE_PATH") or Path.cwd() / "instance")


def database_url() -> str:
    """SCRUBBER_DATABASE_URL, else the SQLite file in the instance folder."""
    return os.environ.get("SCRUBBER_DATABASE_URL") or f"sqlite:///{instance_path() / 'scrubber.sqlite3'}"


class UTCDateTime(TypeDecorator):
    """A moment in UTC on every backend: SQLite keeps no offset, so values are stored as UTC and
    always read back as aware datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC) if value is not None and dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mode: Mapped[str] = mapped_column(String(10), default="enforce")  # enforce | monitor
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Credential(Base):
    """A bearer token or a reviewer's password, stored as a slow hash only."""

    __tablename__ = "credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # token | password
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))  # submitter | reviewer | admin
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "name"),)


class Patient(Base):
    """One patient of a tenant, found by MRN, else member id; the row a claim's check locks."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    mrn: Mapped[str | None] = mapped_column(String(80), nullable=True)
    member_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    documented: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("tenant_id", "mrn"),
                      Index("ix_patients_member", "tenant_id", "member_id"),
                      # a patient known only by member id is one row, however many claims race
                      Index("uq_patients_member_without_mrn", "tenant_id", "member_id", unique=True,
                            postgresql_where=text("mrn IS NULL"), sqlite_where=text("mrn IS NULL")))


class TimeEntryRow(Base):
    __tablename__ = "time_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    entry_id: Mapped[str] = mapped_column(String(120))
    program: Mapped[str] = mapped_column(String(10))
    date: Mapped[date] = mapped_column(Date)
    minutes: Mapped[float] = mapped_column(Float)
    start: Mapped[time | None] = mapped_column(Time, nullable=True)
    performer_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    performer_role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    activity: Mapped[str | None] = mapped_column(Text, nullable=True)
    interaction_mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    interaction_with: Mapped[str | None] = mapped_column(String(20), nullable=True)
    __table_args__ = (UniqueConstraint("tenant_id", "entry_id", "program"),)


class ReadingRow(Base):
    __tablename__ = "readings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    date: Mapped[date] = mapped_column(Date)
    transmission: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(40), default="")
    device_id: Mapped[str] = mapped_column(String(80), default="")
    __table_args__ = (UniqueConstraint("patient_id", "date", "transmission", "kind", "device_id"),)


class ConsentRow(Base):
    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    date: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(40), default="")
    __table_args__ = (UniqueConstraint("patient_id", "date", "method"),)


class EpisodeRow(Base):
    __tablename__ = "episodes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    program: Mapped[str] = mapped_column(String(10))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date, nullable=True)
    __table_args__ = (UniqueConstraint("patient_id", "program", "start"),)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    control_number: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("tenant_id", "control_number"),)


class Submission(Base):
    """A message as received, kept verbatim (until retention purges `raw`)."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # x12 | hl7
    source: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(10))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClaimRow(Base):
    """A claim with its decision. `in_history` marks the claims that went downstream (or were
    released): the history later claims of the patient are checked against, in `id` order."""

    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), nullable=True, index=True)
    claim_id: Mapped[str] = mapped_column(String(80), default="")
    billing_provider: Mapped[str] = mapped_column(String(80), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(10))
    verdict: Mapped[str] = mapped_column(String(10))  # pass | flag | block
    status: Mapped[str] = mapped_column(String(12))  # forwarded | held | released | rejected
    in_history: Mapped[bool] = mapped_column(Boolean, default=False)
    rule_set_version: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    findings: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # a flag reviewed
    # initials only (the worklist masks names); the full name stays in the message as received
    patient_initials: Mapped[str] = mapped_column(String(4), default="", server_default="")
    __table_args__ = (
        UniqueConstraint("tenant_id", "billing_provider", "claim_id", "content_hash",
                         name="uq_claims_resend"),
        Index("ix_claims_lookup", "tenant_id", "claim_id", "billing_provider"),
    )


class ClaimFinding(Base):
    """One finding of a claim, kept beside the claim's `findings` (what is shown, in order) so that
    the listings filter by rule and severity in the database: the claim's ledger id, the finding's
    position in that list, its rule and severity. Written with the claim, replaced when a
    reviewer has it checked again (Store.add_claim, Store.replace_findings)."""

    __tablename__ = "claim_findings"
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    rule: Mapped[str] = mapped_column(String(80))
    severity: Mapped[str] = mapped_column(String(10))  # block | flag | info
    __table_args__ = (
        Index("ix_claim_findings_rule", "tenant_id", "rule", "claim_pk"),
        Index("ix_claim_findings_tenant", "tenant_id", "claim_pk"),
    )


class ClaimLineRow(Base):
    __tablename__ = "claim_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    date_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    date_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    charge: Mapped[str | None] = mapped_column(String(20), nullable=True)
    credit: Mapped[bool] = mapped_column(Boolean, default=False)


class Acknowledgement(Base):
    __tablename__ = "acknowledgements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # ta1 | 999 | 277 | ack
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxRow(Base):
    """A claim waiting to go downstream; the idempotency key travels with every delivery."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    # held (waiting for a reviewer) | pending | delivered | dead
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)


class Release(Base):
    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Counter(Base):
    """Named counters (acknowledgement control numbers)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Append-only: rows are added, never updated or deleted (no code path does)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class _Direct:
    """PostgreSQL: a statement of the single-claim submission path sent straight to the session's
    psycopg connection, in the session's transaction. SQLAlchemy writes its SQL, compiled once for
    the engine's dialect; what is skipped is SQLAlchemy's work at every execution (cache key,
    execution context, parameter and result processing), which cost the worker more than the
    driver did (bench/submission_bench.py). So values go in as the driver takes them (JSON columns
    wrapped in psycopg's Json, lists as arrays, moments aware), rows come back as named tuples with
    JSON already decoded; a driver error is handled as SQLAlchemy handles its own (wrapped in its
    exception class, parameters hidden, the connection and pool invalidated when the connection
    was lost), so callers see what Session.execute would have raised."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self._compiled: tuple[str, dict] | None = None  # the SQL, and the values the statement holds
        # what makes a row from the driver's tuple, or _NO_ROWS: learnt from the first execution
        # (a statement's columns never change; psycopg's own named-tuple rows looked the class up
        # again for every result, which cost more than making the rows)
        self._shape = None

    def rows(self, session: Session, values: dict) -> list:
        """The rows the statement gives (none for a statement that returns nothing)."""
        if _CLAIM_KEY in session.info:  # a claim held back for the commit: it goes first
            _write_claim(session)
        connection, cursor = session.info.get(_DRIVER_KEY) or _driver(session)
        if self._compiled is None:
            compiled = self.statement.compile(dialect=connection.dialect)
            self._compiled = compiled.string, {name: value for name, value in compiled.params.items()
                                               if value is not None}
        sql, held = self._compiled
        if held:
            values = {**held, **values}
        hooks = connection.dispatch.before_cursor_execute
        if hooks:  # the engine's listeners see these statements too (a bench counting them)
            hooks(connection, cursor, sql, values, None, False)
        try:
            cursor.execute(sql, values)
            shape = self._shape
            if shape is None:
                columns = cursor.description
                self._shape = shape = (_NO_ROWS if columns is None else
                                       namedtuple("Row", [column.name for column in columns])._make)
            return [] if shape is _NO_ROWS else list(map(shape, cursor.fetchall()))
        except connection.dialect.loaded_dbapi.Error as error:
            # the handling Connection.execute gives its own statements (raises). A private method
            # of SQLAlchemy's: should it go, tests/test_workflow.py's lost-connection test fails
            connection._handle_dbapi_exception(error, sql, values, cursor, None)
            raise

    def row(self, session: Session, values: dict):
        """The first row the statement gives, or None."""
        found = self.rows(session, values)
        return found[0] if found else None


# a session's connection and a psycopg cursor on it, for _Direct, until its transaction ends
_DRIVER_KEY = "scrubber.driver"
_NO_ROWS = object()  # _Direct's shape of a statement that gives no rows


def _driver(session: Session):
    connection = session.connection()
    session.info[_DRIVER_KEY] = found = (
        connection, connection.connection.driver_connection.cursor())
    return found


def _forget_driver(session: Session, transaction) -> None:
    if transaction.parent is None:
        found = session.info.pop(_DRIVER_KEY, None)
        if found is not None and not found[1].closed:
            found[1].close()


def _new_patient(by_mrn: bool, **values):
    """PostgreSQL: the insert of a patient row (`values`) that does nothing when the row exists
    already, by the patient's unique key (the MRN when `by_mrn`, else the member id among rows
    without an MRN), and the condition finding that existing row."""
    new = pg_insert(Patient).values(**values)
    if by_mrn:
        return (new.on_conflict_do_nothing(index_elements=["tenant_id", "mrn"]),
                Patient.mrn == values["mrn"])
    return (new.on_conflict_do_nothing(index_elements=["tenant_id", "member_id"],
                                       index_where=Patient.mrn.is_(None)),
            Patient.mrn.is_(None) & (Patient.member_id == values["member_id"]))


def _plain_patient(patients):
    """The columns of a patient row that Store.patients(plain=True) gives."""
    return patients.c.id, patients.c.mrn, patients.c.member_id, patients.c.documented


class _Statements:
    """The statements a submission runs, built once with bound parameters: building a statement
    and its cache key on every call cost more than sending it."""

    def __init__(self) -> None:
        tenants, claims, counters = Tenant.__table__, ClaimRow.__table__, Counter.__table__
        self.tenant = select(tenants.c.id, tenants.c.name).where(
            tenants.c.name == bindparam("name"))
        self.recorded = select(claims.c.id, claims.c.verdict, claims.c.status, claims.c.findings).where(
            claims.c.tenant_id == bindparam("tenant"), claims.c.billing_provider == bindparam("provider"),
            claims.c.claim_id == bindparam("claim_id"), claims.c.content_hash == bindparam("digest"))
        # history, in two steps, each served by one index (one statement ORing the two kinds of
        # claim read every claim of the tenant, and SQLite, which keeps no statistics, took the
        # index on the tenant alone when a statement's conditions matched several): the claim
        # ids and billing providers of the patients' claims with a line dated within reach (or
        # of a code whose period is unbounded), by patient id only (the patients are the
        # tenant's); then the tenant's claims with one of those claim ids or the new claim's
        # own, the pairs matched by the caller (replacements and voids, whatever their dates)
        lines = ClaimLineRow.__table__
        # (a scalar subquery with LIMIT, which PostgreSQL does not turn into a join: looked up
        # per claim through the lines' claim index, never by reading every line)
        def line_in_reach(unbounded_code):
            return select(lines.c.id).where(lines.c.claim_pk == claims.c.id, or_(
                (func.coalesce(lines.c.date_to, lines.c.date_from) >= bindparam("reach_from"))
                & (func.coalesce(lines.c.date_from, lines.c.date_to) <= bindparam("reach_to")),
                unbounded_code)).limit(1).scalar_subquery().is_not(None)
        self.in_reach = select(claims.c.claim_id, claims.c.billing_provider).distinct().where(
            claims.c.patient_id.in_(bindparam("patients", expanding=True)), claims.c.in_history.is_(True),
            line_in_reach(lines.c.code.in_(bindparam("unbounded", expanding=True))))
        # the body as its JSON text: a driver would decode every body, and the workflow decodes
        # only those of the claims it has not loaded before (Store.history)
        history_columns = (claims.c.id, claims.c.claim_id, claims.c.billing_provider,
                           cast(claims.c.body, Text).label("body"))
        # (ordered by the caller: with ORDER BY id, an index on (tenant, id) would serve the
        # order, and SQLite took such an index, reading every claim of the tenant)
        self.history = select(*history_columns).where(
            claims.c.tenant_id == bindparam("tenant"), claims.c.in_history.is_(True),
            claims.c.claim_id.in_(bindparam("claim_ids", expanding=True)))
        # the patients sharing an MRN, a member id, or either; each also FOR UPDATE
        # (PostgreSQL, plain: their columns as named tuples, through the driver)
        self.patients, self.direct_patients = {}, {}
        patients = Patient.__table__
        for by_mrn, by_member in ((True, False), (False, True), (True, True)):
            conditions = [condition for wanted, condition in (
                (by_mrn, Patient.mrn == bindparam("mrn")),
                (by_member, Patient.member_id == bindparam("member_id"))) if wanted]
            query = select(Patient).where(Patient.tenant_id == bindparam("tenant"),
                                          or_(*conditions)).order_by(Patient.id)
            self.patients[by_mrn, by_member, False] = query
            self.patients[by_mrn, by_member, True] = query.with_for_update()
            plain = select(*_plain_patient(patients)).where(
                patients.c.tenant_id == bindparam("tenant"), or_(*conditions)).order_by(patients.c.id)
            self.direct_patients[by_mrn, by_member, False] = _Direct(plain)
            self.direct_patients[by_mrn, by_member, True] = _Direct(plain.with_for_update())
        # a new patient (PostgreSQL, plain), by MRN or else by member id: nothing when a concurrent
        # transaction inserted it first (see Store._create_patient); and the row found instead
        self.direct_new_patient = {}
        for by_mrn in (True, False):
            # (every column given: a column's default is SQLAlchemy's to fill in, at execution)
            new, key = _new_patient(by_mrn, tenant_id=bindparam("tenant"), mrn=bindparam("mrn"),
                                    member_id=bindparam("member_id"),
                                    created_at=bindparam("created_at", type_=UTCDateTime), documented=False)
            found = select(*_plain_patient(patients)).where(patients.c.tenant_id == bindparam("tenant"), key)
            self.direct_new_patient[by_mrn] = (_Direct(new.returning(*_plain_patient(patients))),
                                               _Direct(found), _Direct(found.with_for_update()))
        # a message as received, for the tenant named: the tenant's row is found by the same
        # statement (none inserted: no such tenant); the submission's id, the tenant's id and the
        # mode used (the one asked for, else the tenant's)
        submissions = Submission.__table__
        self.receive = insert(submissions).from_select(
            ["tenant_id", "kind", "source", "mode", "raw", "received_at"],
            select(tenants.c.id, bindparam("kind", type_=String), bindparam("source", type_=String),
                   func.coalesce(bindparam("mode", type_=String), tenants.c.mode),
                   bindparam("raw", type_=LargeBinary), bindparam("received_at", type_=UTCDateTime))
            .where(tenants.c.name == bindparam("name"))).returning(
            submissions.c.id, submissions.c.tenant_id, submissions.c.mode)
        self.add_claim = insert(claims).returning(claims.c.id)
        self.add_lines = insert(ClaimLineRow.__table__)
        self.add_findings = insert(ClaimFinding.__table__)
        self.add_outbox = insert(OutboxRow.__table__)
        self.add_acknowledgements = insert(Acknowledgement.__table__)
        self.audit = insert(AuditEntry.__table__)
        self.bump = update(counters).where(counters.c.name == bindparam("counter")).values(
            value=counters.c.value + bindparam("count")).returning(counters.c.value)
        # PostgreSQL: the statements a single-claim submission runs, sent straight to the driver
        # (_Direct); lists as arrays (= ANY) where SQLite takes expanded IN lists
        self.direct_recorded = _Direct(self.recorded)
        unbounded_codes = lines.c.code == any_(bindparam("unbounded", type_=ARRAY(String)))
        self.direct_in_reach = _Direct(select(claims.c.claim_id, claims.c.billing_provider).distinct().where(
            claims.c.patient_id == any_(bindparam("patients", type_=ARRAY(Integer))),
            claims.c.in_history.is_(True), line_in_reach(unbounded_codes)))
        # one patient, the usual case: both reads in one statement with no array parameter (the
        # pairs in reach and the new claim's own, as a CTE the tenant's claims are joined to).
        # PostgreSQL costs an array of unknown length as ten elements, so it planned each read
        # with an array again at every execution (0.30 and 0.10-0.15 ms of its time a
        # submission); this one it plans once, and keeps the generic plan
        wanted = union(
            select(claims.c.claim_id, claims.c.billing_provider).where(
                claims.c.patient_id == bindparam("patient", type_=Integer), claims.c.in_history.is_(True),
                line_in_reach(unbounded_codes)),
            select(bindparam("claim_id", type_=String), bindparam("provider", type_=String))).cte("wanted")
        self.direct_history_of_one = _Direct(select(*history_columns).join(
            wanted, (claims.c.claim_id == wanted.c.claim_id)
            & (claims.c.billing_provider == wanted.c.billing_provider)).where(
            claims.c.tenant_id == bindparam("tenant"), claims.c.in_history.is_(True)))
        self.direct_history = _Direct(select(*history_columns).where(
            claims.c.tenant_id == bindparam("tenant"), claims.c.in_history.is_(True),
            claims.c.claim_id == any_(bindparam("claim_ids", type_=ARRAY(String)))))
        self.direct_receive = _Direct(self.receive)
        # a message as received, and the decision recorded for its one claim's identity (no claim
        # columns: nothing recorded), in one round trip
        received = self.receive.cte("received")
        self.direct_receive_claim = _Direct(select(
            received.c.id, received.c.tenant_id, received.c.mode, claims.c.id.label("claim_pk"),
            claims.c.verdict, claims.c.status, claims.c.findings).select_from(received.outerjoin(
                claims, (claims.c.tenant_id == received.c.tenant_id)
                & (claims.c.billing_provider == bindparam("provider"))
                & (claims.c.claim_id == bindparam("claim_id"))
                & (claims.c.content_hash == bindparam("digest")))))
        self.direct_add_claim = _Direct(_claim_at_once())
        self.direct_claim_with_appends = _Direct(_claim_at_once(with_appends=True))
        self.direct_appends = _Direct(_appends())


_LINE_COLUMNS = ("number", "code", "units", "date_from", "date_to", "charge", "credit")
_ACK_COLUMNS = ("submission_id", "kind", "body", "created_at")
_AUDIT_COLUMNS = ("tenant_id", "at", "actor", "action", "subject", "detail")
_FINDING_COLUMNS = ("position", "rule", "severity")  # with the claim's id and its tenant's


def _rows_of(table, name: str, columns: tuple[str, ...], **more):
    """PostgreSQL: rows of `table`'s `columns` from one JSON parameter `name` (an array of objects,
    _json_rows), typed as the table's columns, and of `more` columns (name: type). One text value
    to send however many rows: arrays per column cost the worker more to adapt than the statement
    cost to run."""
    return func.json_to_recordset(cast(bindparam(name, type_=Text), JSON)).table_valued(
        *(column(column_name, table.c[column_name].type) for column_name in columns),
        *(column(column_name, type_) for column_name, type_ in more.items())).render_derived(
        name=name, with_types=True)


def _json_value(value):
    if isinstance(value, date):  # datetimes too: ISO 8601, with their offset
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a ledger value")


def _json_rows(rows: list[dict]) -> str:
    return json.dumps(rows, default=_json_value)


def _append_inserts(claim=None):
    """PostgreSQL: the inserts of a unit of work's acknowledgements (a CTE) and audit entries,
    from their rows in JSON (either may be none). With `claim`, the CTE inserting the unit of
    work's claim, an entry marked `of_claim` gets the claim's id after its subject."""
    acks, audit = Acknowledgement.__table__, AuditEntry.__table__
    ack_rows = _rows_of(acks, "ack_rows", _ACK_COLUMNS)
    add_acks = insert(acks).from_select(list(_ACK_COLUMNS), select(*ack_rows.c)).cte("acks")
    if claim is None:
        audit_rows = _rows_of(audit, "audit_rows", _AUDIT_COLUMNS)
        subject = audit_rows.c.subject
    else:
        audit_rows = _rows_of(audit, "audit_rows", _AUDIT_COLUMNS, of_claim=Boolean)
        subject = case((audit_rows.c.of_claim.is_(True), audit_rows.c.subject + cast(
            select(claim.c.id).scalar_subquery(), String)), else_=audit_rows.c.subject)
    return add_acks, insert(audit).from_select(list(_AUDIT_COLUMNS), select(
        *(subject if name == "subject" else audit_rows.c[name] for name in _AUDIT_COLUMNS)))


def _appends():
    """PostgreSQL: a unit of work's acknowledgements and audit entries in one statement."""
    add_acks, add_audit = _append_inserts()
    return add_audit.add_cte(add_acks)


def _claim_at_once(with_appends: bool = False):
    """PostgreSQL: a claim, its lines, its findings' rows and its outbox entry in one statement
    (one round trip instead of four; each statement cost the worker more to send than the server
    to run). The claim's insert is a CTE the others read its id from; lines and findings arrive as
    rows in JSON (none: nothing inserted), so every claim runs the same statement; the outbox row
    is inserted when `queued`. Its idempotency key is `<key_prefix><claim id><key_suffix>`.
    `with_appends`: the unit of work's acknowledgements and audit entries too (as _appends), an
    entry marked `of_claim` getting the claim's id after its subject."""
    claims, lines, findings, outbox = (ClaimRow.__table__, ClaimLineRow.__table__, ClaimFinding.__table__,
                                       OutboxRow.__table__)
    claim = insert(claims).values({
        column.name: bindparam(column.name, type_=column.type) for column in claims.c
        if column.name not in ("id", "dismissed_at")}).returning(claims.c.id).cte("claim")
    line_rows = _rows_of(lines, "line_rows", _LINE_COLUMNS)
    add_lines = insert(lines).from_select(["claim_pk", *_LINE_COLUMNS], select(
        claim.c.id, *line_rows.c).select_from(claim).join(line_rows, true())).cte("lines")
    finding_rows = _rows_of(findings, "finding_rows", _FINDING_COLUMNS)
    add_findings = insert(findings).from_select(["claim_pk", "tenant_id", *_FINDING_COLUMNS], select(
        claim.c.id, bindparam("tenant_id", type_=Integer), *finding_rows.c).select_from(claim).join(
        finding_rows, true())).cte("findings")
    key = (bindparam("key_prefix", type_=String) + cast(claim.c.id, String)
           + bindparam("key_suffix", type_=String))
    add_outbox = insert(outbox).from_select(
        ["tenant_id", "claim_pk", "idempotency_key", "payload", "state", "attempts", "next_attempt_at",
         "created_at"],
        select(bindparam("tenant_id", type_=Integer), claim.c.id, key, bindparam("payload", type_=Text),
               bindparam("state", type_=String), literal_column("0", Integer),
               bindparam("created_at", type_=UTCDateTime), bindparam("created_at", type_=UTCDateTime)).where(
            bindparam("queued", type_=Boolean))).cte("queued")
    if not with_appends:
        return select(claim.c.id).add_cte(add_lines, add_findings, add_outbox)
    add_acks, add_audit = _append_inserts(claim)
    return select(claim.c.id).add_cte(add_lines, add_findings, add_outbox, add_acks, add_audit.cte("audit"))


_STATEMENTS = _Statements()


class _WriterQueue:
    """Where SQLite writers of one database wait their turn: the threads of a process on a lock,
    processes on an OS file lock beside the database (`<file>-writers`), so that the write lock is
    free when BEGIN IMMEDIATE asks for it. A writer that found it taken would sleep in SQLite's
    busy handler, up to 100 ms a try however soon the lock came free, which under load made the
    latency tail. Waiting is bounded as SQLite's busy timeout bounds it."""

    _by_path: dict[str, _WriterQueue] = {}
    _made = threading.Lock()

    def __init__(self, path: str):
        self.path = f"{path}-writers"
        self.threads = threading.Lock()
        self.file: tuple[int, object] | None = None  # (pid, open file): one per process

    @classmethod
    def of(cls, path: str) -> _WriterQueue:
        with cls._made:
            if path not in cls._by_path:
                cls._by_path[path] = cls(path)
            return cls._by_path[path]

    def acquire(self, timeout: float) -> None:
        deadline = monotonic() + timeout
        if not self.threads.acquire(timeout=timeout):
            raise sqlite3.OperationalError("database is locked (waited for the writers before us)")
        try:
            if self.file is None or self.file[0] != os.getpid():  # opened again after a fork
                self.file = (os.getpid(), open(self.path, "a+b"))  # noqa: SIM115 (kept open)
            while True:
                try:
                    fcntl.flock(self.file[1].fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if monotonic() > deadline:
                        raise sqlite3.OperationalError(
                            "database is locked (another process kept the writers' lock)") from None
                    sleep(0.0005)  # only this process's next writer polls; the others wait above
        except BaseException:
            self.threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self.file[1].fileno(), fcntl.LOCK_UN)
        self.threads.release()


class _QueuedSQLite(sqlite3.Connection):
    """A SQLite connection whose transactions take their turn in the database's _WriterQueue: from
    just before BEGIN IMMEDIATE to just after COMMIT or ROLLBACK (or close)."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self.queue = _WriterQueue.of(os.path.abspath(database))
        self.holding = False

    def begin_immediate(self, timeout: float) -> None:
        self.queue.acquire(timeout)
        self.holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._let_go()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if self.holding:
            self.holding = False
            self.queue.release()


SQLITE_BUSY_SECONDS = 30.0


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # Every transaction takes the write lock up front, so two checks never interleave and a
    # reader never has to upgrade its lock (which SQLite answers with "database is locked").
    driver = connection.connection.driver_connection
    if isinstance(driver, _QueuedSQLite):
        driver.begin_immediate(SQLITE_BUSY_SECONDS)
    else:  # an engine made elsewhere (Store(engine=...))
        connection.exec_driver_sql("BEGIN IMMEDIATE")


PING_AFTER_IDLE = 10.0  # seconds a pooled database connection may rest before it is checked
NUMBER_BLOCK = 1000  # control numbers a process reserves at a time on PostgreSQL (Store.next_number)


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Check a pooled connection before lending it only when it rested in the pool `seconds` or
    more, so a server restarted (or a connection a firewall dropped) while the service was quiet
    is found and replaced before use. pool_pre_ping would check every time, one round trip more
    per transaction; under load connections never rest that long. A connection lost while in
    use fails that unit of work and SQLAlchemy renews the pool; the submission workflow then runs
    its unit again (Workflow's _retried), other requests get 503 once."""
    @event.listens_for(engine, "checkin")
    def _rested(dbapi_connection, record) -> None:
        record.info["idle_since"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_connection, record, proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or monotonic() - since < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("a pooled connection was lost while it rested") from error


class ClaimRef:
    """A claim's ledger id (`id`), known once its row is written: at once, or on PostgreSQL when
    its unit of work commits or runs another statement (Store.add_claim)."""

    __slots__ = ("id",)

    def __init__(self, id: int | None = None) -> None:
        self.id = id

    def __repr__(self) -> str:
        return f"ClaimRef({self.id})"


# what a unit of work appends (audit entries, acknowledgements; on PostgreSQL its last claim),
# written when it commits
_AUDIT_KEY, _ACKS_KEY, _CLAIM_KEY = "scrubber.audit", "scrubber.acknowledgements", "scrubber.claim"


def _write_appends(session: Session) -> None:
    """The unit of work's audit entries and acknowledgements, in the order given, and on
    PostgreSQL its claim not yet written, all in one statement there; elsewhere one per table."""
    entries = session.info.pop(_AUDIT_KEY, None) or []
    acks = session.info.pop(_ACKS_KEY, None) or []
    claim = session.info.pop(_CLAIM_KEY, None)
    if claim is not None:
        values, ref = claim
        audit_rows = [_audit_row(entry, ref) for entry in entries]
        ref.id = _STATEMENTS.direct_claim_with_appends.row(session, {
            **values, "ack_rows": _json_rows(acks), "audit_rows": _json_rows(audit_rows)}).id
        return
    if not entries and not acks:
        return
    entries = [_audit_row(entry) for entry in entries]
    if session.get_bind().dialect.name == "postgresql":
        _STATEMENTS.direct_appends.rows(session, {"ack_rows": _json_rows(acks),
                                                 "audit_rows": _json_rows(entries)})
        return
    if entries:
        session.execute(_STATEMENTS.audit, entries)
    if acks:
        session.execute(_STATEMENTS.add_acknowledgements, acks)


def _audit_row(entry: dict, pending: ClaimRef | None = None) -> dict:
    """An audit entry as written: a claim named by its ledger id ("claim <id>"), or, for the
    `pending` claim written by the same statement, marked for the statement to add its id."""
    subject = entry["subject"]
    if not isinstance(subject, ClaimRef):
        return entry
    if subject is pending:
        return {**entry, "subject": "claim ", "of_claim": True}
    return {**entry, "subject": f"claim {subject.id}"}


def _write_claim(session: Session) -> None:
    """PostgreSQL: the unit of work's claim not yet written, written now (before a statement that
    might read it)."""
    claim = session.info.pop(_CLAIM_KEY, None)
    if claim is not None:
        values, ref = claim
        ref.id = _STATEMENTS.direct_add_claim.row(session, values).id


def _write_claim_first(state) -> None:
    _write_claim(state.session)


def _drop_appends(session: Session) -> None:
    session.info.pop(_AUDIT_KEY, None)
    session.info.pop(_ACKS_KEY, None)
    session.info.pop(_CLAIM_KEY, None)


class _Recorded(NamedTuple):
    """A claim's recorded decision, as Store.recorded gives it."""

    id: int
    verdict: str
    status: str
    findings: list


@dataclass(frozen=True)
class TenantRef:
    """What a unit of work needs of a tenant (its id and name), read once and passed on instead
    of the mapped row; every Store method taking a tenant accepts either."""

    id: int
    name: str


class Store:
    """The ledger. Units of work are `with store.transaction() as session:` blocks."""

    def __init__(self, url: str | None = None, engine: Engine | None = None,
                 ping_after_idle: float = PING_AFTER_IDLE):
        self.url = url or database_url()
        if engine is None:
            if self.url.startswith("sqlite:///"):
                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            # hide_parameters: SQL errors (and so logged tracebacks) never carry the values bound
            # to a statement, which may be names, member ids or birth dates
            queued = {"factory": _QueuedSQLite} if self.url.startswith("sqlite:///") else {}
            engine = create_engine(self.url, hide_parameters=True, connect_args=queued)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
                event.listen(engine, "begin", _sqlite_begin)
            else:
                _ping_when_idle(engine, ping_after_idle)
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        event.listen(self.sessions, "before_commit", _write_appends)
        event.listen(self.sessions, "after_rollback", _drop_appends)
        event.listen(self.sessions, "after_transaction_end", _forget_driver)
        if engine.dialect.name == "postgresql":  # a claim held back goes before any other statement
            event.listen(self.sessions, "do_orm_execute", _write_claim_first)
            event.listen(self.sessions, "before_flush", lambda session, *_: _write_claim(session))
        # PostgreSQL: counters are bumped on connections of their own, a block at a time, and
        # handed out from the block in memory (see next_number)
        self._counters = None
        self._blocks: dict[str, tuple[int, int]] = {}  # counter -> (next number, end of block)
        self._blocks_lock = threading.Lock()
        self._blocks_pid = os.getpid()  # a forked copy of this Store must not hand out the same block
        if engine.dialect.name == "postgresql":
            self._counters = create_engine(engine.url, hide_parameters=True, isolation_level="AUTOCOMMIT",
                                           pool_size=1)
            _ping_when_idle(self._counters, ping_after_idle)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._counters is not None:
            self._counters.dispose()

    def statistics_warning(self) -> str | None:
        """Why the database's planner may stop using the indexes as the tables grow, or None.
        PostgreSQL with autovacuum off never refreshes its statistics, and a pooled connection
        keeps the plans it made for its prepared statements while the tables were small."""
        if not self.is_postgres:
            return None
        with self.engine.connect() as connection:
            if connection.exec_driver_sql("SHOW autovacuum").scalar() == "on":
                return None
        return ("autovacuum is off on this PostgreSQL server: table statistics go stale as the ledger "
                "grows and queries may read whole tables; turn it on, or run ANALYZE regularly")

    # -- tenants and patients ---------------------------------------------------------------
    def tenant_ref(self, session: Session, name: str) -> TenantRef | None:
        """The tenant's id and name, read without loading the mapped row."""
        found = session.execute(_STATEMENTS.tenant, {"name": name}).first()
        return TenantRef(*found) if found is not None else None

    def tenant(self, session: Session, name: str, create: bool = False) -> Tenant | None:
        found = session.scalar(select(Tenant).where(Tenant.name == name))
        if found is None and create:
            found = Tenant(name=name)
            session.add(found)
            session.flush()
        return found

    def patients(self, session: Session, tenant: Tenant | TenantRef, mrn: str | None, member_id: str | None,
                 lock: bool = False, create: bool = False, plain: bool = False,
                 ) -> tuple[Patient | None, list[Patient]]:
        """The patient row a claim or message belongs to, and every row that may be the same
        patient (sharing its MRN or member id), all locked for the rest of the transaction when
        asked (PostgreSQL row locks, taken in id order; SQLite holds the write lock already).

        RULES.md section 5: the row with the MRN; else, by member id, a documented patient (the
        claim's MRN matches nothing) or, for a claim without an MRN, any patient. The checker
        decides sameness among the related rows exactly as `check` does.

        `plain`: on PostgreSQL, the rows as named tuples of id, mrn, member_id and documented (read
        through the driver, see _Direct), not mapped rows; for a caller that only reads them."""
        if not mrn and not member_id:
            return None, []
        plain = plain and self.is_postgres
        values = {"tenant": tenant.id, "mrn": mrn, "member_id": member_id}
        if plain:
            query = _STATEMENTS.direct_patients[bool(mrn), bool(member_id), lock]
            related = query.rows(session, values)
        else:
            query = _STATEMENTS.patients[bool(mrn), bool(member_id), lock and self.is_postgres]
            related = list(session.scalars(query, values))
        own = next((p for p in related if mrn and p.mrn == mrn), None)
        if own is None and member_id:
            own = next((p for p in related if p.member_id == member_id and (p.documented or not mrn)),
                       None)
        if own is None and create:
            own = self._create_patient(session, tenant, mrn, member_id, lock, plain)
            if own not in related:
                related.append(own)
        return own, related

    def patient(self, session: Session, tenant: Tenant | TenantRef, mrn: str | None, member_id: str | None,
                lock: bool = False, create: bool = False) -> Patient | None:
        return self.patients(session, tenant, mrn, member_id, lock, create)[0]

    def _create_patient(self, session: Session, tenant: Tenant | TenantRef, mrn: str | None,
                        member_id: str | None, lock: bool = False, plain: bool = False) -> Patient:
        """Insert, or find the row a concurrent transaction inserted first (PostgreSQL: the insert
        waits for that transaction, then does nothing, and the row is read locked when asked; a
        row this transaction inserted is invisible to others until it commits). The unique keys:
        the MRN, else the member id among rows without an MRN."""
        if plain:
            values = {"tenant": tenant.id, "mrn": mrn, "member_id": member_id, "created_at": utcnow()}
            add, find, find_locked = _STATEMENTS.direct_new_patient[bool(mrn)]
            inserted = add.row(session, values)
            if inserted is not None:
                return inserted
            return (find_locked if lock else find).row(session, values)
        if self.is_postgres:
            row, key = _new_patient(bool(mrn), tenant_id=tenant.id, mrn=mrn, member_id=member_id,
                                    created_at=utcnow())
            inserted = session.scalars(row.returning(Patient)).one_or_none()
            if inserted is not None:
                return inserted
            query = select(Patient).where(Patient.tenant_id == tenant.id, key)
            return session.scalars(query.with_for_update() if lock else query).one()
        patient = Patient(tenant_id=tenant.id, mrn=mrn, member_id=member_id)
        session.add(patient)
        session.flush()
        return patient

    # -- documentation ----------------------------------------------------------------------
    def record_of(self, session: Session, patient: Patient) -> PatientRecord:
        """Everything documented for the patient, as the core's PatientRecord."""
        entries = tuple(TimeEntry(
            id=row.entry_id, date=row.date, minutes=row.minutes, program=row.program, start=row.start,
            performer=Performer(row.performer_id, row.performer_role) if row.performer_id else None,
            activity=row.activity,
            interaction=Interaction(row.interaction_mode, row.interaction_with or "patient")
            if row.interaction_mode else None)
            for row in session.scalars(select(TimeEntryRow).where(TimeEntryRow.patient_id == patient.id)
                                       .order_by(TimeEntryRow.id)))
        readings = tuple(Reading(row.date, row.transmission, row.kind or None, row.device_id or None)
                         for row in session.scalars(select(ReadingRow).where(
                             ReadingRow.patient_id == patient.id).order_by(ReadingRow.id)))
        consents = tuple(Consent(row.date, row.method or None) for row in session.scalars(
            select(ConsentRow).where(ConsentRow.patient_id == patient.id).order_by(ConsentRow.id)))
        episodes = tuple(Episode(row.start, row.end, row.program) for row in session.scalars(
            select(EpisodeRow).where(EpisodeRow.patient_id == patient.id).order_by(EpisodeRow.id)))
        return PatientRecord(id=patient.mrn, member_id=patient.member_id, time_entries=entries,
                             readings=readings, consents=consents, episodes=episodes)

    def add_documentation(self, session: Session, tenant: Tenant | TenantRef, patient: Patient,
                          record: PatientRecord) -> int:
        """Store the record's facts; a fact already stored (same entry id and program, same
        reading, consent or episode) is left as it is. Returns how many facts were new."""
        known = self.record_of(session, patient)
        patient.documented = True
        entries = {(e.id, e.program) for e in known.time_entries}
        added = 0
        for entry in record.time_entries:
            if (entry.id, entry.program) in entries or session.scalar(select(TimeEntryRow.id).where(
                    TimeEntryRow.tenant_id == tenant.id, TimeEntryRow.entry_id == entry.id,
                    TimeEntryRow.program == entry.program)):
                continue
            entries.add((entry.id, entry.program))
            session.add(TimeEntryRow(
                tenant_id=tenant.id, patient_id=patient.id, entry_id=entry.id, program=entry.program,
                date=entry.date, minutes=entry.minutes, start=entry.start,
                performer_id=entry.performer.id if entry.performer else None,
                performer_role=entry.performer.role if entry.performer else None,
                activity=entry.activity,
                interaction_mode=entry.interaction.mode if entry.interaction else None,
                interaction_with=entry.interaction.with_ if entry.interaction else None))
            added += 1
        for reading in set(record.readings) - set(known.readings):
            session.add(ReadingRow(tenant_id=tenant.id, patient_id=patient.id, date=reading.date,
                                   transmission=reading.transmission, kind=reading.kind or "",
                                   device_id=reading.device_id or ""))
            added += 1
        for consent in set(record.consents) - set(known.consents):
            session.add(ConsentRow(tenant_id=tenant.id, patient_id=patient.id, date=consent.date,
                                   method=consent.method or ""))
            added += 1
        for episode in set(record.episodes) - set(known.episodes):
            session.add(EpisodeRow(tenant_id=tenant.id, patient_id=patient.id, program=episode.program,
                                   start=episode.start, end=episode.end))
            added += 1
        session.flush()
        return added

    def add_all_documentation(self, session: Session, tenant: Tenant | TenantRef, documentation) -> int:
        """Store every patient's record of a Documentation (patients found or created, locked as
        claims lock them); returns how many facts were new."""
        added = 0
        for record in documentation.patients:
            patient, _ = self.patients(session, tenant, record.id, record.member_id, lock=True, create=True)
            added += self.add_documentation(session, tenant, patient, record)
        return added

    def attachment_numbers(self, session: Session, tenant: Tenant | TenantRef,
                           among: Iterable[str]) -> frozenset[str]:
        """Which of the control numbers `among` (a claim's PWK references) have an attachment."""
        wanted = sorted(set(among))
        if not wanted:
            return frozenset()
        return frozenset(session.scalars(select(Attachment.control_number).where(
            Attachment.tenant_id == tenant.id, Attachment.control_number.in_(wanted))))

    def next_number(self, session: Session, name: str, count: int = 1) -> int:
        """The first of `count` consecutive numbers from the named counter (starting at 1), never
        handed out twice.

        SQLite: taken in the caller's transaction, which holds the write lock anyway. PostgreSQL:
        this Store reserves a block of NUMBER_BLOCK numbers (or `count`, when more) with a
        statement committed on its own and hands them out from memory, so a submission neither
        queues behind another's commit on the counter row nor sends a statement of its own for its
        numbers (one in about a hundred single-claim submissions does). Each process has its own
        blocks, so numbers are unique, not in the order they were handed out across processes;
        what a process had not handed out when it stops is skipped, as are numbers of a
        transaction that rolls back. A block is committed durably before its first number is
        used: a block held in memory across a server crash is one the restarted server knows."""
        if self._counters is None:
            # SQLite: the transaction holds the write lock already; one statement where the counter exists
            last = session.execute(_STATEMENTS.bump, {"counter": name, "count": count}).scalar()
            if last is None:
                session.execute(insert(Counter).values(name=name, value=count))
                last = count
            return last - count + 1
        if self._blocks_pid != os.getpid():
            self._blocks, self._blocks_lock, self._blocks_pid = {}, threading.Lock(), os.getpid()
        with self._blocks_lock:
            first, end = self._blocks.get(name, (0, 0))
            if end - first < count:
                size = max(count, NUMBER_BLOCK)
                first = self._reserve(name, size)
                end = first + size
            self._blocks[name] = (first + count, end)
            return first

    def _reserve(self, name: str, size: int) -> int:
        """PostgreSQL: the first of `size` numbers taken from the counter row and committed."""
        values = {"counter": name, "count": size}
        with self._counters.connect() as connection:
            last = connection.execute(_STATEMENTS.bump, values).scalar()
            if last is None:  # a new counter: create it (or find a concurrent creator's) and bump
                connection.execute(pg_insert(Counter).values(name=name, value=0).on_conflict_do_nothing())
                last = connection.execute(_STATEMENTS.bump, values).scalar_one()
        return last - size + 1

    def audit(self, session: Session, tenant: Tenant | TenantRef, actor: str, action: str,
              subject: str | ClaimRef, **detail) -> None:
        """Append an entry to the audit log (a ClaimRef `subject` is written "claim <id>"). A unit
        of work's entries are written together, in the order given, when it commits (one
        statement; nothing when it rolls back)."""
        session.info.setdefault(_AUDIT_KEY, []).append({
            "tenant_id": tenant.id, "at": utcnow(), "actor": actor, "action": action, "subject": subject,
            "detail": detail})

    def outbox_counts(self, session: Session) -> dict[str, int]:
        """Outbox rows by state (held, pending, delivered, dead), the states that have any."""
        return dict(session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all())

    def purge_raw(self, session: Session, older_than: timedelta) -> int:
        """Drop the verbatim text of messages received before now - `older_than` (their claims,
        decisions and acknowledgements stay); returns how many were purged."""
        cutoff = utcnow() - older_than
        rows = session.scalars(select(Submission).where(Submission.received_at < cutoff,
                                                        Submission.raw.is_not(None))).all()
        for row in rows:
            row.raw = None
            tenant = session.get(Tenant, row.tenant_id)
            self.audit(session, tenant, "retention", "raw-purged", f"submission {row.id}")
        return len(rows)

    def claim_of(self, session: Session, tenant_id: int, claim_pk: int) -> ClaimRow | None:
        """The tenant's claim with this ledger id; None for another tenant's, a missing one, or an id
        outside the id column's range (which the database would refuse rather than not find)."""
        if not 0 < claim_pk <= 2**31 - 1:
            return None
        row = session.get(ClaimRow, claim_pk)
        return row if row is not None and row.tenant_id == tenant_id else None

    def lines_of(self, session: Session, claim_pk: int) -> list[ClaimLineRow]:
        return self.lines_by_claim(session, [claim_pk])[claim_pk]

    def patient_label(self, session: Session, row: ClaimRow) -> str | None:
        """The claim's patient as shown to reviewers: MRN, else member id."""
        patient = session.get(Patient, row.patient_id) if row.patient_id else None
        return (patient.mrn or patient.member_id) if patient is not None else None

    def release(self, session: Session, row: ClaimRow, actor: str, reason: str) -> None:
        """A reviewer lets a held claim go: it joins the history and its queued payload becomes
        due. ValueError (with the reason to show) when the claim is not held or has no payload."""
        if row.status != "held":
            raise ValueError(f"claim {row.id} is {row.status}, only a held claim can be released")
        outbox = session.scalar(select(OutboxRow).where(OutboxRow.claim_pk == row.id))
        if outbox is None:
            raise ValueError(f"claim {row.id} has nothing that could go downstream")
        row.status, row.in_history = "released", True
        outbox.state, outbox.next_attempt_at = "pending", utcnow()
        session.add(Release(claim_pk=row.id, actor=actor, reason=reason))
        self.audit(session, session.get(Tenant, row.tenant_id), actor, "released", f"claim {row.id}",
                   reason=reason)

    def dismiss(self, session: Session, row: ClaimRow, actor: str, note: str) -> None:
        """A reviewer has looked at a flagged claim (it went downstream) and takes it off the
        worklist. ValueError when the claim is not a flagged one or was dismissed already."""
        if row.verdict != "flag" or row.status != "forwarded" or row.dismissed_at is not None:
            raise ValueError(f"claim {row.id} is not an open flag")
        row.dismissed_at = utcnow()
        self.audit(session, session.get(Tenant, row.tenant_id), actor, "flag-dismissed", f"claim {row.id}",
                   reason=note)

    # -- claims -----------------------------------------------------------------------------
    def recorded(self, session: Session, tenant: Tenant | TenantRef, billing_provider: str, claim_id: str,
                 digest: str):
        """The decision recorded for this very claim (id, verdict, status, findings), or None."""
        values = {"tenant": tenant.id, "provider": billing_provider, "claim_id": claim_id, "digest": digest}
        if self.is_postgres:
            return _STATEMENTS.direct_recorded.row(session, values)
        return session.execute(_STATEMENTS.recorded, values).first()

    def history(self, session: Session, tenant: Tenant | TenantRef, patients: list[Patient], claim_id: str,
                billing_provider: str, reach: tuple[date, date] = (date.min, date.max),
                unbounded: Iterable[str] = ()) -> list[tuple[int, str]]:
        """The claims in history that bear on a new claim, as (ledger id, body), oldest first:
        those of the patients it may be with a line dated within `reach` (from, to) or billing one
        of the `unbounded` codes (whose period has no end, 99453's episode), every claim sharing a
        claim id and billing provider with one of those (a replacement or void of it, whatever its
        dates), and those with the new claim's own claim id and billing provider (the ones it may
        replace or void). The default reach is the patients' whole history.

        A body comes as its JSON text, so that a caller keeping the claims it has loaded decodes
        only those it has not seen (json.loads, then records.load_claim)."""
        direct = self.is_postgres
        if direct and len(patients) == 1:  # the usual case, in one statement
            found = _STATEMENTS.direct_history_of_one.rows(session, {
                "patient": patients[0].id, "reach_from": reach[0], "reach_to": reach[1],
                "unbounded": sorted(unbounded), "tenant": tenant.id, "claim_id": claim_id,
                "provider": billing_provider})
            return [(row.id, row.body) for row in sorted(found, key=lambda row: row.id)]
        wanted = {(claim_id, billing_provider)}
        if patients:
            values = {"patients": [p.id for p in patients], "reach_from": reach[0], "reach_to": reach[1],
                      "unbounded": sorted(unbounded)}
            pairs = (_STATEMENTS.direct_in_reach.rows(session, values) if direct
                     else session.execute(_STATEMENTS.in_reach, values))
            wanted.update((claim, provider) for claim, provider in pairs)
        values = {"tenant": tenant.id, "claim_ids": sorted({pair[0] for pair in wanted})}
        found = (_STATEMENTS.direct_history.rows(session, values) if direct
                 else session.execute(_STATEMENTS.history, values))
        return [(pk, body) for pk, claim, provider, body in sorted(found, key=lambda row: row.id)
                if (claim, provider) in wanted]

    # -- listings: the API's claims and findings, the review UI's worklist ---------------------
    # Filters, counts and pages are the database's work: a page reads its own rows, never every
    # claim of the tenant (the message bodies are left unread: no listing shows them).
    def claim_conditions(self, tenant_id: int, *, verdict: str | None = None, status: str | None = None,
                         claim_id: str | None = None, patient: str | None = None, rule: str | None = None,
                         provider: str | None = None, payer: str | None = None, month: str | None = None,
                         worklist: bool = False) -> list:
        """The conditions selecting the tenant's claims that meet every filter given: `patient`
        an MRN or member id, `rule` a rule id among the claim's findings, `payer` the payer id the
        claim names, `month` YYYY-MM holding one of its lines' dates (the end date, else the
        start; a value not of that form matches nothing), `worklist` the claims a reviewer still
        has to look at (held, or flagged and not dismissed)."""
        claims = ClaimRow
        conditions = [claims.tenant_id == tenant_id]
        conditions += [column == value for column, value in (
            (claims.verdict, verdict), (claims.status, status), (claims.claim_id, claim_id),
            (claims.billing_provider, provider)) if value]
        if patient:
            conditions.append(claims.patient_id.in_(select(Patient.id).where(
                Patient.tenant_id == tenant_id, (Patient.mrn == patient) | (Patient.member_id == patient))))
        if rule:
            conditions.append(claims.id.in_(select(ClaimFinding.claim_pk).where(
                ClaimFinding.tenant_id == tenant_id, ClaimFinding.rule == rule)))
        if payer:
            conditions.append(claims.body["payer_id"].as_string() == payer)
        if month:
            try:
                first = date.fromisoformat(f"{month}-01") if len(month) == 7 else None
            except ValueError:
                first = None
            if first is None:
                conditions.append(false())
            else:
                after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
                day = func.coalesce(ClaimLineRow.date_to, ClaimLineRow.date_from)
                conditions.append(select(ClaimLineRow.id).where(
                    ClaimLineRow.claim_pk == claims.id, day >= first, day < after).exists())
        if worklist:
            conditions.append((claims.status == "held") | (
                (claims.verdict == "flag") & (claims.status == "forwarded") & claims.dismissed_at.is_(None)))
        return conditions

    def claims_page(self, session: Session, conditions: list, offset: int = 0, limit: int | None = None,
                    total: int | None = None) -> tuple[int, list[tuple[ClaimRow, str | None]]]:
        """How many claims meet `conditions` (from claim_conditions; counted unless the caller
        knows, `total`), and those from `offset` on (`limit` of them, all when None), newest first,
        each with its patient's MRN (else member id). The rows' message bodies are not loaded."""
        if total is None:
            total = session.scalar(select(func.count()).select_from(ClaimRow).where(*conditions))
        if offset >= total:  # past the end (a page number of any size: no OFFSET the database refuses)
            return total, []
        # the page's ids first (SQLite sorts ids read from an index, not whole rows), then its rows.
        # No index on (tenant, id) serves the order: PostgreSQL without statistics (autovacuum
        # off) then kept generic plans of the submission's lookups on that index, reading every
        # claim of the tenant for each
        ids = session.scalars(select(ClaimRow.id).where(*conditions).order_by(ClaimRow.id.desc())
                              .offset(offset).limit(limit)).all()
        rows = []
        for batch in _batches(ids):
            rows += session.execute(
                select(ClaimRow, Patient.mrn, Patient.member_id).options(defer(ClaimRow.body, raiseload=True))
                .outerjoin(Patient, Patient.id == ClaimRow.patient_id)
                .where(ClaimRow.id.in_(batch)).order_by(ClaimRow.id.desc())).all()
        return total, [(row, mrn or member) for row, mrn, member in rows]

    def worklist_counts(self, session: Session, tenant_id: int) -> dict[str, int]:
        """The worklist's size: held claims and open flags."""
        held = ClaimRow.status == "held"
        found = dict(session.execute(select(held, func.count()).where(
            *self.claim_conditions(tenant_id, worklist=True)).group_by(held)).all())
        return {"held": found.get(True, 0), "flagged": found.get(False, 0)}

    def findings_page(self, session: Session, tenant_id: int, rule: str | None = None,
                      severity: str | None = None, offset: int = 0, limit: int | None = None
                      ) -> tuple[int, list[dict]]:
        """How many findings of the tenant's claims have the rule and severity given, and those
        from `offset` on (`limit` of them), newest claim first and in the claim's order, each as
        shown with its claim's ledger id (`claim`) and claim id."""
        conditions = [ClaimFinding.tenant_id == tenant_id]
        conditions += [column == value for column, value in ((ClaimFinding.rule, rule),
                                                            (ClaimFinding.severity, severity)) if value]
        total = session.scalar(select(func.count()).select_from(ClaimFinding).where(*conditions))
        if offset >= total:
            return total, []
        keys = session.execute(select(ClaimFinding.claim_pk, ClaimFinding.position).where(*conditions)
                               .order_by(ClaimFinding.claim_pk.desc(), ClaimFinding.position)
                               .offset(offset).limit(limit)).all()
        claims = {}
        for batch in _batches(sorted({claim_pk for claim_pk, _ in keys})):
            claims.update((row.id, row) for row in session.execute(
                select(ClaimRow.id, ClaimRow.claim_id, ClaimRow.findings).where(ClaimRow.id.in_(batch))))
        return total, [{**claims[claim_pk].findings[position], "claim": claim_pk,
                        "claim_id": claims[claim_pk].claim_id} for claim_pk, position in keys]

    def lines_by_claim(self, session: Session, claim_pks: Iterable[int]) -> dict[int, list[ClaimLineRow]]:
        """The lines of each of the claims, in line order, read a few hundred claims at a time."""
        wanted = sorted(set(claim_pks))
        found: dict[int, list[ClaimLineRow]] = {claim_pk: [] for claim_pk in wanted}
        for batch in _batches(wanted):
            for line in session.scalars(select(ClaimLineRow).where(ClaimLineRow.claim_pk.in_(batch))
                                        .order_by(ClaimLineRow.claim_pk, ClaimLineRow.number)):
                found[line.claim_pk].append(line)
        return found

    def held_units(self, session: Session, tenant_id: int) -> list[tuple[str | None, int, bool]]:
        """The units billed by the tenant's held claims, by code and credit: (code, units, credit),
        a line without units (or with none) counting one."""
        lines = ClaimLineRow
        units = func.sum(case((func.coalesce(lines.units, 0) == 0, 1), else_=lines.units))
        return [(code, count, bool(credit)) for code, credit, count in session.execute(
            select(lines.code, lines.credit, units).join(ClaimRow, ClaimRow.id == lines.claim_pk)
            .where(ClaimRow.tenant_id == tenant_id, ClaimRow.status == "held")
            .group_by(lines.code, lines.credit))]

    def _utc_day(self, column):
        """SQL for the UTC day (YYYY-MM-DD) of a UTCDateTime column: SQLite keeps the moment as UTC
        text, PostgreSQL as a timestamp with time zone (read in the session's zone unless told)."""
        if self.is_postgres:
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
        return func.date(column)

    def claim_counts(self, session: Session, tenant_id: int) -> list[tuple[str, str, str, int]]:
        """How many of the tenant's claims were received on each UTC day with each verdict and
        status, counted by the database in one pass: (YYYY-MM-DD, verdict, status, claims)."""
        day = self._utc_day(ClaimRow.created_at).label("day")
        return [(when, verdict, status, n) for when, verdict, status, n in session.execute(
            select(day, ClaimRow.verdict, ClaimRow.status, func.count())
            .where(ClaimRow.tenant_id == tenant_id).group_by(day, ClaimRow.verdict, ClaimRow.status))]

    def resolution_times(self, session: Session, tenant_id: int) -> list[timedelta]:
        """For each of the tenant's claims a reviewer resolved, the time from its receipt to its
        release (a held claim) or its dismissal (a flag)."""
        released = session.execute(select(ClaimRow.created_at, Release.created_at).join(
            Release, Release.claim_pk == ClaimRow.id).where(ClaimRow.tenant_id == tenant_id))
        dismissed = session.execute(select(ClaimRow.created_at, ClaimRow.dismissed_at).where(
            ClaimRow.tenant_id == tenant_id, ClaimRow.dismissed_at.is_not(None)))
        return [end - start for start, end in (*released, *dismissed)]

    def rule_counts(self, session: Session, tenant_id: int,
                    limit: int | None = None) -> list[tuple[str, int]]:
        """How many findings each rule made among the tenant's claims, most first."""
        count = func.count().label("n")
        return [(rule, n) for rule, n in session.execute(
            select(ClaimFinding.rule, count).where(ClaimFinding.tenant_id == tenant_id)
            .group_by(ClaimFinding.rule).order_by(count.desc(), ClaimFinding.rule).limit(limit))]

    def findings_with_rules(self, session: Session, tenant_id: int, rules: Iterable[str]) -> list[dict]:
        """Every finding, as shown, of one of the `rules` among the tenant's claims."""
        wanted = sorted(set(rules))
        found = session.scalars(select(ClaimRow.findings).where(ClaimRow.id.in_(
            select(ClaimFinding.claim_pk).where(ClaimFinding.tenant_id == tenant_id,
                                                ClaimFinding.rule.in_(wanted)))))
        return [finding for findings in found for finding in findings if finding["rule"] in wanted]

    # -- what a submission writes (Core inserts: no mapped objects to track) -------------------
    def receive(self, session: Session, tenant_name: str, kind: str, source: str, mode: str | None,
                raw: bytes) -> tuple[int, TenantRef, str] | None:
        """Record a message as received by the named tenant, in `mode` (None: the tenant's own):
        its submission id, the tenant, and the mode used. None when there is no such tenant
        (nothing recorded)."""
        values = {"name": tenant_name, "kind": kind, "source": source, "mode": mode, "raw": raw,
                  "received_at": utcnow()}
        found = (_STATEMENTS.direct_receive.row(session, values) if self.is_postgres
                 else session.execute(_STATEMENTS.receive, values).first())
        if found is None:
            return None
        submission_id, tenant_id, mode_used = found
        return submission_id, TenantRef(tenant_id, tenant_name), mode_used

    def receive_claim(self, session: Session, tenant_name: str, kind: str, source: str, mode: str | None,
                      raw: bytes, billing_provider: str, claim_id: str, digest: str):
        """`receive` for a message of one claim, with `recorded` for that claim: (submission id,
        tenant, mode used, the recorded decision or None), or None when there is no such tenant.
        On PostgreSQL one statement."""
        if not self.is_postgres:
            received = self.receive(session, tenant_name, kind, source, mode, raw)
            if received is None:
                return None
            return *received, self.recorded(session, received[1], billing_provider, claim_id, digest)
        found = _STATEMENTS.direct_receive_claim.row(session, {
            "name": tenant_name, "kind": kind, "source": source, "mode": mode, "raw": raw,
            "received_at": utcnow(), "provider": billing_provider, "claim_id": claim_id, "digest": digest})
        if found is None:
            return None
        known = (_Recorded(found.claim_pk, found.verdict, found.status, found.findings)
                 if found.claim_pk is not None else None)
        return found.id, TenantRef(found.tenant_id, tenant_name), found.mode, known

    def add_claim(self, session: Session, tenant: Tenant | TenantRef, values: dict, lines: list[dict],
                  payload: str | None = None, due: bool = True) -> ClaimRef:
        """Record a claim's decision (`values`: its claims columns but the tenant) and its lines,
        and queue `payload` for downstream (pending when `due`, else held for a reviewer); a
        ClaimRef holding the claim's ledger id. The outbox row's idempotency key names the tenant,
        this id and the claim's content hash.

        On PostgreSQL the claim is held back, to be written in one statement with its lines,
        findings, outbox row and the unit of work's appends when the unit of work commits, or
        before the next statement the session runs (which might read it), whichever comes first:
        so the ledger id is known only then, and a unique key it breaks raises then."""
        # the idempotency key: the tenant's name, then the claim's id, then its content hash's start
        key_prefix, key_suffix = f"{tenant.name}/", f"/{values['content_hash'][:16]}"
        if self.is_postgres:
            _write_claim(session)  # one held back already goes first
            ref = ClaimRef()
            session.info[_CLAIM_KEY] = ({
                "patient_initials": "", **values, "body": Json(values["body"]),
                "findings": Json(values["findings"]), "tenant_id": tenant.id, "created_at": utcnow(),
                "line_rows": _json_rows(lines),
                "finding_rows": _json_rows(_finding_parts(values["findings"])),
                "queued": payload is not None, "payload": payload, "state": "pending" if due else "held",
                "key_prefix": key_prefix, "key_suffix": key_suffix}, ref)
            return ref
        claim_pk = session.execute(_STATEMENTS.add_claim, {**values, "tenant_id": tenant.id}).scalar_one()
        if lines:
            session.execute(_STATEMENTS.add_lines, [{**line, "claim_pk": claim_pk} for line in lines])
        if values["findings"]:
            session.execute(_STATEMENTS.add_findings, _finding_rows(tenant.id, claim_pk, values["findings"]))
        if payload is not None:
            session.execute(_STATEMENTS.add_outbox, {
                "tenant_id": tenant.id, "claim_pk": claim_pk, "payload": payload,
                "idempotency_key": f"{key_prefix}{claim_pk}{key_suffix}",
                "state": "pending" if due else "held"})
        return ClaimRef(claim_pk)

    def replace_findings(self, session: Session, row: ClaimRow, findings: list[dict]) -> None:
        """A claim checked again: its findings (as shown) and the rows the listings filter on."""
        row.findings = findings
        session.execute(delete(ClaimFinding).where(ClaimFinding.claim_pk == row.id))
        if findings:
            session.execute(_STATEMENTS.add_findings, _finding_rows(row.tenant_id, row.id, findings))

    def add_acknowledgements(self, session: Session, submission_id: int | None,
                             texts: list[tuple[str, str]]) -> None:
        """Record the answers sent for a submission: (kind, text) pairs, written when the unit of
        work commits (with its audit entries: on PostgreSQL one statement for both)."""
        now = utcnow()
        session.info.setdefault(_ACKS_KEY, []).extend(
            {"submission_id": submission_id, "kind": kind, "body": body, "created_at": now}
            for kind, body in texts)


def _batches(values: list, size: int = 500) -> Iterator[list]:
    """`values` a few hundred at a time: IN lists of a size every database takes."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _finding_parts(findings: list[dict]) -> list[dict]:
    """What a claim's findings rows take from its findings: each one's position in the list, its
    rule and its severity (_FINDING_COLUMNS)."""
    return [{"position": position, "rule": finding["rule"], "severity": finding["severity"]}
            for position, finding in enumerate(findings)]


def _finding_rows(tenant_id: int, claim_pk: int, findings: list[dict]) -> list[dict]:
    return [{**part, "claim_pk": claim_pk, "tenant_id": tenant_id} for part in _finding_parts(findings)]


# -- migrations -----------------------------------------------------------------------------
def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the schema to `revision` (the newest by default)."""
    from alembic import command

    with store.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def migration_status(store: Store) -> tuple[str | None, str]:
    """(the database's revision, the newest revision the code knows)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with store.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    return current, head
