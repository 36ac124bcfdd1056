"""The review UI: server-rendered pages for revenue-cycle reviewers (Flask + Jinja, no build step,
every asset served by the app). Log-in with a username and a hashed password (reviewer or admin),
session cookies Secure/HttpOnly/SameSite=Lax, a CSRF token on every form (Flask-WTF), lock-out
after repeated failures."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from functools import wraps
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from hl7.message import split_messages
from scrubber.catalogue import catalogue
from scrubber.docjson import DocumentationError, load_documentation
from scrubber.model import ascii_digits
from scrubber.monthview import month_view
from scrubber.store import (
    Acknowledgement,
    AuditEntry,
    ClaimRow,
    Credential,
    OutboxRow,
    Release,
    Store,
    Submission,
    Tenant,
    utcnow,
)
from scrubber.web.throttle import RateLimited
from x12.tokenizer import decode, serialize, tokenize

__all__ = ["blp", "MAX_FAILURES", "LOCK_MINUTES"]

blp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static",
                static_url_path="/static")

MAX_FAILURES, LOCK_MINUTES = 5, 15
_DUMMY_HASH = generate_password_hash("no such user")
UI_ROLES = ("reviewer", "admin")
PAGE_SIZE = 25
FILTERS = ("verdict", "rule", "patient", "payer", "provider", "month")
_X12_POSITION = re.compile(r" at segment (\d+)$")
_HL7_SEGMENT = re.compile(r"^([A-Z][A-Z0-9]{2})\((\d+)\)")


def _store() -> Store:
    return current_app.extensions["scrubber.store"]


def _host_user() -> dict | None:
    """Inside a host application (the EHR plugin), the host's signed-in reviewer or admin."""
    host = current_app.extensions.get("scrubber.authenticate")
    found = host(request) if host is not None else None
    if found is None or found.role not in UI_ROLES:
        return None
    store = _store()
    with store.transaction() as db:
        tenant = store.tenant(db, found.tenant, create=True)
        return {"id": 0, "name": found.name, "role": found.role, "tenant_id": tenant.id,
                "tenant": tenant.name}


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        user = session.get("user") or _host_user()
        if not user:
            return redirect(url_for("ui.login", next=request.full_path))
        g.user = user
        return view(*args, **kwargs)
    return wrapper


@blp.app_context_processor
def _csrf():
    return {"csrf_token": generate_csrf}


@blp.errorhandler(CSRFError)
def _csrf_failed(error):
    return render_template("ui/error.html", message="The form expired or did not come from this site. "
                           "Go back, reload the page and try again."), 400


# -- log-in -------------------------------------------------------------------------------
@blp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("ui/login.html", next=request.args.get("next", ""))
    current_app.extensions["csrf"].protect()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        current_app.extensions["scrubber.throttle"].hit("login", request.remote_addr or "unknown",
                                                        "log-in attempts from this address")
    except RateLimited as refused:
        page = render_template("ui/login.html", error=f"Too many log-in attempts from this address; "
                               f"try again in {refused.retry_after} s.", username=username,
                               next=request.form.get("next", ""))
        return page, 429, {"Retry-After": str(refused.retry_after)}
    store = _store()
    with store.transaction() as db:
        rows = db.scalars(select(Credential).where(Credential.kind == "password",
                                                   Credential.name == username)).all()
        row = rows[0] if len(rows) == 1 else None
        now = utcnow()
        refused = "Unknown user or wrong password."
        if row is not None and row.locked_until is not None and row.locked_until > now:
            refused = (f"Too many failed log-ins: this account is locked until "
                       f"{row.locked_until:%H:%M} UTC.")
        elif row is not None and row.revoked_at is None and row.role in UI_ROLES \
                and check_password_hash(row.secret_hash, password):
            row.failed_logins, row.locked_until = 0, None
            tenant = db.get(Tenant, row.tenant_id)
            store.audit(db, tenant, row.name, "login", f"user {row.name}")
            session.clear()
            session["user"] = {"id": row.id, "name": row.name, "role": row.role,
                               "tenant_id": tenant.id, "tenant": tenant.name}
            target = request.form.get("next", "")
            home = url_for("ui.worklist")
            return redirect(target if target.startswith(home) else home)
        elif row is None:
            check_password_hash(_DUMMY_HASH, password)  # as slow as a real check: no user enumeration
        else:
            row.failed_logins += 1
            if row.failed_logins >= MAX_FAILURES:
                row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                row.failed_logins = 0
                store.audit(db, db.get(Tenant, row.tenant_id), row.name, "locked-out", f"user {row.name}")
    return render_template("ui/login.html", error=refused, username=username,
                           next=request.form.get("next", "")), 401


