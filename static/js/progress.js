// The exam page's live progress: every time the websocket (re)connects, fetch the current
// block once, so events sent before the connection opened are never missed. Events carry only
// what changed (the summary and the changed copies' rows, swapped by id); when they speak of a
// job or copies the block does not show (a job started elsewhere, a copy re-run into the job),
// the block is fetched again.
// When the job ends, the rest of the page (status badge, copies' statuses, cancel button,
// locked barème, usage bar) is refreshed in place: only the progress box follows the websocket.
(function () {
  "use strict";
  var wasRunning = null;
  var fetching = false;

  function summary() { return document.getElementById("progress-summary"); }

  function remember() {
    var el = summary();
    if (el) { wasRunning = el.getAttribute("data-running") === "true"; }
  }

  function refetch(live) {
    if (!live || fetching) { return; }
    fetching = true;
    window.htmx.ajax("GET", live.getAttribute("data-progress-url"), {
      target: "#grading-progress",
      swap: "outerHTML",
    }).finally(function () { fetching = false; });
  }

  function stale(el) {
    var block = document.getElementById("grading-progress");
    if (!block) { return false; }
    if (block.getAttribute("data-job") !== el.getAttribute("data-job")) { return true; }
    var rows = block.querySelectorAll(".copy-statuses > li").length;
    return el.getAttribute("data-job") !== "" && String(rows) !== el.getAttribute("data-total");
  }

  function maybeRefresh() {
    var el = summary();
    if (!el || !window.htmx) { return; }
    var running = el.getAttribute("data-running") === "true";
    if (wasRunning && !running) {
      wasRunning = false;
      window.htmx.ajax("GET", window.location.pathname, { target: "#main", select: "#main", swap: "outerHTML" });
      return;
    }
    wasRunning = running;
    if (stale(el)) {
      refetch(el.closest("[data-progress-url]"));
    }
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    var live = event.target.closest ? event.target.closest("[data-progress-url]") : null;
    if (!live || !window.htmx) { return; }
    refetch(live);
  });
  document.addEventListener("htmx:afterSettle", maybeRefresh);
  document.addEventListener("htmx:oobAfterSwap", maybeRefresh);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", remember);
  } else {
    remember();
  }
})();
