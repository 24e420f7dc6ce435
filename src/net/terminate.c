/* TLS termination for credential injection (terminate.h). */
#include "net/terminate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http.h"
#include "util/weaken.h"

#define TERMINATE_LEAF_CACHE   64              /* hosts with a minted certificate */
#define TERMINATE_IDLE_MS      (5 * 60 * 1000) /* nothing moved either way: closed */
#define TERMINATE_IO           (16 * 1024)     /* bytes per read */
#define TERMINATE_REPORTS_MAX  4096            /* queued; past it reports are dropped */
#define TERMINATE_CA_DAYS      30
#define TERMINATE_STACK        (512 * 1024) /* per connection thread */
#define TERMINATE_LEAF_SECONDS (7L * 24 * 3600)

struct terminate_leaf {
        char host[NET_HOST_MAX + 1];
        X509 *cert;
};

struct terminate_job {
        struct net_terminator *t;
        struct terminate_job *next;
        pthread_t thread;
        bool started, finished;
        uint64_t conn_id;
        int client_fd, upstream_fd;
        char host[NET_HOST_MAX + 1];
        uint16_t port;
        unsigned char *held; /* client bytes read before the hand-over */
        size_t held_len, held_off;
        uint64_t bytes_up, bytes_down;
        uint64_t reported_up, reported_down; /* by PROGRESS reports so far */
        bool replied;                        /* the proxy answered the agent itself (an error) */
};

struct report_node {
        struct net_terminate_report report;
        struct report_node *next;
};

struct net_terminator {
        const struct net_inject *inject;
        EVP_PKEY *ca_key, *leaf_key;
        X509 *ca_cert;
        char *ca_pem;
        SSL_CTX *server_ctx; /* towards the agent */
        SSL_CTX *client_ctx; /* towards the real host */
        BIO_METHOD *held_method;
        int event_fd;
        pthread_mutex_t lock; /* jobs, reports, leaves */
        struct terminate_job *jobs;
        struct report_node *reports, **reports_tail;
        size_t report_count;
        struct terminate_leaf leaves[TERMINATE_LEAF_CACHE];
        size_t leaf_count, leaf_next;
};

/* ---- reports ---- */

static void post(struct net_terminator *t, const struct net_terminate_report *report)
{
        struct report_node *node = malloc(sizeof(*node));
        pthread_mutex_lock(&t->lock);
        if (node && t->report_count < TERMINATE_REPORTS_MAX) {
                node->report = *report;
                node->next = NULL;
                *t->reports_tail = node;
                t->reports_tail = &node->next;
                t->report_count++;
                node = NULL;
        }
        pthread_mutex_unlock(&t->lock);
        free(node);
        uint64_t one = 1;
        if (write(t->event_fd, &one, sizeof(one)) < 0) {
                /* the counter is saturated: the proxy is awake already */
        }
}

static void job_report(struct terminate_job *job, enum net_terminate_report_kind kind,
                       const char *credential, const struct net_inject_report *request, int status,
                       const char *detail)
{
        struct net_terminate_report r = {
            .kind = kind, .conn_id = job->conn_id, .status = status, .port = job->port};
        snprintf(r.host, sizeof(r.host), "%s", job->host);
        snprintf(r.credential, sizeof(r.credential), "%s", credential ? credential : "");
        if (request) {
                snprintf(r.method, sizeof(r.method), "%s", request->method);
                snprintf(r.path, sizeof(r.path), "%s", request->path);
        }
        snprintf(r.detail, sizeof(r.detail), "%s", detail ? detail : "");
        if (kind == NET_TERMINATE_PROGRESS || kind == NET_TERMINATE_DONE) {
                r.bytes_up = job->bytes_up - job->reported_up;
                r.bytes_down = job->bytes_down - job->reported_down;
                job->reported_up = job->bytes_up;
                job->reported_down = job->bytes_down;
        }
        post(job->t, &r);
}

/* ---- certificates ---- */

static int add_extension(X509 *cert, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext)
                return -1;
        int ok = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        return ok ? 0 : -1;
}

