/* Credentials for one session (credentials.h). */
#include "session/credentials.h"

#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "govern/identity.h"
#include <unistd.h>

#define CREDENTIAL_READ_MAX (64 * 1024) /* bytes of a source file or command output */
#define HOST_BUNDLE_MAX     (16 << 20)

static const char *env_lookup(char **environ_list, const char *name)
{
        size_t len = strlen(name);
        for (char **e = environ_list; e && *e; e++)
                if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
                        return *e;
        return NULL;
}

/* Trailing blanks and line ends off: files and commands end in a newline. */
static void trim(char *text, size_t *len)
{
        while (*len && strchr(" \t\r\n", text[*len - 1]))
                text[--*len] = '\0';
}

static int read_bounded_fd(int fd, char *buf, size_t cap, size_t *len)
{
        *len = 0;
        for (;;) {
                ssize_t n = read(fd, buf + *len, cap - *len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                *len += (size_t)n;
                if (*len == cap)
                        return -EFBIG;
        }
}

static int read_file_source(const char *path, const char *home, char *buf, size_t cap, size_t *len)
{
        char full[4096];
        if (path[0] == '~')
                snprintf(full, sizeof(full), "%s%s", home ? home : "", path + 1);
        else
                snprintf(full, sizeof(full), "%s", path);
        int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        int r = read_bounded_fd(fd, buf, cap, len);
        close(fd);
        return r;
}

/* argv run without a shell; its standard output is the secret. */
static int read_command_source(const struct reins_strv *argv, char *buf, size_t cap, size_t *len)
{
        int pipe_fds[2];
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(pipe_fds[0]);
                close(pipe_fds[1]);
                return -e;
        }
        if (pid == 0) {
                dup2(pipe_fds[1], STDOUT_FILENO);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, STDIN_FILENO);
                execvp(argv->items[0], argv->items);
                _exit(127);
        }
        close(pipe_fds[1]);
        int r = read_bounded_fd(pipe_fds[0], buf, cap, len);
        close(pipe_fds[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                r = -ECHILD;
        return r;
}

static int read_secret(const struct policy_credential *c, char **environ_list, const char *home,
                       char *buf, size_t cap, size_t *len, struct reins_error *err)
{
        int r = 0;
        switch (c->source_kind) {
        case POLICY_CREDENTIAL_ENV: {
                const char *entry = env_lookup(environ_list, c->source);
                if (!entry)
                        return reins_error_set(err, ENOENT,
                                               "credentials: '%s': the variable %s is not set in "
                                               "reins' environment",
                                               c->name, c->source);
                const char *value = entry + strlen(c->source) + 1;
                *len = strlen(value);
                if (*len >= cap)
                        return reins_error_set(err, EFBIG, "credentials: '%s': %s is too long",
                                               c->name, c->source);
                memcpy(buf, value, *len + 1);
                break;
        }
        case POLICY_CREDENTIAL_FILE:
                r = read_file_source(c->source, home, buf, cap - 1, len);
                if (r < 0)
                        return reins_error_errno(err, -r, "credentials: '%s': reading %s", c->name,
                                                 c->source);
                break;
        case POLICY_CREDENTIAL_COMMAND:
                r = read_command_source(&c->command, buf, cap - 1, len);
                if (r == -ECHILD)
                        return reins_error_set(err, ECHILD,
                                               "credentials: '%s': the command %s failed", c->name,
                                               c->command.items[0]);
                if (r < 0)
                        return reins_error_errno(err, -r, "credentials: '%s': running %s", c->name,
                                                 c->command.items[0]);
                break;
        }
        buf[*len] = '\0';
        trim(buf, len);
        if (*len == 0)
                return reins_error_set(err, ENODATA, "credentials: '%s': the secret is empty",
                                       c->name);
        return 0;
}

/* The host's CA bundle (SSL_CERT_FILE when set, else OpenSSL's default
 * file), then the session's CA: clients inside trust both. */
static int make_bundle(struct session_credentials *sc, char **environ_list, struct reins_error *err)
{
        const char *entry = env_lookup(environ_list, "SSL_CERT_FILE");
        const char *path = entry ? entry + strlen("SSL_CERT_FILE=") : X509_get_default_cert_file();
        char *host = NULL;
        size_t host_len = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                host = malloc(HOST_BUNDLE_MAX);
                if (host && read_bounded_fd(fd, host, HOST_BUNDLE_MAX, &host_len) < 0)
                        host_len = 0;
                close(fd);
        }
        const char *ca = net_terminator_ca_pem(sc->terminator);
        int n = asprintf(&sc->bundle, "%.*s%s%s", (int)host_len, host ? host : "",
                         host_len && host[host_len - 1] != '\n' ? "\n" : "", ca);
        free(host);
        if (n < 0) {
                sc->bundle = NULL;
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        static const char *const vars[] = {"SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
                                           "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                           "GIT_SSL_CAINFO"};
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
                char *e;
                if (asprintf(&e, "%s=%s", vars[i], SESSION_CA_BUNDLE) < 0 ||
                    strv_push_take(&sc->env, e) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

static enum net_inject_how how_of(enum policy_credential_how how)
{
        switch (how) {
        case POLICY_CREDENTIAL_BEARER:
                return NET_INJECT_BEARER;
        case POLICY_CREDENTIAL_BASIC:
                return NET_INJECT_BASIC;
        case POLICY_CREDENTIAL_HEADER:
                return NET_INJECT_HEADER;
        case POLICY_CREDENTIAL_QUERY:
                return NET_INJECT_QUERY;
        case POLICY_CREDENTIAL_SWAP:
                return NET_INJECT_SWAP;
        }
        return NET_INJECT_BEARER;
}

#define CREDENTIAL_FILE_MAX (1 << 20) /* bytes of a credential file read */

/* One secret: a placeholder drawn, the injection entry added, and what the
 * agent sees instead (the placeholder; a JWT keeps its header and claims
 * readable: "HEADER.CLAIMS.<placeholder>"). *masked: caller frees. */
static int add_secret(struct session_credentials *sc, const struct policy_credential *c,
                      const char *secret, size_t len, char **masked, struct reins_error *err)
{
        /* the name (for people reading a log) and 128 random bits (so no
         * one can guess another session's) */
        unsigned char random[16];
        char hex[33], placeholder[NET_INJECT_PLACEHOLDER_MAX];
        randombytes_buf(random, sizeof(random));
        sodium_bin2hex(hex, sizeof(hex), random, sizeof(random));
        snprintf(placeholder, sizeof(placeholder), "reins-cred-%s-%s", c->name, hex);
        size_t jwt = net_inject_jwt_prefix(secret, len);
        int r = net_inject_add(&sc->inject, c->name, placeholder, secret, len,
                               (const char *const *)c->hosts.items, c->hosts.count, how_of(c->how),
                               c->how_name, c->plaintext, jwt, err);
        if (r < 0)
                return r;
        if (asprintf(masked, "%.*s%s", (int)jwt, secret, placeholder) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

/* Every occurrence of `from` in *text replaced by `to`. */
int session_credentials_replace(char **text, const char *from, size_t from_len, const char *to)
{
        size_t to_len = strlen(to), count = 0;
        for (const char *p = strstr(*text, from); p; p = strstr(p + from_len, from))
                count++;
        if (!count)
                return 0;
        size_t len = strlen(*text);
        char *out = malloc(len + count * to_len + 1);
        if (!out)
                return -ENOMEM;
        char *w = out;
        const char *p = *text;
        for (const char *m = strstr(p, from); m; m = strstr(p, from)) {
                memcpy(w, p, (size_t)(m - p));
                w += m - p;
                memcpy(w, to, to_len);
                w += to_len;
                p = m + from_len;
        }
        strcpy(w, p);
        sodium_memzero(*text, len);
        free(*text);
        *text = out;
        return 0;
}

/* The secrets of a file: group 1 of each match of the pattern, or the
 * string the JSON Pointer names. Distinct values, at most SESSION_CREDENTIAL_VALUES_MAX. */
int session_credentials_find(const struct policy_credential *c, const char *text, char **values,
                             size_t *count, struct reins_error *err)
{
        *count = 0;
        if (c->pattern) {
                regex_t re;
                if (regcomp(&re, c->pattern, REG_EXTENDED | REG_NEWLINE) != 0)
                        return reins_error_set(err, EINVAL, "credentials: '%s': bad pattern",
                                               c->name);
                const char *p = text;
                regmatch_t m[2];
                int flags = 0;
                while (*p && regexec(&re, p, 2, m, flags) == 0) {
                        if (m[1].rm_so >= 0 && m[1].rm_eo > m[1].rm_so) {
                                size_t n = (size_t)(m[1].rm_eo - m[1].rm_so);
                                bool seen = false;
                                for (size_t i = 0; i < *count && !seen; i++)
                                        seen = strlen(values[i]) == n &&
                                               memcmp(values[i], p + m[1].rm_so, n) == 0;
                                if (!seen && *count < SESSION_CREDENTIAL_VALUES_MAX &&
                                    !(values[(*count)++] = strndup(p + m[1].rm_so, n))) {
                                        regfree(&re);
                                        return reins_error_set(err, ENOMEM, "out of memory");
                                }
                        }
                        p += m[0].rm_eo > 0 ? m[0].rm_eo : 1;
                        flags = REG_NOTBOL;
                }
                regfree(&re);
                return 0;
        }
        json_error_t jerr;
        json_t *doc = json_loads(text, 0, &jerr);
        if (!doc)
                return reins_error_set(err, EINVAL, "credentials: '%s': %s is not JSON (line %d)",
                                       c->name, c->file, jerr.line);
        /* RFC 6901: /a/b~1c -> keys "a", "b/c"; array indexes as numbers */
        json_t *at = doc;
        const char *p = c->json_pointer;
        char key[1024];
        while (at && *p == '/') {
                size_t k = 0;
                for (p++; *p && *p != '/' && k + 1 < sizeof(key); p++) {
                        if (*p == '~' && (p[1] == '0' || p[1] == '1'))
                                key[k++] = *++p == '0' ? '~' : '/';
                        else
                                key[k++] = *p;
                }
                key[k] = '\0';
                if (json_is_array(at)) {
                        char *end;
                        unsigned long index = strtoul(key, &end, 10);
                        at = *key && !*end ? json_array_get(at, index) : NULL;
                } else {
                        at = json_object_get(at, key);
                }
        }
        int r = 0;
        if (json_is_string(at) && json_string_length(at) > 0) {
                values[0] = strdup(json_string_value(at));
                *count = values[0] ? 1 : 0;
                if (!values[0])
                        r = reins_error_set(err, ENOMEM, "out of memory");
        }
        json_decref(doc);
        return r;
}

static int prepare_file(struct session_credentials *sc, const struct policy_credential *c,
                        const char *home, struct reins_error *err)
{
        if (sc->file_count >= SESSION_CREDENTIAL_FILES_MAX)
                return reins_error_set(err, E2BIG, "credentials: more than %d files",
                                       SESSION_CREDENTIAL_FILES_MAX);
        char *target;
        if (asprintf(&target, "%s%s", c->file[0] == '~' ? (home ? home : "") : "",
                     c->file[0] == '~' ? c->file + 1 : c->file) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        char *text = malloc(CREDENTIAL_FILE_MAX + 1);
        size_t len = 0;
        int r = text ? read_file_source(target, NULL, text, CREDENTIAL_FILE_MAX, &len) : -ENOMEM;
        if (r < 0) {
                free(text);
                free(target);
                return reins_error_errno(err, -r, "credentials: '%s': reading %s", c->name,
                                         c->file);
        }
        text[len] = '\0';
        char *values[SESSION_CREDENTIAL_VALUES_MAX] = {0};
        size_t count = 0;
        r = session_credentials_find(c, text, values, &count, err);
        if (r == 0 && count == 0)
                r = reins_error_set(err, ENOENT, "credentials: '%s': no secret found in %s by %s",
                                    c->name, c->file, c->pattern ? "its pattern" : "its json");
        for (size_t i = 0; i < count && r == 0; i++) {
                char *masked = NULL;
                if ((r = add_secret(sc, c, values[i], strlen(values[i]), &masked, err)) == 0 &&
                    session_credentials_replace(&text, values[i], strlen(values[i]), masked) < 0)
                        r = reins_error_set(err, ENOMEM, "out of memory");
                free(masked);
        }
        for (size_t i = 0; i < count; i++) {
                sodium_memzero(values[i], strlen(values[i]));
                free(values[i]);
        }
        if (r < 0) {
                sodium_memzero(text, strlen(text));
                free(text);
                free(target);
                return r;
        }
        sc->file_targets[sc->file_count] = target;
        sc->file_texts[sc->file_count++] = text;
        return 0;
}

/* ---- the agent's identity (identity.hosts) ---- */

static char *base64url(const void *bytes, size_t len)
{
        size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *out = malloc(size);
        if (out)
                sodium_bin2base64(out, size, bytes, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        return out;
}

/* net_identity_sign_fn: HEADER.PAYLOAD.SIGNATURE (JWS compact, EdDSA), the
 * payload naming the session, the agent, the user, the policy, the
 * destination, the method and path, the time and a nonce. */
static int identity_sign(void *ctx, const char *host, uint16_t port, const char *method,
                         const char *path, char *out, size_t out_size)
{
        const struct session_identity_signer *id = ctx;
        if (!id->ready)
                return -EAGAIN;
        unsigned char nonce[16];
        char nonce_hex[33], audience[NET_HOST_MAX + 8];
        randombytes_buf(nonce, sizeof(nonce));
        sodium_bin2hex(nonce_hex, sizeof(nonce_hex), nonce, sizeof(nonce));
        snprintf(audience, sizeof(audience), "%s:%u", host, (unsigned)port);
        json_int_t now = (json_int_t)time(NULL);
        json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:s}", "iss",
                                   "reins", "sid", id->session, "agt", id->agent, "usr", id->user,
                                   "pol", id->policy_sha256, "aud", audience, "htm", method, "htu",
                                   json_stringn_nocheck(path, strlen(path)), "iat", now, "exp",
                                   now + 60, "jti", nonce_hex);
        char *payload = claims ? json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(claims);
        char *payload_b64 = payload ? base64url(payload, strlen(payload)) : NULL;
        free(payload);
        if (!payload_b64)
                return -ENOMEM;
        int n = snprintf(out, out_size, "%s.%s", id->header_b64, payload_b64);
        free(payload_b64);
        if (n < 0 || (size_t)n + 90 >= out_size)
                return -ENOSPC;
        unsigned char signature[crypto_sign_BYTES];
        crypto_sign_detached(signature, NULL, (const unsigned char *)out, (size_t)n,
                             id->secret_key);
        char *signature_b64 = base64url(signature, sizeof(signature));
        if (!signature_b64)
                return -ENOMEM;
        int m = snprintf(out + n, out_size - (size_t)n, ".%s", signature_b64);
        free(signature_b64);
        return n + m;
}

int session_credentials_identity(struct session_credentials *sc,
                                 const struct audit_session_signer *signer,
                                 const char *agent_fingerprint, struct reins_error *err)
{
        struct session_identity_signer *id = &sc->identity;
        if (!sc->inject.identity_count)
                return 0;
        char kid[2 * crypto_sign_PUBLICKEYBYTES + 1];
        sodium_bin2hex(kid, sizeof(kid), signer->cert.session_key,
                       sizeof(signer->cert.session_key));
        json_t *header =
            json_pack("{s:s, s:s, s:s, s:o}", "alg", "EdDSA", "typ", "reins-agent+jws", "kid", kid,
                      "reins_cert", audit_session_cert_to_json(&signer->cert));
        char *text = header ? json_dumps(header, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(header);
        id->header_b64 = text ? base64url(text, strlen(text)) : NULL;
        free(text);
        if (!id->header_b64)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct identity_public user;
        memcpy(user.key, signer->cert.user_key, sizeof(user.key));
        identity_describe(&user);
        snprintf(id->user, sizeof(id->user), "%s", user.fingerprint);
        snprintf(id->agent, sizeof(id->agent), "%s", agent_fingerprint);
        snprintf(id->session, sizeof(id->session), "%s", signer->cert.session);
        snprintf(id->policy_sha256, sizeof(id->policy_sha256), "%s", signer->cert.policy_sha256);
        if (!(id->secret_key = net_secret_alloc(crypto_sign_SECRETKEYBYTES)))
                return reins_error_set(err, ENOMEM, "out of memory");
        memcpy(id->secret_key, signer->key.secret_key, crypto_sign_SECRETKEYBYTES);
        id->ready = true; /* before the sandbox runs: no thread reads it yet */
        return 0;
}

int session_credentials_prepare(struct session_credentials *sc, const struct reins_policy *policy,
                                char **environ_list, const char *home, const char *label,
                                struct reins_error *err)
{
        const struct policy_credentials *list = &policy->credentials;
        if (list->count == 0 && policy->identity.hosts.count == 0)
                return 0;
        if (policy->identity.hosts.count) {
                int r = net_inject_add_identity(&sc->inject,
                                                (const char *const *)policy->identity.hosts.items,
                                                policy->identity.hosts.count, err);
                if (r < 0)
                        return r;
                sc->inject.sign = identity_sign;
                sc->inject.sign_ctx = &sc->identity;
        }
        char *secret = sodium_malloc(NET_INJECT_SECRET_MAX + 1);
        if (!secret)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = 0;
        for (size_t i = 0; i < list->count && r == 0; i++) {
                const struct policy_credential *c = &list->items[i];
                if (c->file) {
                        r = prepare_file(sc, c, home, err);
                        continue;
                }
                size_t len = 0;
                if ((r = read_secret(c, environ_list, home, secret, NET_INJECT_SECRET_MAX + 1, &len,
                                     err)) < 0)
                        break;
                char *masked = NULL, *entry;
                /* the source variable never reaches the sandbox, whatever
                 * env.keep says: its env gets the placeholder instead */
                if (c->source_kind == POLICY_CREDENTIAL_ENV &&
                    strv_push(&sc->drop_env, c->source) < 0) {
                        r = reins_error_set(err, ENOMEM, "out of memory");
                        break;
                }
                r = add_secret(sc, c, secret, len, &masked, err);
                if (r == 0 && (asprintf(&entry, "%s=%s", c->env, masked) < 0 ||
                               strv_push_take(&sc->env, entry) < 0))
                        r = reins_error_set(err, ENOMEM, "out of memory");
                free(masked);
        }
        sodium_free(secret); /* wiped */
        /* the env sources' values in reins' own environment are wiped where
         * they are (once every credential has read them): the sandbox's
         * pid 1 is a fork of this process and would hold them (its
         * environment block) for the whole session */
        for (size_t i = 0; i < sc->drop_env.count; i++) {
                const char *name = sc->drop_env.items[i];
                char *entry = (char *)env_lookup(environ_list, name);
                if (entry)
                        sodium_memzero(entry + strlen(name) + 1, strlen(entry + strlen(name) + 1));
                char *own = getenv(name);
                if (own)
                        sodium_memzero(own, strlen(own));
        }
        if (r < 0)
                return r;
        if ((r = net_terminator_new(&sc->inject, label, &sc->terminator, err)) < 0)
                return r;
        return make_bundle(sc, environ_list, err);
}

void session_credentials_free(struct session_credentials *sc)
{
        net_terminator_free(sc->terminator);
        sc->terminator = NULL;
        net_inject_clear(&sc->inject);
        free(sc->bundle);
        sc->bundle = NULL;
        for (size_t i = 0; i < sc->file_count; i++) {
                free(sc->file_targets[i]);
                free(sc->file_texts[i]);
        }
        sc->file_count = 0;
        strv_free(&sc->env);
        strv_free(&sc->drop_env);
        net_secret_free(sc->identity.secret_key, crypto_sign_SECRETKEYBYTES);
        sc->identity.secret_key = NULL;
        free(sc->identity.header_b64);
        sc->identity.header_b64 = NULL;
        sc->identity.ready = false;
}
