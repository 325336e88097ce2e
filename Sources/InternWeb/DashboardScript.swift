/// `/static/dashboard.js`: the only script, small and served by intern (no CDN). It keeps a
/// campaign page current from its Server-Sent Events (counts, state, best, events; the trials
/// table and the workers swapped in from `/c/NAME/trials` and `/c/NAME/workers` when their
/// version (`table`) changed, the analysis, with its charts, failures and hours, from
/// `/c/NAME/analysis` when its version changed) and appends a running log's new output; without it the pages are the same, as of
/// their last load.
enum DashboardScript {
    static let source = #"""
        "use strict";
        (function () {
          if (!window.EventSource) return;
          var live = document.getElementById("live");
          if (live && live.dataset.live) {
            var received = 0, history = [], versions = {}, drawn = 0;
            var refresh = function (part) {
              fetch(part.dataset.fragment).then(function (r) { return r.ok ? r.text() : null; })
                .then(function (html) {
                  if (html === null) return;
                  part.innerHTML = html;
                  if (part.dataset.version === "analysis") live.dataset.analysis = String(drawn += 1);
                });
            };
            var source = new EventSource(live.dataset.live);
            live.textContent = "live";
            source.addEventListener("progress", function (message) {
              var p = JSON.parse(message.data);
              received += 1;
              var values = { state: p.state, total: p.total, workers: p.workers, best: p.best,
                progressLine: p.improved + " of " + p.ended + " ended trials improved the best" };
              Object.keys(p.counts || {}).forEach(function (k) { values[k] = p.counts[k]; });
              document.querySelectorAll("[data-field]").forEach(function (el) {
                var k = el.dataset.field;
                el.textContent = values[k] !== undefined ? values[k] : (el.classList.contains("n") ? 0 : el.textContent);
              });
              var events = document.getElementById("events");
              (p.events || []).forEach(function (line) {
                var li = document.createElement("li"); li.textContent = line; events.insertBefore(li, events.firstChild);
              });
              while (events && events.children.length > 100) events.removeChild(events.lastChild);
              history.push(p.counts && p.counts.completed || 0);
              live.dataset.received = String(received);
              live.dataset.completed = history.join(",");
              live.textContent = "live · updated " + new Date().toLocaleTimeString();
              // A part with a version (the analysis, the tables: drawn at most once per window)
              // only when its version changed; one without, at each change.
              var parts = document.querySelectorAll("[data-fragment]"), moved = {};
              parts.forEach(function (part) {
                var key = part.dataset.version;
                if (key) moved[key] = key in versions && versions[key] !== p[key];
              });
              parts.forEach(function (part) {
                var key = part.dataset.version;
                if (key ? moved[key] : received > 1) refresh(part);
              });
              Object.keys(moved).forEach(function (key) { versions[key] = p[key]; });
            });
            source.addEventListener("end", function (message) {
              source.close();
              live.textContent = "feed ended: " + message.data;
              document.querySelectorAll("[data-fragment][data-version]").forEach(refresh);
            });
          }
          var control = document.getElementById("control");
          if (control) {
            var field = function (name) { return control.querySelector("[data-name=" + name + "]"); };
            field("token").value = sessionStorage.getItem("intern-token") || "";
            control.querySelectorAll("button[data-action]").forEach(function (button) {
              button.addEventListener("click", function () {
                var action = button.dataset.action, url = control.dataset.base + "/" + action, body = null;
                var token = field("token").value;
                sessionStorage.setItem("intern-token", token);
                if (action === "cancel") url += "?trial=" + encodeURIComponent(field("trial").value);
                if (action === "add") body = JSON.stringify({ configurations: [], trials: +field("trials").value || 0, hours: 0, gpuHours: 0 });
                fetch(url, { method: "POST", body: body, headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" } })
                  .then(function (r) { return r.text(); })
                  .then(function (text) { document.getElementById("control-answer").textContent = text; });
              });
            });
          }
          document.querySelectorAll("pre[data-follow]").forEach(function (pre) {
            var source = new EventSource(pre.dataset.follow);
            source.addEventListener("log", function (message) {
              var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
              pre.appendChild(document.createTextNode(message.data));
              if (atEnd) pre.scrollTop = pre.scrollHeight;
            });
            source.addEventListener("end", function () { source.close(); });
          });
        })();
        """#
}
