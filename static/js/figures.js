// Draws each chart [data-figure="<id>"] from the JSON script element of that id (a Plotly
// figure built on the server). A static file, not an inline script: the pages' CSP allows
// scripts from this origin only.
(function () {
  var charts = document.querySelectorAll("[data-figure]");
  for (var i = 0; i < charts.length; i++) {
    var node = document.getElementById(charts[i].getAttribute("data-figure"));
    if (!node || !window.Plotly) continue;
    var fig = JSON.parse(node.textContent);
    if (typeof fig === "string") fig = JSON.parse(fig); // figures passed as JSON text
    window.Plotly.newPlot(charts[i], fig.data, fig.layout, { displaylogo: false, responsive: true });
  }
})();
