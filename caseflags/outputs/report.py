"""report.html: one self-contained page for a run (inline CSS and JS, no network).

Charts are drawn in the browser as inline SVG from the data embedded in the page (a JSON
script block); every chart's numbers are also in a table next to it, so the page reads without
scripts too. The script marks `<body data-charts-drawn="N">` once it has drawn N charts.
Quarantine appears as counts by file, column and reason: raw lines hold personal data and are
only in quarantine.csv.
"""

from __future__ import annotations

import html
import json
from datetime import date, datetime

import duckdb

from caseflags.linkage.parameters import describe_model
from caseflags.resources import sql_text

TREND_RUNS = 60  # runs shown in the trend chart

CSS = """
:root { --new: #c0392b; --open: #e67e22; --resolved: #27ae60; --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: var(--ink); margin: 0; background: #f5f7fa; }
header { background: #243b53; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #d9e2ec; }
main { padding: 16px 28px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 18px; margin: 14px 0; }
h2 { font-size: 18px; margin: 0 0 10px 0; }
h3 { font-size: 15px; margin: 14px 0 6px 0; }
.tiles { display: flex; gap: 12px; flex-wrap: wrap; }
.tile { flex: 1 1 140px; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.tile .n { font-size: 28px; font-weight: 600; }
.tile.new .n { color: var(--new); } .tile.open .n { color: var(--open); } .tile.resolved .n { color: var(--resolved); }
.tile .l { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); text-align: left; padding: 4px 8px; vertical-align: top; }
th { background: #f0f4f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart { width: 100%; min-height: 60px; }
.chart svg { width: 100%; height: auto; display: block; }
.muted { color: var(--muted); }
.ok { color: var(--resolved); } .bad { color: var(--new); font-weight: 600; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
details summary { cursor: pointer; color: #334e68; }
"""

