// Live status badges on the events page: one server-sent event per applied change.
(function () {
  "use strict";
  var table = document.querySelector("table.status-links[data-events-url]");
  if (!table || !window.EventSource) { return; }
  var source = new EventSource(table.getAttribute("data-events-url"));
  source.addEventListener("status", function (message) {
    var data = JSON.parse(message.data);
    var row = document.getElementById("link-" + data.link_id);
    if (!row) { return; }
    row.querySelector(".jira-status").textContent = data.jira_status;
    if (data.local_state) {
      var badge = row.querySelector(".local-state");
      badge.textContent = data.local_state;
      badge.className = "badge badge-" + data.local_state + " local-state";
    }
    row.querySelector(".conflict").textContent = data.action === "conflict" ? data.reason : "";
  });
})();
