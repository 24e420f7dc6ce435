/* What the daemon's parts share: the daemon, one request, one reply. */
#ifndef REINS_SERVE_SERVE_INTERNAL_H
#define REINS_SERVE_SERVE_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "govern/identity.h"
#include "serve/config.h"
#include "serve/mhd.h"
#include "serve/roles.h"
#include "serve/trail.h"

/* A request body larger than this is refused (413) unread. */
#define SERVE_BODY_MAX (1 << 20)

/* One listening socket and how its callers are known. */
struct serve_listener {
        struct serve *serve;
        bool tcp; /* TLS on TCP: API tokens; else the unix socket: SO_PEERCRED */
        struct MHD_Daemon *daemon;
};

/* A session this daemon process forked and has not reaped yet. */
struct serve_child {
        pid_t pid;
        unsigned long long start_ticks; /* /proc/PID/stat's, at the fork */
        char session[25];
};

struct serve_forwarder;
struct serve_notifier;
struct serve_events;
struct serve_pool;
struct serve_summaries;

struct serve {
        struct serve_mhd mhd;
        struct serve_listener local;  /* the unix socket */
        struct serve_listener remote; /* --listen HOST:PORT, TLS */
        char listen_address[128];     /* as bound, for messages */
        struct serve_config config;
        struct serve_roles roles;
        struct serve_trail trail;
        char *state_dir;    /* the daemon's own: sessions/, trails/, users/ */
        char *sessions_dir; /* one directory per session started here */
        char *homes_dir;    /* root: homes for users without one (STATE/homes) */
        /* the public half of the daemon's signing key (serve/daemon_key.h),
         * given to every session it starts */
        struct identity_public daemon_key;
        int state_lock; /* flock: one daemon per state directory */
        char *socket_path;
        dev_t socket_dev; /* the socket file this daemon made */
        ino_t socket_ino;
        const char *reins_path;
        uid_t uid;
        gid_t gid;
        /* children not yet reaped (the reaper records their exit status) */
        pthread_mutex_t children_lock;
        struct serve_child *children;
        size_t child_count, child_capacity;
        atomic_ulong requests, refused;
        /* forward: and notify: targets (serve/forward.c, serve/notify.c) */
        struct serve_forwarder *forwarders;
        size_t forwarder_count;
        struct serve_notifier *notifier;
        struct serve_events *events;       /* GET /v1/events (serve/events_bus.h) */
        struct serve_pool *pool;           /* serve/pool.h; NULL: no pool: entries */
        struct serve_summaries *summaries; /* serve/trail_summary.h */
        atomic_bool stopping;              /* streams end when set */
        /* the key of the dashboard's CSRF tokens (serve/web.h), drawn at start */
        unsigned char csrf_key[32];
        /* registry entries and records as last parsed, each kept while its
         * file is unchanged (serve/sessions.c): path -> {stamp, doc} */
        pthread_mutex_t files_lock;
        json_t *files;
};

/* One API call, as the router hands it to a handler. */
struct serve_request {
        struct serve *serve;
        const char *method;
        const char *path;
        const char *id; /* the {id} of the route, NULL when none */
        /* who calls: on the unix socket the kernel's word (SO_PEERCRED), on
         * TCP the API token's (its name; uid: the user its sessions run as) */
        uid_t uid;
        gid_t gid;
        pid_t pid;
        const char *token; /* the token's name; NULL on the unix socket */
        /* TCP, the token from the dashboard's cookie: the CSRF token a
         * state-changing request must carry (serve/web.h); "" otherwise */
        char csrf[65];
        const struct serve_grant *grant; /* NULL: no role */
        const char *no_grant_why;
        const char *body;
        size_t body_length;
        struct MHD_Connection *connection; /* for serve_request_arg */
};

struct serve_reply {
        unsigned status;
        json_t *json;               /* the body, or */
        char *text;                 /* a text body (metrics), malloc'd, or */
        const char *content_type;   /* with text, asset or stream */
        const unsigned char *asset; /* a dashboard file (static, not freed) */
        size_t asset_size;
        const char *location; /* a redirect's (static) */
        char *cookie;         /* Set-Cookie, malloc'd */
        /* a stream of unknown length (server-sent events): libmicrohttpd
         * calls `read` from the connection's own thread until it returns
         * MHD_CONTENT_READER_END_OF_STREAM, then `free` */
        MHD_ContentReaderCallback stream_read;
        MHD_ContentReaderFreeCallback stream_free;
        void *stream;
};

