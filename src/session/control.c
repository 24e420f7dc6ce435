/* The control socket and the agent's request channel (session_control.h). */
#include "session/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/event.h"
#include "audit/runtime.h"
#include "govern/answer_sign.h"
#include "sandbox/peer.h"
#include "util/weaken.h"
#include "util/cleanup.h"

/* Caps (README, "Caps on the control socket and the agent channel"): every
 * connection costs one fixed buffer, so these bound the memory too. Past a
 * cap the connection is refused or closed, a `limit` event is recorded (at
 * most one per kind every CONTROL_LIMIT_EVERY_MS, with a count of those left
 * out) and the session goes on. */
#define CONTROL_MAX_CONTROL     32 /* host clients at once (reins ps, approve --watch) */
#define CONTROL_MAX_AGENT       8  /* the agent's channel, at once */
#define CONTROL_MAX_CONNECTIONS (CONTROL_MAX_CONTROL + CONTROL_MAX_AGENT)
#define CONTROL_LINE_MAX        16384 /* one request line, or an HTTP head and body */
#define CONTROL_IDLE_MS         30000 /* a host client's request must come within */
#define AGENT_IDLE_MS           10000 /* an agent's request must come within */
#define CONTROL_BACKLOG         16
#define CONTROL_LIMIT_EVERY_MS  10000
#define CONTROL_NONCE_BYTES     16

enum control_limit_kind {
        LIMIT_LINE,        /* a request longer than CONTROL_LINE_MAX */
        LIMIT_CONNECTIONS, /* more connections than the channel's cap */
        LIMIT_IDLE,        /* no complete request within the idle time */
        LIMIT_PEER,        /* a peer inside a sandbox, or of another user */
        LIMIT_FDS,         /* accept failed: the supervisor is out of file descriptors */
        LIMIT_KINDS,
};

static const char *const limit_names[LIMIT_KINDS] = {
    [LIMIT_LINE] = "control_line", [LIMIT_CONNECTIONS] = "control_connections",
    [LIMIT_IDLE] = "control_idle", [LIMIT_PEER] = "control_peer",
    [LIMIT_FDS] = "control_fds",
};

/* A listener whose accept failed for want of fds is left out of the loop this
 * long (a level-triggered listener would otherwise wake it without end). */
#define CONTROL_ACCEPT_PAUSE_MS 100

struct control_limit {
        int64_t last_ms;     /* when the last event of this kind was recorded */
        uint64_t suppressed; /* hits since, not recorded one by one */
        uint64_t total;
};

enum conn_role { ROLE_CONTROL_LISTENER, ROLE_AGENT_LISTENER, ROLE_CONTROL, ROLE_AGENT };

struct conn {
        int fd;
        enum conn_role role;
        bool watching;
        bool paused;      /* a listener out of the loop until since_ms + pause */
        int64_t since_ms; /* accepted, or its last complete request */
        char nonce[2 * CONTROL_NONCE_BYTES + 1]; /* handed out by "nonce", used once */
        bool http;                               /* answer with an HTTP response, then close */
        char waiting[APPROVALS_ID_MAX];          /* an agent waiting for this request's answer */
        char buf[CONTROL_LINE_MAX];
        size_t len;
};

struct session_control {
        struct session_control_config config;
        int epoll;
        char *path;
        struct conn *listeners[2];
        struct conn *conns[CONTROL_MAX_CONNECTIONS];
        struct control_limit limits[LIMIT_KINDS][2]; /* [kind][agent channel?] */
};

static int64_t control_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *role_channel(enum conn_role role)
{
        return role == ROLE_AGENT || role == ROLE_AGENT_LISTENER ? "agent" : "control";
}

/* One `limit` event (or control.refused for peers) per kind and interval;
 * the hits in between are counted and reported with the next one. */
