/* reins dashboard: the fleet page. Every session the caller may read, live.
 *
 * Built to stay responsive with 500 sessions and 200 events a second:
 * - the model is refreshed from /v1/sessions every 2 s and, throttled to
 *   one call a second, when the event stream says something happened;
 * - rendering is coalesced to one pass per animation frame; rows are keyed
 *   by session id and updated in place (a cell is written only when its
 *   text changed), reordered only when the order changed, hidden by the
 *   filter with the `hidden` attribute;
 * - rows have a fixed height and the columns fixed widths (app.css), with
 *   tabular figures: a changing number never moves anything. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});
  R.pages = R.pages || {};

  function egressBytes(e) {
    const g = e && e.egress;
    if (!g || typeof g !== "object") return null;
    const up = Number(g.bytes_up) || 0;
    const down = Number(g.bytes_down) || 0;
    return up + down;
  }

  function findings(e) {
    if (e.counts && typeof e.counts.findings === "number") return e.counts.findings;
    if (typeof e.findings === "number") return e.findings;
    return null;
  }

  function started(e) {
    const t = R.parseTime(e.started);
    return Number.isNaN(t) ? null : t;
  }

  /* The columns: how each is shown and sorted. */
  const COLUMNS = [
    { key: "state", label: "State", sort: (e) => R.sessionState(e) },
    { key: "tier", label: "Risk", sort: (e) => R.sessionTier(e) ?? -1 },
    { key: "session", label: "Session", sort: (e) => e.session },
    { key: "agent", label: "Agent", sort: (e) => e.agent || "" },
    { key: "uid", label: "User", sort: (e) => e.uid ?? -1, numeric: true },
    { key: "policy", label: "Policy", sort: (e) => R.printable(e.policy) },
    { key: "age", label: "Age", sort: (e) => -(started(e) ?? 0), numeric: true },
    { key: "egress", label: "Egress", sort: (e) => egressBytes(e) ?? -1, numeric: true },
    { key: "findings", label: "Findings", sort: (e) => findings(e) ?? -1, numeric: true },
    { key: "command", label: "Command", sort: (e) => commandText(e) },
  ];

  function commandText(e) {
    return Array.isArray(e.command) ? e.command.map(R.printable).join(" ") : "";
  }

  /* What each cell shows, as text (the tier cell also takes a class). */
  function cellTexts(e, now) {
    const t = started(e);
    const ended = !e.alive;
    return {
      state: R.sessionState(e),
      tier: R.tierLabel(R.sessionTier(e)),
      session: R.shortId(e.session),
      agent: e.agent ? e.agent : R.DASH,
      uid: e.uid === undefined ? R.DASH : String(e.uid),
      policy: e.policy ? e.policy : R.DASH,
      age: t === null ? R.DASH : (ended ? "" : "") + R.duration(now - t),
      egress: R.bytes(egressBytes(e)),
      findings: findings(e) === null ? R.DASH : String(findings(e)),
      command: commandText(e),
    };
  }

  function mount(main) {
    const model = new Map(); /* id -> entry */
    const rows = new Map(); /* id -> {tr, cells, texts} */
    let order = [];
    let sortKey = "age";
    let sortDir = 1;
    let filterText = "";
    let error = null;
    let pending = 0;
    let eventCount = 0;
    let chartWindow = "hour";

    /* ---- the page */
    let tableSection = null;
    const heading = R.el("h1", { text: "Fleet" });
    const liveState = R.el("span", { class: "live-state", text: "connecting" });
    const countsBox = R.el("dl", { class: "counts", "aria-label": "Counts" });
    const countNodes = {};
    for (const [key, label] of [["running", "Running"], ["frozen", "Frozen"],
                                ["pending", "Pending approvals"], ["high", "High tier (T2+)"],
                                ["total", "Sessions"]]) {
      countNodes[key] = R.el("dd", { class: "count-value", "data-count": key, text: "0" });
      countsBox.appendChild(R.el("div", { class: "count count-" + key },
                                 R.el("dt", { text: label }), countNodes[key]));
    }

    const chart = makeChart();

    const filter = R.el("input", { type: "search", id: "fleet-filter", class: "filter",
                                   placeholder: "agent, policy, user, state, command…",
                                   autocomplete: "off" });
    const filterLabel = R.el("label", { for: "fleet-filter", text: "Filter" });
    const shown = R.el("span", { class: "shown", "aria-live": "polite" });
    const errorBox = R.el("p", { class: "error", role: "alert", hidden: true });

    const headRow = R.el("tr", { role: "row" });
    const headButtons = {};
    for (const col of COLUMNS) {
      const button = R.el("button", { type: "button", class: "sort", "data-sort": col.key,
                                      text: col.label });
      button.addEventListener("click", function () {
        if (sortKey === col.key) sortDir = -sortDir;
        else {
          sortKey = col.key;
          sortDir = 1;
        }
        updateSortHeaders();
        scheduleRender();
      });
      headButtons[col.key] = button;
      headRow.appendChild(R.el("th", { scope: "col", role: "columnheader", class: "col-" + col.key }, button));
    }
    const colgroup = R.el("colgroup", null,
                          COLUMNS.map((c) => R.el("col", { class: "col-" + c.key })));
    const tbody = R.el("tbody", { role: "rowgroup" });
    const emptyRow = R.el("tr", { class: "empty", role: "row" },
                          R.el("td", { colspan: COLUMNS.length, role: "cell", text: "No sessions." }));
    tbody.appendChild(emptyRow);
    const table = R.el("table", { class: "fleet-table", id: "fleet-table", role: "table", "aria-label": "Sessions" },
                       R.el("caption", { class: "visually-hidden", text: "Sessions" }), colgroup,
                       R.el("thead", { role: "rowgroup" }, headRow), tbody);

    main.append(
      R.el("div", { class: "page-head" }, heading, liveState),
      R.el("div", { class: "fleet-top" }, countsBox, chart.node),
      tableSection = R.el("section", { class: "panel sessions-panel", id: "sessions", "aria-labelledby": "sessions-heading" },
           R.el("div", { class: "panel-head" },
                R.el("h2", { id: "sessions-heading", text: "Sessions" }),
                R.el("div", { class: "filter-box" }, filterLabel, filter, shown)),
           errorBox,
           R.el("div", { class: "table-scroll" }, table)));

    filter.addEventListener("input", function () {
      filterText = filter.value.trim().toLowerCase();
      scheduleRender();
    });

    function updateSortHeaders() {
      for (const col of COLUMNS) {
        const th = headButtons[col.key].parentNode;
        if (col.key === sortKey) th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
        else th.removeAttribute("aria-sort");
      }
    }
    updateSortHeaders();

    /* ---- rows */
    function makeRow(id) {
      const cells = {};
      const tr = R.el("tr", { "data-session": id, role: "row" });
      for (const col of COLUMNS) {
        let td;
        if (col.key === "session") {
          const link = R.el("a", { href: "#/session/" + encodeURIComponent(id) });
          td = R.el("td", { class: "col-session mono", role: "cell" }, link);
          cells.session = link;
        } else if (col.key === "tier") {
          const badge = R.el("span", { class: "tier tier-none" });
          td = R.el("td", { class: "col-tier", role: "cell" }, badge);
          cells.tier = badge;
        } else {
          td = R.el("td", { class: "col-" + col.key + (col.numeric ? " num" : ""), role: "cell" });
          cells[col.key] = td;
        }
        tr.appendChild(td);
      }
      return { tr, cells, texts: {}, tierClass: "" , stateClass: "" };
    }

    function updateRow(row, entry, now) {
      const texts = cellTexts(entry, now);
      for (const key of Object.keys(texts)) {
        if (row.texts[key] !== texts[key]) {
          row.texts[key] = texts[key];
          row.cells[key].textContent = R.printable(texts[key]);
        }
      }
      const tierClass = R.tierClass(R.sessionTier(entry));
      if (row.tierClass !== tierClass) {
        row.tierClass = tierClass;
        row.cells.tier.setAttribute("class", tierClass);
      }
      const stateClass = "state-" + (entry.alive ? (entry.frozen ? "frozen" : "running") : "ended");
      if (row.stateClass !== stateClass) {
        row.stateClass = stateClass;
        row.tr.setAttribute("class", stateClass);
      }
      if (row.cells.command.title !== texts.command) row.cells.command.title = texts.command;
    }

    function matches(entry, texts) {
      if (!filterText) return true;
      const hay = [entry.session, texts.state, texts.tier, texts.agent, texts.uid, texts.policy,
                   texts.command].join("\n").toLowerCase();
      return hay.includes(filterText);
    }

    function render() {
      const now = Date.now();
      for (const [id, row] of rows) {
        if (!model.has(id)) {
          row.tr.remove();
          rows.delete(id);
        }
      }
      for (const [id, entry] of model) {
        let row = rows.get(id);
        if (!row) {
          row = makeRow(id);
          rows.set(id, row);
        }
        updateRow(row, entry, now);
      }
      const col = COLUMNS.find((c) => c.key === sortKey);
      const ids = Array.from(model.keys());
      const keyOf = new Map(ids.map((id) => [id, col.sort(model.get(id))]));
      ids.sort(function (a, b) {
        const x = keyOf.get(a);
        const y = keyOf.get(b);
        let c = 0;
        if (typeof x === "number" && typeof y === "number") c = x - y;
        else c = String(x).localeCompare(String(y));
        return c !== 0 ? c * sortDir : a < b ? -1 : a > b ? 1 : 0;
      });
      let visible = 0;
      for (const id of ids) {
        const row = rows.get(id);
        const show = matches(model.get(id), row.texts);
        if (row.tr.hidden === show) row.tr.hidden = !show;
        if (show) visible++;
      }
      const same = ids.length === order.length && ids.every((id, i) => id === order[i]);
      if (!same) {
        const fragment = document.createDocumentFragment();
        for (const id of ids) fragment.appendChild(rows.get(id).tr);
        tbody.appendChild(fragment);
        order = ids;
      }
      emptyRow.hidden = visible > 0;
      R.setText(emptyRow.firstChild, model.size ? "No session matches the filter." : "No sessions.");
      R.setText(shown, visible + " of " + model.size + " shown");
      renderCounts();
      if (!marked && model.size) {
        /* for the bench: when the rows were first in the table, and the
         * frame after the one that drew them */
        marked = true;
        performance.mark("reins:fleet-rows");
        requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("reins:fleet-drawn")));
      }
    }
    let marked = false;
    const scheduleRender = R.coalesce(render);

    function renderCounts() {
      let running = 0;
      let frozen = 0;
      let high = 0;
      for (const e of model.values()) {
        if (e.alive && e.frozen) frozen++;
        else if (e.alive) running++;
        if (e.alive && (R.sessionTier(e) ?? 0) >= 2) high++;
      }
      R.setText(countNodes.running, String(running));
      R.setText(countNodes.frozen, String(frozen));
      R.setText(countNodes.high, String(high));
      R.setText(countNodes.total, String(model.size));
      R.setText(countNodes.pending, String(pending));
    }

    /* ---- data */
    async function refresh() {
      try {
        const [list, approvals] = await Promise.all([
          R.get("/v1/sessions"),
          R.get("/v1/approvals").catch(() => null),
        ]);
        model.clear();
        for (const e of Array.isArray(list) ? list : []) {
          if (e && typeof e.session === "string") model.set(e.session, e);
        }
        if (Array.isArray(approvals)) pending = approvals.length;
        else {
          pending = 0;
          for (const e of model.values()) pending += Number(e.pending) || 0;
        }
        error = null;
      } catch (e) {
        error = e.message;
      }
      errorBox.hidden = !error;
      R.setText(errorBox, error ? "Cannot list the sessions: " + error : "");
      scheduleRender();
    }

    const poller = R.poll(refresh, 2000);
    const refreshSoon = R.throttle(refresh, 1000);

    /* Events: what can be applied at once is (a tier change, a freeze), the
     * rest waits for the throttled refresh. */
    /* how many events the page has taken in (for the tests: an
     * attribute, nothing on screen) */
    const countEvents = R.coalesce(() => tableSection.setAttribute("data-events", String(eventCount)));
    function onEvent(data) {
      eventCount++;
      countEvents();
      const r = data && data.record;
      if (!r || typeof data.session !== "string") return;
      const entry = model.get(data.session);
      if (entry && r.type === "risk.tier" && typeof r.to === "number") {
        entry.tier = r.to;
        entry.risk_tier = r.to;
        scheduleRender();
      }
      if (entry && r.type === "session.freeze") {
        entry.frozen = true;
        scheduleRender();
      }
      if (typeof r.type === "string" &&
          (r.type.startsWith("session.") || r.type.startsWith("risk.") ||
           r.type.startsWith("approval.") || r.type.startsWith("net.") || R.recordDenied(r)))
        refreshSoon();
      if (r.type && r.type.startsWith("approval.")) {
        if (R.refreshBadge) R.refreshBadge();
      }
    }
    const closeStream = R.stream("/v1/events", onEvent, (s) => R.setText(liveState, s));

    /* the chart: its own period */
    const chartPoll = R.poll(() => chart.load(chartWindow), 15000);
    chart.onWindow = function (w) {
      chartWindow = w;
      chartPoll.now();
    };

    return function unmount() {
      poller.stop();
      refreshSoon.cancel();
      chartPoll.stop();
      closeStream();
    };
  }

  /* ---- the activity chart: SVG made with createElementNS, sizes as SVG
   * attributes (no inline style), colours from classes. */
  const SERIES = [["denials", "Denials"], ["findings", "Findings"], ["approvals", "Approvals"]];

  function makeChart() {
    const toggles = {};
    const note = R.el("p", { class: "chart-note" });
    const totals = R.el("ul", { class: "chart-totals" });
    const holder = R.el("div", { class: "chart-holder" });
    const section = R.el("section", { class: "panel chart", "aria-labelledby": "activity-heading" });
    const group = R.el("div", { class: "toggle-group", role: "group", "aria-label": "Period" });
    const api = { node: section, onWindow: null, load };
    for (const [w, label] of [["hour", "Last hour"], ["day", "Last day"]]) {
      const b = R.el("button", { type: "button", class: "toggle", "data-window": w, text: label,
                                 "aria-pressed": w === "hour" ? "true" : "false" });
      b.addEventListener("click", function () {
        for (const other of Object.values(toggles)) other.setAttribute("aria-pressed", "false");
        b.setAttribute("aria-pressed", "true");
        if (api.onWindow) api.onWindow(w);
      });
      toggles[w] = b;
      group.appendChild(b);
    }
    const legend = R.el("ul", { class: "legend" },
                        SERIES.map(([k, label]) => R.el("li", { class: "legend-" + k }, R.el("span", { class: "swatch swatch-" + k }), label)));
    section.append(R.el("div", { class: "panel-head" },
                        R.el("h2", { id: "activity-heading", text: "Activity" }), group),
                   holder, legend, totals, note);
    drawEmpty();

    function drawEmpty() {
      R.clear(holder);
      holder.appendChild(frame([]));
    }

    function frame(buckets) {
      const W = 600, H = 92, PAD = 18;
      const svg = R.svg("svg", { viewBox: `0 0 ${W} ${H + PAD}`, class: "chart-svg",
                                 role: "img", "aria-label": "Denials, findings and approvals over time",
                                 preserveAspectRatio: "none" });
      svg.appendChild(R.svg("line", { x1: 0, y1: H, x2: W, y2: H, class: "axis" }));
      if (!buckets.length) return svg;
      let max = 1;
      for (const b of buckets) max = Math.max(max, (b.denials || 0) + (b.findings || 0) + (b.approvals || 0));
      const step = W / buckets.length;
      const barW = Math.max(1, step * 0.8);
      buckets.forEach(function (b, i) {
        let y = H;
        for (const [k] of SERIES) {
          const v = Number(b[k]) || 0;
          if (!v) continue;
          const h = (v / max) * (H - 4);
          y -= h;
          const rect = R.svg("rect", { x: (i * step + (step - barW) / 2).toFixed(2), y: y.toFixed(2),
                                       width: barW.toFixed(2), height: h.toFixed(2), class: "bar bar-" + k });
          rect.appendChild(R.svg("title", { text: k + ": " + v + " at " + new Date(b.start * 1000).toLocaleTimeString([], { hour12: false }) }));
          svg.appendChild(rect);
        }
      });
      const first = buckets[0].start, last = buckets[buckets.length - 1].start;
      svg.appendChild(R.svg("text", { x: 2, y: H + PAD - 4, class: "axis-label", text: new Date(first * 1000).toLocaleTimeString([], { hour12: false, hour: "2-digit", minute: "2-digit" }) }));
      svg.appendChild(R.svg("text", { x: W - 2, y: H + PAD - 4, class: "axis-label end", "text-anchor": "end", text: new Date(last * 1000).toLocaleTimeString([], { hour12: false, hour: "2-digit", minute: "2-digit" }) }));
      svg.appendChild(R.svg("text", { x: 2, y: 10, class: "axis-label", text: "max " + max }));
      return svg;
    }

    async function load(w) {
      let data;
      try {
        data = await R.get("/v1/activity?window=" + encodeURIComponent(w));
      } catch (e) {
        drawEmpty();
        R.clear(totals);
        for (const [k, label] of SERIES) totals.appendChild(R.el("li", { "data-total": k }, label + ": " + R.DASH));
        R.setText(note, e.status === 404 ? "Activity is not available from this daemon." : "Activity: " + e.message);
        return;
      }
      const buckets = Array.isArray(data && data.buckets) ? data.buckets : [];
      R.clear(holder);
      holder.appendChild(frame(buckets));
      R.clear(totals);
      const t = (data && data.totals) || {};
      for (const [k, label] of SERIES) {
        let v = t[k];
        if (typeof v !== "number") v = buckets.reduce((s, b) => s + (Number(b[k]) || 0), 0);
        totals.appendChild(R.el("li", { "data-total": k }, label + ": " + v));
      }
      R.setText(note, (w === "day" ? "Last day" : "Last hour") +
                (data && data.bucket_seconds ? ", one bar per " + R.duration(data.bucket_seconds * 1000) : ""));
    }
    return api;
  }

  R.pages.fleet = { title: "Fleet", mount };
})();
