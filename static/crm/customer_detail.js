/* Customer 360: the radar chart of the five profile dimensions.
 * Data comes from the json_script block #customer-profile-data ({labels, values});
 * a null value (undefined dimension) leaves a gap. The same numbers are in the table. */
(function () {
  "use strict";

  function drawProfile() {
    var canvas = document.getElementById("customer-profile-chart");
    var source = document.getElementById("customer-profile-data");
    if (!canvas || !source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var brand = getComputedStyle(document.documentElement).getPropertyValue("--fw-brand").trim() || "#1d3557";
    new window.Chart(canvas, {
      type: "radar",
      data: {
        labels: data.labels,
        datasets: [{
          label: canvas.dataset.label || "",
          data: data.values,
          spanGaps: false,
          fill: true,
          borderColor: brand,
          backgroundColor: "rgba(29, 53, 87, 0.2)",
          pointBackgroundColor: brand,
          borderWidth: 2
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: 1,
        animation: false,
        scales: {
          r: {
            min: 0,
            max: 100,
            ticks: { stepSize: 25, backdropColor: "rgba(255, 255, 255, 0.8)", font: { size: 10 } },
            pointLabels: { font: { size: 12 } }
          }
        },
        plugins: { legend: { display: false } }
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawProfile);
  } else {
    drawProfile();
  }
})();
