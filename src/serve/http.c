/* The HTTP side of the daemon: libmicrohttpd glue, the route table, the
 * caller's identity, bodies, replies.
 *
 * Two listeners share the routes: the unix socket, where the caller is the
 * uid the kernel reports (SO_PEERCRED), and the optional HTTPS listener,
 * where it is the API token presented (serve/tokens.h).
 *
 * libmicrohttpd runs one thread per connection behind its listening thread:
 * a slow client (a body trickling in, a reply not read) holds only its own
 * thread, and a handler that waits for a session to start holds only its
 * caller. Connections idle past SERVE_CONNECTION_TIMEOUT are closed
 * (slowloris), and at most SERVE_CONNECTION_LIMIT are open at once. */
#include "serve/serve_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/api_summary.h"
#include "serve/tokens.h"
#include "serve/web.h"
#include "util/cleanup.h"

#define SERVE_CONNECTION_TIMEOUT 10 /* seconds */
/* An event stream is quiet until something happens: its keepalive comment
 * (every 15 s, serve/api_events.c) must come well within this, or a stream
 * of an idle session would be cut at its first keepalive. A reader that
 * stops reading is still let go after it. */
#define SERVE_STREAM_TIMEOUT 60 /* seconds */
/* Event streams hold a connection each and a start holds one until its
 * session registers: 100 subscribers and 200 starts at once must all be
 * served (issue 15.7). Each connection is a thread with a small stack. */
#define SERVE_CONNECTION_LIMIT 1024
#define SERVE_THREAD_STACK     (256 * 1024)

typedef void (*serve_handler)(const struct serve_request *request, struct serve_reply *reply);

/* The API (docs/openapi.yaml describes the same list; a test checks both
 * ways). {id}: one path segment. `right`: checked before the handler, for
 * the role as a whole; handlers of one session check again with its policy. */
static const struct route {
        const char *method;
        const char *pattern;
        serve_handler handler;
        enum serve_right right;
} routes[] = {
    {"GET", "/v1/sessions", serve_api_sessions_list, SERVE_RIGHT_READ_SESSIONS},
    {"POST", "/v1/sessions", serve_api_sessions_create, SERVE_RIGHT_START},
    {"GET", "/v1/sessions/{id}", serve_api_session_get, SERVE_RIGHT_READ_SESSIONS},
    {"GET", "/v1/sessions/{id}/output", serve_api_session_output, SERVE_RIGHT_READ_OUTPUT},
    {"GET", "/v1/sessions/{id}/summary", serve_api_session_summary, SERVE_RIGHT_READ_AUDIT},
    {"GET", "/v1/activity", serve_api_activity, SERVE_RIGHT_READ_SESSIONS},
    {"POST", "/v1/sessions/{id}/stop", serve_api_session_stop, SERVE_RIGHT_CONTROL},
    {"POST", "/v1/sessions/{id}/freeze", serve_api_session_freeze, SERVE_RIGHT_CONTROL},
    {"POST", "/v1/sessions/{id}/thaw", serve_api_session_thaw, SERVE_RIGHT_CONTROL},
    {"GET", "/v1/sessions/{id}/approvals", serve_api_session_approvals, SERVE_RIGHT_APPROVE},
    {"POST", "/v1/sessions/{id}/approvals", serve_api_session_answer, SERVE_RIGHT_APPROVE},
    {"GET", "/v1/approvals", serve_api_approvals_list, SERVE_RIGHT_APPROVE},
    {"GET", "/v1/sessions/{id}/audit", serve_api_session_audit, SERVE_RIGHT_READ_AUDIT},
    {"GET", "/v1/sessions/{id}/events", serve_api_session_events, SERVE_RIGHT_READ_AUDIT},
    {"GET", "/v1/sessions/{id}/audit/verify", serve_api_session_audit_verify,
     SERVE_RIGHT_READ_AUDIT},
    {"GET", "/v1/sessions/{id}/audit/export", serve_api_session_audit_export,
     SERVE_RIGHT_READ_AUDIT},
    {"GET", "/v1/events", serve_api_events, SERVE_RIGHT_READ_AUDIT},
    {"GET", "/v1/audit", serve_api_audit_query, SERVE_RIGHT_READ_AUDIT},
    {"GET", "/v1/sessions/{id}/diff", serve_api_session_diff, SERVE_RIGHT_READ_DIFF},
    {"POST", "/v1/sessions/{id}/apply", serve_api_session_apply, SERVE_RIGHT_CONTROL},
    {"POST", "/v1/sessions/{id}/discard", serve_api_session_discard, SERVE_RIGHT_CONTROL},
    {"GET", "/v1/policies", serve_api_policies, SERVE_RIGHT_READ_POLICIES},
    {"GET", "/v1/metrics", serve_api_metrics, SERVE_RIGHT_READ_METRICS},
    {"GET", "/v1/whoami", serve_api_whoami, SERVE_RIGHT_READ_POLICIES},
};

