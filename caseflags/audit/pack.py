"""The audit pack: one self-contained HTML page per sampled child (no network, no script).

The chronology, with the child's open exceptions beside it; every value is HTML-escaped.
"""

from __future__ import annotations

from caseflags.audit.model import ChronologyEvent, SampleChild, SampleResult, need_label
from caseflags.outputs.files import escape as _escape

PACK_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 1rem 0 .4rem; }
.meta { color: #444; margin-bottom: 1rem; } .meta span { margin-right: 1.2rem; }
.layout { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 1.2rem; align-items: start; }
.side { position: sticky; top: 1rem; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .4rem; text-align: left; vertical-align: top; }
th { background: #eef3f8; } td.date { white-space: nowrap; } td.agency { font-weight: 600; white-space: nowrap; }
.exception { border-left: 4px solid #999; padding: .3rem .5rem; margin-bottom: .5rem; background: #fafafa; }
.HIGH { border-color: #b10e1e; } .MEDIUM { border-color: #d97a00; } .LOW { border-color: #4a7fb5; }
.muted { color: #666; } ul { margin: .2rem 0 .6rem 1.2rem; padding: 0; }
@media print { .layout { display: block; } .side { position: static; } body { margin: 0; } }
"""


def render_pack(result: SampleResult, child: SampleChild, events: list[ChronologyEvent], context: dict) -> str:
    """One self-contained HTML page: the chronology, with the child's open exceptions beside it."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Audit pack {_escape(child.person_id)} ({_escape(result.sample_id)})</title>
<style>{PACK_CSS}</style>
</head>
<body>
{pack_body(result, child, events, context)}
</body>
</html>
"""


def pack_body(result: SampleResult, child: SampleChild, events: list[ChronologyEvent], context: dict) -> str:
    """The pack's content, every value escaped: the body of `render_pack`, and what the web
    workspace shows inside its own page (styled by its stylesheet, as inline style is refused)."""
    sources_seen = sorted({part.strip() for e in events for part in e.source_table.split("+")})
    rows = "\n".join(
        f"<tr><td class=\"date\">{_escape(e.event_date.isoformat() if e.event_date else 'undated')}</td>"
        f"<td class=\"agency\">{_escape(e.agency)}</td><td>{_escape(e.event_type)}</td>"
        f"<td>{_escape(e.description)}</td><td class=\"muted\">{_escape(e.source_table).replace('_', '_<wbr>')}</td></tr>"
        for e in events
    ) or "<tr><td colspan=\"5\" class=\"muted\">No events recorded.</td></tr>"
    exceptions = "\n".join(
        f"<div class=\"exception {_escape(x.severity)}\"><strong>{_escape(x.check_id)}</strong> "
        f"({_escape(x.severity)}, owner {_escape(x.agency)}{', ' + _escape(x.status) if x.status else ''})<br>"
        f"{_escape(x.concern)}<br>{_escape(x.detail)}<br><span class=\"muted\">{_escape(x.locator)}</span></div>"
        for x in child.exceptions
    ) or "<p class=\"muted\">No open exceptions: this child is a control.</p>"
    reasons = "".join(f"<li>{_escape(reason)}</li>" for reason in child.reasons)
    linked = "".join(
        f"<li>{_escape(agency)}: {_escape(record_id)} <span class=\"muted\">({_escape(method)})</span></li>"
        for agency, record_id, method in context.get("linked_records", [])
    ) or "<li class=\"muted\">none</li>"
    family = "".join(
        f"<li>{_escape(relation)} {_escape(member)}: parental responsibility {_escape(pr)}, "
        f"lives with child {_escape(lives)}</li>"
        for relation, member, pr, lives in context.get("family_members", [])
    ) or "<li class=\"muted\">none recorded</li>"
    workers = ", ".join(
        f"{_escape(professional)} (from {_escape(start)})" for professional, start in context.get("allocated_social_worker", [])
    ) or "none allocated"
    missing = context.get("missing_sources") or []
    missing_note = (
        f"<p class=\"muted\">Not in the store, so not in this chronology: {_escape(', '.join(missing))}.</p>"
        if missing else ""
    )
    return f"""<h1>Multi-agency audit pack: child {_escape(child.person_id)}</h1>
<div class="meta">
<span>Sample {_escape(result.sample_id)}, place {child.position} of {len(result.children)}</span>
<span>As at {_escape(result.as_at.isoformat())}</span>
<span>{_escape(child.role.lower())}</span>
<span>Age {_escape(child.age_years) if child.age_years is not None else "not recorded"} (band {_escape(child.age_band)})</span>
<span>Need: {_escape(need_label(child.need_type))}</span>
<span>Disabilities: {_escape(child.disabilities or 'none recorded')}</span>
<span>Allocated social worker: {workers}</span>
</div>
<p class="muted">Confidential: for the partnership's auditors only. Record ids and dates are given so each
event can be found in the source system.</p>
<div class="layout">
<main>
<h2>Why this child was chosen</h2>
<ul>{reasons}</ul>
<h2>Chronology ({len(events)} events, all agencies, oldest first)</h2>
<table>
<thead><tr><th>Date</th><th>Agency</th><th>Event</th><th>Detail</th><th>Source</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p class="muted">Sources with events: {_escape(', '.join(sources_seen) or 'none')}.</p>
{missing_note}
</main>
<aside class="side">
<h2>Open exceptions ({len(child.exceptions)})</h2>
<p class="muted">From {_escape(result.exceptions_source.label)}, run as at {_escape(result.exceptions_source.as_at.isoformat())}.</p>
{exceptions}
<h2>Known to</h2>
<ul>{linked}</ul>
<h2>Family</h2>
<ul>{family}</ul>
</aside>
</div>"""

