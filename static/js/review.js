// Review grid, copy page and grade by question: points saved on blur or Enter, Escape
// cancels, arrows (and j / k) move between cells; on a double-corrected answer a, b and m take
// grader A's points, B's or their mean; x ticks the answer's row (grade by question).
// Without JavaScript each cell is a plain form (Enter submits it).
(function () {
  "use strict";

  function status(text) {
    var box = document.querySelector(".grid-status");
    if (box) { box.textContent = text; }
  }

  function cellOf(input) { return input.closest("td, .cell"); }

  // The statistics and histogram follow the grid: refetched (once per burst of edits)
  // from the review page itself, so a teacher never reads averages that ignore their edits.
  var statsTimer = null;
  function statsRefresh() {
    if (!document.getElementById("review-stats") || !window.htmx) { return; }
    window.clearTimeout(statsTimer);
    statsTimer = window.setTimeout(function () {
      window.htmx.ajax("GET", window.location.pathname + window.location.search, {
        target: "#review-stats", select: "#review-stats", swap: "outerHTML",
      });
    }, 600);
  }

  // The engine's comment on the answer, « à revoir » once the points change (or no longer,
  // after a restore): the server sends the grid's badge and the copy page's warning.
  function feedbackStale(cell, body) {
    if (cell && cell.closest("[data-feedback-badges]")) {
      var badge = cell.querySelector(".feedback-stale");
      if (badge) { badge.remove(); }
      if (body.feedback_stale_badge) { cell.insertAdjacentHTML("beforeend", body.feedback_stale_badge); }
    }
    var slot = document.querySelector('[data-feedback-stale-slot="' + body.grade + '"]');
    if (slot) { slot.innerHTML = body.feedback_stale_warning || ""; }
  }

  function apply(input, body) {
    input.value = body.points;
    input.setAttribute("data-saved", body.points);
    input.classList.remove("invalid");
    input.removeAttribute("aria-invalid");
    var cell = cellOf(input);
    if (cell) {
      cell.classList.toggle("edited", body.edited);
      var ai = cell.querySelector(".ai-points");
      if (ai) { ai.classList.toggle("hidden", !body.edited); }
    }
    var row = input.closest("tr");
    var total = row && row.querySelector("td.total");
    if (total && body.total !== undefined) { total.textContent = body.total; }
    var stale = document.querySelector("[data-appreciation-stale]");
    if (stale && body.appreciation_stale) { stale.hidden = false; }
    feedbackStale(cell, body);
    statsRefresh();
  }

  function post(url, data, input, onDone) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (body && body.ok) {
        apply(input, body);
        status("");
        input.setAttribute("data-state", "saved");
      } else {
        input.classList.add("invalid");
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("data-state", "error");
        status(body && body.error ? body.error : String(xhr.status));
      }
      if (onDone) { onDone(body && body.ok); }
    });
    // Being saved: not unsaved (unsaved.js); a request that never answers is not saved.
    xhr.addEventListener("error", function () { input.setAttribute("data-state", "error"); });
    input.setAttribute("data-state", "saving");
    xhr.send(data);
  }

  function save(input, onDone) {
    if (input.value === input.getAttribute("data-saved")) {
      if (onDone) { onDone(true); }
      return;
    }
    var form = input.form;
    post(form.action, new FormData(form), input, onDone);
  }

  // Keys of a double-corrected cell: the choice grade_pick takes.
  var PICKS = { a: "a", b: "b", m: "mean" };

  function pick(input, choice) {
    var data = new FormData(input.form);
    data.set("choice", choice);
    post(input.getAttribute("data-pick"), data, input, function () { input.select(); });
  }

  function restore(form) {
    var cell = form.closest("td, .cell");
    var input = cell && cell.querySelector(".grade-input");
    if (!input) { form.submit(); return; }
    post(form.action, new FormData(form), input, function () { input.focus(); });
  }

  function move(input, dRow, dCol) {
    var row = Number(input.getAttribute("data-row")) + dRow;
    var col = Number(input.getAttribute("data-col")) + dCol;
    var scope = input.closest("[data-review-grid]") || document;
    var target = scope.querySelector('.grade-input[data-row="' + row + '"][data-col="' + col + '"]');
    if (target) { target.focus(); target.select(); }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-grade")) {
      event.preventDefault();
      var input = form.querySelector(".grade-input");
      save(input);
    } else if (form.hasAttribute("data-restore-form")) {
      event.preventDefault();
      restore(form);
    }
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("grade-input")) { return; }
    var plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    var choice = PICKS[event.key];
    var check = event.key === "x" && plain && input.closest("tr") && input.closest("tr").querySelector(".review-check");
    if (choice && input.hasAttribute("data-pick") && plain) {
      event.preventDefault();
      pick(input, choice);
    } else if (check) {
      event.preventDefault();
      check.checked = !check.checked;
    } else if ((event.key === "j" || event.key === "k") && plain) {
      event.preventDefault();
      move(input, event.key === "j" ? 1 : -1, 0);
    } else if (event.key === "Escape") {
      input.value = input.getAttribute("data-saved");
      input.classList.remove("invalid");
      input.removeAttribute("aria-invalid");
      status("");
      event.preventDefault();
    } else if (event.key === "Enter") {
      event.preventDefault();
      save(input, function (ok) { if (ok) { move(input, 1, 0); } });
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      move(input, 1, 0);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      move(input, -1, 0);
    // At the edge of the text, or with it all selected (as a cell is once reached): one press
    // moves, not one to collapse the selection and a second to move.
    } else if (event.key === "ArrowLeft" && input.selectionStart === 0) {
      event.preventDefault();
      move(input, 0, -1);
    } else if (event.key === "ArrowRight" && input.selectionEnd === input.value.length) {
      event.preventDefault();
      move(input, 0, 1);
    }
  });

  // Grade by question: j / k from outside a cell (the page just opened, a checkbox ticked)
  // go to the next / previous answer's cell.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if ((event.key !== "j" && event.key !== "k") || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target.classList && target.classList.contains("grade-input")) { return; }
    if (target.matches && target.matches("input[type=text], textarea, select, [contenteditable]")) { return; }
    var table = document.querySelector("[data-question-review]");
    if (!table) { return; }
    var row = target.closest && target.closest("tr.answer-row");
    var next = row ? (event.key === "j" ? row.nextElementSibling : row.previousElementSibling) : table.querySelector("tr.answer-row");
    var input = next && next.querySelector(".grade-input");
    if (input) {
      event.preventDefault();
      input.focus();
    }
  });

  // Leaving a changed cell saves it (Tab, arrows or a click elsewhere).
  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("grade-input")) { save(input); }
  });

  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("grade-input")) { input.select(); }
  });
})();