static void control_limit_hit(struct session_control *ctl, enum control_limit_kind kind,
                              enum conn_role role, int64_t cap, const char *detail)
{
        bool agent = role == ROLE_AGENT || role == ROLE_AGENT_LISTENER;
        struct control_limit *l = &ctl->limits[kind][agent];
        int64_t now = control_now_ms();
        l->total++;
        if (l->total > 1 && now - l->last_ms < CONTROL_LIMIT_EVERY_MS) {
                l->suppressed++;
                return;
        }
        json_t *fields = json_pack("{s:s, s:s, s:I, s:I}", "kind", limit_names[kind], "channel",
                                   role_channel(role), "limit", (json_int_t)cap, "suppressed",
                                   (json_int_t)l->suppressed);
        if (fields && detail)
                json_object_set_new(fields, "detail", json_string(detail));
        event_emit(ctl->config.events, kind == LIMIT_PEER ? "control.refused" : "limit", fields);
        l->last_ms = now;
        l->suppressed = 0;
}

void session_control_summary(struct session_control *ctl)
{
        if (!ctl)
                return;
        for (int k = 0; k < LIMIT_KINDS; k++)
                for (int agent = 0; agent < 2; agent++) {
                        struct control_limit *l = &ctl->limits[k][agent];
                        if (l->suppressed == 0)
                                continue;
                        event_emit(ctl->config.events,
                                   k == LIMIT_PEER ? "control.refused" : "limit",
                                   json_pack("{s:s, s:s, s:s, s:I, s:I}", "kind", limit_names[k],
                                             "channel", agent ? "agent" : "control", "summary",
                                             "session", "total", (json_int_t)l->total, "suppressed",
                                             (json_int_t)l->suppressed));
                        l->suppressed = 0;
                }
}

static void conn_close(struct session_control *ctl, struct conn *c)
{
        for (size_t i = 0; i < CONTROL_MAX_CONNECTIONS; i++)
                if (ctl->conns[i] == c)
                        ctl->conns[i] = NULL;
        epoll_ctl(ctl->epoll, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c);
}

static int conn_watch(struct session_control *ctl, struct conn *c)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        return epoll_ctl(ctl->epoll, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Small replies; a peer that does not read loses its connection. */
static bool conn_send(struct conn *c, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n <= 0)
                        return false;
                data += n;
                len -= (size_t)n;
        }
        return true;
}

/* One JSON reply (takes the reference); HTTP clients get a response and the
 * connection ends. Returns false when the connection must close. */
