/* The share page's copy button. Without script the button stays hidden and the link
   remains a read-only field that can be selected and copied by hand. */
(function () {
  "use strict";
  var button = document.querySelector("[data-copy-target]");
  var status = document.querySelector("[data-copy-status]");
  if (!button || !status) { return; }
  var field = document.getElementById(button.getAttribute("data-copy-target"));
  if (!field) { return; }

  function say(message) { status.textContent = message; }

  // The old way still works in the in-app browsers of chat apps and over plain http,
  // where navigator.clipboard is missing.
  function copyBySelection() {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }

  button.addEventListener("click", function () {
    var done = function () { say(button.getAttribute("data-copied")); };
    var fallback = function () {
      if (copyBySelection()) { done(); } else { say(button.getAttribute("data-failed")); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, fallback);
    } else {
      fallback();
    }
  });
  // A tap on the field selects the whole link, ready for the system's copy menu.
  field.addEventListener("focus", function () { field.select(); });
  button.hidden = false;
})();
