/* The judging back office. Everything here is a convenience: without script the rubric
   still has a few empty rows (a row emptied is a row removed), the weight sum is the one
   the server computed, and the invitation link is a read-only field to copy by hand. */
(function () {
  "use strict";

  // --- the rubric: add and remove rows, and the live sum of the weights ---------------
  var table = document.querySelector("[data-rubric]");
  if (table) {
    var body = table.tBodies[0];
    var addButton = document.querySelector("[data-add-row]");
    var sumBox = document.querySelector("[data-weight-sum]");
    var sumValue = document.querySelector("[data-weight-total]");
    var maxRows = 20;

    var rows = function () { return Array.prototype.slice.call(body.querySelectorAll("[data-rubric-row]")); };

    var updateSum = function () {
      var total = 0;
      body.querySelectorAll("[data-weight]").forEach(function (input) {
        var value = parseFloat(input.value);
        if (!isNaN(value)) { total += value; }
      });
      total = Math.round(total * 1000) / 1000;
      if (sumValue) { sumValue.textContent = String(total); }
      if (sumBox) { sumBox.classList.toggle("bad", Math.abs(total - 100) > 1e-6); }
    };

    // Row numbers in the labels follow the visible order; field names keep their index
    // (the server reads any index, gaps included).
    var renumber = function () {
      rows().forEach(function (row, i) {
        var number = row.querySelector("[data-row-number]");
        if (number) { number.textContent = String(i + 1); }
        row.querySelectorAll("label.sr-only, [data-remove-row] .sr-only").forEach(function (label) {
          label.textContent = label.textContent.replace(/\d+/, String(i + 1));
        });
      });
      if (addButton) { addButton.disabled = rows().length >= maxRows; }
    };

    var nextIndex = function () {
      var highest = -1;
      body.querySelectorAll("input[name^='criteria-']").forEach(function (input) {
        var match = /^criteria-(\d+)-/.exec(input.name);
        if (match) { highest = Math.max(highest, parseInt(match[1], 10)); }
      });
      return highest + 1;
    };

    var wire = function (row) {
      var remove = row.querySelector("[data-remove-row]");
      if (remove) {
        remove.hidden = false;
        remove.addEventListener("click", function () {
          if (rows().length <= 1) {
            row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
          } else {
            var focusTarget = row.nextElementSibling || row.previousElementSibling;
            row.parentNode.removeChild(row);
            if (focusTarget) { focusTarget.querySelector("input").focus(); }
          }
          renumber();
          updateSum();
        });
      }
    };

    rows().forEach(wire);
    body.addEventListener("input", function (event) {
      if (event.target.hasAttribute("data-weight")) { updateSum(); }
    });
    if (addButton) {
      addButton.hidden = false;
      addButton.addEventListener("click", function () {
        var last = rows().pop();
        if (!last) { return; }
        var index = nextIndex();
        var row = last.cloneNode(true);
        row.querySelectorAll("input, label").forEach(function (node) {
          ["name", "id", "for"].forEach(function (attr) {
            var value = node.getAttribute(attr);
            if (value) { node.setAttribute(attr, value.replace(/^criteria-\d+-/, "criteria-" + index + "-")); }
          });
          if (node.tagName === "INPUT") { node.value = ""; }
        });
        body.appendChild(row);
        wire(row);
        renumber();
        updateSum();
        row.querySelector("input").focus();
      });
    }
    renumber();
    updateSum();
  }

  // --- the one-time invitation link: a copy button ----------------------------------
  var copy = document.querySelector("[data-copy-target]");
  var status = document.querySelector("[data-copy-status]");
  if (copy && status) {
    var field = document.getElementById(copy.getAttribute("data-copy-target"));
    if (field) {
      var say = function (message) { status.textContent = message; };
      var bySelection = function () {
        field.focus();
        field.select();
        field.setSelectionRange(0, field.value.length);
        try { return document.execCommand("copy"); } catch (e) { return false; }
      };
      copy.addEventListener("click", function () {
        var done = function () { say(copy.getAttribute("data-copied")); };
        var fallback = function () {
          if (bySelection()) { done(); } else { say(copy.getAttribute("data-failed")); }
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, fallback);
        } else {
          fallback();
        }
      });
      field.addEventListener("focus", function () { field.select(); });
      copy.hidden = false;
    }
  }
}());
