"""The Audit sample pages (officers only; anyone else gets 404, as for every URL out of scope).

- `GET /audit`: the latest samples (store and workspace), their reasons, concerns, outcomes and
  audit dates, a compact list of every sample, the confirmation rates per check, and the form to
  draw one;
- `GET /audit/{sample_id}`: one sample (its children, reasons, concerns, outcomes, the
  mark-audited form);
- `POST /audit/draw`: draw a sample from the snapshot and save it in the workspace;
- `GET /audit/{sample_id}/children/{person_id}`: the child's audit pack (the content of
  `caseflags sample`'s pack) with the outcome forms and their history;
- `GET /audit/{sample_id}/children/{person_id}/pack.html`: the pack file itself, to download;
- `POST /audit/{sample_id}/children/{person_id}/outcome`: record one outcome;
- `POST /audit/{sample_id}/mark-audited`: record the audit date.

A refused outcome or audit date re-renders the page it came from with the error (status 400), as
the draw form does. Logic and storage are in `caseflags.web.audit`; the access log gets route
patterns only.
"""

from __future__ import annotations

from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from caseflags.audit.chronology import child_context, main_relations
from caseflags.audit.model import OUTCOMES, SampleError, SampleResult, check_catalogue
from caseflags.audit.pack import pack_body, render_pack
from caseflags.audit.workbook import pack_file_name
from caseflags.web import audit, queries
from caseflags.web.pages import ctx_of, page, render, snapshot_cursor
from caseflags.workspace.database import utc_now

# The downloaded pack is a self-contained page with its own inline style and no script.
PACK_DOWNLOAD_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def _embedded(body: str) -> str:
    """The pack's markup inside a workspace page: its `main` and `aside` landmarks become plain
    blocks (the page has its own `main`; two are one too many for a screen reader). Every value
    in the body is escaped, so these tags can only be the pack's own."""
    return (
        body.replace("<main>", '<div class="pack-main">', 1)
        .replace("</main>", "</div>", 1)
        .replace('<aside class="side">', '<div class="side">', 1)
        .replace("</aside>", "</div>", 1)
    )


def _audit_page(request: Request, user, status_code: int = 200, error: str | None = None) -> tuple[Response, int]:
    ctx = ctx_of(request)
    ws, cur = ctx.workspace.connection(), snapshot_cursor(request)
    samples = audit.samples_view(ws, cur)
    response = render(
        request,
        "audit.html",
        user,
        status_code,
        samples=samples,
        error=error,
        all_samples=audit.sample_list(ws, cur),
        rates=audit.confirmation_rates(ws, cur),
        defaults=ctx.settings.sample,
        today=utc_now().date(),
        drawn=request.query_params.get("drawn"),
    )
    return response, sum(len(s["children"]) for s in samples)


@page("/audit", officers_only=True)
async def audit_page(request: Request, user) -> tuple[Response, int]:
    return _audit_page(request, user)


def _sample_page(request: Request, user, status_code: int = 200, error: str | None = None) -> tuple[Response, int]:
    found = audit.samples_view(
        ctx_of(request).workspace.connection(),
        snapshot_cursor(request),
        limit=1,
        sample_id=request.path_params["sample_id"],
    )
    if not found:
        raise HTTPException(404)
    response = render(
        request,
        "audit_sample.html",
        user,
        status_code,
        s=found[0],
        error=error,
        today=utc_now().date(),
        marked=request.query_params.get("marked"),
    )
    return response, len(found[0]["children"])


@page("/audit/{sample_id}", officers_only=True)
async def sample_page(request: Request, user) -> tuple[Response, int]:
    return _sample_page(request, user)


@page("/audit/draw", officers_only=True, methods=("POST",))
async def draw_post(request: Request, user, form) -> tuple[Response, int]:
    ctx = ctx_of(request)
    cur = snapshot_cursor(request)
    try:
        size = audit.parse_size(str(form.get("size") or ""), ctx.settings.sample["size"])
        seed = audit.parse_seed(str(form.get("seed") or ""))
        as_at = queries.snapshot_info(cur)["as_at"]
        result = audit.draw(ctx.workspace.connection(), cur, as_at, size, seed, ctx.settings.sample, user.username)
    except (audit.AuditError, SampleError) as exc:
        return _audit_page(request, user, 400, str(exc))
    return RedirectResponse(f"/audit?drawn={result.sample_id}", status_code=303), len(result.children)