static X509 *new_cert(const char *common_name, EVP_PKEY *key, long seconds)
{
        X509 *cert = X509_new();
        if (!cert)
                return NULL;
        unsigned char serial[16];
        ASN1_INTEGER *number = NULL;
        BIGNUM *bn = NULL;
        bool ok = RAND_bytes(serial, sizeof(serial)) == 1 &&
                  (serial[0] &= 0x7f, bn = BN_bin2bn(serial, sizeof(serial), NULL)) &&
                  (number = BN_to_ASN1_INTEGER(bn, NULL)) && X509_set_version(cert, 2) &&
                  X509_set_serialNumber(cert, number) &&
                  X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
                  X509_gmtime_adj(X509_getm_notAfter(cert), seconds) && X509_set_pubkey(cert, key);
        X509_NAME *name = ok ? X509_get_subject_name(cert) : NULL;
        ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                              (const unsigned char *)common_name, -1, -1, 0);
        BN_free(bn);
        ASN1_INTEGER_free(number);
        if (!ok) {
                X509_free(cert);
                return NULL;
        }
        return cert;
}

/* The CA may vouch only for the credentials' hosts (name constraints):
 * "*.example.com" permits example.com's subtree; an IP literal itself. */
static int ca_constraints(const struct net_inject *inject, char *out, size_t size)
{
        size_t used = (size_t)snprintf(out, size, "critical");
        for (size_t i = 0; i <= inject->count; i++) {
                /* the credentials' hosts, then (i == count) identity.hosts */
                size_t n_hosts =
                    i < inject->count ? inject->items[i].host_count : inject->identity_count;
                for (size_t j = 0; j < n_hosts; j++) {
                        const struct net_rule *rule = i < inject->count
                                                          ? &inject->items[i].hosts[j].rule
                                                          : &inject->identity[j].rule;
                        const char *host =
                            rule->kind == NET_RULE_WILDCARD ? rule->host + 1 : rule->host;
                        /* one entry per host */
                        char entry[NET_HOST_MAX + 64];
                        snprintf(entry, sizeof(entry), ";%s:%s",
                                 net_host_is_ip_literal(host) ? "IP" : "DNS", host);
                        bool seen = false;
                        for (const char *at = strstr(out, entry); at && !seen;
                             at = strstr(at + 1, entry)) {
                                char after = at[strlen(entry)];
                                seen = after == ',' || after == '\0' || after == '/';
                        }
                        if (seen)
                                continue;
                        int n;
                        if (net_host_is_ip_literal(host))
                                n = snprintf(out + used, size - used, ",permitted;IP:%s/%s", host,
                                             strchr(host, ':') ? "ffff:ffff:ffff:ffff:ffff:ffff:"
                                                                 "ffff:ffff"
                                                               : "255.255.255.255");
                        else
                                n = snprintf(out + used, size - used, ",permitted;DNS:%s", host);
                        if (n < 0 || (size_t)n >= size - used)
                                return -1;
                        used += (size_t)n;
                }
        }
        return 0;
}

static int make_ca(struct net_terminator *t, const char *label)
{
        t->ca_key = EVP_EC_gen("P-256");
        t->leaf_key = EVP_EC_gen("P-256");
        if (!t->ca_key || !t->leaf_key)
                return -1;
        char name[128];
        snprintf(name, sizeof(name), "reins session CA %.64s", label);
        t->ca_cert = new_cert(name, t->ca_key, (long)TERMINATE_CA_DAYS * 24 * 3600);
        if (!t->ca_cert || !X509_set_issuer_name(t->ca_cert, X509_get_subject_name(t->ca_cert)))
                return -1;
        char constraints[8192];
        if (ca_constraints(t->inject, constraints, sizeof(constraints)) < 0 ||
            add_extension(t->ca_cert, t->ca_cert, NID_basic_constraints,
                          "critical,CA:TRUE,pathlen:0") < 0 ||
            add_extension(t->ca_cert, t->ca_cert, NID_key_usage, "critical,keyCertSign,cRLSign") <
                0 ||
            add_extension(t->ca_cert, t->ca_cert, NID_subject_key_identifier, "hash") < 0 ||
            add_extension(t->ca_cert, t->ca_cert, NID_name_constraints, constraints) < 0 ||
            !X509_sign(t->ca_cert, t->ca_key, EVP_sha256()))
                return -1;
        BIO *mem = BIO_new(BIO_s_mem());
        if (!mem || !PEM_write_bio_X509(mem, t->ca_cert)) {
                BIO_free(mem);
                return -1;
        }
        char *data;
        long len = BIO_get_mem_data(mem, &data);
        t->ca_pem = len > 0 ? strndup(data, (size_t)len) : NULL;
        BIO_free(mem);
        return t->ca_pem ? 0 : -1;
}

