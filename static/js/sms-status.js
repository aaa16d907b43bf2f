/* The register and reset pages, right after a code was asked for: the text message is
   sent a moment later, so the page asks how it went (every 2 s, for up to a minute) and
   shows the failure if there is one. Without script the page says what it knew when it
   was drawn, and a reload tells more. */
(function () {
  "use strict";
  var box = document.querySelector("[data-sms-status]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-sms-status");
  var tries = 30;

  function ask() {
    tries -= 1;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { state: "sending" }; })
      .then(function (answer) {
        if (answer.state === "failed") {
          box.textContent = answer.message;
          box.hidden = false;
        } else if (answer.state === "sending" && tries > 0) {
          window.setTimeout(ask, 2000);
        }
      })
      .catch(function () { if (tries > 0) { window.setTimeout(ask, 2000); } });
  }
  window.setTimeout(ask, 1000);
}());
