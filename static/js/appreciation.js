// The copy's appréciation: « Rédiger avec l'IA » asks the model without leaving the page (htmx
// swaps the block when the draft comes), and the teacher may type in the field meanwhile. A text
// she typed and has not saved (the field differs from what the page last brought) stays in the
// field, where she was typing; the model's draft, saved on the server, is offered by « Rétablir
// le texte de l'IA » with a message saying so. Without typing, the draft fills the field.
(function () {
  "use strict";
  var typed = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    typed = null;
    var field = document.getElementById("appreciation-text");
    if (!event.detail.shouldSwap || !field || !event.detail.target.contains(field)) { return; }
    if (field.value !== field.defaultValue) {
      typed = { value: field.value, start: field.selectionStart, end: field.selectionEnd };
    }
  });

  // htmx has given the focus back to the new field (same id) before this event.
  document.addEventListener("htmx:afterSwap", function () {
    var mine = typed;
    var field = document.getElementById("appreciation-text");
    typed = null;
    if (!mine || !field || mine.value === field.defaultValue) { return; }
    field.value = mine.value;
    if (document.activeElement === field) { field.setSelectionRange(mine.start, mine.end); }
    document.querySelectorAll("[data-appreciation-kept], [data-appreciation-restore]").forEach(function (element) {
      element.hidden = false;
    });
  });
})();
