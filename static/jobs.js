// A job's page while it runs: asks the server how far it is each second, moves the bar, and
// reloads the page (which then shows the result) once the job has finished. A poll that fails
// (the server busy for a moment) is simply tried again.
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status]");
  if (!box) return;
  var bar = box.querySelector("progress");
  var figures = box.querySelector("[data-job-figures]");
  function poll() {
    fetch(box.getAttribute("data-job-status"), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (status && status.finished) {
          window.location.assign(box.getAttribute("data-job-page"));
          return;
        }
        if (status && status.total) {
          bar.max = status.total;
          bar.value = status.done;
          figures.textContent = status.done + " / " + status.total;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 500);
})();
