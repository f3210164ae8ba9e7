/* Chart start-up shared by the pages that draw charts (Chart.js is loaded before this file, vendored).
   A page puts its data in a json_script element (no inline script: the CSP forbids it) and its own
   small file calls:

     shebaoCharts.draw("canvas-id", "data-id", function (d) { return { type: ..., data: ..., options: ... }; });

   draw() waits for the DOM, finds the canvas and the data, parses the data, builds the chart with the
   house defaults (no animation, responsive, the canvas's CSS height kept) merged under the page's own
   options, and does nothing when the canvas, the data or Chart.js is missing. shebaoCharts.colors is
   the house palette. */
(function () {
  "use strict";
  var colors = { blue: "#2d6aa3", green: "#217a3c", red: "#c8102e", amber: "#b26a00", brown: "#8a5a00" };
  var palette = [colors.blue, colors.green, colors.red, colors.amber, colors.brown];

  function merge(base, extra) {
    var out = {}, k;
    for (k in base) if (Object.prototype.hasOwnProperty.call(base, k)) out[k] = base[k];
    for (k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) out[k] = extra[k];
    return out;
  }

  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn); else fn();
  }

  function draw(canvasId, dataId, build) {
    ready(function () {
      var el = document.getElementById(canvasId);
      var src = document.getElementById(dataId);
      if (!el || !src || !window.Chart) return;
      var config = build(JSON.parse(src.textContent));
      if (!config) return;
      config.options = merge({ animation: false, responsive: true, maintainAspectRatio: false }, config.options || {});
      return new window.Chart(el, config);
    });
  }

  window.shebaoCharts = { draw: draw, ready: ready, colors: colors, palette: palette };
})();
