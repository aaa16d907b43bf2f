/* Fraud review: a "select all" box over the held votes (without script the box stays
   hidden and each vote is ticked by hand), and the hour chart opened on its latest hours
   where it is wider than the screen. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll(".chart-scroll"), function (box) {
    box.scrollLeft = box.scrollWidth;
  });
  var all = document.querySelector("[data-check-all]");
  if (!all) { return; }
  var name = all.getAttribute("data-check-all");
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type="checkbox"][name="' + name + '"]'));
  if (!boxes.length) { return; }
  all.hidden = false;

  function sync() {
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    all.checked = ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
  });
  boxes.forEach(function (b) { b.addEventListener("change", sync); });
  sync();
}());
