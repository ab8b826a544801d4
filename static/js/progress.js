// The exam page's live progress: every time the websocket (re)connects, fetch the current
// fragment once, so events sent before the connection opened are never missed.
(function () {
  "use strict";
  document.addEventListener("htmx:wsOpen", function (event) {
    var box = event.target.closest ? event.target.closest("[data-progress-url]") : null;
    if (!box || !window.htmx) { return; }
    window.htmx.ajax("GET", box.getAttribute("data-progress-url"), {
      target: "#grading-progress",
      swap: "outerHTML",
    });
  });
})();
