/* GnuTLS through dlopen for the daemon's TLS syslog (serve/tls_client.h). */
#include "serve/tls_client.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

struct serve_tls_client {
        void *handle;
        gnutls_certificate_credentials_t credentials;
        __typeof__(gnutls_certificate_allocate_credentials) *allocate_credentials;
        __typeof__(gnutls_certificate_free_credentials) *free_credentials;
        __typeof__(gnutls_certificate_set_x509_trust_file) *set_trust_file;
        __typeof__(gnutls_certificate_set_x509_system_trust) *set_system_trust;
        __typeof__(gnutls_session_get_verify_cert_status) *verify_cert_status;
        __typeof__(gnutls_record_recv) *record_recv;
        __typeof__(gnutls_init) *init;
        __typeof__(gnutls_deinit) *deinit;
        __typeof__(gnutls_set_default_priority) *set_default_priority;
        __typeof__(gnutls_credentials_set) *credentials_set;
        __typeof__(gnutls_server_name_set) *server_name_set;
        __typeof__(gnutls_session_set_verify_cert) *set_verify_cert;
        __typeof__(gnutls_transport_set_int2) *transport_set_int2;
        __typeof__(gnutls_handshake_set_timeout) *handshake_set_timeout;
        __typeof__(gnutls_handshake) *handshake;
        __typeof__(gnutls_record_send) *record_send;
        __typeof__(gnutls_bye) *bye;
        __typeof__(gnutls_strerror) *strerror_;
        __typeof__(gnutls_error_is_fatal) *error_is_fatal;
};

static bool tls_resolve(void *handle, const char *name, void *slot, struct reins_error *err)
{
        void *symbol = dlsym(handle, name);
        if (!symbol) {
                reins_error_set(err, ENOENT, "%s has no %s", SERVE_GNUTLS_SONAME, name);
                return false;
        }
        memcpy(slot, &symbol, sizeof(symbol));
        return true;
}

int serve_tls_client_new(const char *ca_file, struct serve_tls_client **out,
                         struct reins_error *err)
{
        struct serve_tls_client *c = calloc(1, sizeof(*c));
        if (!c)
                return reins_error_set(err, ENOMEM, "out of memory");
        c->handle = dlopen(SERVE_GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!c->handle) {
                free(c);
                return reins_error_set(err, ENOENT,
                                       "a TLS target needs GnuTLS (Debian: libgnutls30): cannot "
                                       "open %s",
                                       SERVE_GNUTLS_SONAME);
        }
        void *h = c->handle;
        if (!tls_resolve(h, "gnutls_certificate_allocate_credentials", &c->allocate_credentials,
                         err) ||
            !tls_resolve(h, "gnutls_certificate_free_credentials", &c->free_credentials, err) ||
            !tls_resolve(h, "gnutls_certificate_set_x509_trust_file", &c->set_trust_file, err) ||
            !tls_resolve(h, "gnutls_certificate_set_x509_system_trust", &c->set_system_trust,
                         err) ||
            !tls_resolve(h, "gnutls_session_get_verify_cert_status", &c->verify_cert_status, err) ||
            !tls_resolve(h, "gnutls_record_recv", &c->record_recv, err) ||
            !tls_resolve(h, "gnutls_init", &c->init, err) ||
            !tls_resolve(h, "gnutls_deinit", &c->deinit, err) ||
            !tls_resolve(h, "gnutls_set_default_priority", &c->set_default_priority, err) ||
            !tls_resolve(h, "gnutls_credentials_set", &c->credentials_set, err) ||
            !tls_resolve(h, "gnutls_server_name_set", &c->server_name_set, err) ||
            !tls_resolve(h, "gnutls_session_set_verify_cert", &c->set_verify_cert, err) ||
            !tls_resolve(h, "gnutls_transport_set_int2", &c->transport_set_int2, err) ||
            !tls_resolve(h, "gnutls_handshake_set_timeout", &c->handshake_set_timeout, err) ||
            !tls_resolve(h, "gnutls_handshake", &c->handshake, err) ||
            !tls_resolve(h, "gnutls_record_send", &c->record_send, err) ||
            !tls_resolve(h, "gnutls_bye", &c->bye, err) ||
            !tls_resolve(h, "gnutls_strerror", &c->strerror_, err) ||
            !tls_resolve(h, "gnutls_error_is_fatal", &c->error_is_fatal, err)) {
                serve_tls_client_free(c);
                return -ENOENT;
        }
        if (c->allocate_credentials(&c->credentials) < 0) {
                c->credentials = NULL;
                serve_tls_client_free(c);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        int n = ca_file ? c->set_trust_file(c->credentials, ca_file, GNUTLS_X509_FMT_PEM)
                        : c->set_system_trust(c->credentials);
        if (n <= 0) {
                reins_error_set(err, EINVAL, "%s: no CA certificate could be read (%s)",
                                ca_file ? ca_file : "the system's trust store",
                                n < 0 ? c->strerror_(n) : "empty");
                serve_tls_client_free(c);
                return -EINVAL;
        }
        *out = c;
        return 0;
}

void serve_tls_client_free(struct serve_tls_client *c)
{
        if (!c)
                return;
        if (c->credentials)
                c->free_credentials(c->credentials);
        if (c->handle)
                dlclose(c->handle);
        free(c);
}

/* Why GnuTLS refused the certificate, in words an operator can act on. */
static void tls_verify_why(unsigned status, const char *server_name, char *out, size_t size)
{
        static const struct {
                unsigned bit;
                const char *why;
        } reasons[] = {
            {GNUTLS_CERT_SIGNER_NOT_FOUND, "not signed by a trusted CA"},
            {GNUTLS_CERT_SIGNER_NOT_CA, "its signer is not a CA"},
            {GNUTLS_CERT_UNEXPECTED_OWNER, "it is not for this name"},
            {GNUTLS_CERT_EXPIRED, "expired"},
            {GNUTLS_CERT_NOT_ACTIVATED, "not valid yet"},
            {GNUTLS_CERT_REVOKED, "revoked"},
            {GNUTLS_CERT_INSECURE_ALGORITHM, "signed with an insecure algorithm"},
            {GNUTLS_CERT_SIGNATURE_FAILURE, "a bad signature"},
        };
        size_t used = 0;
        out[0] = '\0';
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]) && used < size; i++)
                if (status & reasons[i].bit)
                        used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "",
                                                 reasons[i].why);
        if (!out[0])
                snprintf(out, size, "it does not verify for %s", server_name);
}

