"""The officers' workspace: a Starlette application with server-rendered Jinja2 pages.

Pages (interface fixed in docs/WEB.md): `/login`, `/`, `/exceptions`, `/exceptions/<id>`,
`/exceptions/export.csv|xlsx`, `/children/<person_id>`, `/matches`, `/healthz`. Data come from
the snapshot (`caseflags.web.snapshot`); what users save goes to the workspace database
(`caseflags.web.workspace`). Every page and export checks the session, the scope and, on POST,
the CSRF token, and is written to the access log by user and route pattern.
"""

from __future__ import annotations

import csv
import io
import secrets
from urllib.parse import parse_qsl, urlencode

import xlsxwriter

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from caseflags.web import accounts, audit_pages, queries, reviews
from caseflags.web.pages import (
    HERE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Context,
    Settings,
    check_csrf,
    ctx_of,
    page,
    render,
    snapshot_cursor,
    web_tables,
)
from caseflags.web.snapshot import SnapshotUnavailable, nightly_running
from caseflags.web.workspace import session_secret

__all__ = ["Settings", "create_app"]

BULK_LIMIT = 5000


# -- login -----------------------------------------------------------------------------------

async def healthz(request: Request) -> Response:
    ctx = ctx_of(request)
    try:
        info = queries.snapshot_info(ctx.snapshot.cursor())
        snapshot = {"run_id": info["run_id"], "as_at": info["as_at"].isoformat()}
    except SnapshotUnavailable:
        snapshot = None
    return JSONResponse({"status": "ok", "snapshot": snapshot, "nightly_running": nightly_running(ctx.settings.db_path)})


async def login(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "login.html", None)
    form = await check_csrf(request)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    client = request.client.host if request.client else "unknown"
    ws = ctx_of(request).workspace.connection()
    try:
        user = accounts.authenticate(ws, username, password, client)
    except accounts.LoginRefused:
        accounts.log_access(ws, None, "POST", "/login", [], 429, None)
        return render(request, "login.html", None, 429, error="Too many failed attempts: wait 15 minutes and try again.")
    if user is None:
        accounts.log_access(ws, None, "POST", "/login", [], 401, None)
        return render(request, "login.html", None, 401, error="Wrong user name or password.")
    request.session.clear()
    request.session.update(user=user.username, stamp=user.password_changed_at, csrf=secrets.token_urlsafe(32))
    accounts.log_access(ws, user.username, "POST", "/login", [], 303, None)
    return RedirectResponse("/", status_code=303)


@page("/logout")
async def logout(request: Request, user, form) -> tuple[Response, None]:
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


