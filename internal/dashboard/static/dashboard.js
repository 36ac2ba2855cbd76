// The dashboard's own script: the balance page's volume charts (uPlot).
// Everything else is plain HTML with htmx attributes; no inline script.
(function () {
  "use strict";
  function drawCharts(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      el.dataset.drawn = "1";
      var d = JSON.parse(el.dataset.chart);
      var width = Math.max(280, el.clientWidth);
      var bars = uPlot.paths.bars({ size: [0.7, 40] });
      var opts = {
        width: width,
        height: 240,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [{ stroke: "#555c66", grid: { show: false } },
               { stroke: "#555c66", grid: { stroke: "#e6e9ed" }, size: 60 }],
        series: [{}, { label: d.currency, fill: "#1a56db", stroke: "#1a56db", paths: bars, points: { show: false } }]
      };
      var plot = new uPlot(opts, [d.days, d.amounts], el);
      window.addEventListener("resize", function () {
        plot.setSize({ width: Math.max(280, el.clientWidth), height: 240 });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:load", function (e) { drawCharts(e.target); });
})();
