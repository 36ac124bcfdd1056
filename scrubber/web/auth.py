"""Bearer tokens: each bound to one tenant and one role, stored as a slow hash (werkzeug's scrypt)
and shown once. A token reads `rpms_<credential id>_<secret>`: the id finds the row, the secret is
checked against its hash. Verified tokens are remembered for a minute (by a SHA-256 of the token)
so a busy sender does not pay the slow hash on every request; a revocation takes effect within
that minute. When the minute is up, the token's row is read again, and a token still valid whose
row holds the hash it was checked against is renewed without the slow hash: the secret was
checked against that very hash already, so checking it again would only repeat the answer. (It
cost 66 ms of CPU here, paid at once by every thread that held the expired token: a few hundred
ms of stalled requests once a minute.)"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, request
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from scrubber.store import Credential, Store, Tenant, utcnow
from scrubber.web.throttle import RateLimited, Throttle

__all__ = ["ROLES", "Principal", "HostUser", "create_token", "list_tokens", "revoke_token", "requires",
           "TokenCache"]

ROLES = ("submitter", "reviewer", "admin")
PREFIX = "rpms"
CACHE_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    credential_id: int
    tenant_id: int
    tenant: str
    role: str
    name: str


@dataclass(frozen=True)
class HostUser:
    """Who a host application (EHR plugin) says is calling: its tenant, role and a name for the
    audit log."""

    tenant: str
    role: str
    name: str


def create_token(store: Store, session: Session, tenant: Tenant, name: str, role: str) -> str:
    """A new token for the tenant with the role; the plaintext exists only in the return value."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    secret = secrets.token_urlsafe(32)
    row = Credential(tenant_id=tenant.id, kind="token", name=name, role=role,
                     secret_hash=generate_password_hash(secret))
    session.add(row)
    session.flush()
    store.audit(session, tenant, "cli", "token-created", f"credential {row.id}", role=role, name=name)
    return f"{PREFIX}_{row.id}_{secret}"


def list_tokens(session: Session, tenant: Tenant) -> list[Credential]:
    return list(session.scalars(select(Credential).where(
        Credential.tenant_id == tenant.id, Credential.kind == "token").order_by(Credential.id)))


def revoke_token(store: Store, session: Session, credential_id: int) -> bool:
    row = session.get(Credential, credential_id)
    if row is None or row.kind != "token" or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    tenant = session.get(Tenant, row.tenant_id)
    store.audit(session, tenant, "cli", "token-revoked", f"credential {row.id}")
    return True


@dataclass(frozen=True)
class _Verified:
    """A token checked against its credential's hash: who it is, the hash it matched, and until
    when it is taken on trust."""

    principal: Principal
    secret_hash: str
    until: float


class TokenCache:
    def __init__(self, seconds: float = CACHE_SECONDS):
        self.seconds = seconds
        self._entries: dict[str, _Verified] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> _Verified | None:
        """The token's entry, expired or not (`until` tells); None for a token never verified."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, principal: Principal, secret_hash: str) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = _Verified(principal, secret_hash, time.monotonic() + self.seconds)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


_DUMMY_HASH = generate_password_hash("no such token")


def _verify(store: Store, token: str, known: _Verified | None = None) -> tuple[Principal, str] | None:
    """The token's principal and the hash it matched, or None for a token not valid (malformed,
    unknown, revoked, or a secret that does not match). With `known` (what an earlier check of
    this very token found), a row still holding the hash it matched then is valid without the slow
    hash."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isascii() or not parts[1].isdigit() \
            or len(parts[1]) > 18:  # ids fit a 64-bit integer
        return None
    with store.sessions() as session:
        row = session.get(Credential, int(parts[1]))
        if row is None or row.kind != "token" or row.revoked_at is not None:
            if known is None:
                check_password_hash(_DUMMY_HASH, parts[2])  # as slow as a real check: ids are not probed
            return None
        if known is None or known.principal.credential_id != row.id or known.secret_hash != row.secret_hash:
            if not check_password_hash(row.secret_hash, parts[2]):
                return None
        tenant = session.get(Tenant, row.tenant_id)
        return Principal(row.id, tenant.id, tenant.name, row.role, row.name), row.secret_hash


def _from_host(user: HostUser) -> Principal:
    if user.role not in ROLES:
        abort(403, message=f"the host application gave an unknown role {user.role!r}")
    store: Store = current_app.extensions["scrubber.store"]
    with store.transaction() as session:
        tenant = store.tenant(session, user.tenant, create=True)
        return Principal(0, tenant.id, tenant.name, user.role, user.name)


def _principal() -> Principal:
    host = current_app.extensions.get("scrubber.authenticate")
    if host is not None:
        user = host(request)
        if user is not None:
            return _from_host(user)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="a bearer token is required (Authorization: Bearer <token>)",
              headers={"WWW-Authenticate": "Bearer"})
    token = token.strip()
    key = hashlib.sha256(token.encode()).hexdigest()
    cache: TokenCache = current_app.extensions["scrubber.tokens"]
    throttle: Throttle = current_app.extensions["scrubber.throttle"]
    address = request.remote_addr or "unknown"
    known = cache.get(key)
    if known is not None and known.until > time.monotonic():
        principal = known.principal
    else:
        if known is None:  # a renewal is no guess: only a token verified before gets one
            _throttled(throttle.check, "token_failures", address, "refused tokens from this address")
        verified = _verify(current_app.extensions["scrubber.store"], token, known)
        if verified is None:
            cache.drop(key)
            throttle.count("token_failures", address)
            abort(401, message="the bearer token is not valid", headers={"WWW-Authenticate": "Bearer"})
        principal, secret_hash = verified
        cache.put(key, principal, secret_hash)
    _throttled(throttle.hit, "token", str(principal.credential_id), "requests with this token")
    return principal


def _throttled(limit, name: str, key: str, what: str) -> None:
    """Apply one of the Throttle's limits; 429 with Retry-After when it is spent."""
    try:
        limit(name, key, what)
    except RateLimited as refused:
        abort(429, message=str(refused), headers={"Retry-After": str(refused.retry_after)})


def requires(*roles: str):
    """The view needs a valid token of one of `roles` (admin may do everything)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = _principal()
            if principal.role != "admin" and principal.role not in roles:
                abort(403, message=f"this needs the {' or '.join(roles)} role; the token's role is "
                                   f"{principal.role}")
            g.principal = principal
            return view(*args, **kwargs)
        return wrapper
    return decorate