@blp.route("/logout", methods=["POST"])
def logout():
    current_app.extensions["csrf"].protect()
    session.clear()
    return redirect(url_for("ui.login"))


# -- the worklist -------------------------------------------------------------------------
def _worklist_items(db, rows: list) -> list[dict]:
    """What the worklist shows of each (claim, patient) row: codes, top finding, dollars at stake."""
    lines = _store().lines_by_claim(db, (claim.id for claim, _ in rows))
    items = []
    for claim, patient in rows:
        top = next(iter(sorted(claim.findings, key=lambda f: ("block", "flag", "info").index(f["severity"]))),
                   None)
        items.append({"claim": claim, "patient": patient, "codes": [line.code for line in lines[claim.id]],
                      "top": top, "at_stake": _dollars(lines[claim.id])})
    return items


def page_window(page: int, pages: int, around: int = 3) -> list[int | None]:
    """The page numbers the pager links to: the first, the last and those near the current one,
    None where numbers are left out (a worklist of thousands of pages gets a short pager)."""
    shown = sorted({1, pages} | set(range(max(1, page - around), min(pages, page + around) + 1)))
    window: list[int | None] = []
    for number in shown:
        if window and number - window[-1] > 1:
            window.append(None)
        window.append(number)
    return window


def _worklist_conditions(args) -> list:
    return _store().claim_conditions(g.user["tenant_id"], worklist=True, **args)


def _dollars(lines) -> float:
    """What the lines would be paid, estimated from the catalogue's national payment figures
    (unknown codes count nothing; a credit counts against)."""
    return _dollars_of((line.code, line.units or 1, line.credit) for line in lines)


def _dollars_of(units) -> float:
    """The same from (code, units, credit) triples."""
    codes = catalogue().codes
    total = 0.0
    for code, count, credit in units:
        info = codes.get(code or "")
        if info is not None and info.payment:
            total += info.payment * count * (-1 if credit else 1)
    return total


_ADD_UNITS = re.compile(r"Add (\d+) unit")


OPPORTUNITY_RULES = ("unbilled-addon-time", "unbilled-management-time")


def _opportunity(finding: dict) -> float:
    """Revenue the documentation supports but the claims do not bill (estimated)."""
    codes = catalogue().codes
    if finding["rule"] == "unbilled-addon-time":
        found = _ADD_UNITS.search(finding["suggestion"])
        return (codes["99458"].payment or 0) * (int(found.group(1)) if found else 1)
    if finding["rule"] == "unbilled-management-time" and finding.get("code") in codes:
        return codes[finding["code"]].payment or 0
    return 0.0


@blp.route("/")
@login_required
def worklist():
    args = {key: request.args.get(key, "").strip() for key in FILTERS}
    page = max(1, request.args.get("page", 1, type=int) or 1)
    store = _store()
    with store.sessions() as db:
        counts = store.worklist_counts(db, g.user["tenant_id"])
        known = None if any(args.values()) else counts["held"] + counts["flagged"]  # unfiltered: counted
        total, rows = store.claims_page(db, _worklist_conditions(args), (page - 1) * PAGE_SIZE, PAGE_SIZE,
                                        known)
        shown = _worklist_items(db, rows)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    query = {k: v for k, v in args.items() if v}
    return render_template("ui/worklist.html", items=shown, counts=counts, filters=args, page=page,
                           pages=pages, window=page_window(page, pages), total=total,
                           page_link=lambda n: url_for("ui.worklist") + "?" + urlencode({**query, "page": n}))


# -- one claim ----------------------------------------------------------------------------
def _own(db, claim_pk: int) -> ClaimRow:
    row = _store().claim_of(db, g.user["tenant_id"], claim_pk)
    if row is None:
        abort(404)
    return row


def _marks(findings: list[dict]) -> tuple[set[int], set[tuple[str, int]]]:
    """Segment positions (X12) and (segment, sequence) pairs (HL7) the findings point at."""
    positions, named = set(), set()
    for finding in findings:
        location = finding.get("location") or ""
        found = _X12_POSITION.search(location)
        if found:
            positions.add(int(found.group(1)))
        found = _HL7_SEGMENT.match(location)
        if found:
            named.add((found.group(1), int(found.group(2))))
    return positions, named


