/* 生存认证统计 chart: bars of receiving, due, overdue and suspended persons per 镇街道 or 村社区. */
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("cert-chart");
    var src = document.getElementById("cert-data");
    if (!el || !src || !window.Chart) return;
    var d = JSON.parse(src.textContent);
    new window.Chart(el, {
      type: "bar",
      data: {
        labels: d.labels,
        datasets: [
          { label: "领取待遇", data: d.receiving, backgroundColor: "#2d6aa3" },
          { label: "30 天内到期", data: d.due, backgroundColor: "#d9a400" },
          { label: "逾期未认证", data: d.overdue, backgroundColor: "#c8102e" },
          { label: "已暂停", data: d.suspended, backgroundColor: "#6b6b6b" }
        ]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, title: { display: true, text: "人" } } }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