static X509 *mint_leaf(struct net_terminator *t, const char *host)
{
        X509 *cert = new_cert(host, t->leaf_key, TERMINATE_LEAF_SECONDS);
        if (!cert)
                return NULL;
        char san[NET_HOST_MAX + 8];
        snprintf(san, sizeof(san), "%s:%s", net_host_is_ip_literal(host) ? "IP" : "DNS", host);
        if (!X509_set_issuer_name(cert, X509_get_subject_name(t->ca_cert)) ||
            add_extension(cert, t->ca_cert, NID_subject_alt_name, san) < 0 ||
            add_extension(cert, t->ca_cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_extension(cert, t->ca_cert, NID_key_usage, "critical,digitalSignature") < 0 ||
            add_extension(cert, t->ca_cert, NID_ext_key_usage, "serverAuth") < 0 ||
            add_extension(cert, t->ca_cert, NID_authority_key_identifier, "keyid:always") < 0 ||
            !X509_sign(cert, t->ca_key, EVP_sha256())) {
                X509_free(cert);
                return NULL;
        }
        return cert;
}

/* The host's leaf, minted once; the caller owns a reference. */
static X509 *leaf_for(struct net_terminator *t, const char *host)
{
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < t->leaf_count; i++) {
                if (strcmp(t->leaves[i].host, host) == 0) {
                        X509 *cert = t->leaves[i].cert;
                        X509_up_ref(cert);
                        pthread_mutex_unlock(&t->lock);
                        return cert;
                }
        }
        X509 *cert = mint_leaf(t, host);
        if (cert) {
                size_t slot = t->leaf_count < TERMINATE_LEAF_CACHE
                                  ? t->leaf_count++
                                  : t->leaf_next++ % TERMINATE_LEAF_CACHE;
                X509_free(t->leaves[slot].cert);
                snprintf(t->leaves[slot].host, sizeof(t->leaves[slot].host), "%s", host);
                t->leaves[slot].cert = cert;
                X509_up_ref(cert);
        }
        pthread_mutex_unlock(&t->lock);
        return cert;
}

/* ---- a BIO that reads the held bytes first, then the socket ---- */

static int held_read(BIO *bio, char *out, size_t size, size_t *read_bytes)
{
        struct terminate_job *job = BIO_get_data(bio);
        if (job->held_off < job->held_len) {
                size_t n = job->held_len - job->held_off;
                n = n < size ? n : size;
                memcpy(out, job->held + job->held_off, n);
                job->held_off += n;
                *read_bytes = n;
                return 1;
        }
        ssize_t n;
        do
                n = recv(job->client_fd, out, size, 0);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
                *read_bytes = 0;
                return 0;
        }
        *read_bytes = (size_t)n;
        return 1;
}

static int held_write(BIO *bio, const char *data, size_t size, size_t *written)
{
        struct terminate_job *job = BIO_get_data(bio);
        ssize_t n;
        do
                n = send(job->client_fd, data, size, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
                *written = 0;
                return 0;
        }
        *written = (size_t)n;
        return 1;
}

static long held_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
        (void)bio;
        (void)num;
        (void)ptr;
        return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int held_create(BIO *bio)
{
        BIO_set_init(bio, 1);
        return 1;
}

/* ---- the connection ---- */