@page("/exceptions")
async def exceptions_page(request: Request, user) -> tuple[Response, int]:
    ctx = ctx_of(request)
    query = _query(request)
    cur = snapshot_cursor(request)
    rows, total = queries.exceptions(cur, user, query, web_tables(request), ctx.settings.review_due_days)
    pages = max(1, -(-total // query.page_size))
    kept = {k: v for k, v in query.filters.items() if v}
    links = {
        "export_csv": "/exceptions/export.csv?" + urlencode(kept),
        "export_xlsx": "/exceptions/export.xlsx?" + urlencode(kept),
        "page": lambda n: "/exceptions?" + urlencode({**kept, "sort": query.sort, "dir": query.direction, "page": n}),
        "sort": lambda key: "/exceptions?" + urlencode({**kept, "sort": key, "dir": "desc" if query.sort == key and query.direction == "asc" else "asc"}),
    }
    return render(request, "exceptions.html", user, rows=rows, total=total, query=query, pages=pages,
                   facets=queries.facets(cur, user), links=links, filter_query=urlencode(kept)), len(rows)


EXPORT_COLUMNS_OFFICER = ("exception_id", "check_id", "concern", "severity", "person_id", "agency", "organisation",
                          "entity_type", "entity_id", "detail", "locator", "first_seen", "status", "review_status",
                          "review_note", "assignee", "as_at")
EXPORT_COLUMNS_AGENCY = ("exception_id", "check_id", "concern", "severity", "agency_record_ids", "organisation",
                         "entity_type", "entity_id", "detail", "locator", "first_seen", "status", "review_status",
                         "review_note", "assignee", "as_at")


def _export_rows(rows: list[dict], user: accounts.User) -> tuple[tuple[str, ...], list[list[str]]]:
    columns = EXPORT_COLUMNS_OFFICER if user.is_officer else EXPORT_COLUMNS_AGENCY
    out = []
    for row in rows:
        values = {**row, "detail": row["shown_detail"], "entity_id": row["shown_entity_id"], "locator": row["shown_locator"],
                  "review_status": row["eff_review_status"], "review_note": row["eff_review_note"]}
        line = []
        for column in columns:
            value = values.get(column)
            text = "" if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value))
            line.append("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
        out.append(line)
    return columns, out


async def _export(request: Request, user, kind: str) -> tuple[Response, int]:
    ctx = ctx_of(request)
    query = _query(request)
    rows, _total = queries.exceptions(snapshot_cursor(request), user, query, web_tables(request), ctx.settings.review_due_days,
                                      paged=False)
    # Naming another organisation or agency than one's own is guessing: not found, like a wrong id.
    if not user.is_officer and ((query.filters["agency"] and query.filters["agency"] != user.agency)
                                or (user.org and query.filters["org"] and query.filters["org"] != user.org)):
        raise HTTPException(404)
    columns, lines = _export_rows(rows, user)
    headers = {"Content-Disposition": f'attachment; filename="exceptions.{kind}"'}
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows(lines)
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers), len(lines)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = workbook.add_worksheet("Exceptions")
    bold = workbook.add_format({"bold": True, "bg_color": "#DDE4EE"})
    sheet.write_row(0, 0, columns, bold)
    for r, line in enumerate(lines, start=1):
        for c, text in enumerate(line):
            sheet.write_string(r, c, text)
    sheet.freeze_panes(1, 1)
    sheet.autofilter(0, 0, max(len(lines), 1), len(columns) - 1)
    workbook.close()
    return Response(buffer.getvalue(), headers=headers,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), len(lines)


@page("/exceptions/export.csv")
async def export_csv(request: Request, user):
    return await _export(request, user, "csv")


@page("/exceptions/export.xlsx")
async def export_xlsx(request: Request, user):
    return await _export(request, user, "xlsx")


def _one_exception(request: Request, user, exception_id: str) -> dict:
    found = queries.exceptions_by_id(snapshot_cursor(request), user, [exception_id], web_tables(request),
                                     ctx_of(request).settings.review_due_days)
    if not found:
        raise HTTPException(404)
    return found[0]


@page("/exceptions/{exception_id}")
async def exception_page(request: Request, user) -> tuple[Response, int]:
    row = _one_exception(request, user, request.path_params["exception_id"])
    history = reviews.history(ctx_of(request).workspace.connection(), [row["exception_id"]])
    return render(request, "exception.html", user, row=row, history=history, saved=request.query_params.get("saved")), 1


@page("/exceptions/{exception_id}/review")
async def review_post(request: Request, user, form) -> tuple[Response, int]:
    row = _one_exception(request, user, request.path_params["exception_id"])
    return _save(request, user, form, [row["exception_id"]], f"/exceptions/{row['exception_id']}?saved=1")


def _save(request: Request, user, form, ids: list[str], back: str) -> tuple[Response, int]:
    ctx = ctx_of(request)
    ws = ctx.workspace.connection()
    try:
        if form.get("review_status"):
            reviews.save_reviews(ws, ids, str(form.get("review_status")), str(form.get("review_note") or ""),
                                 user.username, ctx.settings.annotation_expiry_days)
        if form.get("assign") == "1":
            reviews.assign(ws, ids, str(form.get("assignee") or ""), user.username)
    except reviews.ReviewError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(back, status_code=303), len(ids)


