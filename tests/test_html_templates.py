"""report.html and the audit pack from their Jinja2 templates (issue 29.3).

Every value from the data is escaped by the templates, text and attributes alike, and report.html
stays one file that loads nothing: its style and script are inlined from the package files, never
referenced. The page is rendered from plain values (`report.report_page`), no store needed.
"""

from __future__ import annotations

import fnmatch
import tomllib
from datetime import date, datetime
from html.parser import HTMLParser
from importlib.resources import files as package_files
from pathlib import Path

from caseflags.audit.model import (
    ChronologyEvent,
    ExceptionSource,
    OpenException,
    SampleChild,
    SampleResult,
)
from caseflags.audit.pack import pack_body, render_pack
from caseflags.outputs.report import render_page, report_page
from caseflags.region.outputs import render_region_page

ROOT = Path(__file__).resolve().parents[1]
AS_AT = date(2026, 11, 24)
# Ends a script, opens one, an element with a handler, quotes of both kinds, an ampersand.
PAYLOAD = '</script><script>alert("x")</script><img src=x onerror=alert(1)> O\'Brien "Jr" & co'
# Breaks out of a quoted attribute if `"` were not escaped.
ATTRIBUTE_PAYLOAD = 'HIGH" onmouseover="alert(1)'


class Page(HTMLParser):
    """The elements, attributes and text of a page as a browser's parser sees them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.in_tag: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.in_tag.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if self.in_tag and self.in_tag[-1] == tag:
            self.in_tag.pop()

    def handle_data(self, data):
        self.text.append(data)

    def named(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def _report_values(payload: str) -> dict:
    """A run's page values with `payload` as every text that comes from the data."""
    check = {
        "check_id": "GP_NOT_KNOWN",
        "concern": payload,
        "status": "NOT_EVALUATED",
        "reason": payload,
        "new": 1,
        "open": 2,
        "resolved": 0,
        "listed": 3,
    }
    summary = {
        "previous_run_id": payload,
        "totals": {"new": 1, "open": 2, "resolved": 0, "listed": 3},
        "counts_by_check": [check],
        "counts_by_agency": [{"agency": payload, "new": 1, "open": 2, "resolved": 0, "listed": 3}],
        "children_first": [
            {
                "rank": 1,
                "person_id": payload,
                "priority": 9,
                "priority_reason": payload,
                "concerns": payload,
                "agencies": payload,
                "social_worker_name": payload,
            }
        ],
    }
    listed = [{"severity": "HIGH", "evaluated_as_at": AS_AT, "as_at": AS_AT, "review_status": None}]
    load = {
        "table_name": payload,
        "file": payload,
        "status": "REFUSED",
        "reason": f"untrustworthy: {payload}",
        "rows_read": 10,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "delivered_as_at": AS_AT,
    }
    unbalanced = {**load, "status": "LOADED", "reason": None, "rows_loaded": 3}
    return report_page(
        "R1",
        AS_AT,
        summary,
        listed,
        [{"person_id": payload, "practice": payload, "evidence": payload}],
        {"folder": payload, "files": 2, "digest": payload},
        [{"file": payload, "reason": payload}],
        run={"status": payload, "started_at": datetime(2026, 11, 24, 2), "finished_at": datetime(2026, 11, 24, 3)},
        trend=[{"as_at": AS_AT, "run_id": payload, "new": 1, "open": 2, "resolved": 0}],
        quarantine=[{"table_name": payload, "file": payload, "column_name": payload, "reason": payload, "rows": 1}],
        loads=[load, unbalanced],
        contract_by_table=[{"table_name": payload, "expectations": 1, "failed": 1, "blocking_failed": 0}],
        contract_failures=[
            {
                "table_name": payload,
                "expectation": payload,
                "column_name": payload,
                "blocking": False,
                "observed": payload,
            }
        ],
        warnings=[{"table_name": payload, "file": payload, "column_name": payload, "reason": payload, "warnings": 1}],
        linkage={"model": None, "warnings": None},
    )


def _pack(person_id: str, detail: str, severity: str):
    exception = OpenException(
        "X1", "GP_NOT_KNOWN", detail, severity, detail, "child", person_id, detail, detail, detail
    )
    child = SampleChild(person_id, 1, "FLAGGED", 9, "5-9", "N2", detail, 1, 1, 3, 0.5, (detail,), (exception,))
    result = SampleResult(
        detail, AS_AT, 1, "CIN_EHCP", 1, 0, 365, ExceptionSource(detail, AS_AT, 1), 1, 0, (), (), (child,)
    )
    events = [ChronologyEvent(date(2026, 1, 5), detail, "gp_registrations + " + detail, detail, detail)]
    context = {
        "linked_records": [(detail, detail, detail)],
        "family_members": [(detail, detail, detail, detail)],
        "allocated_social_worker": [(detail, date(2025, 1, 7))],
        "missing_sources": [detail],
    }
    return result, child, events, context