static bool conn_reply(struct conn *c, json_t *reply)
{
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        json_decref(reply);
        if (!text)
                return false;
        bool ok;
        if (c->http) {
                bool good = !strstr(text, "\"ok\":false");
                char head[160];
                int n = snprintf(head, sizeof(head),
                                 "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                 good ? "200 OK" : "403 Forbidden", strlen(text) + 1);
                ok = conn_send(c, head, (size_t)n) && conn_send(c, text, strlen(text)) &&
                     conn_send(c, "\n", 1);
                ok = false; /* one request per HTTP connection */
        } else {
                ok = conn_send(c, text, strlen(text)) && conn_send(c, "\n", 1);
                if (c->role == ROLE_AGENT)
                        ok = false; /* one request per agent connection: `cat` sees EOF */
        }
        free(text);
        return ok;
}

static json_t *error_reply(const char *message)
{
        return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

/* ---- the control socket's operations ---------------------------------- */

static json_t *op_pending(struct session_control *ctl)
{
        return json_pack("{s:b, s:s, s:o}", "ok", 1, "session", ctl->config.session, "pending",
                         gate_pending_json(ctl->config.gate));
}

json_t *session_control_status(const struct session_control *ctl)
{
        json_t *status = json_pack("{s:i, s:I}", "tier", gate_tier(ctl->config.gate), "pending",
                                   (json_int_t)gate_pending_count(ctl->config.gate));
        if (status && ctl->config.status) {
                json_t *extra = ctl->config.status(ctl->config.ctx);
                if (extra)
                        json_object_update(status, extra);
                json_decref(extra);
        }
        return status;
}

static json_t *op_status(struct session_control *ctl)
{
        json_t *reply = session_control_status(ctl);
        if (reply)
                json_object_update_new(
                    reply, json_pack("{s:b, s:s}", "ok", 1, "session", ctl->config.session));
        return reply;
}

/* Who signed a request, for the trail: the key that verified it (as
 * "user_key", or "daemon_key" for the daemon that started the session), the
 * approver a daemon names, the payload and the signature. */
static json_t *control_signed_by(const struct answer_signers *keys, enum answer_signer signer,
                                 const json_t *payload, const char *signature)
{
        bool daemon = signer == ANSWER_SIGNER_DAEMON;
        const unsigned char *key = daemon ? keys->daemon : keys->user;
        char key_hex[2 * crypto_sign_PUBLICKEYBYTES + 1] = "";
        if (key)
                audit_hex(key, crypto_sign_PUBLICKEYBYTES, key_hex);
        return json_pack("{s:s, s:s, s:O*, s:O?, s:s?}", daemon ? "daemon_key" : "user_key",
                         key_hex, "signer", daemon ? "daemon" : "user", "approver",
                         json_object_get(payload, "approver"), "payload", payload, "signature",
                         signature);
}

/* A fresh nonce for this connection's next signed operation. */
static json_t *op_nonce(struct session_control *ctl, struct conn *c)
{
        unsigned char raw[CONTROL_NONCE_BYTES];
        randombytes_buf(raw, sizeof(raw));
        audit_hex(raw, sizeof(raw), c->nonce);
        return json_pack("{s:b, s:s, s:s}", "ok", 1, "session", ctl->config.session, "nonce",
                         c->nonce);
}

/* `reins thaw`: leaves the frozen tier and resets the risk to T0, so it
 * loosens the session as much as an approval does: it takes the user's
 * signature over this session, this connection's nonce and the time. */
static json_t *op_thaw(struct session_control *ctl, struct conn *c, const json_t *request)
{
        struct reins_error err = {0};
        json_t *payload = json_object_get(request, "payload");
        const char *signature = json_string_value(json_object_get(request, "signature"));
        char nonce[sizeof(c->nonce)];
        memcpy(nonce, c->nonce, sizeof(nonce));
        c->nonce[0] = '\0'; /* used once, whatever the outcome */
        if (!ctl->config.thaw)
                return error_reply("this session has no risk engine to thaw");
        if (!ctl->config.user_public && !ctl->config.daemon_public)
                return error_reply("this session has no user key to check a thaw against");
        struct answer_signers keys = {.user = ctl->config.user_public,
                                      .daemon = ctl->config.daemon_public};
        enum answer_signer signer = ANSWER_SIGNER_USER;
        if (!weaken("control-sign") &&
            (!payload || !signature
                 ? reins_error_set(&err, EPERM,
                                   "thaw refused: it must be signed with your key (reins thaw)")
                 : control_op_verify_signers(&keys, payload, signature, "thaw", ctl->config.session,
                                             nonce, (int64_t)time(NULL), &signer, &err)) < 0) {
                event_emit(ctl->config.events, "control.refused",
                           json_pack("{s:s, s:s}", "op", "thaw", "reason", err.message));
                return error_reply(err.message);
        }
        json_t *by = control_signed_by(&keys, signer, payload, signature);
        int r = ctl->config.thaw(ctl->config.ctx, by, &err);
        json_decref(by);
        if (r < 0)
                return error_reply(err.message);
        return json_pack("{s:b, s:s}", "ok", 1, "session", ctl->config.session);
}

/* A freeze only tightens the session (as the risk engine's tier 3 does):
 * whoever may reach the socket (the same user, root) may ask for it. */
static json_t *op_freeze(struct session_control *ctl)
{
        struct reins_error err = {0};
        if (!ctl->config.freeze)
                return error_reply("this session has no risk engine to freeze it");
        if (ctl->config.freeze(ctl->config.ctx, &err) < 0)
                return error_reply(err.message[0] ? err.message : "the freeze failed");
        return json_pack("{s:b, s:s}", "ok", 1, "session", ctl->config.session);
}

static json_t *op_answer(struct session_control *ctl, const json_t *request)
{
        struct reins_error err = {0};
        json_t *payload = json_object_get(request, "payload");
        const char *signature = json_string_value(json_object_get(request, "signature"));
        if (!ctl->config.user_public && !ctl->config.daemon_public)
                return error_reply("this session has no user key to check answers against");
        struct answer_signers keys = {.user = ctl->config.user_public,
                                      .daemon = ctl->config.daemon_public};
        enum answer_signer signer;
        if (answer_verify_signers(&keys, payload, signature, (int64_t)time(NULL), &signer, &err) <
            0)
                return error_reply(err.message);
        const char *session = json_string_value(json_object_get(payload, "session"));
        if (strcmp(session, ctl->config.session) != 0)
                return error_reply("the answer is for another session");
        const char *id = json_string_value(json_object_get(payload, "id"));
        bool allow = strcmp(json_string_value(json_object_get(payload, "decision")), "allow") == 0;
        int64_t for_ms = json_integer_value(json_object_get(payload, "for_ms"));
        enum approval_scope scope;
        if (approval_scope_parse(json_string_value(json_object_get(payload, "scope")), &scope) < 0)
                return error_reply("scope must be exact or domain");
        json_t *by = control_signed_by(&keys, signer, payload, signature);
        struct approval_answer answer;
        if (gate_answer(ctl->config.gate, id, allow, for_ms, scope, by, &answer, &err) < 0)
                return error_reply(err.message);
        return json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "id", id, "decision",
                         allow ? "allow" : "deny", "target", answer.request.target);
}

static json_t *control_handle(struct session_control *ctl, struct conn *c, const json_t *request)
{
        const char *op = json_string_value(json_object_get(request, "op"));
        if (!op)
                return error_reply("no op");
        if (strcmp(op, "pending") == 0)
                return op_pending(ctl);
        if (strcmp(op, "status") == 0)
                return op_status(ctl);
        if (strcmp(op, "answer") == 0)
                return op_answer(ctl, request);
        if (strcmp(op, "nonce") == 0)
                return op_nonce(ctl, c);
        if (strcmp(op, "thaw") == 0)
                return op_thaw(ctl, c, request);
        if (strcmp(op, "freeze") == 0)
                return op_freeze(ctl);
        if (strcmp(op, "watch") == 0) {
                c->watching = true;
                return op_pending(ctl);
        }
        return error_reply("unknown op");
}

/* ---- the agent's channel ----------------------------------------------- */

static json_t *agent_handle(struct session_control *ctl, struct conn *c, const json_t *request)
{
        const char *kind = json_string_value(json_object_get(request, "kind"));
        const char *target = json_string_value(json_object_get(request, "target"));
        const char *reason = json_string_value(json_object_get(request, "reason"));
        if (!kind || !target)
                return error_reply("send {\"kind\":\"destination\"|\"path\",\"target\":...,"
                                   "\"reason\":...}");
        struct reins_error err = {0};
        struct approval_request r;
        if (gate_agent_ask(ctl->config.gate, kind, target, reason ? reason : "", &r, &err) < 0)
                return error_reply(err.message);
        if (json_is_true(json_object_get(request, "wait"))) {
                snprintf(c->waiting, sizeof(c->waiting), "%s", r.id);
                return NULL; /* the answer comes when the request settles */
        }
        return json_pack("{s:b, s:s, s:s}", "ok", 1, "id", r.id, "status", "pending");
}

static void on_settled(void *ctx, const struct approval_answer *answer)
{
        struct session_control *ctl = ctx;
        for (size_t i = 0; i < CONTROL_MAX_CONNECTIONS; i++) {
                struct conn *c = ctl->conns[i];
                if (!c || strcmp(c->waiting, answer->request.id) != 0)
                        continue;
                c->waiting[0] = '\0';
                bool allowed = answer->request.state == APPROVAL_ALLOWED;
                json_t *reply =
                    json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "id", answer->request.id, "status",
                              allowed ? "allowed" : "denied", "timed_out", answer->timed_out);
                if (!conn_reply(c, reply))
                        conn_close(ctl, c);
        }
}

