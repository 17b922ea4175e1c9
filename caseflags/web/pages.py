"""What every page of the workspace shares: settings, the per-process context, the templates,
the session's user, CSRF, and `page`, the decorator that logs in, scopes officers-only pages
(404 for others), checks CSRF on POST and writes the access log (route pattern and filter names).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from caseflags.outputs.lifecycle import REVIEW_STATUSES
from caseflags.resources import config_default
from caseflags.settings import ConfigError, load_config
from caseflags.web import accounts, queries, reviews
from caseflags.web.snapshot import SnapshotReader, SnapshotUnavailable, nightly_running
from caseflags.workspace.database import Workspace, workspace_path

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "caseflags_session"
CSRF_FIELD = "csrf_token"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Settings:
    db_path: Path
    # Defaults from caseflags/config/defaults.toml, their one home (`caseflags web` passes the
    # configured values).
    review_due_days: int = config_default("web", "review_due_days")
    page_size: int = config_default("web", "page_size")
    session_hours: int = config_default("web", "session_hours")
    secure_cookies: bool = config_default("web", "secure_cookies")
    annotation_expiry_days: int = config_default("outputs", "annotation_expiry_days")
    # Addresses or networks of reverse proxies whose X-Forwarded-For is believed (`web.trusted_proxies`).
    trusted_proxies: tuple[str, ...] = ()
    # Confirming a possible match below this probability needs a note (linkage.confirm_note_below).
    confirm_note_below: float = field(default_factory=lambda: float(load_config().linkage["confirm_note_below"]))
    # The sample section of the configuration (size, controls, exclusion, cohort) for web draws.
    sample: dict = field(default_factory=lambda: dict(load_config().sample))


def proxy_networks(entries) -> tuple:
    """`web.trusted_proxies` parsed; a wrong entry is a configuration error naming it."""
    networks, problems = [], []
    for entry in entries or ():
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            problems.append(
                f"web.trusted_proxies: {entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            )
    if problems:
        raise ConfigError(problems)
    return tuple(networks)


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.proxies = proxy_networks(settings.trusted_proxies)
        self.workspace = Workspace(workspace_path(settings.db_path))
        self.snapshot = SnapshotReader(settings.db_path)
        self.startup_problem = self.snapshot.ensure_published()


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.autoescape = True
templates.env.globals["source_label"] = queries.source_label


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: Request) -> str:
    """The client's address for the login throttle. `X-Forwarded-For` counts only when the peer is
    a proxy named in `web.trusted_proxies`; then the client is the right-most address in it that
    is not itself a trusted proxy (the left part is whatever the client chose to send)."""
    peer = request.client.host if request.client else "unknown"
    proxies = ctx_of(request).proxies
    peer_ip = _address(peer)
    if not proxies or peer_ip is None or not any(peer_ip in net for net in proxies):
        return peer
    hops = [h for value in request.headers.getlist("x-forwarded-for") for h in value.split(",")]
    for hop in reversed(hops):
        hop_ip = _address(hop)
        if hop_ip is None:
            return peer  # a hop we cannot read: trust nothing beyond the proxy
        if not any(hop_ip in net for net in proxies):
            return str(hop_ip)
    return peer


def current_user(request: Request) -> accounts.User | None:
    """The user of the request's server-side session (`web_sessions`), or None."""
    session_id = request.session.get("sid")
    if not session_id:
        return None
    user = accounts.session_user(ctx_of(request).workspace.connection(), session_id)
    if user is None:
        request.session.pop("sid", None)
    return user


# -- where to go after login, and a form posted after its session ended ----------------------

STASH_SECONDS = 3600
STASH_MAX_ROWS = 1000
_UNSAFE_NEXT = re.compile(r"[\\\x00-\x20\x7f]")


def safe_next(value: str | None) -> str:
    """A local path to go back to after login; anything else (another site, `//host`, a scheme,
    a backslash or control character) is Today."""
    value = value or ""
    if (
        not value.startswith("/")
        or value.startswith("//")
        or _UNSAFE_NEXT.search(value)
        or len(value) > 2000
        or value.startswith("/login")
        or urlsplit(value).scheme
        or urlsplit(value).netloc
    ):
        return "/"
    return value


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def stash_form(request: Request, form, path: str) -> str:
    """Keep a form posted without a live session, for `path` to offer again after login."""
    fields = {k: str(v)[:10_000] for k, v in form.multi_items() if k != CSRF_FIELD and isinstance(v, str)}
    ids = [str(v) for v in form.getlist("ids")]
    if ids:
        fields["ids"] = ids[:5000]
    token = secrets.token_urlsafe(24)
    now = time.time()
    con = ctx_of(request).workspace.connection()
    con.execute("DELETE FROM stashed_forms WHERE stashed_at < ?", (now - STASH_SECONDS,))
    con.execute(
        "DELETE FROM stashed_forms WHERE token_key IN (SELECT token_key FROM stashed_forms "
        "ORDER BY stashed_at DESC LIMIT -1 OFFSET ?)",
        (STASH_MAX_ROWS - 1,),
    )
    con.execute("INSERT INTO stashed_forms VALUES (?, ?, ?, ?)", (_token_key(token), path, json.dumps(fields), now))
    request.session["resume"] = token  # only this browser can take it back (a link alone cannot)
    return token


