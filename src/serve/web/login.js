/* reins dashboard: the login page. Its only script: it shows the message
 * when the daemon sent the browser back with ?failed=1, and puts the focus
 * where the token goes. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const params = new URLSearchParams(window.location.search);
    const message = document.getElementById("login-message");
    if (params.get("failed") === "1") message.hidden = false;
    const token = document.getElementById("token");
    if (token) token.focus();
  });
})();
