// Copies upload: drag-and-drop onto the form, one request per file with a progress bar.
// Without JavaScript the form posts all files at once and the server answers the same way.
(function () {
  "use strict";

  function setup(form) {
    var input = form.querySelector("input[type=file]");
    var progress = form.querySelector("progress");
    var status = form.querySelector(".upload-status");

    function note(text, kind) {
      var item = document.createElement("li");
      item.textContent = text;
      if (kind) { item.className = "upload-" + kind; }
      status.appendChild(item);
    }

    // One batch per drop or choice: the server announces its copies once, with the last file.
    function sendOne(file, batch, last, done, onProgress) {
      var data = new FormData(form);
      data.delete("files");
      data.append("files", file, file.name);
      data.append("batch", batch);
      if (last) { data.append("last", "1"); }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) { onProgress(event.loaded); }
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (body && body.errors) {
          body.errors.forEach(function (error) { note(file.name + " : " + error.message, "error"); });
        }
        if (body && body.created) {
          body.created.forEach(function (copy) { note(copy.student, "ok"); });
        }
        if (!body) { note(file.name + " : " + xhr.status, "error"); }
        done();
      });
      xhr.addEventListener("error", function () { note(file.name, "error"); done(); });
      xhr.send(data);
    }

    function send(files) {
      files = Array.prototype.filter.call(files, function (f) { return f && f.name; });
      if (!files.length) { return; }
      var total = files.reduce(function (sum, f) { return sum + f.size; }, 0) || 1;
      var sent = 0;
      var index = 0;
      var batch = String(Date.now()) + "-" + String(Math.random()).slice(2, 10);
      status.textContent = "";
      progress.hidden = false;
      progress.value = 0;
      form.classList.add("uploading");
      function next() {
        if (index >= files.length) {
          progress.value = 100;
          form.setAttribute("data-upload-done", "true");
          // The page lists the new copies and shows the server's messages.
          window.location.reload();
          return;
        }
        var file = files[index];
        sendOne(file, batch, index === files.length - 1, function () {
          sent += file.size;
          index += 1;
          next();
        }, function (loaded) {
          progress.value = Math.min(100, Math.round(100 * (sent + loaded) / total));
        });
      }
      next();
    }

    form.addEventListener("dragover", function (event) {
      event.preventDefault();
      form.classList.add("dragging");
    });
    form.addEventListener("dragleave", function () { form.classList.remove("dragging"); });
    form.addEventListener("drop", function (event) {
      event.preventDefault();
      form.classList.remove("dragging");
      send(event.dataTransfer.files);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(input.files);
    });
  }

  function init() {
    document.querySelectorAll("form[data-upload]").forEach(setup);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
