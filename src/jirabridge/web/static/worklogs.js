// Time records: bulk sync with plan and live progress, the issue picker, single sync, retry.
(function () {
  "use strict";
  var toast = function (level, text) { window.jirabridge.showToast({ level: level, text: text }); };

  function csrf() {
    var holders = document.querySelectorAll("[hx-headers]");
    for (var i = 0; i < holders.length; i++) {
      try {
        var parsed = JSON.parse(holders[i].getAttribute("hx-headers"));
        if (parsed["X-CSRF-Token"]) { return parsed["X-CSRF-Token"]; }
      } catch (e) { /* not ours */ }
    }
    return "";
  }

  function api(method, path, body) {
    var init = { method: method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.detail || data.title || ("HTTP " + response.status)); }
        return data;
      });
    });
  }

  function follow(runId) {
    var box = document.getElementById("progress");
    var bar = document.getElementById("progress-bar");
    var text = document.getElementById("progress-text");
    var errors = document.getElementById("progress-errors");
    box.hidden = false;
    errors.textContent = "";
    var source = new EventSource("/api/jira/sync/runs/" + encodeURIComponent(runId) + "/events");
    function show(data) {
      bar.max = Math.max(1, data.total);
      bar.value = data.done;
      text.textContent = data.done + " / " + data.total + " · " + data.succeeded + " succeeded, " + data.failed + " failed";
    }
    source.addEventListener("progress", function (event) { show(JSON.parse(event.data)); });
    source.addEventListener("done", function (event) {
      var data = JSON.parse(event.data);
      source.close();
      show(data);
      (data.errors || []).forEach(function (e) {
        var item = document.createElement("li");
        item.className = "error-text";
        item.textContent = e.record_id.slice(0, 8) + ": " + e.error;
        errors.appendChild(item);
      });
      box.dataset.finished = "true";
      toast(data.failed ? "warning" : "success", "Sync finished: " + data.succeeded + " succeeded, " + data.failed + " failed.");
      window.setTimeout(function () { refreshStates(); }, 0);
    });
    source.onerror = function () { /* EventSource reconnects by itself */ };
  }

  function refreshStates() {
    var rows = document.querySelectorAll("tr[data-id]");
    rows.forEach(function (row) {
      api("GET", "/api/time-records/" + row.dataset.id).then(function (r) {
        var cell = row.querySelector(".state .sync-state");
        if (!cell) { return; }
        cell.dataset.state = r.sync_state;
        cell.className = "sync-state sync-" + r.sync_state;
        cell.title = r.last_error || r.sync_state;
        cell.textContent = r.sync_state;
      });
    });
  }

  window.jirabridgeWorklogs = { api: api };

  // -- the list: selection, plan, bulk sync --------------------------------------------------
  var syncSelected = document.getElementById("sync-selected");
  if (syncSelected) {
    var selected = function () {
      return Array.prototype.map.call(document.querySelectorAll("input.select:checked"), function (c) { return c.value; });
    };
    var update = function () { syncSelected.disabled = selected().length === 0; };
    document.querySelectorAll("input.select").forEach(function (c) { c.addEventListener("change", update); });
    var all = document.getElementById("select-all");
    all.addEventListener("change", function () {
      document.querySelectorAll("input.select").forEach(function (c) { c.checked = all.checked; });
      update();
    });
    var plan = document.getElementById("plan");
    syncSelected.addEventListener("click", function () {
      api("POST", "/api/jira/sync/plan", { record_ids: selected() }).then(function (data) {
        document.getElementById("plan-text").textContent = data.text;
        plan.hidden = false;
      }).catch(function (e) { toast("error", e.message); });
    });
    document.getElementById("plan-cancel").addEventListener("click", function () { plan.hidden = true; });
    document.getElementById("plan-apply").addEventListener("click", function () {
      plan.hidden = true;
      api("POST", "/api/jira/sync/bulk", { record_ids: selected() }).then(function (data) {
        follow(data.run_id);
      }).catch(function (e) { toast("error", e.message); });
    });
  }

  // -- suggested keys of unlinked records: tick some, link them in one request ---------------
  var acceptSuggestions = document.getElementById("accept-suggestions");
  if (acceptSuggestions) {
    var ticked = function () { return document.querySelectorAll("input.suggest:checked"); };
    document.querySelectorAll("input.suggest").forEach(function (box) {
      box.addEventListener("change", function () {
        // One key per record: ticking a key unticks the record's other suggestions.
        if (box.checked) {
          document.querySelectorAll("input.suggest").forEach(function (other) {
            if (other !== box && other.dataset.record === box.dataset.record) { other.checked = false; }
          });
        }
        acceptSuggestions.disabled = ticked().length === 0;
      });
    });
    acceptSuggestions.addEventListener("click", function () {
      var links = {};
      ticked().forEach(function (box) { links[box.dataset.record] = box.value; });
      acceptSuggestions.disabled = true;
      api("POST", "/api/time-records/suggestions/accept", { links: links }).then(function (data) {
        toast("success", "Linked " + data.updated + " record(s).");
        window.location.reload();
      }).catch(function (e) { toast("error", e.message); acceptSuggestions.disabled = false; });
    });
  }

  // -- colour issue badges by their Jira status --------------------------------------------
  var seen = {};
  document.querySelectorAll(".issue-badge[data-issue]").forEach(function (badge) {
    var key = badge.dataset.issue;
    seen[key] = seen[key] || api("GET", "/api/jira/issues/" + encodeURIComponent(key));
    seen[key].then(function (issue) {
      badge.classList.add("cat-" + (issue.status_category || "unknown"));
      badge.title = issue.summary + " · " + issue.status;
    }).catch(function () { badge.classList.add("cat-missing"); badge.title = "not found in Jira"; });
  });

  // -- the form and its issue picker -------------------------------------------------------
  var form = document.getElementById("record-form");
  if (form) {
    var picker = document.getElementById("issue-picker");
    var results = document.getElementById("issue-results");
    var timer = null;
    picker.addEventListener("input", function () {
      window.clearTimeout(timer);
      var q = picker.value.trim();
      if (q.length < 2) { results.textContent = ""; return; }
      timer = window.setTimeout(function () {
        api("GET", "/api/jira/issues/search?q=" + encodeURIComponent(q)).then(function (data) {
          results.textContent = "";
          data.items.forEach(function (issue) {
            var item = document.createElement("li");
            item.setAttribute("role", "option");
            item.className = "pick";
            item.dataset.key = issue.key;
            item.textContent = issue.key + " · " + issue.summary + " · " + issue.status + " · " + issue.type;
            item.addEventListener("click", function () { picker.value = issue.key; results.textContent = ""; });
            results.appendChild(item);
          });
        }).catch(function (e) { toast("error", e.message); });
      }, 200);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var zone = data.get("time_zone") || "UTC";
      // A wall-clock time: the server places it in the record's zone (DST included).
      var body = {
        started_local: data.get("started") + ":00",
        duration_seconds: Math.round(Number(data.get("minutes")) * 60),
        time_zone: zone,
        notes: data.get("notes") || "",
        issue_key: (data.get("issue_key") || "").trim().toUpperCase() || null,
        external_link: data.get("external_link") || null
      };
      api("POST", "/api/time-records", body).then(function (record) {
        window.location.href = "/time/" + record.id;
      }).catch(function (e) {
        var box = document.getElementById("form-error");
        box.textContent = e.message;
        box.hidden = false;
      });
    });
  }

  // -- a record: sync now, resolve a conflict ----------------------------------------------
  var syncOne = document.getElementById("sync-one");
  if (syncOne) {
    var id = document.getElementById("record").dataset.id;
    syncOne.addEventListener("click", function () {
      syncOne.disabled = true;
      api("POST", "/api/jira/sync/record/" + id).then(function (data) {
        toast(data.ok ? "success" : "error", data.ok ? "Synced." : data.error);
        window.location.reload();
      }).catch(function (e) { toast("error", e.message); syncOne.disabled = false; });
    });
    var suggestions = document.getElementById("suggestions");
    if (suggestions) {
      api("GET", "/api/time-records/" + id + "/suggestions").then(function (data) {
        var list = document.getElementById("suggestion-list");
        data.keys.forEach(function (key) {
          var button = document.createElement("button");
          button.type = "button";
          button.className = "button secondary accept-suggestion";
          button.dataset.key = key;
          button.textContent = "Link " + key;
          button.addEventListener("click", function () {
            var links = {};
            links[id] = key;
            api("POST", "/api/time-records/suggestions/accept", { links: links })
              .then(function () { window.location.reload(); })
              .catch(function (e) { toast("error", e.message); });
          });
          list.appendChild(button);
        });
        suggestions.hidden = data.keys.length === 0;
      }).catch(function () { /* no connection: nothing to suggest */ });
    }
    document.querySelectorAll("[data-resolve]").forEach(function (button) {
      button.addEventListener("click", function () {
        api("POST", "/api/time-records/" + id + "/resolve", { keep: button.dataset.resolve })
          .then(function () { window.location.reload(); })
          .catch(function (e) { toast("error", e.message); });
      });
    });
  }

  // -- retry ---------------------------------------------------------------------------------
  document.querySelectorAll("button.retry").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      api("POST", "/api/jira/sync/retry/" + button.dataset.record).then(function (data) {
        if (data.ok) {
          // The record's page shows the new state and the attempt just made.
          window.location.href = "/time/" + encodeURIComponent(button.dataset.record);
        } else {
          toast("error", data.error);
          button.disabled = false;
        }
      }).catch(function (e) { toast("error", e.message); button.disabled = false; });
    });
  });
  var retryAll = document.getElementById("retry-all");
  if (retryAll) {
    retryAll.addEventListener("click", function () {
      api("POST", "/api/jira/sync/retry-failed").then(function (data) {
        if (data.run_id) { follow(data.run_id); } else { toast("info", "Nothing failed."); }
      }).catch(function (e) { toast("error", e.message); });
    });
  }
})();