/* ---- reading requests -------------------------------------------------- */

/* An HTTP request in the buffer: its body, once complete (NULL: not yet). */
static const char *http_body(struct conn *c, size_t *body_len, bool *bad)
{
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end)
                return NULL;
        size_t head = (size_t)(end - c->buf) + 4;
        size_t length = 0;
        for (char *line = strstr(c->buf, "\r\n"); line && line < end;
             line = strstr(line + 2, "\r\n"))
                if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
                        length = strtoul(line + 17, NULL, 10);
        if (length > CONTROL_LINE_MAX - head) {
                *bad = true;
                return NULL;
        }
        if (c->len < head + length)
                return NULL;
        *body_len = length;
        return c->buf + head;
}

/* Handle one request; false when `c` was closed. */
static bool conn_handle_text(struct session_control *ctl, struct conn *c, const char *text,
                             size_t len)
{
        json_error_t jerr;
        json_t *request = json_loadb(text, len, 0, &jerr);
        json_t *reply;
        c->since_ms = control_now_ms();
        if (!json_is_object(request))
                reply = error_reply("not a JSON object");
        else if (c->role == ROLE_AGENT)
                reply = agent_handle(ctl, c, request);
        else
                reply = control_handle(ctl, c, request);
        json_decref(request);
        /* what the request changed (a thaw, an answer, a new request) is
         * listed before the reply: `reins ps` right after it sees it */
        if (ctl->config.changed)
                ctl->config.changed(ctl->config.ctx);
        if ((reply && !conn_reply(c, reply)) || (!reply && !c->waiting[0])) {
                conn_close(ctl, c);
                return false;
        }
        return true;
}

