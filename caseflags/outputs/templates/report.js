// report.html's charts, drawn as inline SVG from the page's report-data block. Plain ES5 so any
// browser the data officers have draws it; inlined into the page, never loaded from elsewhere.
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
