/* Vote buttons without a page reload. Without script (or when anything unexpected
   happens) the forms post normally and the server answers with a page. */
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) { return; }

  function setText(selector, root, text) {
    var nodes = (root || document).querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = text; }
  }

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  // The reply's message, then links to the receipt and to 我的投票 (built as nodes: no markup from the reply).
  function showMessage(status, body) {
    status.textContent = body.message || "";
    if (body.receipt_url && body.receipt_text) {
      status.appendChild(document.createTextNode(" "));
      status.appendChild(link(body.receipt_url, body.receipt_text));
    }
    if (body.my_votes_url && body.my_votes_text) {
      status.appendChild(document.createTextNode(" "));
      status.appendChild(link(body.my_votes_url, body.my_votes_text));
    }
  }

  // A button that can no longer vote: "done" (今日已投) or "spent" (today's votes used up),
  // in the words the page gave it (data-done, data-spent), else the reply's.
  function retire(button, state, fallback) {
    var label = button.querySelector("[data-label]") || button;
    label.textContent = button.getAttribute("data-" + state) || fallback || "";
    button.disabled = true;
    button.classList.add("is-" + state);
  }

  function retireOthers(text) {
    var buttons = document.querySelectorAll("form[data-vote-form] button[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      if (!buttons[i].classList.contains("is-done")) { retire(buttons[i], "spent", text); }
    }
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
        var body = reply.body;
        var entry = form.action.match(/entries\/(\d+)\/vote/);
        if (entry && typeof body.votes === "number") {
          setText('[data-vote-count="' + entry[1] + '"]', document, String(body.votes));
        }
        setText("[data-votes-left]", document, body.votes_left_text || "");
        if (status) { showMessage(status, body); }
        if (button) {
          if (body.entry_done) { retire(button, "done", body.done_text); } else { button.disabled = false; }
        }
        if (body.spent) { retireOthers(body.spent_text); }
        return;
      }
      var error = reply.body && reply.body.error;
      if (error && (error.code === "captcha_required" || error.code === "captcha_invalid")) {
        submitNatively(form);  // the page comes back with the captcha
        return;
      }
      if (status) { status.textContent = error ? error.message : ""; }
      // Voted here already today (another tab, another device), or today's votes are used up.
      if (button && error && error.code === "already_voted") { retire(button, "done"); return; }
      if (error && error.code === "daily_quota") { retireOthers(); return; }
      if (button) { button.disabled = false; }
    }).catch(function () {
      submitNatively(form);
    });
  }

  // The captcha's "换一张" is static/js/captcha.js, included with the captcha.
  document.addEventListener("submit", onSubmit);
})();
