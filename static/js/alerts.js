// Alert feed: fetch the table body every few seconds (same filters) and swap it in,
// so new alerts and state changes show without a full page reload.
(function () {
  const table = document.getElementById("alert-feed");
  if (!table) return;
  const body = document.getElementById("alert-feed-rows");
  const stamp = document.getElementById("feed-updated");
  const every = (parseInt(table.dataset.refreshSeconds, 10) || 15) * 1000;
  let busy = false;

  async function refresh() {
    // Don't swap rows out from under a pointer or a focused button.
    if (busy || document.hidden || body.contains(document.activeElement)) return;
    busy = true;
    try {
      const resp = await fetch(table.dataset.rowsUrl + window.location.search, {
        headers: { "X-Requested-With": "fetch" }, credentials: "same-origin",
      });
      // Checked before resp.ok: an ended session answers with a redirect to the login page,
      // which fetch follows to a 200 whose HTML must not land in the table.
      if (resp.redirected || resp.status === 403) {
        window.location.reload(); // session ended or role removed: let the full page say so
      } else if (resp.ok) {
        body.innerHTML = await resp.text();
        if (stamp) stamp.textContent = new Date().toISOString().slice(11, 19) + " UTC";
      }
    } catch (err) {
      if (stamp) stamp.textContent = "update failed, retrying";
    } finally {
      busy = false;
    }
  }
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
})();
