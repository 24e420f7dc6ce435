/* The web dashboard's side of the daemon's TCP listener: its pages and
 * static files (compiled in: serve/web_assets.h), login and logout, the
 * CSRF token of a cookie-holding page, and the security headers of every
 * answer. The pages themselves call the same /v1 API as everyone else,
 * under the same roles.
 *
 *   GET  /            the page (index.html) for a caller with a valid
 *                     token (cookie or header); else 303 to /login
 *   GET  /login       the login form (login.html)
 *   POST /login       token=...: a valid token becomes the reins_token
 *                     cookie (HttpOnly, Secure, SameSite=Strict, 12 h);
 *                     303 to / (or to /login?failed=1)
 *   POST /logout      with the CSRF token: the cookie is cleared
 *   GET  /static/NAME a file of src/serve/web/ */
#ifndef REINS_SERVE_WEB_H
#define REINS_SERVE_WEB_H

#include <stdbool.h>

#include "serve/serve_internal.h"

/* 32 bytes of HMAC as hex, and its NUL */
#define SERVE_WEB_CSRF_TEXT 65

/* Is `path` the dashboard's (not the API's /v1/...)? */
bool serve_web_path(const char *path);

/* Answer a dashboard path (TCP listener only). */
void serve_web_handle(const struct serve_request *request, struct serve_reply *reply);

/* The CSRF token that goes with an API token. */
void serve_web_csrf(const struct serve *serve, const char *token, char out[SERVE_WEB_CSRF_TEXT]);

/* Did the request come from a page of this daemon (Origin, Sec-Fetch-Site;
 * a client that sends neither is no browser)? */
bool serve_web_same_origin(const struct serve_request *request);

/* A cookie-authenticated request that changes something: is it the page's
 * own (same origin, and the CSRF token in X-CSRF-Token or a `csrf` form
 * field)? */
bool serve_web_csrf_ok(const struct serve_request *request);

/* A field of an x-www-form-urlencoded body (the login form's token, a
 * form's csrf) whose value needs no decoding: [A-Za-z0-9_-], 1 to size-1
 * bytes. A copy in `out`, or false (absent, empty, too long, or holding
 * anything else: such a value is no token). Bytes from the network. */
bool serve_web_form_field(const char *body, size_t length, const char *name, char *out,
                          size_t size);

/* Content-Security-Policy and the other headers, on every answer. */
struct MHD_Response;
void serve_web_headers(struct serve *serve, struct MHD_Response *response);

#endif
