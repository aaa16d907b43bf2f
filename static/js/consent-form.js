// The guardian consent form's download link follows the nomination form: the student's
// name, the school and the display choices chosen so far are printed on it. Without this
// script the link gives the form with the school filled in and a blank line for the name.
(function () {
  'use strict';
  var link = document.querySelector('[data-consent-template]');
  var form = link && link.closest('form');
  if (!form || !window.URL) return;

  function value(name) {
    var field = form.elements[name];
    if (!field) return '';
    if (field.type === 'checkbox') return field.checked ? '1' : '0';
    return field.value || '';
  }

  function update() {
    var url = new URL(link.href, window.location.href);
    url.searchParams.set('school', value('school'));
    url.searchParams.set('name', value('name').trim());
    url.searchParams.set('name_form', value('name_form') || 'full');
    url.searchParams.set('photo', value('show_photo'));
    url.searchParams.set('major', value('show_major'));
    url.searchParams.set('story', value('show_story'));
    link.href = url.pathname + url.search;
  }

  form.addEventListener('input', update);
  form.addEventListener('change', update);
  update();
})();
