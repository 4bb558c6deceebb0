// Draws the dashboard's charts from the JSON the page embeds (no inline script: CSP).
(function () {
  "use strict";

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return;
    // Tick and tooltip numbers in the page's language (<html lang>), not the browser's.
    var locale = document.documentElement.lang || undefined;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false, locale: locale }, config.options || {});
    new Chart(canvas, config);
  }

  function percentAxis() {
    return { beginAtZero: true, ticks: { callback: function (v) { return v + " %"; } } };
  }

  function draw() {
    var source = document.getElementById("dashboard-charts");
    if (!source) return;
    var data = JSON.parse(source.textContent);

    var f = data.funnel;
    chart("chart-funnel", {
      data: {
        labels: f.labels,
        datasets: [
          { type: "bar", label: f.text.open, data: f.open, yAxisID: "y" },
          { type: "bar", label: f.text.entered, data: f.entered, yAxisID: "y" },
          { type: "line", label: f.text.conversion, data: f.conversion, yAxisID: "y1", spanGaps: false }
        ]
      },
      options: { scales: { y: { beginAtZero: true }, y1: Object.assign(percentAxis(), { position: "right", max: 100, grid: { drawOnChartArea: false } }) } }
    });

    var m = data.monthly;
    chart("chart-monthly", {
      data: {
        labels: m.labels,
        datasets: [
          { type: "bar", label: m.text.won, data: m.won },
          { type: "line", label: m.text.forecast, data: m.forecast, borderDash: [6, 4], spanGaps: false }
        ]
      },
      options: { scales: { y: { beginAtZero: true } } }
    });

    var s = data.satisfaction;
    chart("chart-satisfaction", {
      type: "line",
      data: {
        labels: s.labels,
        datasets: [
          { label: s.text.cs_need, data: s.cs_need, spanGaps: false },
          { label: s.text.cs_expectation, data: s.cs_expectation, spanGaps: false }
        ]
      },
      options: { scales: { y: percentAxis() } }
    });

    var p = data.plan;
    chart("chart-plan", {
      type: "bar",
      data: { labels: p.labels, datasets: [{ label: p.text.cs_plan, data: p.cs_plan }] },
      options: { indexAxis: "y", scales: { x: Object.assign(percentAxis(), { max: 100 }) } }
    });

    var n = data.need;
    if (n) {
      chart("chart-need-curve", {
        type: "line",
        data: {
          datasets: [{
            label: n.text.curve,
            data: n.curve.x.map(function (x, i) { return { x: x, y: n.curve.p[i] }; }),
            pointRadius: 0
          }]
        },
        options: { scales: { x: { type: "linear", min: 0, title: { display: true, text: n.text.x } }, y: { min: 0, max: 1 } } }
      });
      chart("chart-need-calibration", {
        data: {
          labels: n.calibration.labels,
          datasets: [
            { type: "bar", label: n.text.observed, data: n.calibration.observed },
            { type: "line", label: n.text.predicted, data: n.calibration.predicted }
          ]
        },
        options: { scales: { x: { title: { display: true, text: n.text.decile } }, y: { min: 0, max: 1 } } }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
