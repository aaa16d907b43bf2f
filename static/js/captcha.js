/* "换一张" on a captcha (templates/antifraud/_captcha.html): fetch a new challenge of the
   same purpose and show its picture. Without script the button stays hidden, and the
   form's next refusal brings a new picture. */
(function () {
  "use strict";
  if (!window.fetch || !window.FormData) { return; }

  function refreshCaptcha(button) {
    var box = button.closest("[data-captcha]");
    var form = button.closest("form");
    var token = form && form.querySelector("input[name=csrf_token]");
    if (!box || !token) { return; }
    var body = new FormData();
    body.append("purpose", button.getAttribute("data-purpose") || "vote");
    fetch(button.getAttribute("data-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token.value }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (challenge) {
      box.querySelector("[data-captcha-id]").value = challenge.id;
      box.querySelector("[data-captcha-image]").src = challenge.image_url;
      box.querySelector("[data-captcha-audio]").href = challenge.audio_url;
      var answer = box.querySelector("input[name=captcha_answer]");
      if (answer) { answer.value = ""; answer.focus(); }
    }).catch(function () { /* keep the current picture */ });
  }

  var buttons = document.querySelectorAll("[data-captcha-refresh]");
  for (var i = 0; i < buttons.length; i++) {
    if (buttons[i].hasAttribute("data-ready")) { continue; }  // the script may be included twice
    buttons[i].setAttribute("data-ready", "");
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function (event) { refreshCaptcha(event.currentTarget); });
  }
})();
