/* reins dashboard: DOM helpers shared by every page.
 *
 * The page runs under a Content-Security-Policy with Trusted Types
 * ("require-trusted-types-for 'script'; trusted-types 'none'"): any
 * innerHTML / outerHTML / insertAdjacentHTML / document.write with a string
 * throws. Nothing here parses markup: elements are made with createElement
 * and every string becomes a text node, so what an agent wrote (a reason, a
 * command, a file name, an event's text) can never become an element.
 * Control characters are also made visible (printable), so a terminal
 * escape sequence or a right-to-left override shows as what it is. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});

  /* C0 and C1 controls, DEL, and the bidirectional overrides / isolates /
   * marks and zero-width characters that reorder or hide text (the
   * "Trojan Source" class): shown as \u{..} so a human sees them. */
  const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

  function hex(c) {
    return "\\u{" + c.codePointAt(0).toString(16).padStart(2, "0") + "}";
  }

  /* Any value as one line of visible text. Non-UTF-8 names come from the
   * API as {"base64": "..."}: shown so, never decoded into markup. */
  R.printable = function (value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "object") {
      if (typeof value.base64 === "string") return "base64:" + value.base64;
      value = JSON.stringify(value);
    }
    return String(value).replace(UNPRINTABLE, hex);
  };

  /* el("td", {class: "num", title: t}, child, "text", ...): an element. Keys:
   * class, text (textContent, made printable), on<event> (listener), a
   * boolean false / null / undefined skips the attribute; anything else is
   * setAttribute (never an event handler attribute: those are refused). */
  R.el = function (tag, attrs, ...children) {
    const node = document.createElement(tag);
    R.setAttrs(node, attrs);
    R.append(node, children);
    return node;
  };

  const SVG_NS = "http://www.w3.org/2000/svg";
  R.svg = function (tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    R.setAttrs(node, attrs);
    R.append(node, children);
    return node;
  };

  R.setAttrs = function (node, attrs) {
    if (!attrs) return node;
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (key === "text") node.textContent = R.printable(value);
      else if (key === "class") node.setAttribute("class", value);
      else if (key.startsWith("on") && typeof value === "function")
        node.addEventListener(key.slice(2), value);
      else if (key.startsWith("on")) throw new Error("no inline handlers: " + key);
      else if (key === "style") throw new Error("no inline styles (CSP)");
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    return node;
  };

  R.append = function (node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(R.printable(child)));
    }
    return node;
  };

  /* Set a node's text only when it changed: no relayout for nothing. */
  R.setText = function (node, value) {
    const text = R.printable(value);
    if (node.textContent !== text) node.textContent = text;
  };

  R.clear = function (node) {
    node.replaceChildren();
    return node;
  };

  /* ---- formatting */

  R.DASH = "\u2014";

  R.bytes = function (n) {
    if (n === null || n === undefined || Number.isNaN(n)) return R.DASH;
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + " " + units[i];
  };

  R.duration = function (ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return R.DASH;
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + String(s % 60).padStart(2, "0") + "s";
    const h = Math.floor(m / 60);
    if (h < 48) return h + "h " + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  };

  R.parseTime = function (text) {
    if (typeof text !== "string") return NaN;
    return Date.parse(text);
  };

  /* "2026-12-07T21:16:10.224283Z" -> "21:16:10" (local time), with the date
   * when it is not today. */
  R.clock = function (text) {
    const t = R.parseTime(text);
    if (Number.isNaN(t)) return R.printable(text || R.DASH);
    const d = new Date(t);
    const now = new Date();
    const hms = d.toLocaleTimeString([], { hour12: false });
    if (d.toDateString() === now.toDateString()) return hms;
    return d.toISOString().slice(0, 10) + " " + hms;
  };

  const TIERS = ["low", "medium", "high", "critical"];
  R.tierLabel = function (tier) {
    if (tier === null || tier === undefined || tier < 0 || tier > 3) return R.DASH;
    return "T" + tier + " " + TIERS[tier];
  };
  R.tierClass = function (tier) {
    if (tier === null || tier === undefined || tier < 0 || tier > 3) return "tier tier-none";
    return "tier tier-" + tier;
  };

  /* A tier badge: colour from the class, the meaning in the text. */
  R.tierBadge = function (tier) {
    return R.el("span", { class: R.tierClass(tier), text: R.tierLabel(tier) });
  };

  R.sessionTier = function (entry) {
    if (!entry) return null;
    if (typeof entry.tier === "number") return entry.tier;
    if (typeof entry.risk_tier === "number") return entry.risk_tier;
    return null;
  };

  R.sessionState = function (entry) {
    if (!entry) return R.DASH;
    if (entry.alive) return entry.frozen ? "frozen" : "running";
    const status = entry.serve && entry.serve.exit_status;
    if (status !== null && status !== undefined) return "ended (" + status + ")";
    return "ended";
  };

  R.shortId = function (id) {
    return typeof id === "string" ? id.slice(0, 12) : R.printable(id);
  };

  /* Run fn at most once per animation frame, however often it is asked. */
  R.coalesce = function (fn) {
    let queued = false;
    return function () {
      if (queued) return;
      queued = true;
      requestAnimationFrame(function () {
        queued = false;
        fn();
      });
    };
  };
})();
