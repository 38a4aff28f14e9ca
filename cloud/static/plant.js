// Plant pages (and the service, fleet and industry pages, cloud/live_refresh.py): draw the
// server-built Plotly figures, then, while the range ends "now", fetch the page's data
// twin every few seconds and redraw in place: Plotly.react for figures (zoom and legend
// clicks survive through uirevision), innerHTML for the panels the server rendered. No
// reload, so a wall screen can run for days.
(function () {
  "use strict";
  const figures = JSON.parse(document.getElementById("mz-figures").textContent);
  const config = JSON.parse(document.getElementById("mz-config").textContent);
  const status = document.getElementById("status");
  const plotConfig = { displaylogo: false, responsive: true };
  window.MZ_PLANT = { refreshes: 0, errors: 0 };

  function layoutOf(fig, id) {
    const layout = fig.layout || {};
    layout.uirevision = id; // keep the user's zoom across refreshes
    return layout;
  }

  function draw(all, first) {
    for (const [id, fig] of Object.entries(all)) {
      const el = document.getElementById(id);
      if (!el) continue; // a figure the page did not have when it loaded: next reload
      if (first) Plotly.newPlot(el, fig.data, layoutOf(fig, id), plotConfig);
      else Plotly.react(el, fig.data, layoutOf(fig, id), plotConfig);
    }
  }

  function updatePanels(panels) {
    for (const [name, html] of Object.entries(panels)) {
      const el = document.querySelector('[data-panel="' + name + '"]');
      if (el && el.innerHTML !== html) el.innerHTML = html;
    }
  }

  // The picker's custom dates only matter for the custom range.
  const select = document.getElementById("range-select");
  function toggleCustom() {
    const custom = select && select.value === "custom";
    for (const el of document.querySelectorAll(".picker .custom")) el.hidden = !custom;
  }
  if (select) {
    select.addEventListener("change", function () {
      toggleCustom();
      if (select.value !== "custom") select.form.submit();
    });
    toggleCustom();
  }

  draw(figures, true);

  function dataUrl() {
    const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
    return base + "data" + location.search;
  }

  async function refresh() {
    if (document.hidden) { setTimeout(refresh, config.refreshMs); return; }
    try {
      const response = await fetch(dataUrl(), { cache: "no-store", credentials: "same-origin" });
      if (response.status === 401) { location.href = "/login"; return; }
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      draw(data.figures, false);
      updatePanels(data.panels);
      const label = document.getElementById("range-label");
      if (label && data.range) label.textContent = data.range;
      window.MZ_PLANT.refreshes++;
      status.className = "status live";
      status.textContent = config.labels.updated.replace("{time}", new Date().toLocaleTimeString());
    } catch (error) {
      window.MZ_PLANT.errors++;
      status.className = "status offline";
      status.textContent = config.labels.offline + " (" + error.message + ")";
    } finally {
      setTimeout(refresh, config.refreshMs);
    }
  }

  if (config.live) setTimeout(refresh, config.refreshMs);
})();