/* One connection's request while its body arrives. */
struct http_call {
        struct ucred peer;
        bool peer_known;
        /* TCP: the token presented, found in the store (or not) */
        bool token_known;
        struct serve_grant token_grant;
        char token_name[SERVE_TOKEN_NAME + 1];
        /* the token came in the dashboard's cookie: its CSRF token */
        char csrf[SERVE_WEB_CSRF_TEXT];
        bool too_large;
        char *body;
        size_t length;
};

void serve_reply_json(struct serve_reply *reply, unsigned status, json_t *json)
{
        json_decref(reply->json);
        reply->status = status;
        reply->json = json;
}

void serve_reply_error(struct serve_reply *reply, unsigned status, const char *fmt, ...)
{
        char message[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        /* a message may quote what a caller sent, cut at a byte count: when
         * that is not valid UTF-8 the message gives way to a fixed one, so
         * "error" is always a JSON string */
        json_t *text = json_string(message);
        if (!text)
                text = json_string("(an error whose text is not UTF-8)");
        serve_reply_json(reply, status, json_pack("{s:o}", "error", text));
}

const char *serve_request_arg(const struct serve_request *request, const char *name)
{
        if (!request->connection)
                return NULL;
        return request->serve->mhd.lookup_connection_value(request->connection,
                                                           MHD_GET_ARGUMENT_KIND, name);
}

bool serve_request_allows_agent(const struct serve_request *request, enum serve_right right,
                                const char *policy, const char *agent)
{
        const char *why;
        return serve_grant_allows(request->grant, request->no_grant_why, right, policy, agent,
                                  &why);
}

bool serve_request_allows(const struct serve_request *request, enum serve_right right,
                          const char *policy)
{
        return serve_request_allows_agent(request, right, policy, NULL);
}

/* A refusal, in the daemon's trail before the answer goes out. */
static void http_audit_refusal(const struct serve_request *request, const char *right,
                               const char *policy, const char *agent, const char *why)
{
        struct serve *serve = request->serve;
        atomic_fetch_add(&serve->refused, 1);
        json_t *fields =
            json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "method", request->method, "path",
                      request->path, "right", right, "role",
                      serve_role_name(request->grant ? request->grant->role : SERVE_ROLE_NONE),
                      "policy", policy, "reason", why);
        if (fields && agent && agent[0])
                json_object_set_new(fields, "agent", json_string(agent));
        if (fields && request->token)
                json_object_set_new(fields, "token", json_string(request->token));
        if (fields && request->uid != (uid_t)-1)
                json_object_set_new(fields, "uid", json_integer(request->uid));
        if (fields && request->pid > 0)
                json_object_set_new(fields, "pid", json_integer(request->pid));
        serve_trail_emit(&serve->trail, "serve.refused", fields);
}

void serve_refuse(const struct serve_request *request, struct serve_reply *reply,
                  enum serve_right right, const char *policy, const char *agent, const char *why)
{
        http_audit_refusal(request, serve_right_name(right), policy, agent, why);
        serve_reply_error(reply, 403, "refused: %s", why);
}

bool serve_check_agent(const struct serve_request *request, struct serve_reply *reply,
                       enum serve_right right, const char *policy, const char *agent)
{
        const char *why = NULL;
        if (serve_grant_allows(request->grant, request->no_grant_why, right, policy, agent, &why))
                return true;
        serve_refuse(request, reply, right, policy, agent, why);
        return false;
}

bool serve_check(const struct serve_request *request, struct serve_reply *reply,
                 enum serve_right right, const char *policy)
{
        return serve_check_agent(request, reply, right, policy, NULL);
}

