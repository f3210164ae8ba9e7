/* 链路延迟 and 巡检历史 charts, through the shared start-up (web/charts.js). */
(function () {
  "use strict";
  var c = window.shebaoCharts.colors;
  window.shebaoCharts.draw("latency-chart", "latency-data", function (d) {
    return {
      type: "line",
      data: {
        labels: d.labels,
        datasets: [
          { label: "延迟（毫秒）", data: d.latency, borderColor: c.blue, backgroundColor: c.blue, spanGaps: false, tension: 0.1, pointRadius: 1 },
          { label: "失败", data: d.failed, showLine: false, borderColor: c.red, backgroundColor: c.red, pointRadius: 3 }
        ]
      },
      options: { scales: { y: { beginAtZero: true } } }
    };
  });
  window.shebaoCharts.draw("inspection-chart", "inspection-data", function (d) {
    return {
      data: {
        labels: d.labels,
        datasets: [
          { type: "bar", label: "警告项", data: d.warn, backgroundColor: c.amber, yAxisID: "y" },
          { type: "bar", label: "异常项", data: d.error, backgroundColor: c.red, yAxisID: "y" },
          { type: "line", label: "数据库大小（MB）", data: d.db_mb, borderColor: c.blue, backgroundColor: c.blue, yAxisID: "y1", tension: 0.2 }
        ]
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, y1: { position: "right", grid: { drawOnChartArea: false } } } }
    };
  });
})();