static bool ssl_write_all(SSL *ssl, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                size_t written = 0;
                if (SSL_write_ex(ssl, p, len, &written) != 1) {
                        int e = SSL_get_error(ssl, 0);
                        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                                continue; /* a handshake message went by */
                        return false;
                }
                p += written;
                len -= written;
        }
        return true;
}

static void reply_error(struct terminate_job *job, SSL *ssl, int status, const char *message)
{
        job->replied = true;
        char body[512], response[1024];
        snprintf(body, sizeof(body), "reins: %s\n", message);
        size_t n = net_http_response(status, body, response, sizeof(response));
        ssl_write_all(ssl, response, n);
}

static void set_blocking(int fd)
{
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0)
                fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

/* The upstream: TLS to the real host, its certificate verified against the
 * host's trust store and its name. NULL after telling the agent why. */
static SSL *connect_upstream(struct terminate_job *job, SSL *client)
{
        struct net_terminator *t = job->t;
        SSL *ssl = SSL_new(t->client_ctx);
        if (!ssl)
                return NULL;
        bool ip = net_host_is_ip_literal(job->host);
        bool ok = SSL_set_fd(ssl, job->upstream_fd) == 1;
        if (ok && !ip)
                ok = SSL_set_tlsext_host_name(ssl, job->host) == 1 &&
                     SSL_set1_host(ssl, job->host) == 1;
        else if (ok)
                ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), job->host) == 1;
        if (ok && SSL_connect(ssl) == 1)
                return ssl;
        char message[384];
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK)
                snprintf(message, sizeof(message),
                         "the certificate of %s:%u is not trusted (%s); refused", job->host,
                         (unsigned)job->port, X509_verify_cert_error_string(verify));
        else
                snprintf(message, sizeof(message), "TLS to %s:%u failed; refused", job->host,
                         (unsigned)job->port);
        job_report(job, NET_TERMINATE_UPSTREAM_TLS, NULL, NULL, 502, message);
        reply_error(job, client, 502, message);
        SSL_free(ssl);
        return NULL;
}

/* Scan body bytes for placeholders of credentials that do not go into this
 * request: `tail` keeps the end of the previous piece so a placeholder
 * split across two reads is still found. */
struct body_scan {
        char tail[NET_INJECT_PLACEHOLDER_MAX];
        size_t tail_len;
};

static int scan_body(const struct net_inject *inject, uint32_t allowed, struct body_scan *s,
                     const char *bytes, size_t len)
{
        char joined[NET_INJECT_PLACEHOLDER_MAX * 2];
        for (size_t k = 0; k < inject->count; k++) {
                if (allowed & (1u << k))
                        continue;
                const struct net_inject_credential *c = &inject->items[k];
                if (memmem(bytes, len, c->placeholder, c->placeholder_len))
                        return (int)k;
                /* across the boundary: the tail and the head of this piece */
                size_t head = len < c->placeholder_len ? len : c->placeholder_len;
                memcpy(joined, s->tail, s->tail_len);
                memcpy(joined + s->tail_len, bytes, head);
                if (memmem(joined, s->tail_len + head, c->placeholder, c->placeholder_len))
                        return (int)k;
        }
        size_t keep = NET_INJECT_PLACEHOLDER_MAX - 1;
        if (len >= keep) {
                memcpy(s->tail, bytes + len - keep, keep);
                s->tail_len = keep;
        } else {
                size_t old = s->tail_len + len > keep ? s->tail_len + len - keep : 0;
                memmove(s->tail, s->tail + old, s->tail_len - old);
                s->tail_len -= old;
                memcpy(s->tail + s->tail_len, bytes, len);
                s->tail_len += len;
        }
        return -1;
}

struct relay {
        struct terminate_job *job;
        SSL *client, *upstream;
        char *head; /* a request head being read */
        size_t head_len;
        bool in_body;
        struct net_inject_body body;
        struct net_inject_report request;
        struct body_scan scan;
};

/* Client bytes: request heads rewritten, bodies scanned and passed on.
 * false: the connection ends. */
