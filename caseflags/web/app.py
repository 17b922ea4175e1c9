"""The officers' workspace: a Starlette application with server-rendered Jinja2 pages.

Pages (interface fixed in docs/WEB.md): `/login`, `/`, `/exceptions`, `/exceptions/<id>`,
`/exceptions/export.csv|xlsx`, `/children/<person_id>`, `/matches`, `/healthz`. Data come from
the snapshot (`caseflags.web.snapshot`); what users save goes to the workspace database
(`caseflags.workspace.database`). Every page and export checks the session, the scope and, on POST,
the CSRF token, and is written to the access log by user and route pattern.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from caseflags.outputs.files import csv_text, workbook_bytes
from caseflags.web import (
    accounts,
    audit_pages,  # noqa: F401  (imported for its @page handlers, which register themselves)
    queries,
    reviews,
)
from caseflags.web.pages import (
    HERE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Context,
    Settings,
    check_csrf,
    client_address,
    ctx_of,
    page,
    page_routes,
    render,
    safe_next,
    snapshot_cursor,
    web_tables,
)
from caseflags.web.snapshot import SnapshotUnavailable, nightly_running
from caseflags.workspace.database import session_secret

__all__ = ["Settings", "create_app"]

BULK_LIMIT = 5000
# The largest request body accepted (forms only: a bulk review of BULK_LIMIT ticked ids is ~250 KB).
MAX_BODY_BYTES = 1024 * 1024


# -- login -----------------------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    ctx = ctx_of(request)
    try:
        info = queries.snapshot_info(ctx.snapshot.cursor())
        snapshot = {"run_id": info["run_id"], "as_at": info["as_at"].isoformat()}
    except SnapshotUnavailable:
        snapshot = None
    return JSONResponse(
        {"status": "ok", "snapshot": snapshot, "nightly_running": nightly_running(ctx.settings.db_path)}
    )


def _login_targets(request: Request, form=None) -> tuple[str, str | None]:
    """Where to go after login (a local path only) and the stashed form to offer there."""
    source = form if form is not None else request.query_params
    resume = str(source.get("resume") or "")
    return safe_next(str(source.get("next") or "")), (resume if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", resume) else None)


async def login(request: Request) -> Response:
    if request.method == "GET":
        next_path, resume = _login_targets(request)
        expired = request.query_params.get("next") is not None or resume is not None
        return render(request, "login.html", None, next_path=next_path, resume=resume, expired=expired)
    form = await check_csrf(request)
    next_path, resume = _login_targets(request, form)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    ctx = ctx_of(request)
    ws = ctx.workspace.connection()
    try:
        user = accounts.authenticate(ws, username, password, client_address(request))
    except accounts.LoginRefused as refused:
        accounts.log_access(ws, None, "POST", "/login", [], 429, None)
        response = render(
            request,
            "login.html",
            None,
            429,
            next_path=next_path,
            resume=resume,
            error=f"Too many failed attempts for this user name from here: try again in "
            f"{_duration(refused.retry_after)}.",
        )
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    if user is None:
        accounts.log_access(ws, None, "POST", "/login", [], 401, None)
        return render(
            request, "login.html", None, 401, next_path=next_path, resume=resume, error="Wrong user name or password."
        )
    accounts.end_session(ws, request.session.get("sid"))
    session_id = accounts.start_session(ws, user.username, ctx.settings.session_hours)
    stashed = request.session.get("resume")  # this browser's stashed form, if any
    request.session.clear()  # a new id at login: a session id planted before it is worth nothing
    request.session.update(sid=session_id, csrf=secrets.token_urlsafe(32), **({"resume": stashed} if stashed else {}))
    accounts.log_access(ws, user.username, "POST", "/login", [], 303, None)
    if resume:
        next_path += ("&" if "?" in next_path else "?") + urlencode({"resume": resume})
    return RedirectResponse(next_path, status_code=303)


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


@page("/logout", methods=("POST",))
async def logout(request: Request, user, form) -> tuple[Response, None]:
    accounts.end_session(ctx_of(request).workspace.connection(), request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303), None


# -- pages -----------------------------------------------------------------------------------


@page("/")
async def today_page(request: Request, user) -> tuple[Response, int]:
    ctx = ctx_of(request)
    data = queries.today(snapshot_cursor(request), user, web_tables(request), ctx.settings.review_due_days)
    return render(request, "today.html", user, data=data), data["counts"]["listed"]


def _query(request: Request) -> queries.Query:
    return queries.Query.from_params(request.query_params, ctx_of(request).settings.page_size)


def _exceptions_view(request: Request, user, params, status_code: int = 200, **extra) -> tuple[Response, int]:
    ctx = ctx_of(request)
    query = queries.Query.from_params(params, ctx.settings.page_size)
    cur = snapshot_cursor(request)
    rows, total = queries.exceptions(cur, user, query, web_tables(request), ctx.settings.review_due_days)
    pages = max(1, -(-total // query.page_size))
    kept = {k: v for k, v in query.filters.items() if v}
    links = {
        "export_csv": "/exceptions/export.csv?" + urlencode({**kept, "sort": query.sort, "dir": query.direction}),
        "export_xlsx": "/exceptions/export.xlsx?" + urlencode({**kept, "sort": query.sort, "dir": query.direction}),
        "page": lambda n: "/exceptions?" + urlencode({**kept, "sort": query.sort, "dir": query.direction, "page": n}),
        "sort": lambda key: (
            "/exceptions?"
            + urlencode(
                {**kept, "sort": key, "dir": "desc" if query.sort == key and query.direction == "asc" else "asc"}
            )
        ),
    }
    return render(
        request,
        "exceptions.html",
        user,
        status_code,
        rows=rows,
        total=total,
        query=query,
        pages=pages,
        facets=queries.facets(cur, user),
        links=links,
        filter_query=urlencode(kept),
        assignable=_assignable(request, user, None),
        **extra,
    ), len(rows)


@page("/exceptions")
async def exceptions_page(request: Request, user) -> tuple[Response, int]:
    return _exceptions_view(request, user, request.query_params)


EXPORT_COLUMNS_OFFICER = (
    "exception_id",
    "check_id",
    "concern",
    "severity",
    "priority",
    "priority_reason",
    "owner_name",
    "owner_team",
    "person_id",
    "agency",
    "organisation",
    "entity_type",
    "entity_id",
    "detail",
    "locator",
    "first_seen",
    "status",
    "review_status",
    "review_note",
    "assignee",
    "as_at",
    "central_queue_reason",
)
EXPORT_COLUMNS_AGENCY = (
    "exception_id",
    "check_id",
    "concern",
    "severity",
    "priority",
    "priority_reason",
    "owner_name",
    "owner_team",
    "agency_record_ids",
    "organisation",
    "entity_type",
    "entity_id",
    "detail",
    "locator",
    "first_seen",
    "status",
    "review_status",
    "review_note",
    "assignee",
    "as_at",
    "social_worker_name",
    "social_worker_team",
)


_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def export_file_name(as_at, filters: dict, kind: str) -> str:
    """`exceptions-<as-at>[-<filter>...].<kind>`: the as-at date and the filters in use (values
    reduced to letters, digits, `_` and `-`), so a kept download says what it holds."""
    parts = ["exceptions", as_at.isoformat() if hasattr(as_at, "isoformat") else str(as_at or "undated")]
    for name in queries.FILTERS:
        value = filters.get(name)
        if value:
            parts.append(_FILE_NAME_UNSAFE.sub("_", f"{name}_{value}").strip("_.")[:40])
    return "-".join(p for p in parts if p) + f".{kind}"


def _snapshot_as_at(request: Request):
    rows = snapshot_cursor(request).execute("SELECT as_at FROM snapshot_info").fetchall()
    return rows[0][0] if rows else None


def _export_rows(rows: list[dict], user: accounts.User) -> tuple[tuple[str, ...], list[list[str]]]:
    columns = EXPORT_COLUMNS_OFFICER if user.is_officer else EXPORT_COLUMNS_AGENCY
    out = []
    for row in rows:
        values = {
            **row,
            "detail": row["shown_detail"],
            "entity_id": row["shown_entity_id"],
            "locator": row["shown_locator"],
            "review_status": row["eff_review_status"],
            "review_note": row["eff_review_note"],
        }
        line = []
        for column in columns:
            value = values.get(column)
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # a priority of 30, not 30.0
            text = "" if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value))
            line.append(text)  # neutralised by the one writer (caseflags/outputs/files.py)
        out.append(line)
    return columns, out


async def _export(request: Request, user, kind: str) -> tuple[Response, int]:
    ctx = ctx_of(request)
    query = _query(request)
    rows, _total = queries.exceptions(
        snapshot_cursor(request), user, query, web_tables(request), ctx.settings.review_due_days, paged=False
    )
    # Naming another organisation or agency than one's own is guessing: not found, like a wrong id.
    if not user.is_officer and (
        (query.filters["agency"] and query.filters["agency"] != user.agency)
        or (user.org and query.filters["org"] and query.filters["org"] != user.org)
    ):
        raise HTTPException(404)
    columns, lines = _export_rows(rows, user)
    name = export_file_name(_snapshot_as_at(request), query.filters, kind)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "csv":
        return Response(csv_text(columns, lines), media_type="text/csv; charset=utf-8", headers=headers), len(lines)

    def build(book) -> None:
        sheet = book.add_worksheet("Exceptions")
        sheet.write_row(0, 0, columns, book.add_format({"bold": True, "bg_color": "#DDE4EE"}))
        for r, line in enumerate(lines, start=1):
            for c, text in enumerate(line):
                sheet.write_string(r, c, text)
        sheet.freeze_panes(1, 1)
        sheet.autofilter(0, 0, max(len(lines), 1), len(columns) - 1)

    return Response(
        workbook_bytes(build),
        headers=headers,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ), len(lines)


@page("/exceptions/export.csv")
async def export_csv(request: Request, user):
    return await _export(request, user, "csv")


@page("/exceptions/export.xlsx")
async def export_xlsx(request: Request, user):
    return await _export(request, user, "xlsx")


def _one_exception(request: Request, user, exception_id: str) -> dict:
    found = queries.exceptions_by_id(
        snapshot_cursor(request), user, [exception_id], web_tables(request), ctx_of(request).settings.review_due_days
    )
    if not found:
        raise HTTPException(404)
    return found[0]


def _assignable(request: Request, viewer, row: dict | None) -> list[str]:
    """User names offered in the assignee field: those who can see the row; an agency user is
    offered only users of their own agency."""
    names = reviews.assignable_users(ctx_of(request).workspace.connection(), row)
    if viewer.is_officer:
        return names
    ws = ctx_of(request).workspace.connection()
    return [n for n in names if (accounts.get_user(ws, n) or viewer).agency == viewer.agency]


def _exception_view(request: Request, user, row: dict, status_code: int = 200, **extra) -> tuple[Response, int]:
    history = reviews.history(ctx_of(request).workspace.connection(), [row["exception_id"]])
    return render(
        request,
        "exception.html",
        user,
        status_code,
        row=row,
        history=history,
        saved=request.query_params.get("saved"),
        assignable=_assignable(request, user, row),
        **extra,
    ), 1


@page("/exceptions/{exception_id}")
async def exception_page(request: Request, user) -> tuple[Response, int]:
    return _exception_view(request, user, _one_exception(request, user, request.path_params["exception_id"]))


def _form_fields(form) -> dict:
    """What was typed, to show again with a refusal (the ticked ids as a list)."""
    fields = {k: str(v) for k, v in form.multi_items() if k not in ("csrf_token", "ids") and isinstance(v, str)}
    ids = [str(v) for v in form.getlist("ids")]
    return {**fields, "ids": ids} if ids else fields


@page("/exceptions/{exception_id}/review", methods=("POST",))
async def review_post(request: Request, user, form) -> tuple[Response, int]:
    row = _one_exception(request, user, request.path_params["exception_id"])
    try:
        _save(request, user, form, [row])
    except reviews.ReviewError as exc:  # shown on the page, with what was typed
        return _exception_view(request, user, row, 400, error=str(exc), resumed=_form_fields(form))
    return RedirectResponse(f"/exceptions/{row['exception_id']}?saved=1", status_code=303), 1


def _assignment(form, rows: list[dict]) -> tuple[bool, str | None]:
    """(change it?, to whom). A name typed is applied, never dropped: with the `assign` tick box
    or without it; on an exception's own page, a changed field (emptied: unassigned); in bulk,
    `unassign=1` clears."""
    typed = str(form.get("assignee") or "").strip() or None
    if form.get("unassign") == "1":
        return True, None
    if form.get("assign") == "1":
        return True, typed
    if "assignee_was" in form:  # the single exception's form shows the current assignee
        return typed != (str(form.get("assignee_was") or "").strip() or None), typed
    return typed is not None, typed


def _save(request: Request, user, form, rows: list[dict], check_only: bool = False) -> int:
    """Check, then save, the review and assignment of `rows`; ReviewError says what is wrong."""
    ctx = ctx_of(request)
    ws = ctx.workspace.connection()
    ids = [r["exception_id"] for r in rows]
    status = str(form.get("review_status") or "").strip()
    note = str(form.get("review_note") or "")
    change, assignee = _assignment(form, rows)
    if not status and not change:
        raise reviews.ReviewError("nothing to save: choose a review status or an assignee")
    if not ids:
        raise reviews.ReviewError("no exception chosen: tick rows, or choose all matching the filter")
    if status:
        reviews.check_review(status, note, [r["severity"] for r in rows])
    if change:
        reviews.check_assignee(ws, assignee, rows)
    if check_only:
        return len(ids)
    if status:
        reviews.save_reviews(ws, ids, status, note, user.username, ctx.settings.annotation_expiry_days)
    if change:
        reviews.assign(ws, ids, assignee, user.username)
    return len(ids)


@page("/exceptions/bulk-review", methods=("POST",))
async def bulk_review(request: Request, user, form) -> tuple[Response, int]:
    ctx = ctx_of(request)
    filter_query = str(form.get("filter_query") or "")
    params = dict(parse_qsl(filter_query))
    if form.get("apply_to") == "all":
        query = queries.Query.from_params(params, ctx.settings.page_size)
        rows, total = queries.exceptions(
            snapshot_cursor(request), user, query, web_tables(request), ctx.settings.review_due_days, paged=False
        )
        if total > BULK_LIMIT:
            return _exceptions_view(
                request,
                user,
                params,
                400,
                resumed=_form_fields(form),
                bulk_error=f"{total} exceptions match: narrow the filter to {BULK_LIMIT} or fewer",
            )
    else:
        wanted = [str(v) for v in form.getlist("ids")][:BULK_LIMIT]
        rows = queries.exceptions_by_id(
            snapshot_cursor(request), user, wanted, web_tables(request), ctx.settings.review_due_days
        )
        if len(rows) != len(set(wanted)):
            raise HTTPException(404)
    try:
        confirmed = form.get("apply_to") != "all" or str(form.get("confirm_count") or "") == str(len(rows))
        _save(request, user, form, rows, check_only=not confirmed)
    except reviews.ReviewError as exc:
        return _exceptions_view(request, user, params, 400, resumed=_form_fields(form), bulk_error=str(exc))
    if not confirmed:  # "all N matching": say N and what will be done, and ask
        change, assignee = _assignment(form, rows)
        fields = {k: v for k, v in _form_fields(form).items() if k not in ("confirm_count", "ids")}
        return render(
            request,
            "bulk_confirm.html",
            user,
            count=len(rows),
            fields=fields,
            filter_query=filter_query,
            status=str(form.get("review_status") or ""),
            note=str(form.get("review_note") or "").strip(),
            change=change,
            assignee=assignee,
        ), 0
    return RedirectResponse("/exceptions?" + filter_query, status_code=303), len(rows)


@page("/children/{person_id}")
async def child_page(request: Request, user) -> tuple[Response, int]:
    ctx = ctx_of(request)
    try:
        events_page = max(1, min(int(request.query_params.get("events_page") or 1), 100_000))
    except ValueError:
        events_page = 1
    data = queries.child(
        snapshot_cursor(request),
        user,
        request.path_params["person_id"],
        web_tables(request),
        ctx.settings.review_due_days,
        events_page=events_page,
    )
    if data is None:
        raise HTTPException(404)
    history = reviews.history(ctx.workspace.connection(), [r["exception_id"] for r in data["rows"]])
    why = queries.why_linked(snapshot_cursor(request), request.path_params["person_id"]) if user.is_officer else []
    return render(request, "child.html", user, data=data, history=history, why=why), len(data["rows"])


@page("/matches", officers_only=True)
async def matches_page(request: Request, user) -> tuple[Response, int]:
    cur = snapshot_cursor(request)
    rows = queries.possible_matches(cur)
    history = reviews.link_decision_history(ctx_of(request).workspace.connection(), queries.stored_link_decisions(cur))
    for row in rows:
        row["history"] = history.get((row["agency"], row["agency_record_id"], row["person_id"]), [])
        row["decision"] = row["history"][0] if row["history"] else None
    offered = {(r["agency"], r["agency_record_id"], r["person_id"]) for r in rows}
    decided = [
        {"agency": k[0], "agency_record_id": k[1], "person_id": k[2], "history": v, "latest": v[0]}
        for k, v in sorted(history.items())
        if k not in offered
    ]
    return render(
        request,
        "matches.html",
        user,
        rows=rows,
        decided=decided,
        matches=[r for r in rows if r["kind"] != "POSSIBLE_SIBLING"],
        siblings=[r for r in rows if r["kind"] == "POSSIBLE_SIBLING"],
        note_below=ctx_of(request).settings.confirm_note_below,
    ), len(rows)


OPPOSITE = {"CONFIRMED": "REJECTED", "REJECTED": "CONFIRMED"}


@page("/matches/decide", officers_only=True, methods=("POST",))
async def matches_decide(request: Request, user, form) -> tuple[Response, int]:
    """Confirm (two steps: this page, then `confirmed=yes`; a note below the configured
    probability), reject ("different children, keep both"), or reverse an earlier decision."""
    key = (str(form.get("agency") or ""), str(form.get("agency_record_id") or ""), str(form.get("person_id") or ""))
    decision = str(form.get("decision") or "").strip().upper()
    note = str(form.get("note") or "").strip()
    cur = snapshot_cursor(request)
    ws = ctx_of(request).workspace.connection()
    candidate = next(
        (r for r in queries.possible_matches(cur) if (r["agency"], r["agency_record_id"], r["person_id"]) == key), None
    )
    earlier = reviews.link_decision_history(ws, queries.stored_link_decisions(cur)).get(key, [])
    if candidate is None and not earlier:
        raise HTTPException(404)
    if decision not in OPPOSITE:
        raise HTTPException(400, "decision must be CONFIRMED or REJECTED")
    reversing = bool(earlier) and earlier[0]["decision"] != decision
    if reversing and not note:
        raise HTTPException(400, "Reversing a decision needs a note saying why.")
    if decision == "CONFIRMED" and form.get("confirmed") != "yes":
        probability = candidate["match_probability"] if candidate else None
        needs_note = probability is None or probability < ctx_of(request).settings.confirm_note_below
        return render(
            request,
            "matches_confirm.html",
            user,
            key=key,
            candidate=candidate,
            note=note,
            needs_note=needs_note,
            reversing=reversing,
            note_below=ctx_of(request).settings.confirm_note_below,
        ), 1
    if decision == "CONFIRMED":
        probability = candidate["match_probability"] if candidate else None
        if (probability is None or probability < ctx_of(request).settings.confirm_note_below) and not note:
            raise HTTPException(400, "A note is needed to confirm a match this uncertain.")
    try:
        reviews.record_link_decision(ws, *key, decision, note, user.username)
    except reviews.ReviewError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse("/matches", status_code=303), 1


async def http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 405:  # a wrong method is a URL out of scope like any other: 404, to everyone
        exc = HTTPException(404)
    messages = {404: "Not found.", 403: "Forbidden.", 503: "No data to show yet."}
    message = exc.detail if exc.detail and exc.status_code != 404 else messages.get(exc.status_code, "Error.")
    if request.url.path.startswith("/exceptions/export") or request.method == "POST" and exc.status_code != 403:
        return PlainTextResponse(message, status_code=exc.status_code, headers=SECURITY_HEADERS)
    user = getattr(request.state, "user", None)
    return render(request, "error.html", user, exc.status_code, status=exc.status_code, message=message)


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Request bodies are capped before they are read: a Content-Length above the cap is refused
    with 413 without reading a byte, and a body sent without one (chunked) is counted as it
    streams and refused at the first chunk past the cap. Nothing is spooled to disk first."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send, status: int, text: str) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": text.encode()})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        lengths = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
        if lengths:
            if len(lengths) > 1 or not lengths[0].strip().isdigit():
                return await self._refuse(send, 400, "Bad Content-Length.")
            if int(lengths[0]) > self.max_bytes:
                return await self._refuse(send, 413, f"The request is larger than {self.max_bytes} bytes.")
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def watched_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send, 413, f"The request is larger than {self.max_bytes} bytes.")


def create_app(settings: Settings) -> Starlette:
    ctx = Context(settings)
    secret = session_secret(ctx.workspace.connection())
    routes = [
        Route("/healthz", healthz),
        Route("/login", login, methods=["GET", "POST"]),
        *page_routes(),  # every @page handler, here and in audit_pages, registered by its decorator
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_hours * 3600,
            same_site="strict",
            https_only=settings.secure_cookies,
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})
    app.router.redirect_slashes = False  # "/audit/" is not "/audit": 404, never a 307 to it
    app.state.ctx = ctx
    return app