# Plain ES5 so any browser the data officers have draws it; no external script.
SCRIPT = r"""
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLOURS = { NEW: "#c0392b", OPEN: "#e67e22", RESOLVED: "#27ae60" };
  var data = JSON.parse(document.getElementById("report-data").textContent);

  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, key)) { node.setAttribute(key, attrs[key]); } }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function niceMax(value) {
    if (value <= 5) { return 5; }
    var magnitude = Math.pow(10, Math.floor(Math.log(value) / Math.LN10));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * magnitude >= value) { return steps[i] * magnitude; } }
    return 10 * magnitude;
  }

  function legend(svg, series, x, y) {
    for (var i = 0; i < series.length; i++) {
      el("rect", { x: x + i * 110, y: y - 10, width: 12, height: 12, fill: COLOURS[series[i]] }, svg);
      el("text", { x: x + i * 110 + 16, y: y, "font-size": 12 }, svg, series[i]);
    }
  }

  function trendChart(container, runs) {
    var series = ["NEW", "OPEN", "RESOLVED"];
    var width = 1000, height = 280, left = 50, right = 40, top = 30, bottom = 50;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Exceptions by status over past runs" }, container);
    var maxValue = 0;
    runs.forEach(function (run) { series.forEach(function (s) { maxValue = Math.max(maxValue, run[s] || 0); }); });
    var yMax = niceMax(maxValue);
    var plotWidth = width - left - right, plotHeight = height - top - bottom;
    var step = runs.length > 1 ? plotWidth / (runs.length - 1) : 0;
    function xAt(i) { return runs.length > 1 ? left + i * step : left + plotWidth / 2; }
    function yAt(v) { return top + plotHeight - (v / yMax) * plotHeight; }
    for (var t = 0; t <= 5; t++) {
      var v = (yMax / 5) * t;
      el("line", { x1: left, x2: width - right, y1: yAt(v), y2: yAt(v), stroke: "#e4e7eb" }, svg);
      el("text", { x: left - 6, y: yAt(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#616e7c" }, svg, String(Math.round(v)));
    }
    var labelEvery = Math.max(1, Math.ceil(runs.length / 12));
    runs.forEach(function (run, i) {
      if (i % labelEvery === 0 || i === runs.length - 1) {
        var anchor = runs.length > 1 && i === runs.length - 1 ? "end" : (runs.length > 1 && i === 0 ? "start" : "middle");
        el("text", { x: xAt(i), y: height - bottom + 18, "text-anchor": anchor, "font-size": 11, fill: "#616e7c" }, svg, run.as_at);
      }
    });
    var marks = 0;
    series.forEach(function (s) {
      var points = runs.map(function (run, i) { return xAt(i) + "," + yAt(run[s] || 0); });
      if (runs.length > 1) {
        el("polyline", { points: points.join(" "), fill: "none", stroke: COLOURS[s], "stroke-width": 2.5, "class": "mark" }, svg);
        marks++;
      }
      runs.forEach(function (run, i) {
        var dot = el("circle", { cx: xAt(i), cy: yAt(run[s] || 0), r: 3.5, fill: COLOURS[s], "class": "mark" }, svg);
        el("title", {}, dot, run.as_at + " " + s + ": " + (run[s] || 0));
        marks++;
      });
    });
    legend(svg, series, left, 16);
    return marks;
  }

  function barChart(container, items, label) {
    var series = ["NEW", "OPEN"];
    var rowHeight = 26, left = 380, right = 60, top = 30;
    var width = 1000, height = top + Math.max(items.length, 1) * rowHeight + 10;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label }, container);
    var maxValue = 0;
    items.forEach(function (item) { maxValue = Math.max(maxValue, (item.NEW || 0) + (item.OPEN || 0)); });
    var scale = (width - left - right) / niceMax(Math.max(maxValue, 1));
    var marks = 0;
    if (items.length === 0) {
      el("text", { x: 10, y: top + 16, "font-size": 13, fill: "#616e7c" }, svg, "No exceptions listed in this run.");
      el("rect", { x: 0, y: 0, width: 0, height: 0, "class": "mark" }, svg);
      return 1;
    }
    items.forEach(function (item, i) {
      var y = top + i * rowHeight;
      var name = item.label.length > 46 ? item.label.slice(0, 45) + "\u2026" : item.label;
      var text = el("text", { x: left - 8, y: y + 15, "text-anchor": "end", "font-size": 13 }, svg, name);
      el("title", {}, text, item.label);
      var x = left;
      series.forEach(function (s) {
        var w = (item[s] || 0) * scale;
        var bar = el("rect", { x: x, y: y + 3, width: w, height: rowHeight - 8, fill: COLOURS[s], "class": "mark" }, svg);
        el("title", {}, bar, item.label + " " + s + ": " + (item[s] || 0));
        x += w;
        marks++;
      });
      el("text", { x: x + 6, y: y + 15, "font-size": 12, fill: "#616e7c" }, svg, String((item.NEW || 0) + (item.OPEN || 0)));
    });
    legend(svg, series, left, 16);
    return marks;
  }

  var drawn = 0;
  var charts = [
    ["chart-trend", function (c) { return trendChart(c, data.trend); }],
    ["chart-concern", function (c) { return barChart(c, data.by_concern, "Listed exceptions by concern"); }],
    ["chart-agency", function (c) { return barChart(c, data.by_agency, "Listed exceptions by agency"); }]
  ];
  charts.forEach(function (entry) {
    var container = document.getElementById(entry[0]);
    if (!container) { return; }
    var marks = entry[1](container);
    container.setAttribute("data-marks", String(marks));
    if (marks > 0) { container.setAttribute("data-drawn", "true"); drawn++; }
  });
  document.body.setAttribute("data-charts-drawn", String(drawn));
})();
"""


