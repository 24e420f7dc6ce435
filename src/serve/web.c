/* The dashboard's side of the TCP listener (serve/web.h): its files, the
 * login that turns an API token into a cookie, the CSRF token, and the
 * headers that keep a browser strict.
 *
 * The cookie holds the API token itself (HttpOnly: no script of the page
 * can read it), so the token store stays the only authority: a revoked
 * token stops working at once, in the browser as on the command line, and
 * a daemon restart logs no one out. What a cookie adds is ambient
 * authority -- a browser sends it with requests another site makes it
 * send -- and three things take that away: SameSite=Strict (no cookie on a
 * request another site starts), an Origin check on every state-changing
 * request, and a CSRF token that a script of the page must put in a header
 * no form can set: HMAC-SHA256 of the token under a key drawn at each
 * daemon start (a page asks /v1/whoami for it). */
#include "serve/web.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/tokens.h"
#include "serve/web_assets.h"
#include "util/cleanup.h"

#define WEB_COOKIE_AGE  (12 * 3600) /* seconds a login lasts in the browser */
#define WEB_STATIC      "/static/"
#define WEB_CSRF_HEADER "X-CSRF-Token"

/* One policy for every answer: scripts and styles only from the daemon's
 * own files (none inline), nothing framed, nothing sent elsewhere, and
 * Trusted Types with no policy, so that a string assigned to innerHTML,
 * outerHTML or document.write throws: whatever the agent wrote can only
 * ever reach the page as text. */
static const char web_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; require-trusted-types-for 'script'; "
    "trusted-types 'none'";

void serve_web_headers(struct serve *serve, struct MHD_Response *response)
{
        static const char *const headers[][2] = {
            {"Content-Security-Policy", web_csp},
            {"X-Content-Type-Options", "nosniff"},
            /* not no-referrer: with it a browser sends "Origin: null" on
             * the page's own form posts, and the origin check needs it */
            {"Referrer-Policy", "same-origin"},
            {"X-Frame-Options", "DENY"},
            {"Cross-Origin-Opener-Policy", "same-origin"},
            {"Cross-Origin-Resource-Policy", "same-origin"},
            {"Strict-Transport-Security", "max-age=31536000"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(headers); i++)
                serve->mhd.add_response_header(response, headers[i][0], headers[i][1]);
}

bool serve_web_path(const char *path)
{
        return strncmp(path, "/v1/", 4) != 0 && strcmp(path, "/v1") != 0;
}

void serve_web_csrf(const struct serve *serve, const char *token, char out[SERVE_WEB_CSRF_TEXT])
{
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state state;
        crypto_auth_hmacsha256_init(&state, serve->csrf_key, sizeof(serve->csrf_key));
        crypto_auth_hmacsha256_update(&state, (const unsigned char *)token, strlen(token));
        crypto_auth_hmacsha256_final(&state, mac);
        sodium_bin2hex(out, SERVE_WEB_CSRF_TEXT, mac, sizeof(mac));
}

static const char *web_header(const struct serve_request *request, const char *name)
{
        return request->serve->mhd.lookup_connection_value(request->connection, MHD_HEADER_KIND,
                                                           name);
}

bool serve_web_same_origin(const struct serve_request *request)
{
        /* a browser names the page that started a request (Origin) and
         * whether it was another site's (Sec-Fetch-Site); a client that is
         * no browser sends neither and holds no cookie of ours anyway */
        const char *site = web_header(request, "Sec-Fetch-Site");
        if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
                return false;
        const char *origin = web_header(request, "Origin");
        if (!origin)
                return true;
        /* a page whose referrer policy is no-referrer posts its forms
         * with "Origin: null"; the browser's Sec-Fetch-Site still says
         * whose page it was (an opaque origin elsewhere is "cross-site") */
        if (strcmp(origin, "null") == 0)
                return site && strcmp(site, "same-origin") == 0;
        const char *host = web_header(request, "Host");
        if (!host || strncmp(origin, "https://", 8) != 0)
                return false;
        return strcmp(origin + 8, host) == 0;
}

bool serve_web_form_field(const char *body, size_t length, const char *name, char *out, size_t size)
{
        size_t name_length = strlen(name);
        const char *p = body, *end = body + length;
        while (p < end) {
                const char *amp = memchr(p, '&', (size_t)(end - p));
                const char *stop = amp ? amp : end;
                if ((size_t)(stop - p) > name_length && strncmp(p, name, name_length) == 0 &&
                    p[name_length] == '=') {
                        const char *value = p + name_length + 1;
                        size_t n = (size_t)(stop - value);
                        if (n == 0 || n >= size)
                                return false;
                        for (size_t i = 0; i < n; i++) {
                                char c = value[i];
                                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                      (c >= 'A' && c <= 'Z') || c == '_' || c == '-'))
                                        return false;
                        }
                        memcpy(out, value, n);
                        out[n] = '\0';
                        return true;
                }
                p = stop + 1;
        }
        return false;
}

bool serve_web_csrf_ok(const struct serve_request *request)
{
        if (!request->csrf[0] || !serve_web_same_origin(request))
                return false;
        const char *given = web_header(request, WEB_CSRF_HEADER);
        char field[SERVE_WEB_CSRF_TEXT];
        if (!given && request->body &&
            serve_web_form_field(request->body, request->body_length, "csrf", field, sizeof(field)))
                given = field;
        return given && strlen(given) == SERVE_WEB_CSRF_TEXT - 1 &&
               sodium_memcmp(given, request->csrf, SERVE_WEB_CSRF_TEXT - 1) == 0;
}

