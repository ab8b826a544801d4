// Warns before leaving a page (the browser's own « leave the site? » prompt) while a field of a
// form that saves (method post) differs from its saved value: what the page last brought, or for
// a grade cell its data-saved (review.js saves a cell on blur or Enter: one being saved is not
// unsaved). Quiet for the fields of the form being submitted (« Enregistrer »): other changed
// fields on the page would still be lost, so they still warn. Pages opt in by loading this file.
(function () {
  "use strict";
  var submitted = null;

  function changed(field) {
    if (field.hasAttribute("data-saved")) {
      return field.value !== field.getAttribute("data-saved") && field.getAttribute("data-state") !== "saving";
    }
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      var initial = 0;
      Array.prototype.forEach.call(field.options, function (option, i) { if (option.defaultSelected) { initial = i; } });
      return field.selectedIndex !== initial;
    }
    return field.value !== field.defaultValue;
  }

  function unsaved(field) {
    var form = field.form;
    return Boolean(form) && form !== submitted && form.method === "post" && changed(field);
  }

  // On window, bubbling: after the page's own handlers (review.js, htmx) have had their say.
  window.addEventListener("submit", function (event) {
    if (!event.defaultPrevented) { submitted = event.target; }
  });

  window.addEventListener("beforeunload", function (event) {
    var fields = document.querySelectorAll("textarea, select, input:not([type=hidden]):not([type=submit]):not([type=button])");
    var warn = Array.prototype.some.call(fields, unsaved);
    submitted = null;
    if (warn) {
      event.preventDefault();
      event.returnValue = true;  // browsers before Chromium 119 ask only when it is set
    }
  });
})();