def test_every_value_in_report_html_is_escaped():
    text = render_page(_report_values(PAYLOAD))
    page = Page(text)
    # Only the page's own two script blocks; no element or handler from the data.
    assert len(page.named("script")) == 2 and page.named("img") == []
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    # The data is there, as text, in every section that shows it.
    shown = "".join(page.text)
    assert shown.count(PAYLOAD) >= 20
    assert "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)" in text and "O&#x27;Brien" in text
    # The chart data block holds the payload as JSON that cannot end the block.
    data = text.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and "\\u003c/script\\u003e" in data


def test_every_value_in_the_audit_pack_is_escaped():
    for render in (render_pack, pack_body):
        text = render(*_pack(PAYLOAD, PAYLOAD, ATTRIBUTE_PAYLOAD))
        page = Page(text)
        assert page.named("script") == [] and page.named("img") == []
        assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
        # A quote in the data stays inside its attribute.
        assert [attrs["class"] for attrs in page.named("div") if "exception" in attrs.get("class", "")] == [
            f"exception {ATTRIBUTE_PAYLOAD}"
        ]
        shown = "".join(page.text)
        assert f"child {PAYLOAD}" in shown and shown.count(PAYLOAD) >= 15
        assert "&lt;script&gt;alert(&quot;x&quot;)" in text


def test_report_html_is_one_file_that_loads_nothing():
    text = render_page(_report_values("C1"))
    page = Page(text)
    referencing = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href", "background"}
    assert [(tag, name) for tag, attrs in page.tags for name in attrs if name in referencing] == []
    assert not {"link", "img", "iframe", "object", "embed", "base", "source"} & {tag for tag, _ in page.tags}
    csp = [attrs["content"] for attrs in page.named("meta") if attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0].startswith("default-src 'none';")
    # Style and script are the package files, inlined whole.
    templates = package_files("caseflags.outputs").joinpath("templates")
    css, script = templates.joinpath("report.css").read_text(), templates.joinpath("report.js").read_text()
    assert f"<style>\n{css}</style>" in text and f"<script>\n{script}</script>" in text
    assert "url(" not in css and "@import" not in css
    assert "XMLHttpRequest" not in script and "fetch(" not in script and "import(" not in script


def test_every_template_file_is_package_data():
    """A non-editable install carries each template, style sheet and script the pages need."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, folder in (
        ("caseflags.outputs", ROOT / "caseflags" / "outputs"),
        ("caseflags.audit", ROOT / "caseflags" / "audit"),
        ("caseflags.region", ROOT / "caseflags" / "region"),
    ):
        names = [p.relative_to(folder).as_posix() for p in (folder / "templates").iterdir()]
        assert names
        for name in names:
            assert any(fnmatch.fnmatch(name, pattern) for pattern in package_data[package]), (package, name)


def test_a_hostile_authority_name_is_escaped_in_the_region_report():
    """The regional report.html escapes names from the manifest and values from the data, loading nothing."""
    name = '<script>alert("x")</script> "Borough" & O\'Brien'
    values = {
        "as_at": AS_AT,
        "region": name,
        "codes": ["801", name],
        "previous": None,
        "status_rows": [["801", name, "FAILED", PAYLOAD, "exceptions", 3, "12"]],
        "side_by_side": [["GP_NOT_KNOWN", "2 (+1)", "no run"]],
        "by_authority": [{"la_code": name, "rows": [["GP_NOT_KNOWN", "HIGH", name, "", f"{name}/P1", PAYLOAD]]}],
        "links_by_method": '{"<script>": 1}',
        "possible_matches": 0,
    }
    text = render_region_page(values)
    page = Page(text)
    assert page.named("script") == [] and page.named("img") == []
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert [tag for tag, attrs in page.tags if {"src", "href"} & set(attrs)] == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &quot;Borough&quot; &amp; O&#x27;Brien" in text
    shown = "".join(page.text)
    assert shown.count(name) >= 6 and shown.count(PAYLOAD) == 2
    # Its style is the package file, inlined whole.
    css = package_files("caseflags.region").joinpath("templates", "region.css").read_text()
    assert f"<style>\n{css}</style>" in text
