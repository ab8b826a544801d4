// Corrigo's own behaviour. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";
  // Buttons and forms carrying data-confirm ask before acting (deletes, cancels).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  }, true);
})();
