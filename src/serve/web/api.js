/* reins dashboard: talking to the daemon.
 *
 * The page is authenticated by the reins_token cookie (HttpOnly: this
 * script never sees it). Every request that changes something carries the
 * CSRF token /v1/whoami gave this page in X-CSRF-Token; the daemon refuses
 * a cookie-authenticated POST without it (403). A 401 means the cookie is
 * gone or revoked: back to the login page. */
(function () {
  "use strict";
  const R = (window.Reins = window.Reins || {});

  R.me = null; /* /v1/whoami */

  class ApiError extends Error {
    constructor(status, body) {
      const message = body && typeof body.error === "string" ? body.error : "HTTP " + status;
      super(message);
      this.status = status;
      this.body = body;
    }
  }
  R.ApiError = ApiError;

  /* request("GET", "/v1/sessions") -> parsed JSON (or text); throws ApiError. */
  R.request = async function (method, path, body, options) {
    const headers = { Accept: "application/json" };
    /* referrerPolicy same-origin: under "no-referrer" a browser sends
     * "Origin: null" with a POST, and the daemon refuses a change whose
     * origin is not its own (index.html's meta says the same for forms) */
    const init = { method, headers, credentials: "same-origin", cache: "no-store",
                   referrerPolicy: "same-origin" };
    if (method !== "GET" && method !== "HEAD") {
      if (R.me && R.me.csrf) headers["X-CSRF-Token"] = R.me.csrf;
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    if (options && options.signal) init.signal = options.signal;
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.assign("/login");
      throw new ApiError(401, { error: "not logged in" });
    }
    const type = response.headers.get("Content-Type") || "";
    const payload = type.startsWith("application/json")
      ? await response.json().catch(() => null)
      : await response.text();
    if (!response.ok) throw new ApiError(response.status, payload);
    return payload;
  };

  R.get = (path, options) => R.request("GET", path, undefined, options);
  R.post = (path, body) => R.request("POST", path, body === undefined ? {} : body);

  R.sessionPath = (id, tail) => "/v1/sessions/" + encodeURIComponent(id) + (tail || "");

  R.loadWhoami = async function () {
    R.me = await R.get("/v1/whoami");
    return R.me;
  };

  /* Rights and actions are named read-audit (the daemon) or read_audit
   * (the plan it was built from): either spelling counts. */
  function spellings(name) {
    return [name, name.replace(/_/g, "-"), name.replace(/-/g, "_")];
  }

  R.can = function (right) {
    if (!R.me || !Array.isArray(R.me.rights)) return false;
    return spellings(right).some((n) => R.me.rights.includes(n));
  };

  /* What the caller may do on one session: the entry's own "actions" when
   * the daemon gives them (policy and agent limits applied), else the
   * role's rights at all. */
  R.may = function (entry, action) {
    if (entry && entry.actions && typeof entry.actions === "object")
      return spellings(action).some((n) => entry.actions[n] === true);
    return R.can(action);
  };

  /* A server-sent event stream of parsed messages. onMessage(data, id) for
   * each; the browser reconnects by itself (sending Last-Event-ID), so a
   * daemon restart loses nothing. Returns close(). */
  R.stream = function (path, onMessage, onState) {
    let source = new EventSource(path, { withCredentials: true });
    source.onmessage = function (event) {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      onMessage(data, event.lastEventId);
    };
    source.onopen = () => onState && onState("live");
    source.onerror = () => onState && onState(source.readyState === 2 ? "closed" : "reconnecting");
    return function close() {
      if (source) source.close();
      source = null;
    };
  };

  /* Poll fn every ms while the page is shown; returns stop(). A slow answer
   * never stacks: the next call waits for the previous one. */
  R.poll = function (fn, ms) {
    let stopped = false;
    let timer = null;
    let running = false;
    let again = false; /* now() was asked while a call ran: one more at once */
    async function tick() {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await fn();
      } catch (e) {
        /* shown by fn's own error handling */
      } finally {
        running = false;
        if (!stopped) {
          clearTimeout(timer);
          if (again) {
            again = false;
            timer = setTimeout(tick, 0);
          } else {
            timer = setTimeout(tick, ms);
          }
        }
      }
    }
    tick();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
      now() {
        clearTimeout(timer);
        tick();
      },
    };
  };

  /* A throttle for event-driven refreshes: at most one call in flight and
   * at most one per `ms`, and the last request is never lost. */
  R.throttle = function (fn, ms) {
    let last = 0;
    let timer = null;
    let running = false;
    let again = false;
    async function run() {
      timer = null;
      if (running) {
        again = true;
        return;
      }
      running = true;
      last = Date.now();
      try {
        await fn();
      } catch (e) {
        /* the caller shows its own errors */
      } finally {
        running = false;
        if (again) {
          again = false;
          schedule();
        }
      }
    }
    function schedule() {
      if (timer) return;
      const wait = Math.max(0, last + ms - Date.now());
      timer = setTimeout(run, wait);
    }
    schedule.cancel = function () {
      clearTimeout(timer);
      timer = null;
    };
    return schedule;
  };
})();
