// "Copy the column" buttons: data-copy-from names the element whose text goes to the
// clipboard (Pronote's marks, one per line); data-copied is the message shown after.
// No inline script: the CSP forbids them.
(function () {
  "use strict";
  function copied(button) {
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (status) {
      status.textContent = button.getAttribute("data-copied") || "";
    }
    button.setAttribute("data-copy-done", "true");
  }
  function fallback(source, button) {
    // Pages served over plain HTTP have no navigator.clipboard: select and copy instead.
    source.hidden = false;
    source.select();
    try {
      if (document.execCommand("copy")) {
        copied(button);
      }
    } finally {
      source.hidden = true;
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-from]");
    if (!button) {
      return;
    }
    var source = document.querySelector(button.getAttribute("data-copy-from"));
    if (!source) {
      return;
    }
    var text = source.value !== undefined ? source.value : source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, function () { fallback(source, button); });
    } else {
      fallback(source, button);
    }
  });
})();