static bool relay_from_client(struct relay *r, const char *bytes, size_t len)
{
        const struct net_inject *inject = r->job->t->inject;
        while (len > 0) {
                if (r->in_body) {
                        size_t used = 0;
                        int done = net_inject_body_step(&r->body, bytes, len, &used);
                        if (done < 0) {
                                job_report(r->job, NET_TERMINATE_REFUSED, NULL, &r->request, 400,
                                           "malformed request body framing");
                                return false;
                        }
                        int misuse =
                            weaken("credential-misuse")
                                ? -1
                                : scan_body(inject, r->request.injected, &r->scan, bytes, used);
                        if (misuse >= 0) {
                                job_report(r->job, NET_TERMINATE_MISUSE, inject->items[misuse].name,
                                           &r->request, 403, "placeholder in a request body");
                                reply_error(r->job, r->client, 403,
                                            "a credential placeholder was sent to a host it is "
                                            "not for; refused");
                                return false;
                        }
                        if (!ssl_write_all(r->upstream, bytes, used))
                                return false;
                        r->job->bytes_up += used;
                        bytes += used;
                        len -= used;
                        if (done == 1)
                                r->in_body = false;
                        continue;
                }
                size_t take = len;
                if (r->head_len + take > NET_HTTP_HEAD_MAX)
                        take = NET_HTTP_HEAD_MAX - r->head_len;
                if (take == 0) {
                        reply_error(r->job, r->client, 431, "request head too large");
                        return false;
                }
                memcpy(r->head + r->head_len, bytes, take);
                r->head_len += take;
                bytes += take;
                len -= take;
                char *out = NULL;
                size_t out_len = 0;
                int rc = net_inject_rewrite(inject, r->job->host, r->job->port, true, r->head,
                                            r->head_len, &out, &out_len, &r->request);
                if (rc == NET_HTTP_INCOMPLETE)
                        continue;
                if (rc < 0)
                        return false;
                if (r->request.status) {
                        int misuse = r->request.misuse;
                        job_report(r->job,
                                   misuse >= 0 ? NET_TERMINATE_MISUSE : NET_TERMINATE_REFUSED,
                                   misuse >= 0 ? inject->items[misuse].name : NULL, &r->request,
                                   r->request.status, r->request.why);
                        reply_error(r->job, r->client, r->request.status, r->request.why);
                        return false;
                }
                for (size_t k = 0; k < inject->count; k++)
                        if (r->request.injected & (1u << k))
                                job_report(r->job, NET_TERMINATE_INJECTED, inject->items[k].name,
                                           &r->request, 0, NULL);
                if (r->request.asserted) /* no credential name: the identity */
                        job_report(r->job, NET_TERMINATE_INJECTED, NULL, &r->request, 0, NULL);
                bool sent = ssl_write_all(r->upstream, out, out_len);
                free(out);
                if (!sent)
                        return false;
                r->job->bytes_up += r->request.head_len;
                /* bytes of the head buffer past this head: its body, or the next */
                size_t rest = r->head_len - r->request.head_len;
                char *pending = rest ? malloc(rest) : NULL;
                if (rest && !pending)
                        return false;
                if (rest)
                        memcpy(pending, r->head + r->request.head_len, rest);
                r->head_len = 0;
                r->in_body = true;
                r->scan.tail_len = 0;
                net_inject_body_start(&r->body, r->request.chunked, r->request.content_length);
                if (r->body.state == NET_BODY_DONE)
                        r->in_body = false;
                bool ok = !rest || relay_from_client(r, pending, rest);
                free(pending);
                if (!ok)
                        return false;
        }
        return true;
}

/* One read. Without SSL_MODE_AUTO_RETRY, a record that carried no data (a
 * TLS 1.3 session ticket) returns with nothing (*n 0) instead of blocking
 * for the next one, while the other side may be the one with something to
 * say. false: the end. */
static bool ssl_read(SSL *ssl, char *buf, size_t size, size_t *n)
{
        *n = 0;
        if (SSL_read_ex(ssl, buf, size, n) == 1)
                return true;
        return SSL_get_error(ssl, 0) == SSL_ERROR_WANT_READ;
}

#define TERMINATE_PROGRESS_BYTES (64 * 1024)