json_t *serve_body_object(const struct serve_request *request, struct serve_reply *reply,
                          const char *const *allowed)
{
        if (request->body_length == 0)
                return json_object();
        json_error_t jerr;
        /* duplicate keys are refused: which one wins is how two parsers
         * come to disagree about one request */
        json_t *body =
            json_loadb(request->body, request->body_length, JSON_REJECT_DUPLICATES, &jerr);
        if (!body) {
                serve_reply_error(reply, 400, "malformed JSON at line %d, column %d: %s", jerr.line,
                                  jerr.column, jerr.text);
                return NULL;
        }
        if (!json_is_object(body)) {
                json_decref(body);
                serve_reply_error(reply, 400, "the body must be a JSON object");
                return NULL;
        }
        const char *key;
        json_t *value;
        json_object_foreach(body, key, value)
        {
                bool known = false;
                for (size_t i = 0; allowed && allowed[i]; i++)
                        known = known || strcmp(key, allowed[i]) == 0;
                if (!known) {
                        serve_reply_error(reply, 400, "unknown field \"%.64s\"", key);
                        json_decref(body);
                        return NULL;
                }
        }
        return body;
}

/* Does `path` match `pattern`? {id} takes one non-empty segment (its span
 * goes to *id, *id_length). */
static bool route_match(const char *pattern, const char *path, const char **id, size_t *id_length)
{
        while (*pattern && *path) {
                if (strncmp(pattern, "{id}", 4) == 0) {
                        size_t n = strcspn(path, "/");
                        if (n == 0)
                                return false;
                        *id = path;
                        *id_length = n;
                        path += n;
                        pattern += 4;
                        continue;
                }
                if (*pattern++ != *path++)
                        return false;
        }
        return *pattern == '\0' && *path == '\0';
}

/* A session id as it appears in a path: what the registry accepts. */
static bool route_valid_id(const char *id, size_t length)
{
        if (length == 0 || length > 64)
                return false;
        for (size_t i = 0; i < length; i++) {
                char c = id[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '-' || c == '_'))
                        return false;
        }
        return true;
}

static void http_route(struct serve_request *request, struct serve_reply *reply)
{
        char allow[64] = "";
        char id[65];
        for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
                const char *span = NULL;
                size_t length = 0;
                if (!route_match(routes[i].pattern, request->path, &span, &length))
                        continue;
                if (strcmp(routes[i].method, request->method) != 0) {
                        size_t used = strlen(allow);
                        snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "",
                                 routes[i].method);
                        continue;
                }
                if (span) {
                        if (!route_valid_id(span, length)) {
                                serve_reply_error(reply, 404, "no such session");
                                return;
                        }
                        memcpy(id, span, length);
                        id[length] = '\0';
                        request->id = id;
                }
                if (serve_check(request, reply, routes[i].right, NULL))
                        routes[i].handler(request, reply);
                request->id = NULL;
                return;
        }
        if (allow[0])
                serve_reply_error(reply, 405, "method %s not allowed here (allowed: %s)",
                                  request->method, allow);
        else
                serve_reply_error(reply, 404, "no such route");
}

static enum MHD_Result http_send_stream(struct serve *serve, struct MHD_Connection *connection,
                                        struct serve_reply *reply)
{
        struct MHD_Response *response = serve->mhd.create_response_from_callback(
            MHD_SIZE_UNKNOWN, 4096, reply->stream_read, reply->stream, reply->stream_free);
        if (!response) {
                reply->stream_free(reply->stream);
                return MHD_NO;
        }
        serve->mhd.add_response_header(response, "Content-Type", reply->content_type);
        serve->mhd.add_response_header(response, "Cache-Control", "no-store");
        serve_web_headers(serve, response);
        serve->mhd.set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT,
                                         (unsigned)SERVE_STREAM_TIMEOUT);
        enum MHD_Result r = serve->mhd.queue_response(connection, reply->status, response);
        serve->mhd.destroy_response(response);
        return r;
}

/* A dashboard file: the bytes compiled into the binary, never copied. */
static enum MHD_Result http_send_asset(struct serve *serve, struct MHD_Connection *connection,
                                       struct serve_reply *reply)
{
        struct MHD_Response *response = serve->mhd.create_response_from_buffer(
            reply->asset_size, (void *)reply->asset, MHD_RESPMEM_PERSISTENT);
        if (!response)
                return MHD_NO;
        serve->mhd.add_response_header(response, "Content-Type", reply->content_type);
        serve->mhd.add_response_header(response, "Cache-Control", "no-cache");
        serve_web_headers(serve, response);
        enum MHD_Result r = serve->mhd.queue_response(connection, reply->status, response);
        serve->mhd.destroy_response(response);
        return r;
}

