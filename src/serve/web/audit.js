/* reins dashboard: search the audit trails (GET /v1/audit) and export a
 * session's trail (ocsf, syslog, cef). Each record's text is the daemon's
 * one-line summary (or one made from its fields), set as text only. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});
  R.pages = R.pages || {};

  const FIELDS = [
    ["session", "Session", "text", "session id (several: comma-separated)"],
    ["since", "Since", "text", "1h, 2026-12-07 or an RFC 3339 time"],
    ["until", "Until", "text", "same forms"],
    ["type", "Type prefix", "text", "net. or approval.request"],
    ["limit", "Limit", "number", "1000"],
  ];

  function exportLinks(session) {
    return R.el("span", { class: "exports" }, ["ocsf", "syslog", "cef"].map((f) =>
      R.el("a", { class: "button small export", href: R.sessionPath(session, "/audit/export?format=" + f),
                  download: session + "." + f + ".log", "data-format": f, text: f.toUpperCase() })));
  }

  function mount(main, route) {
    const inputs = {};
    const form = R.el("form", { class: "audit-form", id: "audit-form", role: "search" });
    for (const [key, label, type, hint] of FIELDS) {
      const input = R.el("input", { type, id: "audit-" + key, name: key, placeholder: hint, autocomplete: "off" });
      if (key === "limit") {
        input.min = "1";
        input.max = "10000";
      }
      const value = route.query.get(key);
      if (value) input.value = value;
      inputs[key] = input;
      form.appendChild(R.el("div", { class: "form-field" }, R.el("label", { for: "audit-" + key, text: label }), input));
    }
    if (!inputs.since.value && !inputs.session.value) inputs.since.value = "1h";
    if (!inputs.limit.value) inputs.limit.value = "200";
    form.appendChild(R.el("div", { class: "form-field submit" }, R.el("button", { type: "submit", class: "button primary", text: "Search" })));

    const status = R.el("p", { class: "message", role: "status", "aria-live": "polite", id: "audit-status" });
    const exportsBox = R.el("div", { class: "export-box", id: "audit-exports" });
    const tbody = R.el("tbody", { id: "audit-results" });
    const table = R.el("table", { class: "audit-table" },
                       R.el("thead", null, R.el("tr", null,
                            ["Time", "Session", "Seq", "Type", "Text"].map((t) => R.el("th", { scope: "col", text: t })))),
                       tbody);
    main.append(R.el("div", { class: "page-head" }, R.el("h1", { text: "Audit" })),
                form, status, exportsBox,
                R.el("div", { class: "table-scroll" }, table));

    let controller = null;
    async function search() {
      const params = new URLSearchParams();
      for (const key of ["since", "until", "type", "limit"]) {
        const v = inputs[key].value.trim();
        if (v) params.set(key, v);
      }
      const sessions = inputs.session.value.split(/[\s,]+/).filter(Boolean);
      for (const s of sessions) params.append("session", s);
      /* the search is part of the address: reload and share keep it */
      const shown = new URLSearchParams(params);
      shown.delete("session");
      if (sessions.length) shown.set("session", sessions.join(","));
      history.replaceState(null, "", "#/audit?" + shown.toString());
      if (controller) controller.abort();
      controller = new AbortController();
      R.setText(status, "Searching…");
      let body;
      try {
        body = await R.get("/v1/audit?" + params.toString(), { signal: controller.signal });
      } catch (e) {
        if (e.name === "AbortError") return;
        R.setText(status, "Search refused: " + e.message);
        R.clear(tbody);
        return;
      }
      const items = Array.isArray(body && body.records) ? body.records : [];
      R.clear(tbody);
      const fragment = document.createDocumentFragment();
      const seen = new Set();
      for (let i = items.length - 1; i >= 0; i--) {
        const item = items[i];
        const r = item.record || {};
        const session = typeof item.session === "string" ? item.session : "";
        const daemon = !!item.daemon || (r.type && String(r.type).startsWith("serve."));
        if (session && !daemon) seen.add(session);
        fragment.appendChild(R.el("tr", { class: "sev-" + R.printable(R.recordSeverity(item)) },
          R.el("td", { class: "mono nowrap" }, R.el("time", { datetime: R.printable(r.time), text: R.clock(r.time) })),
          R.el("td", { class: "mono" }, session && !daemon
            ? R.el("a", { href: "#/session/" + encodeURIComponent(session) + (typeof r.seq === "number" ? "/rec/" + r.seq : ""), text: R.shortId(session) })
            : R.shortId(session) + (daemon ? " (daemon)" : "")),
          R.el("td", { class: "num mono", text: typeof r.seq === "number" ? String(r.seq) : "" }),
          R.el("td", { class: "mono", text: r.type }),
          R.el("td", { class: "text", text: R.recordText(item) })));
      }
      tbody.appendChild(fragment);
      R.setText(status, items.length + " record" + (items.length === 1 ? "" : "s") + ", newest first" +
                (body && body.truncated ? " (more matched: narrow the search or raise the limit)" : ""));
      R.clear(exportsBox);
      const exportable = sessions.length ? sessions : Array.from(seen).slice(0, 20);
      if (exportable.length) {
        exportsBox.appendChild(R.el("h2", { text: "Export" }));
        exportsBox.appendChild(R.el("ul", { class: "export-list" }, exportable.map((s) =>
          R.el("li", { "data-session": s }, R.el("span", { class: "mono", text: R.shortId(s) }), " ", exportLinks(s)))));
      }
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      search();
    });
    search();
    return function unmount() {
      if (controller) controller.abort();
    };
  }

  R.pages.audit = { title: "Audit", mount };
})();