/* Bytes moved go to the proxy as they pass 64 KiB: the egress budget and
 * the net.progress events see a long terminated connection while it runs. */
static void maybe_progress(struct terminate_job *job)
{
        if (job->bytes_up - job->reported_up + job->bytes_down - job->reported_down >=
            TERMINATE_PROGRESS_BYTES)
                job_report(job, NET_TERMINATE_PROGRESS, NULL, NULL, 0, NULL);
}

static void relay_run(struct relay *r)
{
        char buf[TERMINATE_IO];
        for (;; maybe_progress(r->job)) {
                bool client_ready = SSL_pending(r->client) > 0;
                bool upstream_ready = SSL_pending(r->upstream) > 0;
                if (!client_ready && !upstream_ready) {
                        struct pollfd fds[2] = {{.fd = r->job->client_fd, .events = POLLIN},
                                                {.fd = r->job->upstream_fd, .events = POLLIN}};
                        int n = poll(fds, 2, TERMINATE_IDLE_MS);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return; /* idle, or poll failed */
                        client_ready = fds[0].revents != 0;
                        upstream_ready = fds[1].revents != 0;
                }
                if (upstream_ready) {
                        /* relayed as it comes: a streamed response is never held */
                        size_t n = 0;
                        if (!ssl_read(r->upstream, buf, sizeof(buf), &n))
                                return;
                        if (n && !ssl_write_all(r->client, buf, n))
                                return;
                        r->job->bytes_down += n;
                }
                if (client_ready) {
                        size_t n = 0;
                        if (!ssl_read(r->client, buf, sizeof(buf), &n))
                                return;
                        if (n && !relay_from_client(r, buf, n))
                                return;
                }
        }
}

/* After an error reply: closing a socket with unread bytes (the request we
 * refused) sends a reset, which can reach the agent before the reply does.
 * So stop writing, and read what is left for a moment. */
static void linger(int fd)
{
        shutdown(fd, SHUT_WR);
        char sink[4096];
        size_t total = 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (total < (1u << 20) && poll(&p, 1, 1000) > 0) {
                ssize_t n = recv(fd, sink, sizeof(sink), 0);
                if (n <= 0)
                        break;
                total += (size_t)n;
        }
}

static void job_serve(struct terminate_job *job)
{
        struct net_terminator *t = job->t;
        set_blocking(job->client_fd);
        set_blocking(job->upstream_fd);
        SSL *client = SSL_new(t->server_ctx);
        BIO *bio = BIO_new(t->held_method);
        X509 *leaf = leaf_for(t, job->host);
        if (!client || !bio || !leaf) {
                BIO_free(bio);
                SSL_free(client);
                X509_free(leaf);
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, 502,
                           "cannot make a certificate for the host");
                return;
        }
        BIO_set_data(bio, job);
        SSL_set_bio(client, bio, bio);
        bool ok =
            SSL_use_certificate(client, leaf) == 1 && SSL_use_PrivateKey(client, t->leaf_key) == 1;
        X509_free(leaf);
        if (!ok || SSL_accept(client) != 1) {
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, 0,
                           "the agent's TLS handshake failed (does it trust the session CA?)");
                SSL_free(client);
                return;
        }
        /* the name the agent's TLS asked for is the host it CONNECTed to */
        const char *sni = SSL_get_servername(client, TLSEXT_NAMETYPE_host_name);
        if (sni && strcasecmp(sni, job->host) != 0) {
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, 421,
                           "TLS server name differs from the CONNECT host");
                reply_error(job, client, 421, "TLS server name differs from the CONNECT host");
                SSL_free(client);
                linger(job->client_fd);
                return;
        }
        SSL *upstream = connect_upstream(job, client);
        if (upstream) {
                struct relay r = {.job = job, .client = client, .upstream = upstream};
                r.head = malloc(NET_HTTP_HEAD_MAX);
                if (r.head)
                        relay_run(&r);
                free(r.head);
                SSL_shutdown(upstream);
                SSL_free(upstream);
        }
        SSL_shutdown(client);
        SSL_free(client);
        if (job->replied)
                linger(job->client_fd);
}

