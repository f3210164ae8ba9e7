/* 分组汇总 chart: one bar series per measure, through the shared start-up (web/charts.js). */
(function () {
  "use strict";
  var palette = window.shebaoCharts.palette;
  window.shebaoCharts.draw("wh-chart", "wh-chart-data", function (d) {
    return {
      type: "bar",
      data: { labels: d.labels, datasets: d.series.map(function (s, i) {
        return { label: s.label, data: s.data, backgroundColor: palette[i % palette.length] }; }) }
    };
  });
})();