/* Returns false when `c` was closed. */
static bool conn_take_request(struct session_control *ctl, struct conn *c)
{
        if (c->role == ROLE_AGENT &&
            (c->http || strncmp(c->buf, "POST ", 5) == 0 || strncmp(c->buf, "GET ", 4) == 0)) {
                c->http = true;
                bool bad = false;
                size_t body_len = 0;
                const char *body = http_body(c, &body_len, &bad);
                if (bad) {
                        conn_reply(c, error_reply("request too large"));
                        conn_close(ctl, c);
                        control_limit_hit(ctl, LIMIT_LINE, ROLE_AGENT, CONTROL_LINE_MAX,
                                          "HTTP Content-Length");
                        return false;
                }
                if (!body)
                        return true;
                if (conn_handle_text(ctl, c, body, body_len))
                        c->len = 0; /* waiting for the answer; nothing more is read */
                return false;
        }
        char *nl = memchr(c->buf, '\n', c->len);
        if (!nl)
                return true;
        size_t line = (size_t)(nl - c->buf);
        if (!conn_handle_text(ctl, c, c->buf, line))
                return false;
        memmove(c->buf, nl + 1, c->len - line - 1);
        c->len -= line + 1;
        return true;
}

static void conn_read(struct session_control *ctl, struct conn *c)
{
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                conn_close(ctl, c);
                return;
        }
        if (n < 0)
                return;
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        size_t before;
        do {
                before = c->len;
                if (!conn_take_request(ctl, c))
                        return;
        } while (c->len && c->len < before);
        if (c->len >= sizeof(c->buf) - 1) {
                enum conn_role role = c->role;
                conn_reply(c, error_reply("request too large"));
                conn_close(ctl, c);
                control_limit_hit(ctl, LIMIT_LINE, role, CONTROL_LINE_MAX, NULL);
        }
}

/* ---- accepting ---------------------------------------------------------- */

static size_t count_role(const struct session_control *ctl, enum conn_role role)
{
        size_t n = 0;
        for (size_t i = 0; i < CONTROL_MAX_CONNECTIONS; i++)
                if (ctl->conns[i] && ctl->conns[i]->role == role)
                        n++;
        return n;
}

