/* reins dashboard: review an overlay (copy-on-write) session's changes and
 * apply or discard them.
 *
 * The change list is GET /v1/sessions/ID/diff (reins diff --json); a file's
 * content is its git patch (?format=patch&path=P), parsed here into hunks
 * and shown unified or side by side. Names, symlink targets and file
 * contents are the agent's bytes: text nodes only, controls made visible.
 * Binary and protected files are marked, a symlink pointing outside the
 * workspace is flagged. Apply (all or the selected paths) and discard ask
 * for a confirmation first; a 409's conflicts are listed with their why. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});
  R.pages = R.pages || {};

  const MAX_LINES = 5000; /* lines of one file's diff drawn */

  /* "@@ -12,3 +12,4 @@ ..." */
  const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/;

  /* A git patch of one file -> {binary, truncated, hunks: [{header, lines:
   * [{kind: "add"|"del"|"ctx"|"note", text, old, new}]}]} */
  R.parsePatch = function (text) {
    const out = { binary: false, truncated: false, hunks: [] };
    let hunk = null;
    let oldNo = 0;
    let newNo = 0;
    for (const line of String(text).split("\n")) {
      if (line.startsWith("# reins: patch truncated")) {
        out.truncated = true;
        continue;
      }
      const m = HUNK.exec(line);
      if (m) {
        oldNo = Number(m[1]);
        newNo = Number(m[3]);
        hunk = { header: line, lines: [] };
        out.hunks.push(hunk);
        continue;
      }
      if (!hunk) {
        if (line === "GIT binary patch" || line.startsWith("Binary files ")) out.binary = true;
        continue;
      }
      if (line.startsWith("diff --git ")) {
        hunk = null;
        continue;
      }
      const c = line.charAt(0);
      const body = line.slice(1);
      if (c === "+") hunk.lines.push({ kind: "add", text: body, new: newNo++ });
      else if (c === "-") hunk.lines.push({ kind: "del", text: body, old: oldNo++ });
      else if (c === " ") hunk.lines.push({ kind: "ctx", text: body, old: oldNo++, new: newNo++ });
      else if (c === "\\") hunk.lines.push({ kind: "note", text: line });
    }
    return out;
  };

  function flagsOf(change) {
    const flags = [];
    const n = change.new || {};
    const o = change.old || {};
    if (change.protected) flags.push(["protected", "protected"]);
    if (change.binary) flags.push(["binary", "binary"]);
    if (change.conflict) flags.push(["conflict", "conflict"]);
    if (change.host_changed) flags.push(["host-changed", "changed on the host"]);
    if (change.not_diffed) flags.push(["not-diffed", "too large to diff"]);
    if (n.type === "symlink" || o.type === "symlink") {
      flags.push(["symlink", "symlink → " + R.printable((n.type === "symlink" ? n : o).target)]);
      if (change.outside_workspace) flags.push(["outside", "points outside the workspace"]);
    }
    if (n.type && o.type && n.type !== o.type) flags.push(["type", o.type + " → " + n.type]);
    if (n.mode && o.mode && n.mode !== o.mode) flags.push(["mode", "mode " + o.mode + " → " + n.mode]);
    return flags;
  }

  function mount(main, route) {
    const id = route.parts[0] || "";
    let entry = null;
    let diff = null;
    let view = "unified";
    let shownPath = null;
    const checks = new Map(); /* path (string) -> checkbox */

    const back = R.el("a", { href: "#/session/" + encodeURIComponent(id), text: "← session " + R.shortId(id) });
    const summary = R.el("p", { class: "review-summary", id: "review-summary" });
    const errorBox = R.el("p", { class: "error", role: "alert", hidden: true });
    const fileBody = R.el("tbody", { id: "review-files" });
    const selectAll = R.el("input", { type: "checkbox", id: "select-all", "aria-label": "Select every file" });
    const viewGroup = R.el("div", { class: "toggle-group", role: "group", "aria-label": "Diff view" });
    const viewButtons = {};
    for (const [v, label] of [["unified", "Unified"], ["split", "Side by side"]]) {
      const b = R.el("button", { type: "button", class: "toggle", "data-view": v, text: label,
                                 "aria-pressed": v === view ? "true" : "false" });
      b.addEventListener("click", function () {
        view = v;
        for (const [k, other] of Object.entries(viewButtons)) other.setAttribute("aria-pressed", k === v ? "true" : "false");
        if (shownPath !== null) showFile(shownPath);
      });
      viewButtons[v] = b;
      viewGroup.appendChild(b);
    }
    const diffTitle = R.el("h2", { id: "diff-heading", text: "Select a file" });
    const diffBox = R.el("div", { class: "diff-box", id: "diff-view", tabindex: "0", "aria-labelledby": "diff-heading" });
    const actions = R.el("div", { class: "review-actions", id: "review-actions" });
    const confirmBox = R.el("div", { class: "confirm", id: "confirm", role: "alertdialog", "aria-labelledby": "confirm-text", hidden: true });
    const result = R.el("div", { class: "apply-result", id: "apply-result", role: "status", "aria-live": "polite" });
    const includeProtected = R.el("input", { type: "checkbox", id: "include-protected" });
    const force = R.el("input", { type: "checkbox", id: "force" });

    main.append(
      R.el("div", { class: "page-head" }, R.el("h1", null, "Review ", R.el("span", { class: "mono", text: R.shortId(id) })), back),
      summary, errorBox,
      R.el("div", { class: "review-grid" },
           R.el("section", { class: "panel", "aria-labelledby": "files-heading" },
                R.el("div", { class: "panel-head" }, R.el("h2", { id: "files-heading", text: "Changed files" })),
                R.el("div", { class: "table-scroll" },
                     R.el("table", { class: "file-table" },
                          R.el("thead", null, R.el("tr", null,
                               R.el("th", { scope: "col", class: "col-check" }, selectAll),
                               R.el("th", { scope: "col", text: "Path" }),
                               R.el("th", { scope: "col", text: "Change" }),
                               R.el("th", { scope: "col", text: "Lines" }),
                               R.el("th", { scope: "col", text: "Notes" }))),
                          fileBody)),
                actions, confirmBox, result),
           R.el("section", { class: "panel diff-panel" },
                R.el("div", { class: "panel-head" }, diffTitle, viewGroup),
                diffBox)));

    selectAll.addEventListener("change", function () {
      for (const c of checks.values()) c.checked = selectAll.checked;
      renderActions();
    });

    function renderFiles() {
      R.clear(fileBody);
      checks.clear();
      const changes = (diff && diff.changes) || [];
      changes.forEach(function (change, i) {
        const pathText = R.printable(change.path);
        const usable = typeof change.path === "string";
        const box = R.el("input", { type: "checkbox", id: "file-" + i, "data-path": usable ? change.path : null,
                                    "aria-label": "Select " + pathText, disabled: !usable });
        if (usable) checks.set(change.path, box);
        box.addEventListener("change", renderActions);
        const open = R.el("button", { type: "button", class: "linklike mono", "data-file": i, text: pathText });
        open.addEventListener("click", () => showFile(i));
        const flags = flagsOf(change);
        fileBody.appendChild(R.el("tr", { class: "file kind-" + R.printable(change.kind) + (change.outside_workspace ? " outside" : "") + (change.conflict ? " conflicted" : ""), "data-index": i },
          R.el("td", { class: "col-check" }, box),
          R.el("td", { class: "path" }, open),
          R.el("td", { text: change.kind }),
          R.el("td", { class: "num" },
               typeof change.insertions === "number" ? R.el("span", { class: "ins", text: "+" + change.insertions }) : null, " ",
               typeof change.deletions === "number" ? R.el("span", { class: "del", text: "−" + change.deletions }) : null),
          R.el("td", { class: "flags" }, flags.map(([k, t]) => R.el("span", { class: "flag flag-" + k, text: t })))));
      });
      if (!changes.length) fileBody.appendChild(R.el("tr", null, R.el("td", { colspan: 5, class: "muted", text: "No changes." })));
      R.setText(summary, changes.length + " changed path" + (changes.length === 1 ? "" : "s") +
                (diff ? ", " + (diff.conflicts || 0) + " conflict" + (diff.conflicts === 1 ? "" : "s") +
                        ", " + (diff.protected_changes || 0) + " protected" : "") +
                (diff && diff.lower ? " · host workspace " + R.printable(diff.lower) : ""));
      renderActions();
    }

    function selected() {
      return Array.from(checks.entries()).filter(([, c]) => c.checked).map(([p]) => p);
    }

    function renderActions() {
      R.clear(actions);
      if (!entry || !R.may(entry, "control") || !diff || !(diff.changes || []).length) return;
      const n = selected().length;
      const applyAll = R.el("button", { type: "button", class: "button primary", id: "apply-all", text: "Apply all" });
      const applySome = R.el("button", { type: "button", class: "button", id: "apply-selected", text: "Apply selected (" + n + ")", disabled: n === 0 });
      const discard = R.el("button", { type: "button", class: "button danger", id: "discard", text: "Discard" });
      applyAll.addEventListener("click", () => ask("apply", null));
      applySome.addEventListener("click", () => ask("apply", selected()));
      discard.addEventListener("click", () => ask("discard", null));
      actions.append(
        R.el("div", { class: "options" },
             R.el("label", { for: "include-protected" }, includeProtected, " apply protected paths too"),
             R.el("label", { for: "force" }, force, " overwrite host changes (force)")),
        R.el("div", { class: "buttons" }, applyAll, applySome, discard));
    }

    /* The confirmation step: says what will happen, then waits. */
    function ask(verb, paths) {
      R.clear(confirmBox);
      const what = verb === "discard"
        ? "Discard every change of this session? The copy is deleted; nothing reaches the host."
        : "Apply " + (paths ? paths.length + " selected path" + (paths.length === 1 ? "" : "s") : "all changes") +
          " to the host workspace " + R.printable((diff && diff.lower) || "") + "?";
      const yes = R.el("button", { type: "button", class: "button " + (verb === "discard" ? "danger" : "primary"), id: "confirm-yes",
                                   text: verb === "discard" ? "Yes, discard" : "Yes, apply" });
      const no = R.el("button", { type: "button", class: "button", id: "confirm-no", text: "Cancel" });
      no.addEventListener("click", () => { confirmBox.hidden = true; });
      yes.addEventListener("click", async function () {
        yes.disabled = no.disabled = true;
        await run(verb, paths);
        confirmBox.hidden = true;
      });
      confirmBox.append(R.el("p", { id: "confirm-text", text: what }),
                        paths ? R.el("ul", { class: "confirm-paths" }, paths.slice(0, 50).map((p) => R.el("li", { class: "mono", text: p }))) : null,
                        R.el("div", { class: "buttons" }, yes, no));
      confirmBox.hidden = false;
      yes.focus();
    }

    async function run(verb, paths) {
      R.clear(result);
      let body;
      let status = 200;
      try {
        if (verb === "discard") body = await R.post(R.sessionPath(id, "/discard"), {});
        else {
          const req = {};
          if (paths) req.paths = paths;
          if (includeProtected.checked) req.include_protected = true;
          if (force.checked) req.force = true;
          body = await R.post(R.sessionPath(id, "/apply"), req);
        }
      } catch (e) {
        status = e.status;
        body = e.body && typeof e.body === "object" ? e.body : { error: e.message };
      }
      showResult(verb, status, body);
      await load();
    }

    function showResult(verb, status, body) {
      R.clear(result);
      const ok = status >= 200 && status < 300;
      result.setAttribute("class", "apply-result " + (ok ? "ok" : "failed"));
      if (verb === "discard") {
        result.appendChild(R.el("p", { text: ok ? "Discarded." : "Discard refused: " + (body.error || status) }));
        return;
      }
      const line = ok
        ? "Applied " + (body.applied ?? 0) + ", conflicts " + (body.conflicts ?? 0) + ", protected skipped " +
          (body.protected_skipped ?? 0) + ", failed " + (body.failed ?? 0) + "."
        : "Nothing applied (" + status + "): " + (body.error || "refused");
      result.appendChild(R.el("p", { class: "result-line", text: line }));
      const changes = Array.isArray(body.changes) ? body.changes : [];
      if (changes.length)
        result.appendChild(R.el("ul", { class: "result-changes" }, changes.map((c) =>
          R.el("li", { class: "result-" + R.printable(c.result) },
               R.el("span", { class: "mono", text: c.path }), " ", R.el("strong", { text: c.result }),
               c.why ? R.el("span", { class: "why", text: " — " + R.printable(c.why) }) : null))));
    }

    /* ---- one file's content */
    async function showFile(i) {
      shownPath = i;
      const change = diff && diff.changes && diff.changes[i];
      if (!change) return;
      for (const tr of fileBody.querySelectorAll("tr.current")) tr.classList.remove("current");
      const tr = fileBody.querySelector('tr[data-index="' + i + '"]');
      if (tr) tr.classList.add("current");
      R.setText(diffTitle, R.printable(change.path));
      R.clear(diffBox);
      const notes = flagsOf(change).map(([k, t]) => R.el("span", { class: "flag flag-" + k, text: t }));
      if (notes.length) diffBox.appendChild(R.el("p", { class: "flags" }, notes));
      const n = change.new || {};
      const o = change.old || {};
      if (n.type === "symlink" || (o.type === "symlink" && !n.type)) {
        diffBox.appendChild(R.el("p", { class: "mono" }, "symlink → ", R.el("span", { class: "target", text: (n.type === "symlink" ? n : o).target })));
        if (change.outside_workspace)
          diffBox.appendChild(R.el("p", { class: "warning", text: "This link points outside the workspace: applying it gives the host a link the agent chose." }));
        return;
      }
      if (change.binary) {
        diffBox.appendChild(R.el("p", { class: "muted", text: "Binary file (" + R.bytes(n.size ?? o.size) + "): not shown." }));
        return;
      }
      if (change.not_diffed) {
        diffBox.appendChild(R.el("p", { class: "muted", text: "Too large to diff." }));
        return;
      }
      if (typeof change.path !== "string") {
        diffBox.appendChild(R.el("p", { class: "muted", text: "The name is not UTF-8: its content is not fetched here (reins diff shows it)." }));
        return;
      }
      let text;
      try {
        text = await R.get(R.sessionPath(id, "/diff?format=patch&path=" + encodeURIComponent(change.path)));
      } catch (e) {
        diffBox.appendChild(R.el("p", { class: "error", text: "Cannot read the patch: " + e.message }));
        return;
      }
      if (shownPath !== i) return; /* another file was asked for meanwhile */
      const patch = R.parsePatch(typeof text === "string" ? text : "");
      if (patch.binary) {
        diffBox.appendChild(R.el("p", { class: "muted", text: "Binary file: not shown." }));
        return;
      }
      diffBox.appendChild(view === "split" ? splitView(patch) : unifiedView(patch));
      if (patch.truncated) diffBox.appendChild(R.el("p", { class: "warning", text: "The patch was cut at the daemon's size limit." }));
    }

    function num(v) {
      return R.el("td", { class: "ln num", text: v === undefined ? "" : String(v) });
    }

    function unifiedView(patch) {
      const tbody = R.el("tbody");
      let drawn = 0;
      for (const h of patch.hunks) {
        tbody.appendChild(R.el("tr", { class: "hunk" }, R.el("td", { colspan: 3, class: "mono", text: h.header })));
        for (const l of h.lines) {
          if (drawn++ >= MAX_LINES) break;
          const sign = l.kind === "add" ? "+" : l.kind === "del" ? "-" : l.kind === "note" ? "" : " ";
          tbody.appendChild(R.el("tr", { class: "line " + l.kind }, num(l.old), num(l.new),
                                 R.el("td", { class: "code mono", text: sign + l.text })));
        }
      }
      const table = R.el("table", { class: "diff unified", "data-view": "unified" },
                         R.el("caption", { class: "visually-hidden", text: "Unified diff" }), tbody);
      return wrap(table, drawn);
    }

    function splitView(patch) {
      const tbody = R.el("tbody");
      let drawn = 0;
      for (const h of patch.hunks) {
        tbody.appendChild(R.el("tr", { class: "hunk" }, R.el("td", { colspan: 4, class: "mono", text: h.header })));
        let dels = [];
        let adds = [];
        const flush = function () {
          const n = Math.max(dels.length, adds.length);
          for (let k = 0; k < n; k++) {
            const d = dels[k];
            const a = adds[k];
            tbody.appendChild(R.el("tr", { class: "line pair" },
              num(d && d.old), R.el("td", { class: "code mono " + (d ? "del" : "blank"), text: d ? d.text : "" }),
              num(a && a.new), R.el("td", { class: "code mono " + (a ? "add" : "blank"), text: a ? a.text : "" })));
          }
          dels = [];
          adds = [];
        };
        for (const l of h.lines) {
          if (drawn++ >= MAX_LINES) break;
          if (l.kind === "del") dels.push(l);
          else if (l.kind === "add") adds.push(l);
          else {
            flush();
            if (l.kind === "ctx")
              tbody.appendChild(R.el("tr", { class: "line ctx" }, num(l.old), R.el("td", { class: "code mono", text: l.text }),
                                     num(l.new), R.el("td", { class: "code mono", text: l.text })));
            else tbody.appendChild(R.el("tr", { class: "line note" }, R.el("td", { colspan: 4, class: "mono", text: l.text })));
          }
        }
        flush();
      }
      const table = R.el("table", { class: "diff split", "data-view": "split" },
                         R.el("caption", { class: "visually-hidden", text: "Side-by-side diff: before on the left, after on the right" }), tbody);
      return wrap(table, drawn);
    }

    function wrap(table, drawn) {
      const box = R.el("div", { class: "table-scroll" }, table);
      if (drawn > MAX_LINES) box.appendChild(R.el("p", { class: "warning", text: "Only the first " + MAX_LINES + " lines are shown." }));
      return box;
    }

    /* ---- load */
    async function load() {
      try {
        [entry, diff] = await Promise.all([R.get(R.sessionPath(id)), R.get(R.sessionPath(id, "/diff"))]);
        errorBox.hidden = true;
      } catch (e) {
        errorBox.hidden = false;
        R.setText(errorBox, "Cannot read the changes: " + e.message);
        if (!entry) entry = await R.get(R.sessionPath(id)).catch(() => null);
        diff = null;
      }
      renderFiles();
      if (shownPath !== null && diff && diff.changes && diff.changes[shownPath]) showFile(shownPath);
      else {
        shownPath = null;
        R.setText(diffTitle, "Select a file");
        R.clear(diffBox);
      }
    }
    load();
    return function unmount() {};
  }

  R.pages.review = { title: "Review", mount };
})();
