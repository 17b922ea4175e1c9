"""What every page of the workspace shares: settings, the per-process context, the templates,
the session's user, CSRF, and `page`, the decorator that logs in, scopes officers-only pages
(404 for others), checks CSRF on POST and writes the access log (route pattern and filter names).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from caseflags.config import load_config
from caseflags.outputs.lifecycle import REVIEW_STATUSES
from caseflags.web import accounts, queries, reviews
from caseflags.web.snapshot import SnapshotReader, SnapshotUnavailable, nightly_running
from caseflags.web.workspace import Workspace, workspace_path

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
    review_due_days: int = 14
    page_size: int = 50
    session_hours: int = 8
    secure_cookies: bool = False
    annotation_expiry_days: int = 180
    # Confirming a possible match below this probability needs a note (linkage.confirm_note_below).
    confirm_note_below: float = field(default_factory=lambda: float(load_config().linkage["confirm_note_below"]))
    # The sample section of the configuration (size, controls, exclusion, cohort) for web draws.
    sample: dict = field(default_factory=lambda: dict(load_config().sample))


class Context:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.workspace = Workspace(workspace_path(settings.db_path))
        self.snapshot = SnapshotReader(settings.db_path)
        self.startup_problem = self.snapshot.ensure_published()


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.autoescape = True


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def current_user(request: Request) -> accounts.User | None:
    name = request.session.get("user")
    if not name:
        return None
    user = accounts.get_user(ctx_of(request).workspace.connection(), name)
    if user is None or user.disabled or user.password_changed_at != request.session.get("stamp"):
        request.session.pop("user", None)
        return None
    return user


async def check_csrf(request: Request) -> dict:
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or "")
    expected = request.session.get("csrf") or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "The form had no valid CSRF token: reload the page and try again.")
    return form


def page(route: str, officers_only: bool = False):
    """Login required; logs the request by user and route pattern (and filter names only)."""
    def decorate(handler):
        @wraps(handler)
        async def wrapper(request: Request):
            ctx = ctx_of(request)
            user = current_user(request)
            status, rows = 500, None
            try:
                if user is None:
                    status = 303 if request.method == "GET" else 403
                    if request.method != "GET":
                        raise HTTPException(403, "Not logged in.")
                    return RedirectResponse("/login", status_code=303)
                if officers_only and not user.is_officer:
                    raise HTTPException(404)
                form = await check_csrf(request) if request.method == "POST" else None
                request.state.user = user
                response, rows = await handler(request, user, form) if form is not None else await handler(request, user)
                status = response.status_code
                return response
            except HTTPException as exc:
                status = exc.status_code
                raise
            finally:
                used = [k for k in queries.FILTERS if request.query_params.get(k)]
                accounts.log_access(ctx.workspace.connection(), user.username if user else None, request.method,
                                    route, used, status, rows)
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
        user=user, csrf=csrf_token(request), nightly_running=nightly_running(ctx.settings.db_path), snapshot=info,
        review_statuses=REVIEW_STATUSES, csrf_field=CSRF_FIELD, path=request.url.path,
    )
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def snapshot_cursor(request: Request):
    try:
        return ctx_of(request).snapshot.cursor()
    except SnapshotUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


def web_tables(request: Request):
    return reviews.latest_tables(ctx_of(request).workspace.connection())
