/* Entry forms with files: upload progress, and only the fields of the chosen entry kind.

   Without script the form posts normally and the server answers the same way (a
   redirect to "my entries", or the form page with the reason at the error status).
   With it, the form is sent by XMLHttpRequest so a <progress> bar can show how much of
   a large video has gone; then the server's answer is shown: the page it redirected to,
   or its reason above the button, keeping the chosen files so only the wrong one needs
   choosing again. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.DOMParser) { return; }

  var box = form.querySelector("[data-upload-progress]");
  var bar = box ? box.querySelector("progress") : null;
  var status = form.querySelector("[data-upload-status]");
  var errorBox = form.querySelector("[data-upload-error]");
  var button = form.querySelector("button[type=submit]");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
  var sending = false;

  function message(name) { return form.getAttribute("data-msg-" + name) || ""; }

  // --- photo or video: show the fields of the chosen kind only ------------------------
  var sections = form.querySelectorAll("[data-kind-section]");
  function chosenKind() {
    var chosen = form.querySelector("[data-kind-choice]:checked");
    return chosen ? chosen.value : "";
  }
  function showKind() {
    var kind = chosenKind();
    for (var i = 0; i < sections.length; i++) {
      sections[i].hidden = kind !== "" && sections[i].getAttribute("data-kind-section") !== kind;
    }
  }
  if (sections.length) {
    var choices = form.querySelectorAll("[data-kind-choice]");
    for (var c = 0; c < choices.length; c++) { choices[c].addEventListener("change", showKind); }
    showKind();
  }

  // --- sending -------------------------------------------------------------------------
  function showError(text) {
    if (!errorBox) { return; }
    errorBox.textContent = text;
    errorBox.hidden = false;
    errorBox.scrollIntoView({ block: "center" });
  }

  function setBusy(busy) {
    sending = busy;
    if (button) { button.disabled = busy; }
    form.setAttribute("aria-busy", busy ? "true" : "false");
    if (box) { box.hidden = !busy; }
  }

  // Files of the kind not chosen (a video picked, then "photo" chosen) are not sent.
  function formData() {
    var data = new FormData(form);
    for (var i = 0; i < sections.length; i++) {
      if (!sections[i].hidden) { continue; }
      var inputs = sections[i].querySelectorAll("input[type=file]");
      for (var j = 0; j < inputs.length; j++) { data.delete(inputs[j].name); }
    }
    return data;
  }

  function chosenBytes() {
    var total = 0;
    var inputs = form.querySelectorAll("input[type=file]");
    for (var i = 0; i < inputs.length; i++) {
      var section = inputs[i].closest("[data-kind-section]");
      if (section && section.hidden) { continue; }
      for (var j = 0; j < inputs[i].files.length; j++) { total += inputs[i].files[j].size; }
    }
    return total;
  }

  // The reason the server gave, from its form page or its error page; the errors it put
  // at fields are copied to the same fields here (the chosen files stay chosen).
  function reasonIn(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var node = page.querySelector("main .notice-error[role=alert], main .error-message");
    markFields(page);
    return node ? node.textContent.trim() : "";
  }

  function markFields(page) {
    var old = form.querySelectorAll("[data-server-error]");
    for (var i = 0; i < old.length; i++) { old[i].remove(); }
    var errors = page.querySelectorAll("main .field-error");
    for (var j = 0; j < errors.length; j++) {
      var theirs = errors[j].parentNode.querySelector("input, select, textarea");
      var mine = theirs && theirs.id ? document.getElementById(theirs.id) : null;
      if (!mine || !mine.parentNode) { continue; }
      var note = document.createElement("small");
      note.className = "field-error";
      note.setAttribute("data-server-error", "");
      note.textContent = errors[j].textContent;
      mine.parentNode.appendChild(note);
      mine.setAttribute("aria-invalid", "true");
    }
  }

  function showPage(html, url) {
    if (url && window.history && history.replaceState) {
      try { history.replaceState(null, "", url); } catch (e) { /* another origin: keep the address */ }
    }
    document.open();
    document.write(html);
    document.close();
  }

  var announced = -1;
  function progress(event) {
    if (!event.lengthComputable || !bar) { return; }
    var percent = Math.floor(event.loaded * 100 / event.total);
    bar.value = percent;
    // Screen readers hear every tenth percent, not every event.
    var step = Math.floor(percent / 10) * 10;
    if (step !== announced && status) {
      announced = step;
      status.textContent = message("sending") + " " + percent + "%";
    }
  }

  function finished(xhr) {
    var redirected = xhr.responseURL && xhr.responseURL.split("#")[0] !== form.action.split("#")[0];
    if (xhr.status >= 400) {
      var reason = reasonIn(xhr.responseText);
      if (reason) {
        setBusy(false);
        showError(reason);
        return;
      }
    }
    showPage(xhr.responseText, redirected ? xhr.responseURL : "");
  }

  function failed() {
    setBusy(false);
    showError(message("failed"));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) { return; }
    if (errorBox) { errorBox.hidden = true; }
    if (maxBytes && chosenBytes() > maxBytes) {
      showError(message("too-large"));
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "text/html");
    xhr.upload.addEventListener("progress", progress);
    xhr.upload.addEventListener("load", function () {
      if (bar) { bar.value = 100; }
      if (status) { status.textContent = message("processing"); }
    });
    xhr.addEventListener("load", function () { finished(xhr); });
    xhr.addEventListener("error", failed);
    xhr.addEventListener("abort", failed);
    announced = -1;
    if (bar) { bar.value = 0; }
    if (status) { status.textContent = message("sending") + " 0%"; }
    setBusy(true);
    xhr.send(formData());
  });
})();
