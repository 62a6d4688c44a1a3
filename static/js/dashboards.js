// Draws the Plotly figures the server embedded, and refreshes each panel in place:
// every data-refresh-seconds the panel's partial is fetched for the same range and swapped in,
// without reloading the page. plotly.js is served from our own static files.
//
// A chart is drawn when it scrolls near the viewport (panels below the fold cost nothing until
// then), and the time charts of a page share one hover: pointing at a moment on one chart
// shows the same moment on every other drawn time chart.
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  var DATE = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d/;
  var timeCharts = [];
  var syncing = false;

  // Charts waiting to be drawn, one per task: drawing every chart that scrolled near in one
  // go kept the browser from painting the first one until the last was done (three charts of
  // 200-300 ms each on a loaded machine).
  var queue = [];
  var draining = false;

  function drainOne() {
    var el = queue.shift();
    if (el && document.body.contains(el)) drawOne(el);
    if (queue.length) window.setTimeout(drainOne, 0);
    else draining = false;
  }

  function enqueue(el) {
    queue.push(el);
    if (!draining) {
      draining = true;
      window.setTimeout(drainOne, 0);
    }
  }

  var observer = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
        for (var i = 0; i < entries.length; i++) {
          if (entries[i].isIntersecting) {
            observer.unobserve(entries[i].target);
            enqueue(entries[i].target);
          }
        }
      }, { rootMargin: "300px 0px" })
    : null;

  function isTimeChart(fig) {
    var first = fig.data && fig.data[0];
    return !!(first && first.x && first.x.length && DATE.test(String(first.x[0])) &&
      fig.layout && fig.layout.hovermode === "x unified");
  }

  function shareHover(el) {
    timeCharts.push(el);
    el.on("plotly_hover", function (ev) {
      if (syncing || !ev || !ev.xvals || !ev.xvals.length) return;
      syncing = true;
      try {
        for (var i = 0; i < timeCharts.length; i++) {
          var other = timeCharts[i];
          if (other !== el && document.body.contains(other)) {
            // The moment shown on every other time chart (a hover label where it has a point
            // near that moment); the attribute records which moment the page is on.
            other.setAttribute("data-hover-x", String(ev.xvals[0]));
            window.Plotly.Fx.hover(other, { xval: ev.xvals[0] }, "xy");
          }
        }
      } finally {
        syncing = false;
      }
    });
    el.on("plotly_unhover", function () {
      if (syncing) return;
      for (var i = 0; i < timeCharts.length; i++) {
        if (timeCharts[i] !== el && document.body.contains(timeCharts[i])) window.Plotly.Fx.unhover(timeCharts[i]);
      }
    });
  }

  function drawOne(el) {
    var script = document.getElementById(el.getAttribute("data-figure"));
    if (!script || !window.Plotly) return;
    var fig = JSON.parse(script.textContent);
    window.Plotly.newPlot(el, fig.data, fig.layout, CONFIG).then(function () {
      el.setAttribute("data-drawn", "1");
      if (isTimeChart(fig)) shareHover(el);
    });
  }

  function drawIn(root) {
    var plots = root.querySelectorAll(".plot[data-figure]");
    for (var i = 0; i < plots.length; i++) {
      if (observer) observer.observe(plots[i]);
      else drawOne(plots[i]);
    }
  }

  function purgeIn(root) {
    var plots = root.querySelectorAll(".plot[data-figure]");
    for (var i = 0; i < plots.length; i++) {
      if (observer) observer.unobserve(plots[i]);
      var queued = queue.indexOf(plots[i]);
      if (queued !== -1) queue.splice(queued, 1);
      var at = timeCharts.indexOf(plots[i]);
      if (at !== -1) timeCharts.splice(at, 1);
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
