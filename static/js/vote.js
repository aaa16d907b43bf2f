/* Vote buttons without a page reload. Without script (or when anything unexpected
   happens) the forms post normally and the server answers with a page. */
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) { return; }

  function setText(selector, root, text) {
    var nodes = (root || document).querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = text; }
  }

  function submitNatively(form) {
    form.setAttribute("data-native", "1");
    form.submit();
  }

  function onSubmit(event) {
    var form = event.target;
    if (!form.hasAttribute("data-vote-form") || form.hasAttribute("data-native")) { return; }
    // A captcha answer goes through the normal post: the page then shows the outcome.
    if (form.querySelector("[data-captcha]")) { return; }
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    var status = form.querySelector("[data-vote-status]");
    if (button) { button.disabled = true; }
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.redirected || type.indexOf("application/json") === -1) { throw new Error("not json"); }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (reply) {
      if (reply.status === 201) {
        var entry = form.action.match(/entries\/(\d+)\/vote/);
        if (entry && typeof reply.body.votes === "number") {
          setText('[data-vote-count="' + entry[1] + '"]', document, String(reply.body.votes));
        }
        setText("[data-votes-left]", document, reply.body.votes_left_text || "");
        if (status) { status.textContent = reply.body.message; }
        if (button) { button.textContent = button.getAttribute("data-done") || "✓"; }
        return;
      }
      var error = reply.body && reply.body.error;
      if (error && (error.code === "captcha_required" || error.code === "captcha_invalid")) {
        submitNatively(form);  // the page comes back with the captcha
        return;
      }
      if (status) { status.textContent = error ? error.message : ""; }
      if (button) { button.disabled = false; }
    }).catch(function () {
      submitNatively(form);
    });
  }

  // The captcha's "换一张" is static/js/captcha.js, included with the captcha.
  document.addEventListener("submit", onSubmit);
})();
