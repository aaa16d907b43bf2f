// The team form's optional member rows, one at a time: "添加" shows the next empty row,
// "移除" clears a row and hides it. Without this script every row is in the page (the
// students' extra rows in a <details>), and the server reads whichever rows are filled.
(function () {
  'use strict';

  function filled(row) {
    return Array.prototype.some.call(row.querySelectorAll('input[type=text], input:not([type])'), function (input) {
      return input.value.trim() !== '';
    }) || row.querySelector('.field-error') !== null;
  }

  function setUp(group) {
    var rows = Array.prototype.slice.call(group.querySelectorAll('[data-member-row]'));
    if (!rows.length) return;
    if (group.tagName === 'DETAILS') {
      group.open = true;
      var summary = group.querySelector('summary');
      if (summary) summary.hidden = true;
    }
    var add = document.createElement('button');
    add.type = 'button';
    add.className = 'button small secondary add-member';
    var full = document.createElement('p');
    full.className = 'small muted';
    full.textContent = group.dataset.fullLabel;
    group.appendChild(add);
    group.appendChild(full);

    function refresh() {
      var hidden = rows.filter(function (row) { return row.hidden; });
      add.hidden = hidden.length === 0;
      full.hidden = hidden.length !== 0;
      add.textContent = group.dataset.addLabel;
    }

    rows.forEach(function (row) {
      var remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'button small secondary remove-member';
      remove.textContent = group.dataset.removeLabel;
      remove.addEventListener('click', function () {
        row.querySelectorAll('input[type=text], input:not([type])').forEach(function (input) { input.value = ''; });
        var leader = row.querySelector('input[type=radio]:checked');
        if (leader) {
          leader.checked = false;
          var first = document.querySelector('input[type=radio][name=leader]');
          if (first) first.checked = true;
        }
        row.hidden = true;
        refresh();
        add.focus();
      });
      row.appendChild(remove);
      row.hidden = !filled(row);
    });

    add.addEventListener('click', function () {
      var next = rows.filter(function (row) { return row.hidden; })[0];
      if (!next) return;
      next.hidden = false;
      refresh();
      var input = next.querySelector('input');
      if (input) input.focus();
    });
    refresh();
  }

  document.querySelectorAll('[data-member-rows]').forEach(setUp);
})();
