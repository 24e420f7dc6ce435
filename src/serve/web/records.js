/* reins dashboard: reading audit records.
 *
 * The daemon gives each event a "text" (the line `reins audit show`
 * prints). Records read from a session's trail may come without one: then
 * a short line is made here from the record's fields. Either way the
 * result is only ever set as text (Reins.el's "text", textContent). */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});

  function str(v) {
    return v === null || v === undefined ? "" : R.printable(v);
  }

  function hostPort(r) {
    const host = str(r.host || r.target || r.destination);
    return r.port ? host + ":" + r.port : host;
  }

  R.recordText = function (item) {
    if (item && typeof item.text === "string" && item.text) return item.text;
    const r = (item && item.record) || item || {};
    const type = str(r.type);
    if (type === "exec") return "exec " + (Array.isArray(r.argv) ? r.argv.map(str).join(" ") : str(r.path));
    if (type.startsWith("net."))
      return type + " " + hostPort(r) + (r.decision ? " " + str(r.decision) : "") +
             (r.rule ? " (" + str(r.rule) + ")" : "");
    if (type === "approval.request")
      return "asks for " + str(r.kind) + " " + str(r.target) + (r.port ? ":" + r.port : "") +
             (r.reason ? ": " + str(r.reason) : "");
    if (type.startsWith("approval."))
      return type + " " + str(r.id) + (r.decision ? " " + str(r.decision) : "") +
             (r.target ? " " + str(r.target) : "");
    if (type === "risk.finding")
      return "finding " + str(r.rule) + " (" + str(r.severity) + "): " + str(r.explanation) +
             (r.detail ? " — " + str(r.detail) : "");
    if (type === "risk.tier") return "tier T" + str(r.from) + " → T" + str(r.to) + ": " + str(r.reason);
    if (type.startsWith("file."))
      return type + " " + str(r.path) + (r.decision ? " " + str(r.decision) : "");
    if (type === "session.start") return "session started (" + str(r.policy && r.policy.name) + ")";
    if (type === "session.end")
      return "session ended" + (r.exit_status !== undefined ? " (exit " + str(r.exit_status) + ")" : "");
    return type;
  };

  R.recordSeverity = function (item) {
    if (item && typeof item.severity === "string") return item.severity;
    const r = (item && item.record) || item || {};
    if (r.type === "risk.finding") return r.severity || "medium";
    if (r.type === "risk.tier") return ["low", "medium", "high", "critical"][r.to] || "low";
    if (r.decision === "deny" || r.decision === "denied" || r.decision === "block") return "medium";
    if (typeof r.type === "string" && r.type.startsWith("approval.request")) return "medium";
    return "low";
  };

  /* Is this record a denial (for the fallback counts and destinations)? */
  R.recordDenied = function (r) {
    return r && (r.decision === "deny" || r.decision === "denied" || r.decision === "block");
  };
})();