/* Fill the reply (takes `json`); {"error": "..."} for an error. */
void serve_reply_json(struct serve_reply *reply, unsigned status, json_t *json);
void serve_reply_error(struct serve_reply *reply, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* May the caller use `right` (on a session of `policy`, NULL when none)?
 * When not: a 403 reply, and the refusal in the daemon's audit trail. */
bool serve_check(const struct serve_request *request, struct serve_reply *reply,
                 enum serve_right right, const char *policy);
/* The same with the session's agent (the policy's agent:, NULL or "" when
 * none or unknown), which a grant limited to agents needs. */
bool serve_check_agent(const struct serve_request *request, struct serve_reply *reply,
                       enum serve_right right, const char *policy, const char *agent);
/* A refusal the handler decided (403, audited like serve_check's). */
void serve_refuse(const struct serve_request *request, struct serve_reply *reply,
                  enum serve_right right, const char *policy, const char *agent, const char *why);

/* A query argument (?name=value), NULL when absent. */
const char *serve_request_arg(const struct serve_request *request, const char *name);

/* May the caller use `right` (on a session of `policy`)? No audit: for
 * filtering what a caller sees. */
bool serve_request_allows(const struct serve_request *request, enum serve_right right,
                          const char *policy);
bool serve_request_allows_agent(const struct serve_request *request, enum serve_right right,
                                const char *policy, const char *agent);

/* The body as a JSON object with no key outside `allowed` (NULL-terminated);
 * NULL and a 400 reply when it is not. An empty body is an empty object. */
json_t *serve_body_object(const struct serve_request *request, struct serve_reply *reply,
                          const char *const *allowed);

/* The session of the route's trail, open (a regular file of the session's
 * user, read-audit checked against its policy); -1 with the reply set.
 * `entry_out` (may be NULL) gets the session's entry. */
struct stat;
int serve_api_trail_open(const struct serve_request *request, struct serve_reply *reply,
                         struct stat *st, json_t **entry_out);

/* The key the daemon signs an answer or a thaw (`what`) for the session
 * `entry` with: its own (serve/daemon_key.h) when it started the session
 * with it; else its user's, for a session of that user (as `reins approve`
 * would); else a 409 in the reply, and -EPERM. The key is the caller's to
 * wipe (audit_key_wipe). */
struct audit_key;
int serve_signing_key(const struct serve_request *request, struct serve_reply *reply,
                      const json_t *entry, const char *what, struct audit_key *key);
/* Who asks the daemon to sign (new reference): the caller's uid, and its
 * API token's name over TCP. */
json_t *serve_request_approver(const struct serve_request *request);

/* The session of the route's {id}, when it exists and the caller may use
 * `right` on it (judged by the session's policy); else NULL and the reply
 * says why (404, 403). */
json_t *serve_api_session_lookup(const struct serve_request *request, struct serve_reply *reply,
                                 enum serve_right right);

/* A user sessions run as, and the HOME `reins run` gets for it: its own
 * home directory, else (a service account such as nobody) STATE/homes/UID. */
struct serve_user {
        uid_t uid;
        gid_t gid;
        char name[256];
        char home[PATH_MAX];
};
/* 0, or <0 with the reply set (403: no passwd entry, 409: no home). */
int serve_user_find(struct serve *serve, uid_t uid, struct serve_user *user,
                    struct serve_reply *reply);

/* Handlers (serve/api_*.c). */
void serve_api_sessions_list(const struct serve_request *request, struct serve_reply *reply);
void serve_api_sessions_create(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_get(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_output(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_stop(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_freeze(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_thaw(const struct serve_request *request, struct serve_reply *reply);
void serve_api_approvals_list(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_approvals(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_answer(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_audit(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_audit_verify(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_events(const struct serve_request *request, struct serve_reply *reply);
void serve_api_events(const struct serve_request *request, struct serve_reply *reply);
void serve_api_audit_query(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_audit_export(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_diff(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_apply(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_discard(const struct serve_request *request, struct serve_reply *reply);
void serve_api_policies(const struct serve_request *request, struct serve_reply *reply);
void serve_api_metrics(const struct serve_request *request, struct serve_reply *reply);
void serve_api_whoami(const struct serve_request *request, struct serve_reply *reply);

/* Start answering on the listening socket `fd` (taken); with TLS when
 * `cert_pem` and `key_pem` are given (the TCP listener). */
int serve_http_start(struct serve_listener *listener, int fd, const char *cert_pem,
                     const char *key_pem, struct reins_error *err);
void serve_http_stop(struct serve *serve);

/* Children (serve/daemon.c): remember one forked session / reap them. */
int serve_children_add(struct serve *serve, pid_t pid, unsigned long long start_ticks,
                       const char *session);
void serve_children_reap(struct serve *serve);
/* The same for one child: one waitpid, not one per child. */
void serve_children_reap_one(struct serve *serve, pid_t pid);

#endif