static void *job_thread(void *arg)
{
        struct terminate_job *job = arg;
        job_serve(job);
        ERR_clear_error();
        /* the sockets close now (the agent sees the end at once), under the
         * lock so that a cut never shuts down an fd number reused since */
        pthread_mutex_lock(&job->t->lock);
        close(job->client_fd);
        close(job->upstream_fd);
        job->client_fd = job->upstream_fd = -1;
        job->finished = true;
        pthread_mutex_unlock(&job->t->lock);
        job_report(job, NET_TERMINATE_DONE, NULL, NULL, 0, NULL); /* its last touch of job */
        return NULL;
}

/* ---- the terminator ---- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                       const unsigned char *in, unsigned int in_len, void *arg)
{
        (void)ssl;
        (void)arg;
        /* HTTP/1.1 only (no HTTP/2 yet): an agent offering h2 and http/1.1
         * gets http/1.1; one offering h2 alone gets no ALPN and HTTP/1.1 */
        static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        unsigned char *selected = NULL;
        if (SSL_select_next_proto(&selected, out_len, http11, sizeof(http11), in, in_len) ==
                OPENSSL_NPN_NEGOTIATED &&
            *out_len == 8) {
                *out = selected;
                return SSL_TLSEXT_ERR_OK;
        }
        return SSL_TLSEXT_ERR_NOACK;
}

int net_terminator_new(const struct net_inject *inject, const char *label,
                       struct net_terminator **out, struct reins_error *err)
{
        struct net_terminator *t = calloc(1, sizeof(*t));
        if (!t)
                return reins_error_set(err, ENOMEM, "out of memory");
        t->inject = inject;
        t->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        pthread_mutex_init(&t->lock, NULL);
        t->reports_tail = &t->reports;
        static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        if (t->event_fd < 0 || make_ca(t, label) < 0 ||
            !(t->server_ctx = SSL_CTX_new(TLS_server_method())) ||
            !(t->client_ctx = SSL_CTX_new(TLS_client_method())) ||
            !SSL_CTX_set_min_proto_version(t->server_ctx, TLS1_2_VERSION) ||
            !SSL_CTX_set_min_proto_version(t->client_ctx, TLS1_2_VERSION) ||
            SSL_CTX_set_default_verify_paths(t->client_ctx) != 1 ||
            SSL_CTX_set_alpn_protos(t->client_ctx, http11, sizeof(http11)) != 0 ||
            !(t->held_method =
                  BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "reins-held"))) {
                unsigned long code = ERR_get_error();
                net_terminator_free(t);
                return reins_error_set(err, EIO, "TLS termination: %s",
                                       code ? ERR_reason_error_string(code) : "cannot set up");
        }
        SSL_CTX_set_verify(t->client_ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_alpn_select_cb(t->server_ctx, alpn_select, NULL);
        /* no SSL_MODE_AUTO_RETRY: a read must never block on one side for
         * a record that carried no data (ssl_read) */
        SSL_CTX_clear_mode(t->server_ctx, SSL_MODE_AUTO_RETRY);
        SSL_CTX_clear_mode(t->client_ctx, SSL_MODE_AUTO_RETRY);
        BIO_meth_set_read_ex(t->held_method, held_read);
        BIO_meth_set_write_ex(t->held_method, held_write);
        BIO_meth_set_ctrl(t->held_method, held_ctrl);
        BIO_meth_set_create(t->held_method, held_create);
        *out = t;
        return 0;
}

const char *net_terminator_ca_pem(const struct net_terminator *t)
{
        return t->ca_pem;
}

int net_terminator_fd(const struct net_terminator *t)
{
        return t->event_fd;
}