void *serve_tls_client_handshake(struct serve_tls_client *c, int fd, const char *server_name,
                                 int timeout_ms, struct reins_error *err)
{
        gnutls_session_t session = NULL;
        if (c->init(&session, GNUTLS_CLIENT) < 0) {
                reins_error_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        int r = c->set_default_priority(session);
        if (r >= 0)
                r = c->credentials_set(session, GNUTLS_CRD_CERTIFICATE, c->credentials);
        /* SNI carries names only (RFC 6066); an address is still checked
         * against the certificate's IP addresses below */
        unsigned char address[16];
        bool literal = inet_pton(AF_INET, server_name, address) == 1 ||
                       inet_pton(AF_INET6, server_name, address) == 1;
        if (r >= 0 && !literal)
                r = c->server_name_set(session, GNUTLS_NAME_DNS, server_name, strlen(server_name));
        if (r >= 0) {
                /* the chain to the CA and the name, or no session */
                c->set_verify_cert(session, server_name, 0);
                c->transport_set_int2(session, fd, fd);
                c->handshake_set_timeout(session, (unsigned)timeout_ms);
                do
                        r = c->handshake(session);
                while (r < 0 && !c->error_is_fatal(r));
        }
        if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
                char why[160];
                tls_verify_why(c->verify_cert_status(session), server_name, why, sizeof(why));
                reins_error_set(err, EPROTO, "TLS with %s: certificate refused: %s", server_name,
                                why);
                c->deinit(session);
                return NULL;
        }
        if (r < 0) {
                reins_error_set(err, EPROTO, "TLS with %s: %s", server_name, c->strerror_(r));
                c->deinit(session);
                return NULL;
        }
        return session;
}

void *serve_tls_client_start(struct serve_tls_client *c, int fd, const char *server_name,
                             int timeout_ms, struct reins_error *err)
{
        int flags = fcntl(fd, F_GETFL);
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
                reins_error_errno(err, errno, "TLS with %s: the socket", server_name);
                return NULL;
        }
        return serve_tls_client_handshake(c, fd, server_name, timeout_ms, err);
}

long serve_tls_client_recv(struct serve_tls_client *c, void *session, void *buffer, size_t size)
{
        for (;;) {
                ssize_t n = c->record_recv(session, buffer, size);
                if (n >= 0)
                        return (long)n;
                if (n == GNUTLS_E_INTERRUPTED)
                        continue;
                if (n == GNUTLS_E_AGAIN)
                        return -EAGAIN;
                /* a peer that closes without close_notify (many HTTP
                 * servers): the end, as far as a response read to its
                 * header block goes */
                if (n == GNUTLS_E_PREMATURE_TERMINATION)
                        return 0;
                return -ECONNRESET;
        }
}

int serve_tls_client_send(struct serve_tls_client *c, void *session, const void *data,
                          size_t length)
{
        const char *p = data;
        while (length > 0) {
                ssize_t n = c->record_send(session, p, length);
                if (n == GNUTLS_E_INTERRUPTED)
                        continue;
                /* the socket blocks with a send timeout: AGAIN is that */
                if (n == GNUTLS_E_AGAIN)
                        return -ETIMEDOUT;
                if (n < 0)
                        return -ECONNRESET;
                p += n;
                length -= (size_t)n;
        }
        return 0;
}

void serve_tls_client_close(struct serve_tls_client *c, void *session)
{
        if (!session)
                return;
        c->bye(session, GNUTLS_SHUT_WR);
        c->deinit(session);
}
