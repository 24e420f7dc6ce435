/* reins dashboard: one session. Header, controls by role, the audit
 * verification badge, the live event stream, findings with their evidence,
 * tier history, process tree and network destinations.
 *
 * The history comes from the session's trail (GET .../audit, the newest
 * records), the rest live from /v1/events?session=ID; records are keyed by
 * their seq so a record seen twice (a reconnect) shows once. The list shows
 * the newest MAX_SHOWN in a box of fixed height: a burst of events changes
 * what is inside the box, never the page around it. Findings, tiers,
 * processes and destinations come from /v1/sessions/ID/summary when the
 * daemon has it, else they are derived from the records this page holds. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});
  R.pages = R.pages || {};

  const MAX_SHOWN = 500; /* events in the list */
  const MAX_KEPT = 5000; /* records kept for the derived panels */
  const HISTORY = 1000; /* records read from the trail at first */

  function mount(main, route) {
    const id = route.parts[0] || "";
    const focusSeq = route.parts[1] === "rec" ? Number(route.parts[2]) : null;
    let entry = null;
    let summary = null; /* the daemon's /summary, when it has one */
    const records = new Map(); /* seq -> item {record, text, severity} */
    const shownItems = new Map(); /* seq -> li */
    const queue = [];
    let added = 0; /* records taken in since the page opened */
    let closed = false;

    /* ---- the page */
    const title = R.el("h1", null, "Session ", R.el("span", { class: "mono", text: id }));
    const head = R.el("dl", { class: "session-head" });
    const badge = R.el("span", { class: "verify verify-unknown", id: "verify-badge", text: "trail: checking…" });
    const controls = R.el("div", { class: "controls", id: "session-controls" });
    const actionMessage = R.el("p", { class: "message", role: "status", "aria-live": "polite" });
    const links = R.el("div", { class: "links" });
    const errorBox = R.el("p", { class: "error", role: "alert", hidden: true });
    const liveState = R.el("span", { class: "live-state", text: "connecting" });

    const eventList = R.el("ol", { class: "event-list", id: "event-list", "aria-label": "Events, oldest first" });
    const newestButton = R.el("button", { type: "button", class: "button small newest", hidden: true, text: "↓ newest" });
    const eventsBox = R.el("div", { class: "event-box", tabindex: "0", "aria-label": "Event stream" }, eventList);
    const eventCount = R.el("span", { class: "muted", id: "event-count" });
    const detail = R.el("pre", { class: "record-detail", id: "record-detail", tabindex: "-1" });
    const detailTitle = R.el("h3", { text: "Record" });
    const detailBox = R.el("div", { class: "record-box", hidden: true }, detailTitle, detail);

    const findingsList = R.el("ul", { class: "findings", id: "findings" });
    const tiersList = R.el("ol", { class: "tiers", id: "tiers" });
    const processTree = R.el("div", { class: "process-tree", id: "processes" });
    const destBody = R.el("tbody", { id: "destinations" });
    const sourceNote = R.el("p", { class: "muted source-note" });

    function panel(idName, label, ...content) {
      return R.el("section", { class: "panel", "aria-labelledby": idName },
                  R.el("h2", { id: idName, text: label }), ...content);
    }

    main.append(
      R.el("div", { class: "page-head" }, title, badge),
      head, controls, actionMessage, links, errorBox,
      R.el("div", { class: "session-grid" },
           R.el("section", { class: "panel events-panel", "aria-labelledby": "events-heading" },
                R.el("div", { class: "panel-head" },
                     R.el("h2", { id: "events-heading", text: "Events" }), liveState, eventCount, newestButton),
                eventsBox, detailBox),
           R.el("div", { class: "side" },
                panel("findings-heading", "Findings", findingsList),
                panel("tiers-heading", "Tier history", tiersList),
                panel("net-heading", "Network destinations",
                      R.el("div", { class: "table-scroll" },
                           R.el("table", { class: "dest-table" },
                                R.el("thead", null, R.el("tr", null,
                                     ["Destination", "Allowed", "Denied", "Asked", "Up", "Down"].map(
                                         (t) => R.el("th", { scope: "col", text: t })))),
                                destBody))),
                panel("proc-heading", "Processes", processTree),
                sourceNote)));

    /* ---- header and controls: built once, then updated in place (a
     * refresh never moves the page or takes the focus from a button) */
    const headFields = {};
    for (const k of ["State", "Risk", "Agent", "Policy", "User", "Started", "Workspace", "Command", "Egress", "Findings"]) {
      const dd = R.el("dd", { class: k === "Command" ? "mono wrap clamp" : k === "Workspace" ? "mono wrap" : "" });
      headFields[k] = dd;
      head.appendChild(R.el("div", { class: "field field-" + k.toLowerCase() }, R.el("dt", { text: k }), dd));
    }
    const stateNode = R.el("span", { class: "state", id: "session-state" });
    const tierNode = R.el("span", { class: "tier tier-none", id: "session-tier" });
    headFields.State.appendChild(stateNode);
    headFields.Risk.appendChild(tierNode);

    function renderHead() {
      const e = entry || {};
      R.setText(stateNode, R.sessionState(e));
      stateNode.setAttribute("class", "state state-" + (e.alive ? (e.frozen ? "frozen" : "running") : "ended"));
      /* an ended session's entry has no tier: the last one its trail shows */
      let tier = R.sessionTier(e);
      if (tier === null) tier = lastTier();
      R.setText(tierNode, R.tierLabel(tier));
      tierNode.setAttribute("class", R.tierClass(tier));
      R.setText(headFields.Agent, e.agent || R.DASH);
      R.setText(headFields.Policy, e.policy || R.DASH);
      R.setText(headFields.User, e.uid === undefined ? R.DASH : "uid " + e.uid);
      R.setText(headFields.Started, R.clock(e.started));
      R.setText(headFields.Workspace, e.workspace || R.DASH);
      R.setText(headFields.Command, Array.isArray(e.command) ? e.command.map(R.printable).join(" ") : R.DASH);
      R.setText(headFields.Egress, e.egress ? R.bytes(e.egress.bytes_up) + " up, " + R.bytes(e.egress.bytes_down) + " down" : R.DASH);
      R.setText(headFields.Findings, e.counts ? String(e.counts.findings) : typeof e.findings === "number" ? String(e.findings) : R.DASH);
      renderControls();
    }

    let controlsKey = null;
    function renderControls() {
      const e = entry;
      const buttons = [];
      if (e && e.alive && R.may(e, "control")) {
        buttons.push(["stop", "Stop"]);
        buttons.push(e.frozen ? ["thaw", "Thaw"] : ["freeze", "Freeze"]);
      }
      const key = buttons.map((b) => b[0]).join(",");
      if (key === controlsKey) return;
      controlsKey = key;
      const hadFocus = controls.contains(document.activeElement);
      R.clear(controls);
      for (const [verb, label] of buttons) {
        const b = R.el("button", { type: "button", class: "button" + (verb === "stop" ? " danger" : ""),
                                   "data-action": verb, text: label });
        b.addEventListener("click", () => act(verb, b));
        controls.appendChild(b);
      }
      if (hadFocus && controls.firstChild) controls.firstChild.focus();
    }

    async function act(verb, button) {
      button.disabled = true;
      try {
        await R.post(R.sessionPath(id, "/" + verb));
        R.setText(actionMessage, verb + ": done");
      } catch (e) {
        R.setText(actionMessage, verb + " refused: " + e.message);
      }
      button.disabled = false;
      headPoll.now();
    }

    function renderLinks() {
      R.clear(links);
      const e = entry || {};
      if (R.may(e, "read_diff"))
        links.appendChild(R.el("a", { class: "button", href: "#/review/" + encodeURIComponent(id), text: "Review changes" }));
      if (R.may(e, "read_audit")) {
        links.appendChild(R.el("a", { class: "button", href: "#/audit?session=" + encodeURIComponent(id), text: "Search its trail" }));
        for (const f of ["ocsf", "syslog", "cef"])
          links.appendChild(R.el("a", { class: "button export", download: id + "." + f + ".log",
                                        href: R.sessionPath(id, "/audit/export?format=" + f), text: "Export " + f.toUpperCase() }));
      }
    }

    let lastAlive = null;
    async function loadEntry() {
      try {
        entry = await R.get(R.sessionPath(id));
        errorBox.hidden = true;
      } catch (e) {
        errorBox.hidden = false;
        R.setText(errorBox, "Cannot read the session: " + e.message);
        return;
      }
      const wasAlive = lastAlive;
      lastAlive = !!entry.alive;
      renderHead();
      if (!links.firstChild) renderLinks();
      if (wasAlive && !entry.alive) verify(); /* sealed at its end */
    }

    /* The audit verification badge: intact (signed checkpoint, chain
     * whole), unsealed (whole so far, no checkpoint yet: a running session,
     * or one killed), or broken (altered, truncated, wrong key). */
    async function verify() {
      let cls = "verify-unknown";
      let text;
      let title = "";
      try {
        const v = await R.get(R.sessionPath(id, "/audit/verify"));
        const verdict = R.printable((v && v.verdict) || (v && v.intact ? "intact" : "not intact"));
        title = R.printable(v && v.message);
        if (v && v.intact === true) {
          cls = v.key_trusted === false ? "verify-warn" : "verify-ok";
          text = "trail intact" + (v.key_trusted === false ? ", key not trusted" : "") +
                 " (" + v.records + " records)";
        } else if (verdict === "unsealed" && !v.torn_tail) {
          cls = "verify-warn";
          text = "trail unsealed: whole up to record " + (Number(v.bad_record) - 1) + ", no checkpoint yet";
        } else {
          cls = "verify-bad";
          text = "trail " + verdict + (typeof v.bad_record === "number" ? " at record " + v.bad_record : "");
        }
      } catch (e) {
        text = "trail: " + (e.status === 403 ? "not yours to verify" : "cannot verify (" + e.message + ")");
      }
      badge.setAttribute("class", "verify " + cls);
      badge.setAttribute("title", title);
      R.setText(badge, text);
    }

    /* ---- events */
    function itemOf(data) {
      const r = data.record || data;
      return { record: r, text: R.recordText(data), severity: R.recordSeverity(data) };
    }

    function add(data) {
      const item = itemOf(data);
      const seq = item.record.seq;
      if (typeof seq !== "number" || records.has(seq)) return;
      records.set(seq, item);
      added++;
      absorb(item);
      if (records.size > MAX_KEPT) records.delete(records.keys().next().value); /* the first kept */
      queue.push(item);
      flushSoon();
      derivedSoon();
    }

    function eventRow(item) {
      const r = item.record;
      const link = R.el("a", { class: "seq mono", href: "#/session/" + encodeURIComponent(id) + "/rec/" + r.seq,
                               text: "#" + r.seq });
      link.addEventListener("click", function (ev) {
        ev.preventDefault();
        showRecord(r.seq);
      });
      return R.el("li", { class: "event sev-" + R.printable(item.severity), id: "rec-" + r.seq, "data-seq": r.seq },
                  link,
                  R.el("time", { class: "when mono", datetime: R.printable(r.time), text: R.clock(r.time) }),
                  R.el("span", { class: "type mono", text: r.type }),
                  R.el("span", { class: "text", text: item.text }));
    }

    /* One pass per frame. The list reads like a log: oldest at the top,
     * each new record appended at the bottom, and the box follows the
     * newest while its reader is at the bottom (scrolled up, it stays
     * where it is: the "newest" button brings it back). Appending moves
     * nothing that is on screen, and the oldest rows dropped at the top
     * past MAX_SHOWN are compensated by the browser's scroll anchoring:
     * streaming events shift no row (no layout shift). */
    function atBottom() {
      return eventsBox.scrollHeight - eventsBox.scrollTop - eventsBox.clientHeight < 8;
    }
    let following = true;
    eventsBox.addEventListener("scroll", function () {
      following = atBottom();
      newestButton.hidden = following;
    });
    newestButton.addEventListener("click", function () {
      following = true;
      newestButton.hidden = true;
      eventsBox.scrollTop = eventsBox.scrollHeight;
    });

    const flushSoon = R.coalesce(function () {
      if (!queue.length) return;
      queue.sort((a, b) => a.record.seq - b.record.seq);
      const batch = queue.splice(0, queue.length).slice(-MAX_SHOWN);
      const last = eventList.lastChild;
      const lastSeq = last ? Number(last.dataset.seq) : -1;
      const fragment = document.createDocumentFragment();
      for (const item of batch) {
        const li = eventRow(item);
        shownItems.set(item.record.seq, li);
        if (item.record.seq > lastSeq) fragment.appendChild(li);
        else insertInOrder(li); /* a late older record (history after live ones) */
      }
      eventList.appendChild(fragment);
      while (eventList.childNodes.length > MAX_SHOWN) {
        const first = eventList.firstChild;
        shownItems.delete(Number(first.dataset.seq));
        first.remove();
      }
      if (following) eventsBox.scrollTop = eventsBox.scrollHeight;
      eventCount.setAttribute("data-records", String(added));
      R.setText(eventCount, records.size + " records" + (eventList.childNodes.length >= MAX_SHOWN ? ", newest " + MAX_SHOWN + " shown" : ""));
    });

    function insertInOrder(li) {
      const seq = Number(li.dataset.seq);
      let node = eventList.firstChild;
      while (node && Number(node.dataset.seq) < seq) node = node.nextSibling;
      eventList.insertBefore(li, node);
    }

    function showRecord(seq) {
      const item = records.get(seq);
      detailBox.hidden = false;
      R.setText(detailTitle, "Record #" + seq);
      for (const li of eventList.querySelectorAll(".selected")) li.classList.remove("selected");
      const li = shownItems.get(seq);
      if (li) {
        li.classList.add("selected");
        li.scrollIntoView({ block: "nearest" });
      }
      detail.textContent = item ? R.printable(JSON.stringify(item.record, null, 2)).replace(/\\u\{0a\}/g, "\n")
                                : "Record #" + seq + " is not among the " + records.size + " records this page holds.";
      history.replaceState(null, "", "#/session/" + encodeURIComponent(id) + "/rec/" + seq);
      detail.focus({ preventScroll: true });
    }

    /* History: /v1/audit for this session (its items carry the daemon's
     * text), else the session's own trail route. */
    async function loadHistory() {
      try {
        const body = await R.get("/v1/audit?session=" + encodeURIComponent(id) + "&limit=" + HISTORY);
        for (const item of (body && body.records) || []) if (item && item.record) add(item);
        return;
      } catch (e) {
        /* an older daemon: the trail route below */
      }
      try {
        const body = await R.get(R.sessionPath(id, "/audit?limit=" + HISTORY));
        for (const r of (body && body.records) || []) add({ record: r });
      } catch (e) {
        R.setText(sourceNote, "The trail could not be read: " + e.message);
      }
    }

    /* ---- summary panels */
    function evidenceLink(seq) {
      if (typeof seq !== "number") return R.el("span", { class: "mono", text: seq });
      const a = R.el("a", { class: "evidence mono", href: "#/session/" + encodeURIComponent(id) + "/rec/" + seq, text: "#" + seq });
      a.addEventListener("click", (ev) => {
        ev.preventDefault();
        showRecord(seq);
      });
      return a;
    }

    /* The panels' data, kept up to date record by record (absorb) rather
     * than recomputed from every record held: a stream of execs costs a
     * map update each, and the panels are redrawn at most once a second,
     * only when something they show changed. */
    const PROCESSES_KEPT = 2000;
    const PROCESSES_SHOWN = 150;
    const derived = { findings: new Map(), tiers: new Map(), processes: new Map(), dests: new Map(), version: 0 };

    function absorb(item) {
      const r = item.record;
      if (r.type === "risk.finding")
        derived.findings.set(r.seq, { rule: r.rule, severity: r.severity, seq: r.seq,
                                      text: r.explanation ? R.printable(r.explanation) + (r.detail ? ": " + R.printable(r.detail) : "") : item.text,
                                      evidence: Array.isArray(r.evidence) ? r.evidence : [] });
      else if (r.type === "risk.tier")
        derived.tiers.set(r.seq, { time: r.time, tier: r.to, reason: r.reason, seq: r.seq });
      else if (r.type === "exec") {
        derived.processes.set(r.seq, { pid: r.host_pid ?? r.pid, ppid: r.ppid, text: Array.isArray(r.argv) ? r.argv.map(R.printable).join(" ") : r.path, time: r.time, seq: r.seq });
        if (derived.processes.size > PROCESSES_KEPT) derived.processes.delete(derived.processes.keys().next().value);
      } else if (r.type === "net.decision" || r.type === "net.close") {
        const key = R.printable(r.host || r.address || "?") + (r.port ? ":" + r.port : "");
        let d = derived.dests.get(key);
        if (!d) derived.dests.set(key, (d = { host: r.host || r.address, port: r.port, allowed: 0, denied: 0, asked: 0, bytes_up: 0, bytes_down: 0, last_seq: r.seq }));
        d.last_seq = Math.max(d.last_seq, r.seq);
        if (r.type === "net.close") {
          d.bytes_up += Number(r.bytes_up) || 0;
          d.bytes_down += Number(r.bytes_down) || 0;
        } else if (r.decision === "allowed" || r.decision === "allow") d.allowed++;
        else if (r.decision === "ask") d.asked++;
        else d.denied++;
      } else return;
      derived.version++;
    }

    function lastTier() {
      const tiers = summary && Array.isArray(summary.tiers) ? summary.tiers.slice() : Array.from(derived.tiers.values());
      tiers.sort(bySeq);
      if (tiers.length) return tiers[tiers.length - 1].tier;
      return records.size ? 0 : null; /* a trail with no tier change stayed at T0 */
    }

    function bySeq(a, b) {
      return a.seq - b.seq;
    }

    function derive() {
      return {
        findings: Array.from(derived.findings.values()).sort(bySeq),
        tiers: Array.from(derived.tiers.values()).sort(bySeq),
        processes: Array.from(derived.processes.values()),
        destinations: Array.from(derived.dests.values()),
      };
    }

    let drawnVersion = -1;
    let drawnSummary = null;
    function renderPanels() {
      if (summary === drawnSummary && (summary || derived.version === drawnVersion)) return;
      drawnVersion = derived.version;
      drawnSummary = summary;
      const data = summary || derive();
      R.setText(sourceNote, summary ? "Findings, tiers, processes and destinations: the daemon's summary of the whole trail" + (summary.truncated ? " (truncated)." : ".")
                                    : "Findings, tiers, processes and destinations: from the " + records.size + " records this page holds.");
      R.clear(findingsList);
      for (const f of data.findings || []) {
        const evidence = Array.isArray(f.evidence) ? f.evidence : [];
        findingsList.appendChild(R.el("li", { class: "finding sev-" + R.printable(f.severity || "medium") },
          R.el("div", null, R.el("strong", { text: f.rule }), " ",
               R.el("span", { class: "severity", text: f.severity || "" }), " ",
               typeof f.seq === "number" ? evidenceLink(f.seq) : null),
          R.el("div", { class: "text", text: f.text || "" }),
          evidence.length ? R.el("div", { class: "evidence-list" }, "evidence: ",
                                 evidence.map((s, i) => [i ? ", " : "", evidenceLink(s)])) : null));
      }
      if (!findingsList.firstChild) findingsList.appendChild(R.el("li", { class: "muted", text: "No findings." }));

      R.clear(tiersList);
      for (const t of data.tiers || [])
        tiersList.appendChild(R.el("li", null, R.el("time", { class: "mono", text: R.clock(t.time) }), " ",
                                   R.tierBadge(t.tier), " ", R.el("span", { text: t.reason || "" }), " ",
                                   typeof t.seq === "number" ? evidenceLink(t.seq) : null));
      if (!tiersList.firstChild) tiersList.appendChild(R.el("li", { class: "muted", text: "T0 low since the start." }));

      R.clear(destBody);
      for (const d of data.destinations || [])
        destBody.appendChild(R.el("tr", null,
          R.el("td", { class: "mono" }, R.printable(d.host || "?") + (d.port ? ":" + d.port : ""), " ",
               typeof d.last_seq === "number" ? evidenceLink(d.last_seq) : null),
          R.el("td", { class: "num allowed", text: String(d.allowed ?? 0) }),
          R.el("td", { class: "num denied", text: String(d.denied ?? 0) }),
          R.el("td", { class: "num asked", text: String(d.asked ?? 0) }),
          R.el("td", { class: "num", text: R.bytes(d.bytes_up) }),
          R.el("td", { class: "num", text: R.bytes(d.bytes_down) })));
      if (!destBody.firstChild)
        destBody.appendChild(R.el("tr", null, R.el("td", { colspan: 6, class: "muted", text: "No network use." })));

      /* the newest PROCESSES_SHOWN programs started, as a tree */
      const processes = (data.processes || []).slice().sort(bySeq);
      const newest = processes.slice(-PROCESSES_SHOWN);
      R.clear(processTree);
      processTree.appendChild(tree(newest));
      if (processes.length > newest.length)
        processTree.appendChild(R.el("p", { class: "muted", text: (processes.length - newest.length) + " earlier programs not shown (the audit page lists them)." }));
    }

    /* Processes as a nested list by parent pid; a process that ran several
     * programs (exec after exec) shows each. */
    function tree(processes) {
      const byPid = new Map();
      for (const p of processes) {
        const node = byPid.get(p.pid);
        if (node) node.texts.push(p);
        else byPid.set(p.pid, { p, texts: [p], children: [] });
      }
      const roots = [];
      for (const node of byPid.values()) {
        const parent = byPid.get(node.p.ppid);
        if (parent && parent !== node) parent.children.push(node);
        else roots.push(node);
      }
      function list(nodes, depth) {
        const ul = R.el("ul", { class: depth ? "" : "tree" });
        for (const n of nodes.slice(0, 200)) {
          const li = R.el("li", null,
            R.el("span", { class: "pid mono", text: "pid " + R.printable(n.p.pid) }), " ",
            n.texts.map((t, i) => [i ? " → " : "", R.el("span", { class: "mono", text: t.text }), " ",
                                   typeof t.seq === "number" ? evidenceLink(t.seq) : null]));
          if (n.children.length && depth < 32) li.appendChild(list(n.children, depth + 1));
          ul.appendChild(li);
        }
        if (nodes.length > 200) ul.appendChild(R.el("li", { class: "muted", text: "… " + (nodes.length - 200) + " more" }));
        return ul;
      }
      if (!roots.length) return R.el("p", { class: "muted", text: "No process seen yet." });
      return list(roots, 0);
    }

    const derivedSoon = R.throttle(async function () {
      renderPanels();
    }, 1000);

    /* The daemon's summary of the whole trail (a later daemon feature):
     * when it answers 404, the panels are derived here and it is not asked
     * again. */
    let summaryMissing = false;
    async function loadSummary() {
      if (summaryMissing) return;
      try {
        summary = await R.get(R.sessionPath(id, "/summary"));
      } catch (e) {
        if (e.status === 404 || e.status === 405) summaryMissing = true;
        summary = null;
      }
      renderPanels();
    }

    /* ---- start */
    const headPoll = R.poll(loadEntry, 2000);
    let summaryPoll = null;
    verify();
    const closeStream = R.stream("/v1/events?session=" + encodeURIComponent(id),
                                 (data) => !closed && add(data), (s) => R.setText(liveState, s));
    loadHistory().then(function () {
      renderPanels();
      if (focusSeq !== null && !Number.isNaN(focusSeq)) requestAnimationFrame(() => showRecord(focusSeq));
      summaryPoll = R.poll(loadSummary, 3000);
    });

    return function unmount() {
      closed = true;
      headPoll.stop();
      if (summaryPoll) summaryPoll.stop();
      derivedSoon.cancel();
      closeStream();
    };
  }

  R.pages.session = { title: "Session", mount };
})();
