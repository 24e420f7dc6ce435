/* reins dashboard: start-up, navigation bar and the hash router.
 *
 * Routes: #/fleet, #/session/ID[/rec/SEQ], #/approvals, #/review/ID,
 * #/audit[?session=ID]. Each page module (fleet.js, session.js, ...)
 * registers Reins.pages.NAME = {title, mount(main, args) -> unmount}. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});
  R.pages = R.pages || {};

  let current = null; /* {name, unmount} */
  let badgePoll = null;

  function parseRoute() {
    const hash = window.location.hash || "";
    if (!hash.startsWith("#/")) return null; /* #main and other in-page anchors */
    const [pathPart, queryPart] = hash.slice(2).split("?");
    const parts = pathPart.split("/").map(decodeURIComponent);
    const query = new URLSearchParams(queryPart || "");
    return { name: parts[0] || "fleet", parts: parts.slice(1), query };
  }

  function setActiveNav(name) {
    for (const link of document.querySelectorAll("nav.main-nav a")) {
      const active = link.dataset.page === name ||
                     (name === "session" && link.dataset.page === "fleet") ||
                     (name === "review" && link.dataset.page === "fleet");
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function route() {
    const target = parseRoute();
    if (!target) return;
    const page = R.pages[target.name];
    if (!page) {
      window.location.replace("#/fleet");
      return;
    }
    if (current && current.unmount) current.unmount();
    const main = document.getElementById("main");
    R.clear(main);
    document.title = page.title + " · reins";
    setActiveNav(target.name);
    current = { name: target.name, unmount: page.mount(main, target) };
  }

  /* The approvals badge in the navigation bar, on every page (aria-live:
   * a screen reader hears a new request arrive). */
  function startBadge() {
    const badge = document.getElementById("approval-count");
    badgePoll = R.poll(async function () {
      if (!R.can("approve") && !R.can("read_sessions")) return;
      const list = await R.get("/v1/approvals");
      R.setText(badge, Array.isArray(list) ? String(list.length) : R.DASH);
      badge.classList.toggle("waiting", Array.isArray(list) && list.length > 0);
    }, 2000);
  }
  R.refreshBadge = () => badgePoll && badgePoll.now();

  async function logout() {
    try {
      await R.request("POST", "/logout");
    } catch (e) {
      /* the cookie is cleared or was gone: either way, log in again */
    }
    window.location.assign("/login");
  }

  /* The skip link moves the focus to the page's content without touching
   * the address (a "#main" there would not be a route). */
  function skipToContent(event) {
    event.preventDefault();
    document.getElementById("main").focus();
  }

  async function boot() {
    document.getElementById("logout").addEventListener("click", logout);
    document.querySelector(".skip-link").addEventListener("click", skipToContent);
    const who = document.getElementById("whoami");
    try {
      await R.loadWhoami();
    } catch (e) {
      R.setText(who, "cannot reach the daemon: " + e.message);
      return;
    }
    const name = R.me.token ? R.me.token : "uid " + R.me.uid;
    R.clear(who);
    R.append(who, [R.el("span", { class: "who-name", text: name }), " ",
                   R.el("span", { class: "role role-" + R.me.role, text: R.me.role })]);
    window.addEventListener("hashchange", route);
    if (!parseRoute()) window.location.replace("#/fleet");
    else route();
    startBadge();
    document.body.classList.add("ready");
  }

  document.addEventListener("DOMContentLoaded", boot);
})();