static void conn_accept(struct session_control *ctl, struct conn *listener)
{
        cleanup_fd int fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        /* out of fds: the pending connection stays queued and
                         * the listener readable; pause it rather than spin */
                        epoll_ctl(ctl->epoll, EPOLL_CTL_DEL, listener->fd, NULL);
                        listener->paused = true;
                        listener->since_ms = control_now_ms();
                        control_limit_hit(ctl, LIMIT_FDS, listener->role, 0, strerror(errno));
                }
                return;
        }
        enum conn_role role = listener->role == ROLE_AGENT_LISTENER ? ROLE_AGENT : ROLE_CONTROL;
        struct reins_error err = {0};
        /* the control socket drives the session (answers, thaw): nothing in
         * any sandbox may use it, whatever uid it runs as (sandbox/peer.h) */
        int r = role == ROLE_CONTROL ? sandbox_peer_check(fd, &err) : 0;
        if (r < 0) {
                control_limit_hit(ctl, r == -EMFILE ? LIMIT_FDS : LIMIT_PEER, role, 0, err.message);
                return;
        }
        size_t cap = role == ROLE_AGENT ? CONTROL_MAX_AGENT : CONTROL_MAX_CONTROL;
        if (count_role(ctl, role) >= cap) {
                control_limit_hit(ctl, LIMIT_CONNECTIONS, role, (int64_t)cap, NULL);
                return;
        }
        size_t slot = CONTROL_MAX_CONNECTIONS;
        for (size_t i = 0; i < CONTROL_MAX_CONNECTIONS && slot == CONTROL_MAX_CONNECTIONS; i++)
                if (!ctl->conns[i])
                        slot = i;
        struct conn *c = slot < CONTROL_MAX_CONNECTIONS ? calloc(1, sizeof(*c)) : NULL;
        if (!c)
                return;
        c->fd = fd;
        c->role = role;
        c->since_ms = control_now_ms();
        if (conn_watch(ctl, c) < 0) {
                free(c);
                return;
        }
        steal_fd(&fd);
        ctl->conns[slot] = c;
}

/* The earlier of `next` and `due`, both absolute (INT64_MAX: none). */
static int64_t control_earlier(int64_t next, int64_t due)
{
        return due < next ? due : next;
}

int64_t session_control_tick(struct session_control *ctl)
{
        if (!ctl)
                return -1;
        int64_t now = control_now_ms(), next = INT64_MAX;
        for (size_t i = 0; i < 2; i++) {
                struct conn *l = ctl->listeners[i];
                if (l && l->paused && now - l->since_ms >= CONTROL_ACCEPT_PAUSE_MS &&
                    conn_watch(ctl, l) == 0)
                        l->paused = false;
                if (l && l->paused) /* tried again after another pause */
                        next = control_earlier(next, now - l->since_ms >= CONTROL_ACCEPT_PAUSE_MS
                                                         ? now + CONTROL_ACCEPT_PAUSE_MS
                                                         : l->since_ms + CONTROL_ACCEPT_PAUSE_MS);
        }
        for (size_t i = 0; i < CONTROL_MAX_CONNECTIONS; i++) {
                struct conn *c = ctl->conns[i];
                /* a watcher waits for events and an agent for its answer (the
                 * approval timeout ends that wait): both are idle by design */
                if (!c || c->watching || c->waiting[0])
                        continue;
                int64_t idle = c->role == ROLE_AGENT ? AGENT_IDLE_MS : CONTROL_IDLE_MS;
                if (now - c->since_ms < idle) {
                        next = control_earlier(next, c->since_ms + idle);
                        continue;
                }
                enum conn_role role = c->role;
                conn_close(ctl, c);
                control_limit_hit(ctl, LIMIT_IDLE, role, idle, NULL);
        }
        return next == INT64_MAX ? -1 : next - now;
}

void session_control_dispatch(struct session_control *ctl)
{
        struct epoll_event events[16];
        int n = epoll_wait(ctl->epoll, events, 16, 0);
        for (int i = 0; i < n; i++) {
                struct conn *c = events[i].data.ptr;
                if (c->role == ROLE_CONTROL_LISTENER || c->role == ROLE_AGENT_LISTENER)
                        conn_accept(ctl, c);
                else
                        conn_read(ctl, c);
        }
}

