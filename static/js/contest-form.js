// The contest form: show only the rules of the kind chosen. Every kind's rules are on the
// page (without script all are shown, each under its kind's heading, and saving reads only
// the chosen kind's), so switching needs no round trip and loses nothing typed.
(function () {
  'use strict';
  var kind = document.getElementById('kind');
  if (!kind) { return; }
  var sections = document.querySelectorAll('fieldset[data-rules-kind]');
  var notes = document.querySelectorAll('.kind-rules-note');

  function show() {
    for (var i = 0; i < sections.length; i++) {
      var other = sections[i].getAttribute('data-rules-kind') !== kind.value;
      sections[i].hidden = other;
      // The stylesheet gives fieldsets a display of their own, which outranks [hidden].
      sections[i].style.display = other ? 'none' : '';
    }
    // With one kind's rules on view, the notes saying which kind they belong to are noise.
    for (var j = 0; j < notes.length; j++) { notes[j].hidden = true; notes[j].style.display = 'none'; }
  }

  kind.addEventListener('change', show);
  show();
})();
