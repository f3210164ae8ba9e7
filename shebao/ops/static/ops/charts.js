/* 链路延迟 and 巡检历史 charts: data from json_script (no inline script: the CSP forbids it). */
(function () {
  "use strict";
  function latency() {
    var el = document.getElementById("latency-chart");
    var src = document.getElementById("latency-data");
    if (!el || !src || !window.Chart) return;
    var d = JSON.parse(src.textContent);
    new window.Chart(el, {
      type: "line",
      data: {
        labels: d.labels,
        datasets: [
          { label: "延迟（毫秒）", data: d.latency, borderColor: "#2d6aa3", backgroundColor: "#2d6aa3", spanGaps: false, tension: 0.1, pointRadius: 1 },
          { label: "失败", data: d.failed, showLine: false, borderColor: "#c8102e", backgroundColor: "#c8102e", pointRadius: 3 }
        ]
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
    });
  }
  function history() {
    var el = document.getElementById("inspection-chart");
    var src = document.getElementById("inspection-data");
    if (!el || !src || !window.Chart) return;
    var d = JSON.parse(src.textContent);
    new window.Chart(el, {
      data: {
        labels: d.labels,
        datasets: [
          { type: "bar", label: "警告项", data: d.warn, backgroundColor: "#b26a00", yAxisID: "y" },
          { type: "bar", label: "异常项", data: d.error, backgroundColor: "#c8102e", yAxisID: "y" },
          { type: "line", label: "数据库大小（MB）", data: d.db_mb, borderColor: "#2d6aa3", backgroundColor: "#2d6aa3", yAxisID: "y1", tension: 0.2 }
        ]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, y1: { position: "right", grid: { drawOnChartArea: false } } }
      }
    });
  }
  function draw() { latency(); history(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
