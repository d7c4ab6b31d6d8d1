// Stories export page: live progress from the export's server-sent events.
(function () {
  "use strict";
  var box = document.getElementById("export");
  if (!box || !window.EventSource || box.dataset.finished === "true") { return; }
  var bar = document.getElementById("export-progress");
  var percent = document.getElementById("export-percent");
  var status = document.getElementById("export-status");
  var counts = document.getElementById("export-counts");

  function summary(data) {
    bar.max = Math.max(1, data.total);
    bar.value = data.done;
    percent.textContent = Math.floor((data.done * 100) / Math.max(1, data.total)) + "%";
    status.textContent = data.status;
    box.dataset.status = data.status;
    counts.textContent = Object.keys(data.counts).map(function (k) { return data.counts[k] + " " + k; }).join(", ");
  }

  function item(data) {
    var row = document.querySelector('tr[data-item="' + CSS.escape(data.item) + '"]');
    if (!row) { return; }
    var outcome = row.querySelector(".outcome");
    outcome.className = "outcome outcome-" + data.outcome;
    outcome.textContent = data.outcome + (data.error ? ": " + data.error : "");
    var key = row.querySelector(".key");
    key.textContent = "";
    if (data.url) {
      var link = document.createElement("a");
      link.href = data.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = data.key;
      key.appendChild(link);
    }
  }

  var source = new EventSource(box.dataset.eventsUrl);
  source.addEventListener("item", function (event) { item(JSON.parse(event.data)); });
  source.addEventListener("progress", function (event) { summary(JSON.parse(event.data)); });
  source.addEventListener("done", function (event) {
    source.close();
    var data = JSON.parse(event.data);
    summary(data);
    box.dataset.finished = "true";
    window.jirabridge.showToast({
      level: data.ok ? "success" : "warning",
      text: "Export " + data.status + ": " + counts.textContent + "."
    });
  });
  source.onerror = function () { /* EventSource reconnects by itself */ };
})();