static const struct web_asset *web_asset_find(const char *name)
{
        for (size_t i = 0; i < web_asset_count; i++)
                if (strcmp(web_assets[i].name, name) == 0)
                        return &web_assets[i];
        return NULL;
}

static const char *web_content_type(const char *name)
{
        static const char *const types[][2] = {
            {".html", "text/html; charset=utf-8"},
            {".js", "text/javascript; charset=utf-8"},
            {".css", "text/css; charset=utf-8"},
            {".svg", "image/svg+xml"},
            {".png", "image/png"},
            {".ico", "image/x-icon"},
            {".json", "application/json"},
            {".txt", "text/plain; charset=utf-8"},
        };
        const char *dot = strrchr(name, '.');
        for (size_t i = 0; dot && i < ARRAY_SIZE(types); i++)
                if (strcmp(dot, types[i][0]) == 0)
                        return types[i][1];
        return "application/octet-stream";
}

static void web_send_asset(struct serve_reply *reply, const char *name)
{
        const struct web_asset *asset = web_asset_find(name);
        if (!asset) {
                serve_reply_error(reply, 404, "no such file");
                return;
        }
        reply->status = 200;
        reply->asset = asset->bytes;
        reply->asset_size = asset->size;
        reply->content_type = web_content_type(name);
}

static void web_redirect(struct serve_reply *reply, const char *location)
{
        reply->status = 303;
        reply->location = location;
        free(reply->text);
        reply->text = strdup("");
        reply->content_type = "text/plain; charset=utf-8";
}

static void web_login(const struct serve_request *request, struct serve_reply *reply)
{
        struct serve *serve = request->serve;
        if (!serve_web_same_origin(request)) {
                /* another site posting a token of its own would log this
                 * browser in as someone else (login CSRF) */
                serve_refuse(request, reply, SERVE_RIGHT_READ_SESSIONS, NULL, NULL,
                             "a login form from another site");
                return;
        }
        char token[SERVE_TOKEN_TEXT + 1];
        struct serve_grant grant = {0};
        char name[SERVE_TOKEN_NAME + 1];
        bool valid = request->body &&
                     serve_web_form_field(request->body, request->body_length, "token", token,
                                          sizeof(token)) &&
                     serve_tokens_lookup(serve->state_dir, token, &grant, name) == 0;
        strv_free(&grant.policies);
        strv_free(&grant.agents);
        if (!valid) {
                serve_trail_emit(&serve->trail, "serve.login",
                                 json_pack("{s:b, s:s}", "ok", 0, "reason", "no such token"));
                web_redirect(reply, "/login?failed=1");
                sodium_memzero(token, sizeof(token));
                return;
        }
        serve_trail_emit(&serve->trail, "serve.login",
                         json_pack("{s:b, s:s}", "ok", 1, "token", name));
        if (asprintf(&reply->cookie,
                     "reins_token=%s; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=%d", token,
                     WEB_COOKIE_AGE) < 0)
                reply->cookie = NULL;
        sodium_memzero(token, sizeof(token));
        web_redirect(reply, "/");
}

static void web_logout(const struct serve_request *request, struct serve_reply *reply)
{
        if (!request->token || !serve_web_csrf_ok(request)) {
                serve_refuse(request, reply, SERVE_RIGHT_READ_SESSIONS, NULL, NULL,
                             "a logout without the page's CSRF token");
                return;
        }
        serve_trail_emit(&request->serve->trail, "serve.logout",
                         json_pack("{s:s}", "token", request->token));
        reply->cookie =
            strdup("reins_token=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
        web_redirect(reply, "/login");
}

void serve_web_handle(const struct serve_request *request, struct serve_reply *reply)
{
        const char *path = request->path;
        bool get = strcmp(request->method, "GET") == 0 || strcmp(request->method, "HEAD") == 0;
        bool post = strcmp(request->method, "POST") == 0;
        if (get && strncmp(path, WEB_STATIC, strlen(WEB_STATIC)) == 0) {
                web_send_asset(reply, path + strlen(WEB_STATIC));
        } else if (get && strcmp(path, "/favicon.ico") == 0) {
                web_send_asset(reply, "favicon.ico");
        } else if (get && strcmp(path, "/login") == 0) {
                web_send_asset(reply, "login.html");
        } else if (post && strcmp(path, "/login") == 0) {
                web_login(request, reply);
        } else if (post && strcmp(path, "/logout") == 0) {
                web_logout(request, reply);
        } else if (get && strcmp(path, "/") == 0) {
                /* the page itself, for a caller the cookie (or a header)
                 * names; everyone else is shown the login */
                if (request->token)
                        web_send_asset(reply, "index.html");
                else
                        web_redirect(reply, "/login");
        } else if (strcmp(path, "/") == 0 || strcmp(path, "/login") == 0 ||
                   strcmp(path, "/logout") == 0) {
                serve_reply_error(reply, 405, "method %s not allowed here", request->method);
        } else {
                serve_reply_error(reply, 404, "no such page");
        }
}
