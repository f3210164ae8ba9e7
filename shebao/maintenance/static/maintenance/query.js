/* 临时数据统计 chart: one dataset per measure over the groups (data from json_script). */
(function () {
  "use strict";
  var colors = ["#2d6aa3", "#c8102e", "#217a3c", "#b8860b", "#6a3d9a"];
  function draw() {
    var el = document.getElementById("query-chart");
    var src = document.getElementById("query-data");
    if (!el || !src || !window.Chart) return;
    var d = JSON.parse(src.textContent);
    new window.Chart(el, {
      type: d.type,
      data: {
        labels: d.labels,
        datasets: d.datasets.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: colors[i % colors.length],
                   borderColor: colors[i % colors.length], tension: 0.2 };
        })
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 interaction: { mode: "index", intersect: false }, scales: { y: { beginAtZero: true } } }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
