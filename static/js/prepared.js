/* Files being made in the background (exports, certificates): each one's progress is
   asked for every 2 s and shown; once it is ready or has failed the page is drawn again
   with its download link or the reason. Without script, the 刷新 link does the same. */
(function () {
  "use strict";
  var items = document.querySelectorAll("[data-prepared-status]");
  Array.prototype.forEach.call(items, function (item) {
    var url = item.getAttribute("data-prepared-status");
    if (!url || !window.fetch) { return; }
    var bar = item.querySelector("progress");
    var label = item.querySelector("[data-prepared-label]");

    function ask() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (file) {
          if (!file) { return; }
          if (file.state === "ready" || file.state === "failed") {
            window.location.reload();
            return;
          }
          if (bar) { bar.value = file.percent; }
          if (label) { label.textContent = file.label + (file.total ? " " + file.done + "/" + file.total : ""); }
          window.setTimeout(ask, 2000);
        })
        .catch(function () { window.setTimeout(ask, 5000); });
    }
    window.setTimeout(ask, 1000);
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-prepared-reload]"), function (link) {
    link.addEventListener("click", function (event) { event.preventDefault(); window.location.reload(); });
  });
}());
