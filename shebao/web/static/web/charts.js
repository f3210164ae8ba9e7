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
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
