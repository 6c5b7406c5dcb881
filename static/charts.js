// Draws every <canvas data-chart='{...}'> with the vendored Chart.js. The figures come from
// the server in the attribute (no inline script, so the Content Security Policy stays strict);
// the table next to each chart holds the same figures for screen readers and printing.
(function () {
  "use strict";
  var palette = ["#1565c0", "#2e7d32", "#e65100", "#6a1b9a", "#c62828", "#00838f"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var config = JSON.parse(canvas.getAttribute("data-chart"));
    var round = config.type === "doughnut" || config.type === "pie";
    config.datasets.forEach(function (dataset, index) {
      var colour = round ? palette : palette[index % palette.length];
      dataset.backgroundColor = dataset.backgroundColor || colour;
      dataset.borderColor = dataset.borderColor || colour;
    });
    new window.Chart(canvas, {
      type: config.type,
      data: { labels: config.labels, datasets: config.datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: round || config.datasets.length > 1, position: "bottom" } },
        scales: round ? {} : { y: { beginAtZero: true, title: { display: !!config.unit, text: config.unit || "" } } }
      }
    });
  });
})();
