// Draws every <canvas data-chart='{...}'> with the vendored Chart.js. The figures come from
// the server in the attribute (no inline script, so the Content Security Policy stays strict);
// the table next to each chart holds the same figures for screen readers and printing.
(function () {
  "use strict";
  var palette = ["#1565c0", "#2e7d32", "#e65100", "#6a1b9a", "#c62828", "#00838f"];
  // A round chart's slices (the budget: paid, approved, left): what is left is no warning,
  // so it is a quiet grey, never the orange of "behind".
  var slices = ["#1565c0", "#2e7d32", "#b0bec5", "#6a1b9a", "#00838f", "#c62828"];
  // Numbers as the page's language writes them (Macedonian 350.000,5 like the tables beside
  // the chart), through the browser's Intl; a language it lacks falls back to its default.
  var lang = document.documentElement.lang || "mk";
  var locale = Intl.NumberFormat.supportedLocalesOf([lang]).length ? lang : undefined;
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var config = JSON.parse(canvas.getAttribute("data-chart"));
    var round = config.type === "doughnut" || config.type === "pie";
    config.datasets.forEach(function (dataset, index) {
      var colour = round ? slices : palette[index % palette.length];
      dataset.backgroundColor = dataset.backgroundColor || colour;
      dataset.borderColor = dataset.borderColor || colour;
    });
    new window.Chart(canvas, {
      type: config.type,
      data: { labels: config.labels, datasets: config.datasets },
      options: {
        locale: locale,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: round || config.datasets.length > 1, position: "bottom" } },
        scales: round ? {} : { y: { beginAtZero: true, title: { display: !!config.unit, text: config.unit || "" } } }
      }
    });
  });
})();