def _sample_and_child(request: Request):
    ctx = ctx_of(request)
    cur = snapshot_cursor(request)
    result = audit.find_sample(ctx.workspace.connection(), cur, request.path_params["sample_id"])
    if result is None:
        raise HTTPException(404)
    person_id = request.path_params.get("person_id")
    if person_id is None:
        return cur, result, None
    child = next((c for c in result.children if c.person_id == person_id), None)
    if child is None:
        raise HTTPException(404)
    return cur, result, child


def _pack_parts(cur, result: SampleResult, child) -> tuple[list, dict]:
    events = queries.child_events(cur, child.person_id, result.as_at)  # the pack's chronology, source by source
    return events, child_context(cur, child.person_id, result.as_at, main_relations(cur))


def _pack_page(request: Request, user, status_code: int = 200, error: str | None = None) -> tuple[Response, int]:
    cur, result, child = _sample_and_child(request)
    events, context = _pack_parts(cur, result, child)
    history = [
        r
        for r in audit.outcome_history(ctx_of(request).workspace.connection(), cur, result.sample_id)
        if r["person_id"] == child.person_id
    ]
    current = audit.current_outcomes(history)
    concerns = sorted({e.check_id: e for e in child.exceptions}.values(), key=lambda e: e.check_id)
    flagged = {c.check_id for c in concerns}
    return render(
        request,
        "audit_pack.html",
        user,
        status_code,
        result=result,
        child=child,
        pack=_embedded(pack_body(result, child, events, context)),
        concerns=[
            {"check_id": c.check_id, "concern": c.concern, "current": current.get((child.person_id, c.check_id))}
            for c in concerns
        ],
        found=[o for (_p, check), o in sorted(current.items()) if check not in flagged],
        history=list(reversed(history)),
        outcomes=OUTCOMES,
        error=error,
        other_checks=sorted(set(check_catalogue()) - flagged),
        saved=request.query_params.get("saved"),
    ), len(events)


@page("/audit/{sample_id}/children/{person_id}", officers_only=True)
async def pack_page(request: Request, user) -> tuple[Response, int]:
    return _pack_page(request, user)


@page("/audit/{sample_id}/children/{person_id}/pack.html", officers_only=True)
async def pack_download(request: Request, user) -> tuple[Response, int]:
    cur, result, child = _sample_and_child(request)
    events, context = _pack_parts(cur, result, child)
    headers = {
        "Content-Disposition": f'attachment; filename="{pack_file_name(child.person_id)}"',
        "Content-Security-Policy": PACK_DOWNLOAD_CSP,
    }
    return Response(
        render_pack(result, child, events, context), media_type="text/html; charset=utf-8", headers=headers
    ), len(events)


@page("/audit/{sample_id}/children/{person_id}/outcome", officers_only=True, methods=("POST",))
async def outcome_post(request: Request, user, form) -> tuple[Response, int]:
    _cur, result, child = _sample_and_child(request)
    try:
        audit.record_outcome(
            ctx_of(request).workspace.connection(),
            result,
            child.person_id,
            str(form.get("check_id") or ""),
            str(form.get("outcome") or ""),
            str(form.get("note") or ""),
            user.username,
            set(check_catalogue()),
        )
    except audit.AuditError as exc:
        return _pack_page(request, user, 400, str(exc))
    return RedirectResponse(f"/audit/{result.sample_id}/children/{child.person_id}?saved=1", status_code=303), 1


@page("/audit/{sample_id}/mark-audited", officers_only=True, methods=("POST",))
async def mark_post(request: Request, user, form) -> tuple[Response, int]:
    _cur, result, _child = _sample_and_child(request)
    try:
        audited_on = date.fromisoformat(str(form.get("audited_on") or "").strip())
    except ValueError:
        return _sample_page(request, user, 400, "the audit date must be a date (YYYY-MM-DD)")
    try:
        audit.record_mark(ctx_of(request).workspace.connection(), result, audited_on, user.username)
    except audit.AuditError as exc:
        return _sample_page(request, user, 400, str(exc))
    return RedirectResponse(f"/audit/{result.sample_id}?marked=1", status_code=303), len(result.children)
