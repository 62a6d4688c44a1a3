// New silence: as the matchers change, fetch the list of alerts they would match and show it
// under the field (/alerts/silences/?matchers=… renders the same preview on the server).
(function () {
  "use strict";
  var form = document.getElementById("silence-form");
  if (!form) return;
  var field = form.querySelector("[name=matchers]");
  var box = document.getElementById("silence-preview");
  if (!field || !box) return;
  var timer = null;
  function preview() {
    var url = form.getAttribute("data-preview-url") + "?matchers=" + encodeURIComponent(field.value);
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (resp) { if (!resp.ok || resp.redirected) throw new Error(); return resp.text(); })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () {});
  }
  field.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, 300);
  });
})();
