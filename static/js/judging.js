/* Judges' pages and the live-final big screen. Every page works without this file:
   the server renders everything and checks everything; this only
   - keeps a live round's queue up to date (the entry on stage) without reloading,
   - shows the running weighted total while a judge types, and asks before a score is
     submitted (a submitted score is locked),
   - keeps the big screen current by polling its JSON every few seconds.
   Text from the server is only ever put in place with textContent. */
(function () {
  "use strict";

  function visible() { return !document.hidden; }

  /* --- a live round's queue: swap in the fresh server-rendered region ---------------- */
  function liveRegion(region) {
    var every = parseInt(region.getAttribute("data-refresh"), 10) || 5000;
    if (!window.fetch || !window.DOMParser) { return; }
    var busy = false;
    var timer = window.setInterval(function () {
      if (busy || !visible()) { return; }
      busy = true;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          var current = document.getElementById(region.id);
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
          if (fresh && !fresh.hasAttribute("data-refresh")) { window.clearInterval(timer); }  // no longer live
          if (!current || !fresh || fresh.innerHTML === current.innerHTML) { return; }
          var focused = document.activeElement;
          var href = focused && current.contains(focused) ? focused.getAttribute("href") : null;
          var replacement = document.importNode(fresh, true);
          current.replaceWith(replacement);
          if (href) {
            var again = replacement.querySelector('a[href="' + href.replace(/"/g, "") + '"]');
            if (again) { again.focus(); }
          }
        })
        .catch(function () { /* keep what is shown; try again next time */ })
        .then(function () { busy = false; });
    }, every);
  }

  /* --- the rubric: running total and the confirmation before submitting ------------- */
  function rubric(form) {
    var inputs = form.querySelectorAll("input[data-max][data-weight]");
    var output = form.querySelector("[data-total-value]");
    var partial = form.querySelector("[data-total-partial]");

    function update() {
      var total = 0, filled = 0, valid = true;
      for (var i = 0; i < inputs.length; i++) {
        var raw = inputs[i].value.trim();
        if (raw === "") {
          if (inputs[i].validity && inputs[i].validity.badInput) { valid = false; }
          continue;
        }
        var value = Number(raw), max = Number(inputs[i].getAttribute("data-max"));
        var weight = Number(inputs[i].getAttribute("data-weight"));
        if (!isFinite(value) || value < 0 || value > max) { valid = false; continue; }
        total += value / max * weight;
        filled += 1;
      }
      if (output) { output.textContent = valid && filled ? total.toFixed(2) : "—"; }
      if (partial) {
        partial.hidden = !valid || filled === 0 || filled === inputs.length;
        partial.textContent = partial.textContent.replace(/\d+\/(\d+)/, filled + "/$1");
      }
    }

    form.addEventListener("input", update);
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !button.hasAttribute("data-confirm-submit")) { return; }
      if (form.querySelector("input[name=confirmed]")) { return; }
      if (!window.confirm(form.getAttribute("data-confirm") || "")) {
        event.preventDefault();
        return;
      }
      var confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "1";
      form.appendChild(confirmed);
    });
    var summary = form.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  }

  /* --- the big screen ------------------------------------------------------------------ */
  function setText(root, selector, text) {
    var node = root.querySelector(selector);
    if (node) { node.textContent = text == null ? "" : String(text); }
    return node;
  }

  function show(root, selector, on) {
    var node = root.querySelector(selector);
    if (node) { node.hidden = !on; }
  }

  function renderScreen(screen, board) {
    setText(screen, "[data-screen-contest]", board.round.contest);
    setText(screen, "[data-screen-round]", board.round.name);
    setText(screen, "[data-screen-state]", board.round.state_label);
    var cur = board.current;
    show(screen, "[data-stage]", !!cur);
    show(screen, "[data-stage-idle]", !cur);
    if (cur) {
      setText(screen, "[data-stage-title]", cur.title);
      var meta = [cur.school, (cur.team || []).join("、")].filter(Boolean).join(" · ");
      setText(screen, "[data-stage-meta]", meta);
      show(screen, "[data-stage-meta]", meta !== "");
      setText(screen, "[data-stage-progress]", cur.progress_text);
      var dots = screen.querySelector("[data-stage-dots]");
      if (dots) {
        while (dots.firstChild) { dots.removeChild(dots.firstChild); }
        for (var i = 0; i < cur.judges; i++) {
          var dot = document.createElement("li");
          if (i < cur.submitted) { dot.className = "done"; }
          dots.appendChild(dot);
        }
      }
      show(screen, "[data-stage-result]", cur.complete);
      setText(screen, "[data-stage-high]", cur.dropped_high);
      setText(screen, "[data-stage-low]", cur.dropped_low);
      show(screen, "[data-stage-high-row]", cur.dropped_high !== "");
      show(screen, "[data-stage-low-row]", cur.dropped_low !== "");
      setText(screen, "[data-stage-mean]", cur.mean);
    }
    var list = screen.querySelector("[data-ranking]");
    var template = screen.querySelector("template[data-rank-template]");
    if (list && template && template.content) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      board.ranking.forEach(function (line) {
        var item = template.content.firstElementChild.cloneNode(true);
        setText(item, "[data-rank]", line.rank);
        setText(item, "[data-rank-title]", line.title);
        setText(item, "[data-rank-school]", line.school);
        setText(item, "[data-rank-mean]", line.mean);
        if (cur && line.entry_id === cur.entry_id) { item.className = "current"; }
        list.appendChild(item);
      });
    }
    show(screen, "[data-ranking-empty]", board.ranking.length === 0);
  }

  function bigScreen(screen) {
    if (!window.fetch) { return; }
    var url = screen.getAttribute("data-url");
    var every = parseInt(screen.getAttribute("data-interval"), 10) || 3000;
    var busy = false;
    function poll() {
      if (busy) { return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.ok || type.indexOf("application/json") === -1) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (board) {
          renderScreen(screen, board);
          show(screen, "[data-screen-offline]", false);
        })
        .catch(function () { show(screen, "[data-screen-offline]", true); })
        .then(function () { busy = false; });
    }
    window.setInterval(poll, every);
  }

  var regions = document.querySelectorAll("[data-refresh][id]");
  for (var i = 0; i < regions.length; i++) { liveRegion(regions[i]); }
  var forms = document.querySelectorAll("form[data-rubric]");
  for (var j = 0; j < forms.length; j++) { rubric(forms[j]); }
  var screens = document.querySelectorAll("[data-screen]");
  for (var k = 0; k < screens.length; k++) { bigScreen(screens[k]); }
}());
