// The exam page's live progress: every time the websocket (re)connects, fetch the current
// fragment once, so events sent before the connection opened are never missed.
// When the job ends, the rest of the page (status badge, copies' statuses, cancel button,
// locked barème, usage bar) is refreshed in place: only the progress box follows the websocket.
(function () {
  "use strict";
  var wasRunning = null;

  function box() { return document.getElementById("grading-progress"); }

  function remember() {
    var el = box();
    if (el) { wasRunning = el.getAttribute("data-running") === "true"; }
  }

  function maybeRefresh() {
    var el = box();
    if (!el || !window.htmx) { return; }
    var running = el.getAttribute("data-running") === "true";
    if (wasRunning && !running) {
      wasRunning = false;
      window.htmx.ajax("GET", window.location.pathname, { target: "#main", select: "#main", swap: "outerHTML" });
      return;
    }
    wasRunning = running;
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    var live = event.target.closest ? event.target.closest("[data-progress-url]") : null;
    if (!live || !window.htmx) { return; }
    window.htmx.ajax("GET", live.getAttribute("data-progress-url"), {
      target: "#grading-progress",
      swap: "outerHTML",
    });
  });
  document.addEventListener("htmx:afterSettle", maybeRefresh);
  document.addEventListener("htmx:oobAfterSwap", maybeRefresh);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", remember);
  } else {
    remember();
  }
})();
