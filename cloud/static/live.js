// Live plant view: draws the server-built Plotly figures, then appends the last
// seconds of every series every two seconds. Points are merged per series by time,
// so a point that reaches the store late (a slower agent) is still drawn.
(function () {
  "use strict";
  const REFRESH_MS = 2000;
  const STALE_MS = 15000;
  const figures = JSON.parse(document.getElementById("figures").textContent);
  const traces = new Map(); // series id -> {t: [ms], y: [values]}
  const status = document.getElementById("status");
  let revision = 0;

  function format(value) {
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const digits = Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
      return value.toFixed(digits);
    }
    return String(value);
  }

  for (const [id, fig] of Object.entries(figures)) {
    for (const trace of fig.data) traces.set(trace.meta, { t: [], y: [] });
    Plotly.newPlot(id, fig.data, fig.layout, { displaylogo: false, responsive: true });
  }

  function merge(update, cutoff) {
    let changed = false;
    for (const [sid, points] of Object.entries(update)) {
      const trace = traces.get(sid);
      if (!trace) continue;
      const last = trace.t.length ? trace.t[trace.t.length - 1] : -Infinity;
      for (let i = 0; i < points.t.length; i++) {
        if (points.t[i] > last) { trace.t.push(points.t[i]); trace.y.push(points.v[i]); changed = true; }
      }
      let drop = 0;
      while (drop < trace.t.length && trace.t[drop] < cutoff) drop++;
      if (drop) { trace.t.splice(0, drop); trace.y.splice(0, drop); changed = true; }
    }
    return changed;
  }

  function redraw() {
    revision++;
    for (const id of Object.keys(figures)) {
      const gd = document.getElementById(id);
      for (const trace of gd.data) {
        const data = traces.get(trace.meta);
        trace.x = data.t.map((ms) => new Date(ms)); // Date objects: shown in local time
        trace.y = data.y.slice();
      }
      gd.layout.datarevision = revision;
      Plotly.react(gd, gd.data, gd.layout);
    }
  }

  function updateTiles(latest, nowMs) {
    for (const tile of document.querySelectorAll(".tile[data-series]")) {
      const info = latest[tile.dataset.series];
      if (!info) continue;
      const text = format(info.value);
      const valueEl = tile.querySelector(".value");
      if (valueEl.textContent !== text) valueEl.textContent = text;
      if (tile.classList.contains("state")) {
        tile.className = "tile state " + String(info.value).toLowerCase().replace(/[^a-z0-9_-]/g, "");
      }
      tile.classList.toggle("stale", nowMs - info.t > STALE_MS);
    }
  }

  async function refresh(seconds) {
    try {
      // Relative: the same page serves one store at / and a tenant at /t/<key>/.
      const response = await fetch("dashboard/live?seconds=" + seconds, { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      if (data.series_count !== window.MZ.seriesCount) { location.reload(); return; }
      if (merge(data.trends, data.now_ms - window.MZ.trendSeconds * 1000)) redraw();
      updateTiles(data.latest, data.now_ms);
      status.className = "status live";
      status.textContent = "live · " + new Date(data.now_ms).toLocaleTimeString();
    } catch (error) {
      status.className = "status offline";
      status.textContent = "offline: " + error.message + " · retrying";
    } finally {
      setTimeout(() => refresh(30), REFRESH_MS);
    }
  }

  refresh(window.MZ.trendSeconds);
})();
