// Live status badges on the events page: one server-sent event per changed status link.
// EventSource reconnects by itself and sends the last event id back, so the server resumes
// after it; a link that appeared since the page was rendered gets a new row.
(function () {
  "use strict";
  var table = document.querySelector("table.status-links[data-events-url]");
  if (!table || !window.EventSource) { return; }
  var body = table.querySelector("tbody");

  function cell(row, className, text) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function newRow(data) {
    var row = document.createElement("tr");
    row.id = "link-" + data.link_id;
    cell(row, "", data.issue_key);
    cell(row, "", data.subject_kind + " " + data.subject_id);
    cell(row, "jira-status", "");
    var state = cell(row, "", "");
    var badge = document.createElement("span");
    badge.className = "badge local-state";
    state.appendChild(badge);
    cell(row, "conflict", "");
    body.appendChild(row);
    return row;
  }

  var source = new EventSource(table.getAttribute("data-events-url"));
  source.addEventListener("status", function (message) {
    var data = JSON.parse(message.data);
    var row = document.getElementById("link-" + data.link_id) || newRow(data);
    row.querySelector(".jira-status").textContent = data.jira_status || "";
    var badge = row.querySelector(".local-state");
    badge.textContent = data.local_state;
    badge.className = "badge badge-" + data.local_state + " local-state";
    row.querySelector(".conflict").textContent = data.action === "conflict" ? data.reason : "";
    table.setAttribute("data-last-event", message.lastEventId || "");
  });
})();