def _message_segments(raw: bytes | None, claim: ClaimRow) -> list[dict]:
    """The claim's transaction set (X12) or message (HL7), segment by segment, marked where a
    finding points."""
    if raw is None:
        return []
    positions, named = _marks(claim.findings)
    text = decode(raw)
    if claim.format == "x12":
        for interchange in tokenize(text):
            delimiters = interchange.delimiters
            current: list = []
            for segment in interchange.segments:
                if segment.id == "ST":
                    current = []
                current.append(segment)
                if segment.id == "SE":
                    if any(s.id == "CLM" and s.get(1) == claim.claim_id for s in current):
                        return [{"n": n, "text": serialize([s], delimiters).rstrip("\r\n"),
                                 "marked": n in positions} for n, s in enumerate(current, start=1)]
        return []
    for message in split_messages(text):
        lines = message.split("\r")
        fields = lines[0].split(lines[0][3]) if len(lines[0]) > 3 else []
        if len(fields) > 9 and fields[9] == claim.claim_id:
            seen: dict[str, int] = {}
            out = []
            for n, line in enumerate(lines, start=1):
                name = line[:3]
                seen[name] = seen.get(name, 0) + 1
                out.append({"n": n, "text": line, "marked": (name, seen[name]) in named})
            return out
    return []


@blp.route("/claims/<int:claim_pk>")
@login_required
def claim(claim_pk: int):
    with _store().sessions() as db:
        row = _own(db, claim_pk)
        lines = _store().lines_of(db, row.id)
        submission = db.get(Submission, row.submission_id)
        acks = db.scalars(select(Acknowledgement).where(Acknowledgement.submission_id == row.submission_id)
                          .order_by(Acknowledgement.id)).all()
        trail = db.scalars(select(AuditEntry).where(
            AuditEntry.tenant_id == row.tenant_id,
            AuditEntry.subject.in_([f"claim {row.id}", f"submission {row.submission_id}"]))
            .order_by(AuditEntry.id)).all()
        outbox = db.scalar(select(OutboxRow).where(OutboxRow.claim_pk == row.id))
        releases = db.scalars(select(Release).where(Release.claim_pk == row.id)).all()
        segments = _message_segments(submission.raw if submission else None, row)
        months = sorted({(line.date_to or line.date_from).strftime("%Y-%m") for line in lines
                         if line.date_to or line.date_from})
        return render_template("ui/claim.html", claim=row, lines=lines, at_stake=_dollars(lines),
                               months=months,
                               patient=_store().patient_label(db, row),
                               segments=segments, acks=acks, trail=trail, outbox=outbox,
                               releases=releases, raw_kept=bool(submission and submission.raw))


