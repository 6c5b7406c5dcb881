// Draws every <canvas data-chart='{...}'> with the vendored Chart.js. The figures come from
// the server in the attribute (no inline script, so the Content Security Policy stays strict);
// the table next to each chart holds the same figures for screen readers and printing.
(function () {
  "use strict";
  var palette = ["#1565c0", "#2e7d32", "#e65100", "#6a1b9a", "#c62828", "#00838f"];
  // A round chart's slices (the budget: paid, approved, left): what is left is no warning,
  // so it is a quiet grey, never the orange of "behind".
  var slices = ["#1565c0", "#2e7d32", "#b0bec5", "#6a1b9a", "#00838f", "#c62828"];
  // Numbers as the page's language writes them, like the tables beside the charts
  // (casework/formatting.py, Babel's symbols): 350.000,5 in Macedonian, 350 000,5 in Albanian.
  // Written out here because a browser's Intl may lack Macedonian and Albanian.
  var separators = { mk: [".", ","], sq: ["\u00a0", ","], en: [",", "."] };
  var lang = (document.documentElement.lang || "mk").toLowerCase().split("-")[0];
  var intl = Intl.NumberFormat.supportedLocalesOf([lang]).length ? new Intl.NumberFormat(lang) : null;

  function formatNumber(value) {
    var own = separators[lang];
    if (!own) {
      return intl ? intl.format(value) : String(value);
    }
    var rounded = Math.round(Math.abs(value) * 10) / 10;
    var parts = String(rounded).split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, own[0]);
    return (value < 0 ? "\u2212" : "") + whole + (parts[1] ? own[1] + parts[1] : "");
  }

  function tooltipLabel(round) {
    return function (context) {
      var name = round ? context.label : context.dataset.label;
      var value = round ? context.parsed : context.parsed.y;
      return (name ? name + ": " : "") + formatNumber(value);
    };
  }

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
        locale: intl ? lang : undefined,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: round || config.datasets.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: tooltipLabel(round) } }
        },
        scales: round ? {} : {
          y: {
            beginAtZero: true,
            title: { display: !!config.unit, text: config.unit || "" },
            ticks: { callback: function (value) { return formatNumber(value); } }
          }
        }
      }
    });
  });
})();
