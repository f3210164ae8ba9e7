/* 月末数据 chart: bars of paid and owed per month, a line of persons paid normally. */
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("stats-chart");
    var src = document.getElementById("stats-data");
    if (!el || !src || !window.Chart) return;
    var d = JSON.parse(src.textContent);
    new window.Chart(el, {
      data: {
        labels: d.labels,
        datasets: [
          { type: "bar", label: "实付（元）", data: d.paid, backgroundColor: "#2d6aa3", yAxisID: "y" },
          { type: "bar", label: "欠付（元）", data: d.owed, backgroundColor: "#c8102e", yAxisID: "y" },
          { type: "line", label: "正常人数", data: d.persons, borderColor: "#217a3c", backgroundColor: "#217a3c",
            yAxisID: "y1", tension: 0.2 }
        ]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, title: { display: true, text: "元" } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "人" } }
        }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