def take_stash(request: Request) -> dict | None:
    """The stashed form named by `?resume=` for this page, once; None otherwise."""
    token = request.query_params.get("resume")
    mine = request.session.get("resume") or ""
    if not token or not hmac.compare_digest(str(token), str(mine)):
        return None
    request.session.pop("resume", None)
    con = ctx_of(request).workspace.connection()
    row = con.execute(
        "DELETE FROM stashed_forms WHERE token_key = ? AND path = ? AND stashed_at >= ? RETURNING fields",
        (_token_key(token), request.url.path, time.time() - STASH_SECONDS),
    ).fetchone()
    return json.loads(row[0]) if row else None


# POST actions -> the page their form is on (where a stashed form is offered again).
_POST_SUFFIXES = ("/review", "/outcome", "/mark-audited", "/decide", "/draw")


def page_of_post(path: str, form) -> str:
    if path == "/exceptions/bulk-review":
        query = str(form.get("filter_query") or "")
        return "/exceptions" + ("?" + query if query else "")
    for suffix in _POST_SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)] or "/"
    return "/"


def login_redirect(next_path: str, resume: str | None = None) -> RedirectResponse:
    params = {"next": next_path} if next_path != "/" else {}
    if resume:
        params["resume"] = resume
    return RedirectResponse("/login" + ("?" + urlencode(params) if params else ""), status_code=303)


async def check_csrf(request: Request) -> dict:
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or "")
    expected = request.session.get("csrf") or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "The form had no valid CSRF token: reload the page and try again.")
    return form


# Every @page, registered by the decorator itself (create_app serves them all).
PAGE_ROUTES: list[Route] = []


def page_routes() -> list[Route]:
    """The pages' routes, fixed paths before patterns: "/exceptions/export.csv" is not an
    exception id, whatever order the handlers are defined in."""
    return sorted(PAGE_ROUTES, key=lambda route: "{" in route.path)


def page(route: str, officers_only: bool = False, methods: tuple[str, ...] | None = None):
    """Registers the handler at `route` (GET unless `methods`), login required; logs the request
    by user and route pattern (and filter names only).

    Without a live session, a GET goes to the login page and comes back to the same URL after it;
    a POST keeps its form (`stash_form`) and, after login, its page offers it again (never applied
    unasked: the officer checks it and saves)."""

    def decorate(handler):
        @wraps(handler)
        async def wrapper(request: Request):
            ctx = ctx_of(request)
            user = current_user(request)
            status, rows = 500, None
            try:
                if user is None:
                    status = 303
                    if request.method == "POST":
                        if request.url.path == "/logout":
                            return RedirectResponse("/login", status_code=303)
                        form = await request.form()
                        back = safe_next(page_of_post(request.url.path, form))
                        return login_redirect(back, stash_form(request, form, urlsplit(back).path))
                    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return login_redirect(safe_next(wanted))
                if officers_only and not user.is_officer:
                    raise HTTPException(404)
                form = await check_csrf(request) if request.method == "POST" else None
                request.state.user = user
                if request.method == "GET":
                    request.state.resumed = take_stash(request)
                response, rows = (
                    await handler(request, user, form) if form is not None else await handler(request, user)
                )
                status = response.status_code
                return response
            except HTTPException as exc:
                status = exc.status_code
                raise
            finally:
                used = [k for k in queries.FILTERS if request.query_params.get(k)]
                accounts.log_access(
                    ctx.workspace.connection(),
                    user.username if user else None,
                    request.method,
                    route,
                    used,
                    status,
                    rows,
                )

        PAGE_ROUTES.append(Route(route, wrapper, methods=list(methods) if methods else None))
        return wrapper

    return decorate


def render(request: Request, name: str, user: accounts.User | None, status_code: int = 200, **context) -> Response:
    ctx = ctx_of(request)
    info = None
    try:
        info = queries.snapshot_info(ctx.snapshot.cursor())
    except SnapshotUnavailable:
        pass
    context.update(
        user=user,
        csrf=csrf_token(request),
        nightly_running=nightly_running(ctx.settings.db_path),
        snapshot=info,
        review_statuses=REVIEW_STATUSES,
        csrf_field=CSRF_FIELD,
        path=request.url.path,
    )
    context.setdefault("resumed", getattr(request.state, "resumed", None))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def snapshot_cursor(request: Request):
    try:
        return ctx_of(request).snapshot.cursor()
    except SnapshotUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


def web_tables(request: Request):
    return reviews.latest_tables(ctx_of(request).workspace.connection())
