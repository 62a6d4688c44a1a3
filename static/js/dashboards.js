// Draws the Plotly figures the server embedded, and refreshes each panel in place:
// every data-refresh-seconds the panel's partial is fetched for the same range and swapped in,
// without reloading the page. plotly.js is served from our own static files.
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function drawIn(root) {
    var plots = root.querySelectorAll(".plot[data-figure]");
    for (var i = 0; i < plots.length; i++) {
      var el = plots[i];
      var script = document.getElementById(el.getAttribute("data-figure"));
      if (!script || !window.Plotly) continue;
      var fig = JSON.parse(script.textContent);
      window.Plotly.newPlot(el, fig.data, fig.layout, CONFIG);
    }
  }

  function purgeIn(root) {
    var plots = root.querySelectorAll(".plot[data-figure]");
    for (var i = 0; i < plots.length; i++) {
      if (window.Plotly) window.Plotly.purge(plots[i]);
    }
  }

  function refreshPanel(panel, query) {
    var url = panel.getAttribute("data-partial-url") + "?" + query;
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (resp) {
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.text();
      })
      .then(function (html) {
        var body = panel.querySelector(".panel-body");
        purgeIn(body);
        body.innerHTML = html;
        // Scripts inserted through innerHTML don't run, but the JSON ones are only read.
        drawIn(body);
        panel.classList.remove("stale");
      })
      .catch(function () {
        panel.classList.add("stale");
      });
  }

  function start() {
    var dash = document.querySelector(".dash");
    if (!dash) return;
    drawIn(dash);
    var seconds = parseInt(dash.getAttribute("data-refresh-seconds"), 10) || 60;
    var query = dash.getAttribute("data-range-query") || "";
    // A custom range in the past does not change; only moving ranges are refreshed.
    if (query.indexOf("range=custom") !== -1) return;
    window.setInterval(function () {
      if (document.hidden) return;
      var panels = dash.querySelectorAll(".dash-panel[data-partial-url]");
      var jobs = [];
      for (var i = 0; i < panels.length; i++) jobs.push(refreshPanel(panels[i], query));
      Promise.all(jobs).then(function () {
        var stamp = dash.querySelector(".dash-updated");
        if (stamp) stamp.textContent = new Date().toLocaleTimeString();
        dash.dispatchEvent(new CustomEvent("dashboard:refreshed"));
      });
    }, seconds * 1000);
  }

  window.PenguinDashboards = { drawIn: drawIn, refreshPanel: refreshPanel };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