def _e(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return html.escape(value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value.isoformat())
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list], numeric: set[int] | None = None, empty: str = "None.") -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    numeric = numeric or set()
    head = "".join(f'<th class="num">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    cursor = con.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _json_for_script(data) -> str:
    # Inside <script>, "</" or "<!--" in a value would end or confuse the block: escape them.
    text = json.dumps(data, default=str, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _delivery_line(delivery: dict | None) -> str:
    if not delivery:
        return ""
    return (
        f'<p id="delivery">Delivery {_e(delivery["folder"])} &middot; {_e(delivery["files"])} files &middot; '
        f'SHA-256 <code>{_e(delivery["digest"])}</code></p>'
    )


def untrustworthy_headline(loads: list[dict], not_evaluated: list[dict]) -> str:
    """The headline of a night that cannot be called good: a table whose rows were read but
    almost none loaded was refused (ingest.stage.untrustworthy_reason)."""
    refused = [l for l in loads if l["status"] == "REFUSED" and str(l.get("reason") or "").startswith("untrustworthy")]
    if not refused:
        return ""
    tables = "; ".join(f'{_e(l["table_name"])} ({_e(l["file"])}): {_e(l["reason"])}' for l in refused)
    return (f'<p class="bad" id="headline-untrustworthy"><strong>Not a good night: {len(refused)} table(s) refused as '
            f"untrustworthy</strong>: {tables}. Their previous data, if any, stays live; "
            f"{len(not_evaluated)} check(s) not evaluated.</p>")


def ledger_section(loads: list[dict]) -> str:
    """The ledger per delivered extract (from `extract_loads`): records read = loaded +
    quarantined (+ withheld: rows of a table whose data contract failed, so none was published).
    A table that does not balance is named in a banner above the table."""
    rows, unbalanced = [], []
    for load in loads:
        read, loaded, quarantined = load["rows_read"], load["rows_loaded"], load["rows_quarantined"]
        if load["status"] not in ("LOADED", "UNCHANGED", "FAILED_CONTRACT") or read is None:
            continue
        withheld = read - loaded - quarantined if load["status"] == "FAILED_CONTRACT" else 0
        balanced = read == loaded + quarantined + withheld and withheld >= 0
        if not balanced:
            unbalanced.append(load)
        rows.append([load["table_name"], load["file"], load["status"], read, loaded, quarantined, withheld,
                     "yes" if balanced else "NO"])
    banner = "".join(
        f'<p class="bad">The ledger does not balance for {_e(u["table_name"])} ({_e(u["file"])}): read '
        f'{_e(u["rows_read"])}, loaded {_e(u["rows_loaded"])}, quarantined {_e(u["rows_quarantined"])}.</p>'
        for u in unbalanced
    )
    summary = '<p class="ok">Every delivered file balances.</p>' if rows and not unbalanced else ""
    return (
        '<section id="ledger"><h2>Ledger</h2><p class="muted">For every delivered file: records read = '
        "rows loaded + rows quarantined (+ rows withheld when the table failed its data contract).</p>"
        + banner + summary
        + _table(["table", "file", "status", "read", "loaded", "quarantined", "withheld", "balanced"], rows,
                 {3, 4, 5, 6}, "No extract was read this run.")
        + "</section>"
    )


def refused_files_section(refused_files: list[dict]) -> str:
    """Every delivered file refused whole, with the reason (run.json `refused_files`): a return
    cut off, another DfE collection, a CSV missing a required column, ... A refused file has no
    rows in the ledger, so without this list it would go unseen."""
    rows = [[r["file"], r["reason"]] for r in refused_files]
    return (
        '<section id="refused-files"><h2>Files refused</h2><p class="muted">Delivered files that were not '
        "loaded at all, with the reason; their tables keep the other sources' rows (or their previous data).</p>"
        + _table(["file", "reason"], rows, empty="None: every delivered file was read.")
        + "</section>"
    )


def linkage_section(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """The linkage model (method, date, parameters, expected quality) and this run's DOB warnings.

    Parameters and counts only: no names, dates of birth or identifiers (docs/LINKAGE.md).
    """
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    model = describe_model(con) if "linkage_model" in tables else None
    if model is None:
        body = "<p>No linkage model yet (identifiers settled every record, or nothing to link).</p>"
    else:
        body = (
            f"<p>Trained {_e(model['trained_at'])} by {_e(model['training_method'])} "
            f"({_e(model['labelled_pairs'])} labelled pairs, label weight {_e(model['label_weight'])}; "
            f"EM sessions: {_e('; '.join(model['em_sessions']) or 'none')}).</p>"
            + _table(["threshold", "expected precision", "expected recall", "labelled pairs", "basis"],
                     [[f"{q['threshold_name']} {q['threshold']}", q["expected_precision"], q["expected_recall"],
                       q["labelled_pairs"], q["basis"]] for q in model["expected_quality"]], numeric={1, 2, 3})
            + _table(["comparison", "level", "m", "u", "match weight"],
                     [[lv["comparison"], lv["label"], round(lv["m_probability"], 4), round(lv["u_probability"], 6),
                       None if lv["match_weight"] is None else round(lv["match_weight"], 2)] for lv in model["levels"]],
                     numeric={2, 3, 4})
        )
    if "data_quality_warnings" in tables:
        warnings = con.execute(sql_text("linkage/warnings_by_reason.sql"), {"run_id": run_id}).fetchall()
        body += "<h3>Data-quality warnings</h3>" + _table(
            ["table", "column", "reason", "rows"], [list(w) for w in warnings], numeric={3},
            empty="None: every value loaded as delivered.",
        )
    return f'<section id="linkage"><h2>Linkage</h2>{body}</section>'


def render_report(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_at: date,
    summary: dict,
    listed_rows: list[dict],
    good_practice_rows: list[dict] | None,
    delivery: dict | None = None,
    refused_files: list[dict] | None = None,
) -> str:
    params = {"run_id": run_id}
    run = _fetch(con, sql_text("outputs/report/run.sql"), params)
    run = run[0] if run else {}
    trend = _fetch(
        con,
        sql_text("outputs/report/trend.sql"),
        {"run_id": run_id, "limit": TREND_RUNS},
    )[::-1]
    quarantine = _fetch(
        con,
        sql_text("outputs/report/quarantine_summary.sql"),
        params,
    )
    loads = _fetch(
        con,
        sql_text("outputs/report/loads.sql"),
        params,
    )
    contract_by_table = _fetch(
        con,
        sql_text("outputs/report/contract_by_table.sql"),
        params,
    )
    contract_failures = _fetch(
        con,
        sql_text("outputs/report/contract_failures.sql"),
        params,
    )

    by_concern: dict[str, dict] = {}
    for c in summary["counts_by_check"]:
        key = c["concern"] or c["check_id"]
        item = by_concern.setdefault(key, {"label": key, "checks": [], "NEW": 0, "OPEN": 0, "RESOLVED": 0})
        item["checks"].append(c["check_id"])
        item["NEW"] += c["new"]
        item["OPEN"] += c["open"]
        item["RESOLVED"] += c["resolved"]
    concern_items = sorted(
        (i for i in by_concern.values() if i["NEW"] + i["OPEN"]), key=lambda i: (-(i["NEW"] + i["OPEN"]), i["label"])
    )
    agency_items = sorted(
        ({"label": a["agency"], "NEW": a["new"], "OPEN": a["open"], "RESOLVED": a["resolved"]} for a in summary["counts_by_agency"] if a["listed"]),
        key=lambda i: (-(i["NEW"] + i["OPEN"]), i["label"]),
    )
    chart_data = {
        "trend": [{"as_at": t["as_at"].isoformat(), "NEW": t["new"] or 0, "OPEN": t["open"] or 0, "RESOLVED": t["resolved"] or 0} for t in trend],
        "by_concern": [{"label": i["label"], "NEW": i["NEW"], "OPEN": i["OPEN"]} for i in concern_items],
        "by_agency": [{"label": i["label"], "NEW": i["NEW"], "OPEN": i["OPEN"]} for i in agency_items],
    }

    totals = summary["totals"]
    severity_counts = {s: sum(1 for r in listed_rows if r["severity"] == s) for s in ("HIGH", "MEDIUM", "LOW")}
    carried = sum(1 for r in listed_rows if r["evaluated_as_at"] < r["as_at"])
    marked = sum(1 for r in listed_rows if r["review_status"] in ("FALSE_POSITIVE", "ACCEPTED_RISK"))
    not_evaluated = [c for c in summary["counts_by_check"] if c["status"] != "EVALUATED"]

    # The pipeline writes this page as the run's last step, before it records the run's end.
    if run.get("finished_at"):
        progress = f"status {_e(run.get('status') or 'unknown')} &middot; started {_e(run.get('started_at'))} &middot; finished {_e(run['finished_at'])}"
    else:
        progress = f"started {_e(run.get('started_at'))} &middot; checks complete, report written at the end of the run"
    parts: list[str] = []
    parts.append(
        f"""<header><h1>caseflags: run report as at {_e(as_at)}</h1>
<p>Run {_e(run_id)} &middot; {progress} &middot; compared with {_e(summary['previous_run_id'] or 'no earlier run')}</p>
{_delivery_line(delivery)}{untrustworthy_headline(loads, not_evaluated)}</header><main>"""
    )
    parts.append(
        f"""<section id="summary"><h2>Run summary</h2><div class="tiles">
<div class="tile new"><div class="n">{totals['new']}</div><div class="l">NEW since last run</div></div>
<div class="tile open"><div class="n">{totals['open']}</div><div class="l">OPEN (still raised)</div></div>
<div class="tile resolved"><div class="n">{totals['resolved']}</div><div class="l">RESOLVED since last run</div></div>
<div class="tile"><div class="n">{totals['listed']}</div><div class="l">listed: {severity_counts['HIGH']} high, {severity_counts['MEDIUM']} medium, {severity_counts['LOW']} low</div></div>
<div class="tile"><div class="n">{len(not_evaluated)}</div><div class="l">checks not evaluated ({carried} exceptions carried)</div></div>
<div class="tile"><div class="n">{marked}</div><div class="l">marked false positive / accepted risk</div></div>
</div></section>"""
    )
    first_rows = [
        [c["rank"], c["person_id"], c["priority"], c["priority_reason"], c["concerns"], c["agencies"],
         c["social_worker_name"] or "no allocated worker"]
        for c in summary.get("children_first", [])
    ]
    parts.append(
        '<section id="act-first"><h2>Children to act on first</h2>'
        + _table(["rank", "child", "priority", "why", "open concerns", "agencies", "social worker"], first_rows, {0, 2},
                 "No child has a listed exception.")
        + "</section>"
    )
    trend_rows = [[t["as_at"], t["run_id"], t["new"], t["open"], t["resolved"]] for t in trend]
    parts.append(
        '<section id="trend"><h2>Trend over past runs</h2><div class="chart" id="chart-trend"></div>'
        "<details><summary>Numbers</summary>"
        + _table(["as at", "run", "NEW", "OPEN", "RESOLVED"], trend_rows, {2, 3, 4})
        + "</details></section>"
    )
    concern_rows = [[i["label"], ", ".join(i["checks"]), i["NEW"], i["OPEN"], i["RESOLVED"]] for i in concern_items]
    agency_rows = [[i["label"], i["NEW"], i["OPEN"], i["RESOLVED"]] for i in agency_items]
    parts.append(
        '<section id="by-concern"><h2>Listed exceptions by concern</h2><div class="chart" id="chart-concern"></div>'
        + _table(["concern", "checks", "NEW", "OPEN", "RESOLVED"], concern_rows, {2, 3, 4}, "No exceptions listed.")
        + '</section><section id="by-agency"><h2>Listed exceptions by agency</h2><div class="chart" id="chart-agency"></div>'
        + _table(["agency", "NEW", "OPEN", "RESOLVED"], agency_rows, {1, 2, 3}, "No exceptions listed.")
        + "</section>"
    )
    check_rows = [
        [c["check_id"], c["concern"], c["status"], c["new"], c["open"], c["resolved"], c["listed"]] for c in summary["counts_by_check"]
    ]
    parts.append(
        '<section id="by-check"><h2>By check</h2>'
        + _table(["check", "concern", "status", "NEW", "OPEN", "RESOLVED", "listed"], check_rows, {3, 4, 5, 6}, "No check results recorded.")
        + "</section>"
    )

    if good_practice_rows is None:
        good_practice_html = '<p class="muted">Good practice was not derived for this run.</p>'
    else:
        by_practice: dict[str, list[dict]] = {}
        for g in good_practice_rows:
            by_practice.setdefault(str(g.get("practice")), []).append(g)
        good_practice_html = _table(
            ["practice", "children"], [[p, len(v)] for p, v in sorted(by_practice.items())], {1}, "No good practice found in the data for this run."
        )
        for practice, items in sorted(by_practice.items()):
            good_practice_html += (
                f"<details><summary>{_e(practice)} ({len(items)})</summary>"
                + _table(["child", "evidence"], [[g.get("person_id"), g.get("evidence")] for g in sorted(items, key=lambda g: str(g.get("person_id")))])
                + "</details>"
            )
    parts.append(f'<section id="good-practice"><h2>Good practice seen</h2>{good_practice_html}</section>')

    parts.append(
        '<section id="not-evaluated"><h2>Checks not evaluated</h2>'
        '<p class="muted">Their earlier exceptions stay listed as they were, not resolved.</p>'
        + _table(
            ["check", "concern", "why", "exceptions carried"],
            [[c["check_id"], c["concern"], c["reason"], c["listed"]] for c in not_evaluated],
            {3},
            "Every check was evaluated.",
        )
        + "</section>"
    )
    parts.append(ledger_section(loads))
    if refused_files is not None:
        parts.append(refused_files_section(refused_files))
    quarantined = sum(q["rows"] for q in quarantine)
    parts.append(
        f'<section id="quarantine"><h2>Quarantine</h2><p>{quarantined} row(s) rejected; the rows themselves are in '
        "quarantine.csv next to this report.</p>"
        + _table(["table", "file", "column", "reason", "rows"], [[q["table_name"], q["file"], q["column_name"], q["reason"], q["rows"]] for q in quarantine], {4}, "No rows quarantined.")
        + "<h3>Extracts loaded</h3>"
        + _table(
            ["table", "file", "status", "reason", "read", "loaded", "quarantined", "data as at"],
            [[l["table_name"], l["file"], l["status"], l["reason"], l["rows_read"], l["rows_loaded"], l["rows_quarantined"], l["delivered_as_at"]] for l in loads],
            {4, 5, 6},
            "No extract load records for this run.",
        )
        + "</section>"
    )
    contract_html = _table(
        ["table", "expectations", "failed", "blocking failed"],
        [[c["table_name"], c["expectations"], c["failed"], c["blocking_failed"]] for c in contract_by_table],
        {1, 2, 3},
        "No data-contract results recorded for this run.",
    )
    if contract_by_table:
        failing = _table(
            ["table", "expectation", "column", "blocking", "observed"],
            [[f["table_name"], f["expectation"], f["column_name"], "yes" if f["blocking"] else "no", f["observed"]] for f in contract_failures],
            empty="Every expectation passed.",
        )
        contract_html += f"<h3>Failed expectations</h3>{failing}"
    parts.append(f'<section id="data-contract"><h2>Data-contract results</h2>{contract_html}</section>')
    parts.append(linkage_section(con, run_id))
    parts.append(_warnings_section(con, run_id))
    parts.append("</main>")

    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        # No network: forbid every external load, allow only what is inline.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>caseflags report {_e(as_at)}</title><style>{CSS}</style></head>"
        f"<body data-charts-drawn=\"0\">{''.join(parts)}"
        f"<script type=\"application/json\" id=\"report-data\">{_json_for_script(chart_data)}</script>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def _warnings_section(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """Data-quality warnings: values nothing depends on, kept raw; the record loaded. Counted by
    file, element and reason; every warning is in warnings.csv next to this report."""
    rows = _fetch(
        con,
        sql_text("outputs/report/warnings_summary.sql"),
        {"run_id": run_id},
    )
    total = sum(r["warnings"] for r in rows)
    return (
        f'<section id="warnings"><h2>Data-quality warnings</h2><p>{total} value(s) kept as delivered although '
        "unusable, in fields no check, linkage or key depends on; their records loaded. Each is in "
        "warnings.csv next to this report.</p>"
        + _table(["table", "file", "element", "reason", "warnings"],
                 [[r["table_name"], r["file"], r["column_name"], r["reason"], r["warnings"]] for r in rows],
                 {4}, "No data-quality warnings.")
        + "</section>"
    )
