/* Credentials for one session (credentials.h). */
#include "session/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
        }
        return NET_INJECT_BEARER;
}

int session_credentials_prepare(struct session_credentials *sc, const struct reins_policy *policy,
                                char **environ_list, const char *home, const char *label,
                                struct reins_error *err)
{
        const struct policy_credentials *list = &policy->credentials;
        if (list->count == 0)
                return 0;
        char *secret = sodium_malloc(NET_INJECT_SECRET_MAX + 1);
        if (!secret)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = 0;
        for (size_t i = 0; i < list->count && r == 0; i++) {
                const struct policy_credential *c = &list->items[i];
                size_t len = 0;
                if ((r = read_secret(c, environ_list, home, secret, NET_INJECT_SECRET_MAX + 1, &len,
                                     err)) < 0)
                        break;
                /* the placeholder: the name (for people reading a log) and
                 * 128 random bits (so no one can guess another session's) */
                unsigned char random[16];
                char hex[33], placeholder[NET_INJECT_PLACEHOLDER_MAX];
                randombytes_buf(random, sizeof(random));
                sodium_bin2hex(hex, sizeof(hex), random, sizeof(random));
                snprintf(placeholder, sizeof(placeholder), "reins-cred-%s-%s", c->name, hex);
                r = net_inject_add(&sc->inject, c->name, placeholder, secret, len,
                                   (const char *const *)c->hosts.items, c->hosts.count,
                                   how_of(c->how), c->how_name, c->plaintext, err);
                char *entry;
                if (r == 0 && (asprintf(&entry, "%s=%s", c->env, placeholder) < 0 ||
                               strv_push_take(&sc->env, entry) < 0))
                        r = reins_error_set(err, ENOMEM, "out of memory");
        }
        sodium_free(secret); /* wiped */
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
        strv_free(&sc->env);
}