static enum MHD_Result http_send(struct serve *serve, struct MHD_Connection *connection,
                                 struct serve_reply *reply)
{
        if (reply->stream_read)
                return http_send_stream(serve, connection, reply);
        if (reply->asset)
                return http_send_asset(serve, connection, reply);
        char *text = reply->text;
        const char *type = reply->content_type ? reply->content_type : "text/plain; charset=utf-8";
        if (!text) {
                text = reply->json ? json_dumps(reply->json, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                if (!text) {
                        reply->status = 500;
                        text = strdup("{\"error\":\"out of memory\"}");
                }
                if (text) {
                        /* a newline after the document, as curl users expect */
                        size_t n = strlen(text);
                        char *lined = realloc(text, n + 2);
                        if (lined) {
                                lined[n] = '\n';
                                lined[n + 1] = '\0';
                                text = lined;
                        }
                }
                type = "application/json";
        }
        reply->text = NULL;
        if (!text)
                return MHD_NO;
        struct MHD_Response *response =
            serve->mhd.create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!response) {
                free(text);
                return MHD_NO;
        }
        serve->mhd.add_response_header(response, "Content-Type", type);
        serve->mhd.add_response_header(response, "Cache-Control", "no-store");
        serve_web_headers(serve, response);
        if (reply->status == 401)
                serve->mhd.add_response_header(response, "WWW-Authenticate", "Bearer");
        if (reply->location)
                serve->mhd.add_response_header(response, "Location", reply->location);
        if (reply->cookie)
                serve->mhd.add_response_header(response, "Set-Cookie", reply->cookie);
        enum MHD_Result r = serve->mhd.queue_response(connection, reply->status, response);
        serve->mhd.destroy_response(response);
        return r;
}

/* The first call for a request: who is calling, and is the announced body
 * already too large? */
static struct http_call *http_call_new(struct serve_listener *listener,
                                       struct MHD_Connection *connection)
{
        struct serve *serve = listener->serve;
        struct http_call *call = calloc(1, sizeof(*call));
        if (!call)
                return NULL;
        if (listener->tcp) {
                /* TCP: whoever holds a token; the header is read once, here */
                const char *auth = serve->mhd.lookup_connection_value(connection, MHD_HEADER_KIND,
                                                                      "Authorization");
                const char *bearer = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
                /* or the dashboard's cookie (serve/web.h), when no header */
                const char *cookie = auth ? NULL
                                          : serve->mhd.lookup_connection_value(
                                                connection, MHD_COOKIE_KIND, "reins_token");
                call->token_known = serve_tokens_lookup(serve->state_dir, bearer ? bearer : cookie,
                                                        &call->token_grant, call->token_name) == 0;
                if (call->token_known && cookie)
                        serve_web_csrf(serve, cookie, call->csrf);
        } else {
                const union MHD_ConnectionInfo *info =
                    serve->mhd.get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
                socklen_t size = sizeof(call->peer);
                /* the peer's credentials as the kernel recorded them at
                 * connect(): nothing the request says changes who is calling */
                call->peer_known = info && getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED,
                                                      &call->peer, &size) == 0;
        }
        const char *declared =
            serve->mhd.lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
        if (declared && strtoull(declared, NULL, 10) > SERVE_BODY_MAX)
                call->too_large = true;
        return call;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *connection, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
        (void)version;
        struct serve_listener *listener = cls;
        struct serve *serve = listener->serve;
        struct http_call *call = *con_cls;
        if (!call) {
                call = http_call_new(listener, connection);
                if (!call)
                        return MHD_NO;
                *con_cls = call;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                /* past the cap the rest is read and dropped: the 413 goes out
                 * once the client has finished sending */
                if (call->too_large || call->length + n > SERVE_BODY_MAX) {
                        call->too_large = true;
                        free(call->body);
                        call->body = NULL;
                        call->length = 0;
                        return MHD_YES;
                }
                char *bigger = realloc(call->body, call->length + n + 1);
                if (!bigger)
                        return MHD_NO;
                memcpy(bigger + call->length, upload_data, n);
                call->body = bigger;
                call->length += n;
                call->body[call->length] = '\0';
                return MHD_YES;
        }
        atomic_fetch_add(&serve->requests, 1);
        struct serve_reply reply = {0};
        struct serve_request request = {
            .serve = serve,
            .method = method,
            .path = url,
            .uid = (uid_t)-1,
            .gid = (gid_t)-1,
            .body = call->body,
            .body_length = call->length,
            .connection = connection,
        };
        if (listener->tcp) {
                memcpy(request.csrf, call->csrf, sizeof(request.csrf));
                request.token = call->token_known ? call->token_name : NULL;
                request.grant = call->token_known ? &call->token_grant : NULL;
                request.uid = call->token_known ? call->token_grant.uid : (uid_t)-1;
                request.no_grant_why = "no valid API token";
        } else if (call->peer_known) {
                request.uid = call->peer.uid;
                request.gid = call->peer.gid;
                request.pid = call->peer.pid;
                request.grant = serve_roles_lookup(&serve->roles, call->peer.uid);
                request.no_grant_why = serve_roles_no_grant(&serve->roles);
        }
        bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (!listener->tcp && !call->peer_known) {
                serve_reply_error(&reply, 500, "cannot tell who is calling (SO_PEERCRED)");
        } else if (listener->tcp && call->too_large) {
                serve_reply_error(&reply, 413, "the body is larger than %d bytes", SERVE_BODY_MAX);
        } else if (listener->tcp && serve_web_path(url)) {
                /* the dashboard: its login needs no token yet */
                serve_web_handle(&request, &reply);
        } else if (listener->tcp && !call->token_known) {
                /* no token, or not one of ours: who it is is unknown, so no
                 * route is looked at; recorded all the same */
                http_audit_refusal(&request, "any", NULL, NULL, request.no_grant_why);
                serve_reply_error(&reply, 401, "an API token is needed (Authorization: Bearer)");
        } else if (listener->tcp && call->csrf[0] && !safe && !serve_web_csrf_ok(&request)) {
                /* the cookie is sent by the browser whoever made it send
                 * the request: only the page's own script has the token */
                serve_refuse(&request, &reply, SERVE_RIGHT_CONTROL, NULL, NULL,
                             "a request with the dashboard's cookie but without its CSRF token "
                             "(X-CSRF-Token) or from another origin");
        } else if (call->too_large) {
                serve_reply_error(&reply, 413, "the body is larger than %d bytes", SERVE_BODY_MAX);
        } else {
                http_route(&request, &reply);
        }
        enum MHD_Result r = http_send(serve, connection, &reply);
        json_decref(reply.json);
        free(reply.text);
        free(reply.cookie);
        return r;
}

