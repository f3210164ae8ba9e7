/* 生存认证统计 chart: bars of receiving, due, overdue and suspended persons per 镇街道 or 村社区, and a line
   of the share of this year's certifications that came from 数据比对 (right axis, %). */
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("cert-chart");
    var src = document.getElementById("cert-data");
    if (!el || !src || !window.Chart) return;
    var d = JSON.parse(src.textContent);
    var t = d.labels_i18n || {};
    new window.Chart(el, {
      type: "bar",
      data: {
        labels: d.labels,
        datasets: [
          { label: t.receiving, data: d.receiving, backgroundColor: "#2d6aa3", yAxisID: "y", order: 2, maxBarThickness: 40 },
          { label: t.due, data: d.due, backgroundColor: "#d9a400", yAxisID: "y", order: 2, maxBarThickness: 40 },
          { label: t.overdue, data: d.overdue, backgroundColor: "#c8102e", yAxisID: "y", order: 2, maxBarThickness: 40 },
          { label: t.suspended, data: d.suspended, backgroundColor: "#6b6b6b", yAxisID: "y", order: 2, maxBarThickness: 40 },
          { type: "line", label: t.share, data: d.data_share, borderColor: "#1f8a5b", backgroundColor: "#1f8a5b",
            pointRadius: 3, borderWidth: 2, spanGaps: true, yAxisID: "share", order: 1 }
        ]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { sort: function (a, b) { return a.datasetIndex - b.datasetIndex; } } } },
        scales: {
          y: { beginAtZero: true, title: { display: true, text: t.persons } },
          share: { position: "right", beginAtZero: true, max: 100, grid: { drawOnChartArea: false },
                   title: { display: true, text: "%" }, ticks: { callback: function (v) { return v + "%"; } } }
        }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
