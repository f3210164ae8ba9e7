/* The one start-up of the vendored Chart.js (payroll/vendor/chart-*.umd.min.js) for every page that
   draws a chart with the partial web/partials/chart.html: each <canvas data-chart="ID"> is drawn from
   the JSON the server wrote with json_script into the element ID (no inline script: the CSP forbids it).

   The JSON (built in Python, labels already translated):
     { "labels": [...],                                  x-axis labels
       "datasets": [ { "type": "bar" | "line", "label": "...", "data": [...], "color": "#2d6aa3",
                       "axis": "y" | "y1" (default "y"), "stack": "..." (optional) } ],
       "axes": { "y": "元", "y1": "人" },                  titles of the value axes (y1 is drawn on the right)
       "stacked": false,                                 bars of one "stack" piled up
       "money": false }                                  tooltips as money (1,234.50), ticks in whole yuan */
(function () {
  "use strict";
  var money = new Intl.NumberFormat("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var whole = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 0 });

  function axis(key, title, spec) {
    var a = { beginAtZero: true, stacked: !!spec.stacked, title: { display: !!title, text: title || "" } };
    if (key !== "y") { a.position = "right"; a.grid = { drawOnChartArea: false }; }
    if (spec.money && key === "y") a.ticks = { precision: 0, callback: function (v) { return whole.format(v); } };
    return a;
  }

  function config(spec) {
    var datasets = (spec.datasets || []).map(function (d) {
      var out = { type: d.type || "bar", label: d.label, data: d.data, backgroundColor: d.color,
                  borderColor: d.color, yAxisID: d.axis || "y" };
      if (d.stack) out.stack = d.stack;
      if (out.type === "line") { out.tension = 0.2; out.order = -1; }
      return out;
    });
    var scales = { x: { stacked: !!spec.stacked } };
    var axes = spec.axes || { y: "" };
    Object.keys(axes).forEach(function (k) { scales[k] = axis(k, axes[k], spec); });
    var options = { animation: false, responsive: true, maintainAspectRatio: false,
                    interaction: { mode: "index", intersect: false }, scales: scales, plugins: {} };
    if (spec.money) {
      options.plugins.tooltip = { callbacks: { label: function (c) {
        return c.dataset.label + "：" + money.format(c.parsed.y);
      } } };
    }
    return { data: { labels: spec.labels || [], datasets: datasets }, options: options };
  }

  function draw() {
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (el) {
      var src = document.getElementById(el.getAttribute("data-chart"));
      if (!src || el.dataset.drawn) return;
      el.dataset.drawn = "1";
      new window.Chart(el, config(JSON.parse(src.textContent)));
    });
  }
  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn); else fn();
  }
  ready(draw);

  /* The second way, for a page whose chart needs its own shape (ops' latency, warehouse grouping):
       shebaoCharts.draw("canvas-id", "data-id", function (d) { return { type: ..., data: ..., options: ... }; });
     waits for the DOM, finds the canvas and the json_script data, builds the chart with the house
     defaults (no animation, responsive, the canvas's CSS height kept) under the page's own options, and
     does nothing when the canvas, the data or Chart.js is missing. colors / palette: the house palette. */
  var colors = { blue: "#2d6aa3", green: "#217a3c", red: "#c8102e", amber: "#b26a00", brown: "#8a5a00" };
  var palette = [colors.blue, colors.green, colors.red, colors.amber, colors.brown];

  function merge(base, extra) {
    var out = {}, k;
    for (k in base) if (Object.prototype.hasOwnProperty.call(base, k)) out[k] = base[k];
    for (k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) out[k] = extra[k];
    return out;
  }

  function drawOne(canvasId, dataId, build) {
    ready(function () {
      var el = document.getElementById(canvasId);
      var src = document.getElementById(dataId);
      if (!el || !src || !window.Chart) return;
      var cfg = build(JSON.parse(src.textContent));
      if (!cfg) return;
      cfg.options = merge({ animation: false, responsive: true, maintainAspectRatio: false }, cfg.options || {});
      return new window.Chart(el, cfg);
    });
  }

  window.shebaoCharts = { draw: drawOne, ready: ready, colors: colors, palette: palette };
})();
