/* reins dashboard: the approvals queue across sessions.
 *
 * Requests come from /v1/approvals, polled every second and at once when the
 * event stream carries an approval.* record, so a new request shows within
 * a second. Each request is a card keyed by its id, updated in place (the
 * choices a human is making are never reset by a refresh). The reason and
 * the target are the agent's bytes: text only, control characters made
 * visible. The answer is POST /v1/sessions/ID/approvals; the held
 * connection goes on as soon as the daemon has answered. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});
  R.pages = R.pages || {};

  const DURATIONS = [["once", "Once"], ["10m", "For 10 minutes"], ["1h", "For 1 hour"],
                     ["session", "For the session"]];

  function mount(main) {
    const cards = new Map(); /* request id -> {node, deadline, left, ...} */
    const sessions = new Map(); /* session id -> {entry, at} */
    const list = R.el("ol", { class: "approval-list", id: "approval-list" });
    const empty = R.el("p", { class: "muted empty-queue", text: "No request is waiting." });
    const count = R.el("span", { class: "queue-count", id: "queue-count", "aria-live": "polite", text: "" });
    const errorBox = R.el("p", { class: "error", role: "alert", hidden: true });
    const message = R.el("p", { class: "message", id: "approval-message", role: "status", "aria-live": "polite" });
    const liveState = R.el("span", { class: "live-state", text: "connecting" });
    main.append(R.el("div", { class: "page-head" }, R.el("h1", { text: "Approvals" }), count, liveState),
                message, errorBox, empty, list);

    async function sessionEntry(id) {
      const known = sessions.get(id);
      if (known && Date.now() - known.at < 10000) return known.entry;
      let entry = null;
      try {
        entry = await R.get(R.sessionPath(id));
      } catch (e) {
        entry = known ? known.entry : null;
      }
      sessions.set(id, { entry, at: Date.now() });
      return entry;
    }

    function target(req) {
      return R.printable(req.target) + (req.port ? ":" + req.port : "");
    }

    /* A card's session, once read: the agent, and the answer buttons
     * only when the session says this caller may answer there (a session
     * that could not be read: when the role may answer at all). */
    function completeCard(card, entry) {
      R.setText(card.agent, (entry && entry.agent) || R.DASH);
      setForm(card, entry ? R.may(entry, "approve") : R.can("approve"));
    }

    function setForm(card, may) {
      if (may && !card.form) {
        card.form = answerForm(card.req, card);
        card.node.insertBefore(card.form, card.err);
      } else if (!may && card.form) {
        card.form.remove();
        card.form = null;
      }
    }

    function makeCard(req, entry, pending) {
      const idText = R.printable(req.id);
      const left = R.el("span", { class: "time-left mono", text: R.DASH });
      const err = R.el("p", { class: "error card-error", role: "alert", hidden: true });
      const agent = R.el("dd", { class: "agent", text: pending ? "…" : (entry && entry.agent) || R.DASH });
      const node = R.el("li", { class: "approval card", "data-request": idText, "data-session": R.printable(req.session) },
        R.el("div", { class: "card-head" },
             R.el("span", { class: "kind", text: req.kind || "request" }),
             R.el("strong", { class: "target mono", text: target(req) }),
             R.el("span", { class: "left-label" }, "time left ", left)),
        R.el("dl", { class: "card-fields" },
             R.el("div", null, R.el("dt", { text: "Agent" }), agent),
             R.el("div", null, R.el("dt", { text: "Session" }),
                  R.el("dd", null, R.el("a", { class: "mono", href: "#/session/" + encodeURIComponent(req.session), text: R.shortId(req.session) }))),
             R.el("div", null, R.el("dt", { text: "Rule" }), R.el("dd", { class: "rule mono", text: req.rule || R.DASH })),
             R.el("div", null, R.el("dt", { text: "Request" }), R.el("dd", { class: "mono", text: idText })),
             R.el("div", { class: "reason-field" }, R.el("dt", { text: "Reason (from the agent)" }),
                  R.el("dd", { class: "reason", text: req.reason ? req.reason : R.DASH }))),
        err);
      const card = { node, left, err, agent, deadline: 0, req, form: null };
      /* the role's right first (a request is answerable at once), the
       * session's own word when it comes */
      if (pending) setForm(card, R.can("approve"));
      else completeCard(card, entry);
      return card;
    }

    function answerForm(req, card) {
      const base = "ans-" + String(req.id).replace(/[^A-Za-z0-9_-]/g, "_");
      const forSelect = R.el("select", { id: base + "-for", class: "for" },
                             DURATIONS.map(([v, l]) => R.el("option", { value: v, text: l })));
      const parts = [R.el("label", { for: base + "-for", text: "Allow" }), forSelect];
      let scopeSelect = null;
      if (req.kind === "destination") {
        scopeSelect = R.el("select", { id: base + "-scope", class: "scope" },
                           R.el("option", { value: "exact", text: "this host only" }),
                           R.el("option", { value: "domain", text: "the whole domain" }));
        parts.push(R.el("label", { for: base + "-scope", text: "Scope" }), scopeSelect);
      }
      const approve = R.el("button", { type: "button", class: "button primary", "data-answer": "allow", text: "Approve" });
      const deny = R.el("button", { type: "button", class: "button danger", "data-answer": "deny", text: "Deny" });
      approve.addEventListener("click", () => answer(req, card, "allow", forSelect.value, scopeSelect && scopeSelect.value, [approve, deny]));
      deny.addEventListener("click", () => answer(req, card, "deny", null, null, [approve, deny]));
      return R.el("div", { class: "answer" }, ...parts, approve, deny);
    }

    async function answer(req, card, decision, forValue, scope, buttons) {
      for (const b of buttons) b.disabled = true;
      const body = { request: req.id, decision };
      if (decision === "allow") {
        body.for = forValue || "once";
        if (scope) body.scope = scope;
      }
      try {
        await R.post(R.sessionPath(req.session, "/approvals"), body);
        card.node.remove();
        cards.delete(req.id);
        R.setText(message, (decision === "allow" ? "Approved " : "Denied ") + target(req) +
                  (decision === "allow" && body.for !== "once" ? " (" + body.for + ")" : ""));
        updateCount();
        if (R.refreshBadge) R.refreshBadge();
      } catch (e) {
        card.err.hidden = false;
        R.setText(card.err, "The daemon refused: " + e.message);
        for (const b of buttons) b.disabled = false;
      }
      poller.now();
    }

    function updateCount() {
      const n = cards.size;
      R.setText(count, n === 1 ? "1 waiting" : n + " waiting");
      empty.hidden = n > 0;
    }

    function tick() {
      const now = Date.now();
      for (const card of cards.values()) R.setText(card.left, R.duration(card.deadline - now));
    }

    async function refresh() {
      let listed;
      try {
        listed = await R.get("/v1/approvals");
        errorBox.hidden = true;
      } catch (e) {
        errorBox.hidden = false;
        R.setText(errorBox, "Cannot list the requests: " + e.message);
        return;
      }
      const now = Date.now();
      const seen = new Set();
      const fresh = (Array.isArray(listed) ? listed : []).filter((r) => r && typeof r.id === "string");
      for (const req of fresh) {
        seen.add(req.id);
        let card = cards.get(req.id);
        if (!card) {
          /* shown at once; its session (agent, what this caller may do
           * there) is filled in when it has been read */
          const known = sessions.get(req.session);
          card = makeCard(req, known ? known.entry : null, !known);
          cards.set(req.id, card);
          if (!known) {
            const made = card;
            sessionEntry(req.session).then((entry) => cards.get(req.id) === made && completeCard(made, entry));
          }
        }
        if (typeof req.expires_in_ms === "number") card.deadline = now + req.expires_in_ms;
      }
      for (const [id, card] of cards) {
        if (!seen.has(id)) {
          card.node.remove();
          cards.delete(id);
        }
      }
      /* newest first: the latest deadline first (one timeout per policy),
       * then the higher request number */
      const ordered = Array.from(cards.values()).sort((a, b) =>
        b.deadline - a.deadline || String(b.req.id).localeCompare(String(a.req.id), undefined, { numeric: true }));
      ordered.forEach(function (card, i) {
        if (list.childNodes[i] !== card.node) list.insertBefore(card.node, list.childNodes[i] || null);
      });
      tick();
      updateCount();
    }

    const poller = R.poll(refresh, 1000);
    const ticker = setInterval(tick, 1000);
    const closeStream = R.stream("/v1/events?type=approval.", () => poller.now(),
                                 (s) => R.setText(liveState, s));
    return function unmount() {
      poller.stop();
      clearInterval(ticker);
      closeStream();
    };
  }

  R.pages.approvals = { title: "Approvals", mount };
})();
