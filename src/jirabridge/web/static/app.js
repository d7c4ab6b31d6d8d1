// Toasts: a server response with `HX-Trigger: {"jb:toast": {"level": ..., "text": ...}}` pops one.
(function () {
  "use strict";
  function showToast(detail) {
    var box = document.getElementById("toasts");
    if (!box || !detail || !detail.text) { return; }
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (detail.level || "info");
    toast.setAttribute("role", "status");
    toast.textContent = detail.text;
    box.appendChild(toast);
    window.setTimeout(function () { toast.remove(); }, 5000);
  }
  document.addEventListener("jb:toast", function (event) { showToast(event.detail); });
  // A failed htmx request says so instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = "Request failed (" + xhr.status + ").";
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.title) { text = body.title; }
    } catch (e) { /* not JSON: keep the generic text */ }
    showToast({ level: "error", text: text });
  });
  document.addEventListener("htmx:sendError", function () {
    showToast({ level: "error", text: "The server could not be reached." });
  });
  window.jirabridge = { showToast: showToast };
})();