# -- the dashboard --------------------------------------------------------------------------
@blp.route("/dashboard")
@login_required
def dashboard():
    tenant_id = g.user["tenant_id"]
    store = _store()
    with store.sessions() as db:
        # counted by the database: no claim is read whole, nor one row per claim
        counted = store.claim_counts(db, tenant_id)
        resolved = sorted(store.resolution_times(db, tenant_id))
        rules = store.rule_counts(db, tenant_id, limit=10)
        revenue = [_opportunity(f) for f in store.findings_with_rules(db, tenant_id, OPPORTUNITY_RULES)]
        held_units = store.held_units(db, tenant_id)
    by_day: dict[str, dict[str, int]] = {}
    by_month: dict[str, dict[str, int]] = {}
    statuses: dict[str, int] = {}
    for day, verdict, status, count in counted:
        statuses[status] = statuses.get(status, 0) + count
        for bucket, key in ((by_day, day), (by_month, day[:7])):
            counts = bucket.setdefault(key, {"pass": 0, "flag": 0, "block": 0})
            counts[verdict] = counts.get(verdict, 0) + count
    opportunities, opportunity_count = sum(revenue), sum(1 for value in revenue if value)
    held, released = statuses.get("held", 0), statuses.get("released", 0)
    median = resolved[len(resolved) // 2] if resolved else None
    days = sorted(by_day.items())[-30:]
    peak = max((sum(c.values()) for _, c in days), default=1) or 1
    return render_template(
        "ui/dashboard.html", days=days, peak=peak, months=sorted(by_month.items()),
        rules=rules, held=held, dollars_held=_dollars_of(held_units),
        opportunities=opportunities, opportunity_count=opportunity_count,
        release_rate=released / (held + released) if held + released else None, median=median)


# -- the patient-month ----------------------------------------------------------------------
THRESHOLDS = (10, 20, 40, 60, 80)
CHART_W, CHART_H, PAD = 720, 260, 40


def _minutes_chart(view) -> dict:
    """Coordinates for the cumulative-minutes SVG: one step per time entry."""
    days = (view.window.end - view.window.start).days + 1
    total = 0.0
    points = []
    interactive = {id(e) for e in view.interactive}
    for entry in view.entries:
        total += entry.minutes
        points.append({"day": (entry.date - view.window.start).days + 1, "total": total,
                       "interactive": id(entry) in interactive, "entry": entry})
    top = max(90.0, total + 10)
    x = lambda day: PAD + (day - 0.5) * (CHART_W - 2 * PAD) / days  # noqa: E731
    y = lambda minutes: CHART_H - PAD - minutes * (CHART_H - 2 * PAD) / top  # noqa: E731
    path, running = [f"{x(0.5):.1f},{y(0):.1f}"], 0.0
    for point in points:
        path.append(f"{x(point['day']):.1f},{y(running):.1f}")
        running = point["total"]
        path.append(f"{x(point['day']):.1f},{y(running):.1f}")
        point["x"], point["y"] = x(point["day"]), y(running)
    path.append(f"{x(days + 0.5):.1f},{y(running):.1f}")
    return {"width": CHART_W, "height": CHART_H, "pad": PAD, "path": " ".join(path), "points": points,
            "thresholds": [{"minutes": t, "y": y(t)} for t in THRESHOLDS if t < top],
            "ticks": [{"day": d, "x": x(d)} for d in range(1, days + 1) if d == 1 or d % 5 == 0],
            "bottom": CHART_H - PAD, "right": CHART_W - PAD}


@blp.route("/patients/<string:patient_id>/months/<string:month>")
@login_required
def patient_month(patient_id: str, month: str):
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        abort(404)
    store = _store()
    with store.sessions() as db:
        tenant = db.get(Tenant, g.user["tenant_id"])
        view = month_view(store, db, tenant, patient_id, first,
                          current_app.extensions["scrubber.workflow"].profile, catalogue())
    if view is None:
        abort(404)
    length = (view.window.end - view.window.start).days + 1
    days = [view.window.start + timedelta(days=n) for n in range(length)]
    data_days = {day for _, period_days in view.periods for day in period_days}
    return render_template("ui/month.html", view=view, chart=_minutes_chart(view), days=days,
                           data_days=data_days)


@blp.route("/claims/<int:claim_pk>/dismiss", methods=["POST"])
@login_required
def dismiss(claim_pk: int):
    """Take a reviewed flag off the worklist (the claim went downstream already)."""
    current_app.extensions["csrf"].protect()
    store = _store()
    with store.transaction() as db:
        row = _own(db, claim_pk)
        try:
            store.dismiss(db, row, g.user["name"], request.form.get("note", "").strip())
        except ValueError as error:
            flash(f"Not dismissed: {error}.", "error")
            return redirect(url_for("ui.claim", claim_pk=claim_pk))
    flash(f"Flag on claim {row.claim_id} dismissed.", "ok")
    return redirect(url_for("ui.worklist"))


@blp.route("/release", methods=["POST"])
@login_required
def release_many():
    """Release the selected held claims with one reason."""
    current_app.extensions["csrf"].protect()
    reason = request.form.get("reason", "").strip()
    # ledger ids are ASCII digits, ten at most (int() reads any script's digits, and raises on
    # more than 4,300 of them)
    chosen = [int(v) for v in request.form.getlist("claim") if ascii_digits(v) and len(v) <= 10]
    if len(reason) < 3 or not chosen:
        flash("Select held claims and give a reason to release them.", "error")
        return redirect(url_for("ui.worklist", verdict="block"))
    store = _store()
    released, refused = [], []
    with store.transaction() as db:
        for claim_pk in chosen:
            row = _own(db, claim_pk)
            try:
                store.release(db, row, g.user["name"], reason)
                released.append(row.claim_id)
            except ValueError:
                refused.append(row.claim_id)
    message = f"Released {len(released)} claim(s): {', '.join(released)}."
    flash(message + (f" Not held, left as they were: {', '.join(refused)}." if refused else ""),
          "ok" if released else "error")
    return redirect(url_for("ui.worklist"))


@blp.route("/worklist.csv")
@login_required
def worklist_csv():
    """The worklist under the same filters, as CSV (one row per claim)."""
    args = {key: request.args.get(key, "").strip() for key in FILTERS}
    with _store().sessions() as db:
        items = _worklist_items(db, _store().claims_page(db, _worklist_conditions(args))[1])
    return _csv("worklist.csv", ["claim_id", "patient", "status", "verdict", "codes", "top_rule",
                                 "top_finding", "at_stake", "received"],
                ([i["claim"].claim_id, i["patient"] or "", i["claim"].status, i["claim"].verdict,
                  " ".join(c or "" for c in i["codes"]), i["top"]["rule"] if i["top"] else "",
                  i["top"]["message"] if i["top"] else "", f"{i['at_stake']:.2f}",
                  i["claim"].created_at.isoformat(timespec="seconds")] for i in items))


@blp.route("/findings.csv")
@login_required
def findings_csv():
    """Every finding of the tenant's claims, newest claim first, as CSV."""
    with _store().sessions() as db:
        rows = db.execute(select(ClaimRow.claim_id, ClaimRow.status, ClaimRow.findings)
                          .where(ClaimRow.tenant_id == g.user["tenant_id"]).order_by(ClaimRow.id.desc()))
        return _csv("findings.csv", ["claim_id", "status", "rule", "severity", "line", "code", "message",
                                     "suggestion"],
                    ([row.claim_id, row.status, f["rule"], f["severity"], f["line"] or "", f["code"] or "",
                      f["message"], f["suggestion"]] for row in rows for f in row.findings))


def _csv(name: str, header: list[str], rows) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@blp.route("/claims/<int:claim_pk>/rescrub", methods=["POST"])
@login_required
def rescrub(claim_pk: int):
    """Store corrected documentation JSON when one is uploaded, then check the held claim again."""
    current_app.extensions["csrf"].protect()
    store = _store()
    with store.sessions() as db:
        _own(db, claim_pk)
    upload = request.files.get("documentation")
    if upload is not None and upload.filename:
        try:
            parsed = load_documentation(upload.read().decode("utf-8", errors="replace"))
        except DocumentationError as error:
            flash(f"The documentation was not accepted: {error}", "error")
            return redirect(url_for("ui.claim", claim_pk=claim_pk))
        with store.transaction() as db:
            tenant = db.get(Tenant, g.user["tenant_id"])
            store.add_all_documentation(db, tenant, parsed)
            store.audit(db, tenant, g.user["name"], "documentation", "patients", source="upload",
                        patients=len(parsed.patients))
    try:
        row = current_app.extensions["scrubber.workflow"].rescrub(g.user["tenant"], claim_pk, g.user["name"])
    except ValueError as error:
        flash(f"Not checked again: {error}.", "error")
        return redirect(url_for("ui.claim", claim_pk=claim_pk))
    if row.status == "held":
        flash(f"Checked again: claim {row.claim_id} is still held.", "error")
        return redirect(url_for("ui.claim", claim_pk=claim_pk))
    flash(f"Checked again: claim {row.claim_id} now {row.verdict}s and goes downstream.", "ok")
    return redirect(url_for("ui.worklist"))


@blp.route("/claims/<int:claim_pk>/release", methods=["POST"])
@login_required
def release(claim_pk: int):
    current_app.extensions["csrf"].protect()
    reason = request.form.get("reason", "").strip()
    store = _store()
    with store.transaction() as db:
        row = _own(db, claim_pk)
        if len(reason) < 3:
            flash("Give a reason (at least a few words) to release a claim.", "error")
            return redirect(url_for("ui.claim", claim_pk=claim_pk))
        try:
            store.release(db, row, g.user["name"], reason)
        except ValueError as error:
            flash(f"Not released: {error}.", "error")
            return redirect(url_for("ui.claim", claim_pk=claim_pk))
    flash(f"Claim {row.claim_id} released: it goes downstream.", "ok")
    return redirect(url_for("ui.worklist"))