/* ---- watchers ------------------------------------------------------------ */

void session_control_sink(void *ctx, const json_t *event)
{
        struct session_control *ctl = ctx;
        const char *type = json_string_value(json_object_get(event, "type"));
        if (!type || (strncmp(type, "approval.", 9) != 0 && strncmp(type, "risk.tier", 9) != 0))
                return;
        char *text = json_dumps(event, JSON_COMPACT);
        if (!text)
                return;
        for (size_t i = 0; i < CONTROL_MAX_CONNECTIONS; i++) {
                struct conn *c = ctl->conns[i];
                if (c && c->watching &&
                    !(conn_send(c, text, strlen(text)) && conn_send(c, "\n", 1)))
                        conn_close(ctl, c);
        }
        free(text);
}

/* ---- lifetime ---------------------------------------------------------- */

static int control_listen(const char *path, struct reins_error *err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return reins_error_set(err, ENAMETOOLONG, "control socket path %s is too long",
                                       path);
        strcpy(addr.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return reins_error_errno(err, errno, "control socket");
        unlink(path); /* a stale socket of a crashed supervisor with our session id */
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            listen(fd, CONTROL_BACKLOG) < 0) {
                int e = errno;
                close(fd);
                return reins_error_errno(err, e, "control socket %s", path);
        }
        return fd;
}

static struct conn *listener_new(struct session_control *ctl, int fd, enum conn_role role)
{
        struct conn *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->fd = fd;
        c->role = role;
        if (conn_watch(ctl, c) < 0) {
                free(c);
                return NULL;
        }
        return c;
}

int session_control_open(const struct session_control_config *config, struct session_control **out,
                         struct reins_error *err)
{
        struct session_control *ctl = calloc(1, sizeof(*ctl));
        cleanup_free char *dir = NULL;
        if (!ctl)
                return reins_error_set(err, ENOMEM, "out of memory");
        ctl->config = *config;
        ctl->epoll = epoll_create1(EPOLL_CLOEXEC);
        int r = ctl->epoll < 0 ? reins_error_errno(err, errno, "epoll") : runtime_dir(&dir, err);
        if (r == 0 && asprintf(&ctl->path, "%s/%s.sock", dir, config->session) < 0) {
                ctl->path = NULL;
                r = reins_error_set(err, ENOMEM, "out of memory");
        }
        int fd = r == 0 ? control_listen(ctl->path, err) : -1;
        if (fd >= 0 && !(ctl->listeners[0] = listener_new(ctl, fd, ROLE_CONTROL_LISTENER))) {
                close(fd);
                fd = reins_error_set(err, ENOMEM, "out of memory");
        }
        if (r < 0 || fd < 0) {
                if (ctl->epoll >= 0)
                        close(ctl->epoll);
                free(ctl->path);
                free(ctl);
                return r < 0 ? r : fd;
        }
        gate_on_settled(config->gate, on_settled, ctl);
        *out = ctl;
        return 0;
}

const char *session_control_path(const struct session_control *ctl)
{
        return ctl->path;
}

int session_control_poll_fd(const struct session_control *ctl)
{
        return ctl->epoll;
}

void session_control_add_agent_listener(struct session_control *ctl, int fd)
{
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (ctl->listeners[1] || !(ctl->listeners[1] = listener_new(ctl, fd, ROLE_AGENT_LISTENER)))
                close(fd);
}

void session_control_close(struct session_control *ctl)
{
        if (!ctl)
                return;
        gate_on_settled(ctl->config.gate, NULL, NULL);
        for (size_t i = 0; i < CONTROL_MAX_CONNECTIONS; i++)
                if (ctl->conns[i])
                        conn_close(ctl, ctl->conns[i]);
        for (size_t i = 0; i < 2; i++)
                if (ctl->listeners[i]) {
                        close(ctl->listeners[i]->fd);
                        free(ctl->listeners[i]);
                }
        if (ctl->path)
                unlink(ctl->path);
        free(ctl->path);
        close(ctl->epoll);
        free(ctl);
}
