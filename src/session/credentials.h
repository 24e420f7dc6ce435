/* `credentials:` for one session (issue 18): each secret read on the host
 * side (the caller's environment, a file, a command's output), a
 * placeholder drawn for it, the proxy's injection table and TLS terminator
 * made, and what the sandbox gets: the placeholders in its environment and
 * a CA bundle (the host's CAs plus the session's) announced to the usual
 * clients. The secrets never enter the plan, the trail or the sandbox. */
#ifndef REINS_SESSION_CREDENTIALS_H
#define REINS_SESSION_CREDENTIALS_H

#include <sodium.h>

#include "audit/session_key.h"
#include "net/inject.h"
#include "net/terminate.h"
#include "policy/policy.h"
#include "util/error.h"
#include "util/strv.h"

#define SESSION_CA_BUNDLE "/.reins/ca-bundle.pem" /* inside the sandbox */

#define SESSION_CREDENTIAL_FILES_MAX 16

/* identity.hosts: who signs the agent's assertions (the session's certified
 * key), filled once the session is certified (session_credentials_identity). */
struct session_identity_signer {
        bool ready;
        unsigned char *secret_key; /* crypto_sign_SECRETKEYBYTES, net_secret_alloc */
        char *header_b64;          /* the JWS protected header, base64url: alg, kid, reins_cert */
        char session[128];
        char agent[32], user[32]; /* fingerprints */
        char policy_sha256[65];
};

struct session_credentials {
        struct net_inject inject;
        /* files with their secret spans replaced: written in the sandbox at
         * their host path */
        char *file_targets[SESSION_CREDENTIAL_FILES_MAX];
        char *file_texts[SESSION_CREDENTIAL_FILES_MAX];
        size_t file_count;
        struct net_terminator *terminator; /* NULL: no credentials */
        char *bundle;                      /* PEM: the host's CAs, then the session's */
        struct reins_strv env;             /* NAME=VALUE for the sandbox */
        struct reins_strv drop_env;        /* env sources: never passed into the sandbox */
        struct session_identity_signer identity;
};

/* Nothing to do (0) when the policy has no credentials. `environ_list` is
 * the caller's environment (env sources), `home` expands ~. */
int session_credentials_prepare(struct session_credentials *sc, const struct reins_policy *policy,
                                char **environ_list, const char *home, const char *label,
                                struct reins_error *err);
/* The session is certified: assertions for identity.hosts can be signed with
 * its key, the certificate (the user's key vouching for it) in their header. */
int session_credentials_identity(struct session_credentials *sc,
                                 const struct audit_session_signer *signer,
                                 const char *agent_fingerprint, struct reins_error *err);
/* Pure helpers of credential files (exposed for the fuzz target): the
 * distinct secrets `c->pattern` (group 1 of each match) or `c->json_pointer`
 * finds in `text` (at most SESSION_CREDENTIAL_VALUES_MAX, caller frees), and
 * every occurrence of `from` in *text replaced by `to` (the old text wiped). */
#define SESSION_CREDENTIAL_VALUES_MAX 8
int session_credentials_find(const struct policy_credential *c, const char *text, char **values,
                             size_t *count, struct reins_error *err);
int session_credentials_replace(char **text, const char *from, size_t from_len, const char *to);
/* The secrets wiped, the terminator's threads ended. */
void session_credentials_free(struct session_credentials *sc);

#endif
