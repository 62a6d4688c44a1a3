// The "now" strip: fetch its body every few seconds and swap it in (same partial on every page).
(function () {
  "use strict";
  var strip = document.getElementById("now-strip");
  if (!strip) return;
  var every = (parseInt(strip.getAttribute("data-refresh-seconds"), 10) || 15) * 1000;
  function refresh() {
    if (document.hidden || strip.contains(document.activeElement)) return;
    fetch(strip.getAttribute("data-url"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (resp) {
        if (resp.redirected || !resp.ok) throw new Error("HTTP " + resp.status);
        return resp.text();
      })
      .then(function (html) { strip.innerHTML = html; strip.classList.remove("stale"); })
      .catch(function () { strip.classList.add("stale"); });
  }
  window.setInterval(refresh, every);
})();
