/* 分组汇总 chart: one bar series per measure. */
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("wh-chart");
    var src = document.getElementById("wh-chart-data");
    if (!el || !src || !window.Chart) return;
    var d = JSON.parse(src.textContent);
    var colors = ["#2d6aa3", "#217a3c", "#c8102e", "#8a5a00"];
    new window.Chart(el, {
      type: "bar",
      data: { labels: d.labels, datasets: d.series.map(function (s, i) {
        return { label: s.label, data: s.data, backgroundColor: colors[i % colors.length] }; }) },
      options: { animation: false, responsive: true, maintainAspectRatio: false }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
