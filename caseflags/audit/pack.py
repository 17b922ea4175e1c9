"""The audit pack: one self-contained HTML page per sampled child (no network, no script).

The chronology, with the child's open exceptions beside it; every value is HTML-escaped by the
templates (`templates/pack.html.j2` around `pack_body.html.j2`, style `pack.css` inlined).
"""

from __future__ import annotations

from caseflags.audit.model import ChronologyEvent, SampleChild, SampleResult, need_label
from caseflags.outputs.templating import environment, inline_asset

_PACKAGE = "caseflags.audit"


def render_pack(result: SampleResult, child: SampleChild, events: list[ChronologyEvent], context: dict) -> str:
    """One self-contained HTML page: the chronology, with the child's open exceptions beside it."""
    return (
        environment(_PACKAGE)
        .get_template("pack.html.j2")
        .render(pack_values(result, child, events, context), css=inline_asset(_PACKAGE, "pack.css"))
    )


def pack_body(result: SampleResult, child: SampleChild, events: list[ChronologyEvent], context: dict) -> str:
    """The pack's content, every value escaped: the body of `render_pack`, and what the web
    workspace shows inside its own page (styled by its stylesheet, as inline style is refused)."""
    return environment(_PACKAGE).get_template("pack_body.html.j2").render(pack_values(result, child, events, context))


def pack_values(result: SampleResult, child: SampleChild, events: list[ChronologyEvent], context: dict) -> dict:
    """The templates' values: the sample, the child, the chronology and the child's context
    (`chronology.child_context`; a missing part shows as none)."""
    return {
        "result": result,
        "child": child,
        "need": need_label(child.need_type),
        "events": events,
        "sources_seen": ", ".join(sorted({part.strip() for e in events for part in e.source_table.split("+")})),
        "missing_sources": ", ".join(context.get("missing_sources") or []),
        "linked_records": context.get("linked_records", []),
        "family_members": context.get("family_members", []),
        "social_workers": context.get("allocated_social_worker", []),
    }