@page("/exceptions/bulk-review")
async def bulk_review(request: Request, user, form) -> tuple[Response, int]:
    ctx = ctx_of(request)
    filter_query = str(form.get("filter_query") or "")
    if form.get("apply_to") == "all":
        query = queries.Query.from_params(dict(parse_qsl(filter_query)), ctx.settings.page_size)
        rows, total = queries.exceptions(snapshot_cursor(request), user, query, web_tables(request),
                                         ctx.settings.review_due_days, paged=False)
        if total > BULK_LIMIT:
            raise HTTPException(400, f"{total} exceptions match: narrow the filter to {BULK_LIMIT} or fewer")
        ids = [r["exception_id"] for r in rows]
    else:
        wanted = [str(v) for v in form.getlist("ids")][:BULK_LIMIT]
        ids = [r["exception_id"] for r in queries.exceptions_by_id(
            snapshot_cursor(request), user, wanted, web_tables(request), ctx.settings.review_due_days)]
        if len(ids) != len(set(wanted)):
            raise HTTPException(404)
    return _save(request, user, form, ids, "/exceptions?" + filter_query)


@page("/children/{person_id}")
async def child_page(request: Request, user) -> tuple[Response, int]:
    ctx = ctx_of(request)
    data = queries.child(snapshot_cursor(request), user, request.path_params["person_id"], web_tables(request),
                         ctx.settings.review_due_days)
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
    decided = [{"agency": k[0], "agency_record_id": k[1], "person_id": k[2], "history": v, "latest": v[0]}
               for k, v in sorted(history.items()) if k not in offered]
    return render(request, "matches.html", user, rows=rows, decided=decided,
                  matches=[r for r in rows if r["kind"] != "POSSIBLE_SIBLING"],
                  siblings=[r for r in rows if r["kind"] == "POSSIBLE_SIBLING"],
                  note_below=ctx_of(request).settings.confirm_note_below), len(rows)


OPPOSITE = {"CONFIRMED": "REJECTED", "REJECTED": "CONFIRMED"}


@page("/matches/decide", officers_only=True)
async def matches_decide(request: Request, user, form) -> tuple[Response, int]:
    """Confirm (two steps: this page, then `confirmed=yes`; a note below the configured
    probability), reject ("different children, keep both"), or reverse an earlier decision."""
    key = (str(form.get("agency") or ""), str(form.get("agency_record_id") or ""), str(form.get("person_id") or ""))
    decision = str(form.get("decision") or "").strip().upper()
    note = str(form.get("note") or "").strip()
    cur = snapshot_cursor(request)
    ws = ctx_of(request).workspace.connection()
    candidate = next((r for r in queries.possible_matches(cur)
                      if (r["agency"], r["agency_record_id"], r["person_id"]) == key), None)
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
        return render(request, "matches_confirm.html", user, key=key, candidate=candidate, note=note,
                      needs_note=needs_note, reversing=reversing,
                      note_below=ctx_of(request).settings.confirm_note_below), 1
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


def create_app(settings: Settings) -> Starlette:
    ctx = Context(settings)
    secret = session_secret(ctx.workspace.connection())
    routes = [
        Route("/healthz", healthz),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", today_page),
        Route("/exceptions", exceptions_page),
        Route("/exceptions/export.csv", export_csv),
        Route("/exceptions/export.xlsx", export_xlsx),
        Route("/exceptions/bulk-review", bulk_review, methods=["POST"]),
        Route("/exceptions/{exception_id}", exception_page),
        Route("/exceptions/{exception_id}/review", review_post, methods=["POST"]),
        Route("/children/{person_id}", child_page),
        Route("/matches", matches_page),
        Route("/matches/decide", matches_decide, methods=["POST"]),
        *audit_pages.ROUTES,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE,
                   max_age=settings.session_hours * 3600, same_site="strict", https_only=settings.secure_cookies),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})
    app.router.redirect_slashes = False  # "/audit/" is not "/audit": 404, never a 307 to it
    app.state.ctx = ctx
    return app