static void http_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                           enum MHD_RequestTerminationCode code)
{
        (void)cls;
        (void)connection;
        (void)code;
        struct http_call *call = *con_cls;
        if (call) {
                strv_free(&call->token_grant.policies);
                strv_free(&call->token_grant.agents);
                free(call->body);
                free(call);
        }
        *con_cls = NULL;
}

/* libmicrohttpd's own messages (bad requests it answers itself) go nowhere:
 * the daemon's stderr is for its own errors. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
        (void)cls;
        (void)fmt;
        (void)ap;
}

int serve_http_start(struct serve_listener *listener, int fd, const char *cert_pem,
                     const char *key_pem, struct reins_error *err)
{
        struct serve *serve = listener->serve;
        unsigned flags =
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
        if (cert_pem)
                flags |= MHD_USE_TLS;
        /* the TLS options come last: with no certificate they end the list */
        listener->daemon = serve->mhd.start_daemon(
            flags, 0, NULL, NULL, http_access, listener, MHD_OPTION_LISTEN_SOCKET, fd,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_CONNECTION_TIMEOUT,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_CONNECTION_LIMIT,
            MHD_OPTION_THREAD_STACK_SIZE, (size_t)SERVE_THREAD_STACK, MHD_OPTION_NOTIFY_COMPLETED,
            http_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
            cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert_pem,
            MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_END);
        if (!listener->daemon) {
                close(fd);
                return reins_error_set(err, EIO, "libmicrohttpd could not start on %s%s",
                                       listener->tcp ? serve->listen_address : serve->socket_path,
                                       cert_pem ? " (is the certificate and key a valid PEM pair?)"
                                                : "");
        }
        return 0;
}

void serve_http_stop(struct serve *serve)
{
        struct serve_listener *listeners[] = {&serve->local, &serve->remote};
        for (size_t i = 0; i < 2; i++) {
                if (listeners[i]->daemon)
                        serve->mhd.stop_daemon(listeners[i]->daemon);
                listeners[i]->daemon = NULL;
        }
}
