// Draws every <div class="dbh-chart" data-series="ID"> from the JSON in <script id="ID">
// ({"x": [unix seconds], "series": {"label": [values]}}) with the vendored uPlot.
(function () {
  "use strict";
  var colours = ["#417690", "#ba2121", "#e0a800", "#2e7d32", "#6a1b9a", "#00838f"];
  document.querySelectorAll(".dbh-chart").forEach(function (el) {
    var data = JSON.parse(document.getElementById(el.dataset.series).textContent);
    var labels = Object.keys(data.series);
    if (data.x.length === 0 || labels.length === 0) {
      el.textContent = "No snapshot in this range yet (the snapshot task runs every few minutes).";
      el.className += " dbh-empty";
      return;
    }
    var series = [{}].concat(labels.map(function (label, i) {
      return { label: label, stroke: colours[i % colours.length], width: 2, spanGaps: true };
    }));
    var columns = [data.x].concat(labels.map(function (l) { return data.series[l]; }));
    new uPlot({ width: Math.min(el.clientWidth || 900, 1100), height: 240, series: series },
              columns, el);
  });
})();