int net_terminator_start(struct net_terminator *t, uint64_t conn_id, int client_fd, int upstream_fd,
                         const char *host, uint16_t port, const void *held, size_t held_len)
{
        struct terminate_job *job = calloc(1, sizeof(*job));
        if (!job)
                return -ENOMEM;
        job->t = t;
        job->conn_id = conn_id;
        job->client_fd = client_fd;
        job->upstream_fd = upstream_fd;
        job->port = port;
        snprintf(job->host, sizeof(job->host), "%s", host);
        if (held_len) {
                job->held = malloc(held_len);
                if (!job->held) {
                        free(job);
                        return -ENOMEM;
                }
                memcpy(job->held, held, held_len);
                job->held_len = held_len;
        }
        /* a small stack: up to the proxy's connection cap of these may run */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, TERMINATE_STACK);
        pthread_mutex_lock(&t->lock);
        int r = pthread_create(&job->thread, &attr, job_thread, job);
        pthread_attr_destroy(&attr);
        if (r == 0) {
                job->started = true;
                job->next = t->jobs;
                t->jobs = job;
        }
        pthread_mutex_unlock(&t->lock);
        if (r != 0) {
                free(job->held);
                free(job);
                return -r;
        }
        return 0;
}

static void job_free(struct terminate_job *job)
{
        pthread_join(job->thread, NULL);
        if (job->client_fd >= 0)
                close(job->client_fd);
        if (job->upstream_fd >= 0)
                close(job->upstream_fd);
        free(job->held);
        free(job);
}

size_t net_terminator_drain(struct net_terminator *t, struct net_terminate_report *out, size_t max)
{
        uint64_t count;
        if (read(t->event_fd, &count, sizeof(count)) < 0) {
                /* EAGAIN: nothing new; the queue may still hold some */
        }
        size_t n = 0;
        struct terminate_job *finished = NULL;
        pthread_mutex_lock(&t->lock);
        while (t->reports && n < max) {
                struct report_node *node = t->reports;
                t->reports = node->next;
                out[n++] = node->report;
                free(node);
                t->report_count--;
        }
        if (!t->reports)
                t->reports_tail = &t->reports;
        else {
                uint64_t one = 1; /* more than `max`: come back */
                if (write(t->event_fd, &one, sizeof(one)) < 0) {
                }
        }
        for (struct terminate_job **p = &t->jobs; *p;) {
                struct terminate_job *job = *p;
                if (job->finished) {
                        *p = job->next;
                        job->next = finished;
                        finished = job;
                } else {
                        p = &job->next;
                }
        }
        pthread_mutex_unlock(&t->lock);
        while (finished) {
                struct terminate_job *job = finished;
                finished = job->next;
                job_free(job);
        }
        return n;
}

void net_terminator_cut(struct net_terminator *t, uint64_t conn_id)
{
        pthread_mutex_lock(&t->lock);
        for (struct terminate_job *job = t->jobs; job; job = job->next) {
                if (job->conn_id == conn_id && !job->finished) {
                        /* the thread's next read or write fails, and it ends */
                        shutdown(job->client_fd, SHUT_RDWR);
                        shutdown(job->upstream_fd, SHUT_RDWR);
                }
        }
        pthread_mutex_unlock(&t->lock);
}

void net_terminator_free(struct net_terminator *t)
{
        if (!t)
                return;
        pthread_mutex_lock(&t->lock);
        struct terminate_job *jobs = t->jobs;
        t->jobs = NULL;
        for (struct terminate_job *job = jobs; job; job = job->next) {
                if (job->finished)
                        continue;
                shutdown(job->client_fd, SHUT_RDWR);
                shutdown(job->upstream_fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&t->lock);
        while (jobs) {
                struct terminate_job *job = jobs;
                jobs = job->next;
                job_free(job);
        }
        while (t->reports) {
                struct report_node *node = t->reports;
                t->reports = node->next;
                free(node);
        }
        for (size_t i = 0; i < t->leaf_count; i++)
                X509_free(t->leaves[i].cert);
        SSL_CTX_free(t->server_ctx);
        SSL_CTX_free(t->client_ctx);
        BIO_meth_free(t->held_method);
        X509_free(t->ca_cert);
        EVP_PKEY_free(t->ca_key);
        EVP_PKEY_free(t->leaf_key);
        free(t->ca_pem);
        if (t->event_fd >= 0)
                close(t->event_fd);
        pthread_mutex_destroy(&t->lock);
        free(t);
}
