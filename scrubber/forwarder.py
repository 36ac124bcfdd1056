"""Forwarding: outbox rows delivered downstream, at least once, each delivery carrying the claim's
idempotency key so a repeat is recognisable.

A worker leases due rows in a short transaction (on PostgreSQL with FOR UPDATE SKIP LOCKED, so
several workers on several hosts never take the same row; on SQLite writers queue), counting the
attempt and pushing `next_attempt_at` past the lease; it delivers outside any transaction, then
marks the row delivered, or schedules a retry with exponential back-off and jitter, or after the
last attempt marks it dead (visible in the API and metrics). A worker killed mid-delivery leaves
the row leased; when the lease runs out another worker delivers it again, with the same key.

Downstream: SCRUBBER_DOWNSTREAM_URL, `https://...` (POST of the payload; SCRUBBER_DOWNSTREAM_AUTH
is sent as the Authorization header) or `file:///dir` (a mailbox folder: each claim is written to
a temporary name and renamed into place, so a reader never sees half a file). Also
SCRUBBER_DOWNSTREAM_ATTEMPTS (8), SCRUBBER_DOWNSTREAM_BACKOFF (2 s, doubled per attempt, capped at
an hour, +-20 % jitter), SCRUBBER_DOWNSTREAM_TIMEOUT (30 s for one HTTP delivery) and
SCRUBBER_DOWNSTREAM_LEASE (60 s; keep it above the timeout).
"""
from __future__ import annotations

import logging
import os
import random
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import select

from scrubber.store import ClaimRow, OutboxRow, Store, utcnow

__all__ = ["Forwarder", "Delivery", "DeliveryError", "from_environment", "mailbox_name"]

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)


class DeliveryError(Exception):
    pass


@dataclass(frozen=True)
class Delivery:
    key: str
    payload: str
    media_type: str


def _media_type(kind: str) -> str:
    return "application/edi-x12" if kind == "x12" else "application/hl7-v2"


def deliver_http(url: str, delivery: Delivery, authorization: str | None, timeout: float) -> None:
    request = urllib.request.Request(url, data=delivery.payload.encode("utf-8"), method="POST", headers={
        "Content-Type": delivery.media_type, "Idempotency-Key": delivery.key,
        **({"Authorization": authorization} if authorization else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"downstream answered {error.code}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryError(f"downstream unreachable ({type(reason).__name__}: {reason})") from None


def mailbox_name(key: str) -> str:
    """The file name (without suffix) a claim gets in a mailbox folder: its idempotency key with
    anything but letters, digits, '.', '_' and '-' made '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


def deliver_file(folder: Path, delivery: Delivery) -> None:
    name = mailbox_name(delivery.key)
    suffix = ".837" if delivery.media_type == "application/edi-x12" else ".hl7"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=suffix)
        with os.fdopen(handle, "wb") as out:
            out.write(delivery.payload.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / f"{name}{suffix}")
    except OSError as error:
        try:
            os.unlink(temporary)
        except (OSError, UnboundLocalError):
            pass
        raise DeliveryError(f"mailbox write failed ({error.strerror or error})") from None


class Forwarder:
    def __init__(self, store: Store, downstream: str, authorization: str | None = None,
                 max_attempts: int = 8, base_delay: float = 2.0, max_delay: float = 3600.0,
                 timeout: float = 30.0, lease: timedelta = LEASE):
        parsed = urlparse(downstream)
        if parsed.scheme not in ("http", "https", "file"):
            raise ValueError(f"downstream {downstream!r} must be https://..., http://... or file:///dir")
        self.store = store
        self.downstream = downstream
        self.folder = Path(parsed.path) if parsed.scheme == "file" else None
        self.authorization = authorization
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self.lease = lease

    def _lease(self, limit: int) -> list[tuple[int, int, Delivery]]:
        now = utcnow()
        with self.store.transaction() as session:
            query = (select(OutboxRow, ClaimRow.format).join(ClaimRow, ClaimRow.id == OutboxRow.claim_pk)
                     .where(OutboxRow.state == "pending", OutboxRow.next_attempt_at <= now)
                     .order_by(OutboxRow.id).limit(limit))
            if self.store.is_postgres:
                query = query.with_for_update(skip_locked=True, of=OutboxRow)
            leased = []
            for row, kind in session.execute(query).all():
                row.attempts += 1
                row.next_attempt_at = now + self.lease
                leased.append((row.id, row.attempts, Delivery(row.idempotency_key, row.payload,
                                                               _media_type(kind))))
        return leased

    def _deliver(self, delivery: Delivery) -> None:
        if self.folder is not None:
            deliver_file(self.folder, delivery)
        else:
            deliver_http(self.downstream, delivery, self.authorization, self.timeout)

    def backoff(self, attempts: int) -> float:
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        return delay * random.uniform(0.8, 1.2)

    def run_once(self, limit: int = 20) -> int:
        """Deliver what is due; returns how many rows were attempted."""
        leased = self._lease(limit)
        for row_id, attempts, delivery in leased:
            try:
                self._deliver(delivery)
            except DeliveryError as error:
                self._failed(row_id, attempts, str(error))
            else:
                with self.store.transaction() as session:
                    row = session.get(OutboxRow, row_id)
                    row.state, row.delivered_at, row.last_error = "delivered", utcnow(), None
                log.info("outbox %s delivered (attempt %s)", row_id, attempts)
        return len(leased)

    def _failed(self, row_id: int, attempts: int, reason: str) -> None:
        with self.store.transaction() as session:
            row = session.get(OutboxRow, row_id)
            row.last_error = reason
            if attempts >= self.max_attempts:
                row.state = "dead"
                log.warning("outbox %s dead after %s attempts: %s", row_id, attempts, reason)
            else:
                row.next_attempt_at = utcnow() + timedelta(seconds=self.backoff(attempts))
                log.info("outbox %s attempt %s failed: %s", row_id, attempts, reason)

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        retention = os.environ.get("SCRUBBER_RAW_RETENTION_DAYS")
        purged_at = 0.0
        while not stop.is_set():
            try:
                if retention and time.monotonic() - purged_at > 3600:  # hourly
                    with self.store.transaction() as session:
                        self.store.purge_raw(session, timedelta(days=int(retention)))
                    purged_at = time.monotonic()
                busy = self.run_once()
            except Exception:  # the database went away for a moment: log, wait, go on
                log.exception("forwarding pass failed")
                busy = 0
            if not busy:
                stop.wait(interval)


def from_environment(store: Store | None = None) -> Forwarder:
    downstream = os.environ.get("SCRUBBER_DOWNSTREAM_URL")
    if not downstream:
        raise ValueError("SCRUBBER_DOWNSTREAM_URL is not set (https://... or file:///dir)")
    return Forwarder(store or Store(), downstream, os.environ.get("SCRUBBER_DOWNSTREAM_AUTH"),
                     int(os.environ.get("SCRUBBER_DOWNSTREAM_ATTEMPTS", 8)),
                     float(os.environ.get("SCRUBBER_DOWNSTREAM_BACKOFF", 2.0)),
                     timeout=float(os.environ.get("SCRUBBER_DOWNSTREAM_TIMEOUT", 30.0)),
                     lease=timedelta(seconds=float(os.environ.get("SCRUBBER_DOWNSTREAM_LEASE", 60))))
