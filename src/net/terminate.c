/* TLS termination for credential injection (terminate.h). */
#include "net/terminate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
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

#include "net/h2head.h"
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
        /* connected while the agent's ClientHello is read (hello_cb), so
         * that ALPN can offer the agent h2 only when the upstream took it */
        SSL *upstream;
        bool upstream_tried, upstream_h2;
        char upstream_error[384];
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
 * host's trust store and its name; h2 offered when the agent offered it.
 * NULL with job->upstream_error said. */
static SSL *connect_upstream(struct terminate_job *job, bool offer_h2)
{
        struct net_terminator *t = job->t;
        SSL *ssl = SSL_new(t->client_ctx);
        if (!ssl) {
                snprintf(job->upstream_error, sizeof(job->upstream_error), "out of memory");
                return NULL;
        }
        static const unsigned char h2_http11[] = {2,   'h', '2', 8,   'h', 't',
                                                  't', 'p', '/', '1', '.', '1'};
        bool ip = net_host_is_ip_literal(job->host);
        bool ok = SSL_set_fd(ssl, job->upstream_fd) == 1;
        if (ok && offer_h2)
                ok = SSL_set_alpn_protos(ssl, h2_http11, sizeof(h2_http11)) == 0;
        if (ok && !ip)
                ok = SSL_set_tlsext_host_name(ssl, job->host) == 1 &&
                     SSL_set1_host(ssl, job->host) == 1;
        else if (ok)
                ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), job->host) == 1;
        if (ok && SSL_connect(ssl) == 1) {
                const unsigned char *proto = NULL;
                unsigned int proto_len = 0;
                SSL_get0_alpn_selected(ssl, &proto, &proto_len);
                job->upstream_h2 = proto_len == 2 && memcmp(proto, "h2", 2) == 0;
                return ssl;
        }
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK)
                snprintf(job->upstream_error, sizeof(job->upstream_error),
                         "the certificate of %s:%u is not trusted (%s); refused", job->host,
                         (unsigned)job->port, X509_verify_cert_error_string(verify));
        else
                snprintf(job->upstream_error, sizeof(job->upstream_error),
                         "TLS to %s:%u failed; refused", job->host, (unsigned)job->port);
        SSL_free(ssl);
        return NULL;
}

/* Does the ALPN list of the agent's ClientHello name h2? */
static bool hello_offers_h2(SSL *ssl)
{
        const unsigned char *p = NULL;
        size_t len = 0;
        if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                      &len) != 1 ||
            len < 2)
                return false;
        size_t list = ((size_t)p[0] << 8) | p[1];
        if (list != len - 2)
                return false;
        for (size_t i = 2; i < len;) {
                size_t n = p[i];
                if (n == 0 || i + 1 + n > len)
                        return false;
                if (n == 2 && memcmp(p + i + 1, "h2", 2) == 0)
                        return true;
                i += 1 + n;
        }
        return false;
}

/* The agent's ClientHello is in: connect the upstream now (once), so the
 * ALPN answer to the agent can follow what the upstream chose. */
static int hello_cb(SSL *ssl, int *alert, void *arg)
{
        (void)alert;
        (void)arg;
        struct terminate_job *job = SSL_get_app_data(ssl);
        if (job && !job->upstream_tried) {
                job->upstream_tried = true;
                job->upstream = connect_upstream(job, hello_offers_h2(ssl));
        }
        return SSL_CLIENT_HELLO_SUCCESS;
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

/* ---- HTTP/2: both sides negotiated h2 ----
 *
 * Two nghttp2 sessions: a server towards the agent, a client towards the
 * upstream. Each request's HEADERS become an HTTP/1.1 head (net/h2head.c),
 * go through net_inject_rewrite (the same rules as a head on HTTP/1.1) and
 * the result is sent upstream as a new stream. DATA frames are passed on as
 * they come both ways: no automatic WINDOW_UPDATE, a stream's window is
 * given back only once its bytes left on the other side, so what is held
 * is bounded by the windows advertised (H2_STREAM_WINDOW, H2_CONN_WINDOW). */

#define H2_STREAM_WINDOW (1 << 20)
#define H2_CONN_WINDOW   (4 << 20)
#define H2_STREAMS_MAX   100
#define H2_FIELD_BYTES   NET_HTTP_HEAD_MAX /* names and values of one header block */
#define H2_IO            (64 * 1024)       /* bytes per read, and gathered per write */

struct h2_bytes {
        char *data;
        size_t len, off;
};

struct h2_block { /* a header block being received */
        struct net_h2_field fields[NET_H2_FIELDS_MAX];
        size_t count;
        char *arena; /* H2_FIELD_BYTES */
        size_t used;
        bool too_big;
};

struct h2_stream {
        struct h2_relay *rl;
        struct h2_stream *prev, *next;
        int32_t cid, uid; /* the agent's stream, the upstream's (0: none yet) */
        bool client_closed, upstream_closed;
        struct h2_block request, response, trailers;
        bool responded, have_trailers;
        bool refused;             /* the proxy answered it: the upstream's end is not passed on */
        struct h2_bytes up, down; /* bytes waiting for the upstream, for the agent */
        bool up_eof, down_eof;
        struct net_inject_report report;
        struct body_scan scan;
};

struct h2_relay {
        struct terminate_job *job;
        SSL *client, *upstream;
        nghttp2_session *cs, *us; /* towards the agent (server), the upstream (client) */
        struct h2_stream *streams;
};

/* a block passed on (nghttp2 copied it): its memory back at once, so an
 * open stream holds only its window's bytes */
static void h2_block_done(struct h2_block *b)
{
        free(b->arena);
        b->arena = NULL;
        b->count = 0;
        b->used = 0;
}

static void h2_block_reset(struct h2_block *b)
{
        b->count = 0;
        b->used = 0;
        b->too_big = false;
}

static int h2_block_add(struct h2_block *b, const uint8_t *name, size_t name_len,
                        const uint8_t *value, size_t value_len)
{
        if (!b->arena && !(b->arena = malloc(H2_FIELD_BYTES)))
                return -ENOMEM;
        if (b->count >= NET_H2_FIELDS_MAX || H2_FIELD_BYTES - b->used < name_len + value_len) {
                b->too_big = true;
                return -E2BIG;
        }
        char *n = b->arena + b->used;
        memcpy(n, name, name_len);
        memcpy(n + name_len, value, value_len);
        b->used += name_len + value_len;
        b->fields[b->count++] = (struct net_h2_field){.name = (const uint8_t *)n,
                                                      .name_len = name_len,
                                                      .value = (const uint8_t *)n + name_len,
                                                      .value_len = value_len};
        return 0;
}

/* fields for nghttp2 (it copies them at submission) */
static size_t h2_nva(const struct net_h2_field *fields, size_t count, nghttp2_nv *nva)
{
        for (size_t i = 0; i < count; i++)
                nva[i] = (nghttp2_nv){.name = (uint8_t *)fields[i].name,
                                      .value = (uint8_t *)fields[i].value,
                                      .namelen = fields[i].name_len,
                                      .valuelen = fields[i].value_len,
                                      .flags = NGHTTP2_NV_FLAG_NONE};
        return count;
}

static int h2_bytes_add(struct h2_bytes *b, const uint8_t *data, size_t len)
{
        if (b->off == b->len)
                b->off = b->len = 0;
        if (b->off > 0 && b->len + len > H2_STREAM_WINDOW) { /* compact */
                memmove(b->data, b->data + b->off, b->len - b->off);
                b->len -= b->off;
                b->off = 0;
        }
        char *grown = realloc(b->data, b->len + len);
        if (!grown)
                return -ENOMEM;
        b->data = grown;
        memcpy(b->data + b->len, data, len);
        b->len += len;
        return 0;
}

static void h2_stream_free(struct h2_stream *s)
{
        struct h2_relay *rl = s->rl;
        if (s->prev)
                s->prev->next = s->next;
        else
                rl->streams = s->next;
        if (s->next)
                s->next->prev = s->prev;
        free(s->request.arena);
        free(s->response.arena);
        free(s->trailers.arena);
        free(s->up.data);
        free(s->down.data);
        free(s);
}

static void h2_maybe_free(struct h2_stream *s)
{
        if (s->client_closed && (s->upstream_closed || s->uid <= 0)) {
                if (s->cid > 0)
                        nghttp2_session_set_stream_user_data(s->rl->cs, s->cid, NULL);
                if (s->uid > 0)
                        nghttp2_session_set_stream_user_data(s->rl->us, s->uid, NULL);
                h2_stream_free(s);
        }
}

/* the request body, towards the upstream */
static ssize_t h2_read_up(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *source, void *user)
{
        (void)session;
        (void)stream_id;
        struct h2_relay *rl = user;
        struct h2_stream *s = source->ptr;
        size_t avail = s->up.len - s->up.off;
        if (avail == 0) {
                if (!s->up_eof)
                        return NGHTTP2_ERR_DEFERRED;
                *flags |= NGHTTP2_DATA_FLAG_EOF;
                return 0;
        }
        size_t n = avail < length ? avail : length;
        memcpy(buf, s->up.data + s->up.off, n);
        s->up.off += n;
        if (s->up.off == s->up.len && s->up_eof)
                *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!s->client_closed)
                nghttp2_session_consume(rl->cs, s->cid, n);
        else
                nghttp2_session_consume_connection(rl->cs, n);
        return (ssize_t)n;
}

/* the response body (or the proxy's own refusal), towards the agent */
static ssize_t h2_read_down(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                            size_t length, uint32_t *flags, nghttp2_data_source *source, void *user)
{
        struct h2_relay *rl = user;
        struct h2_stream *s = source->ptr;
        size_t avail = s->down.len - s->down.off;
        if (avail == 0 && !s->down_eof)
                return NGHTTP2_ERR_DEFERRED;
        size_t n = avail < length ? avail : length;
        memcpy(buf, s->down.data + s->down.off, n);
        s->down.off += n;
        if (n && s->uid > 0) {
                if (!s->upstream_closed)
                        nghttp2_session_consume(rl->us, s->uid, n);
                else
                        nghttp2_session_consume_connection(rl->us, n);
        }
        if (s->down.off == s->down.len && s->down_eof) {
                *flags |= NGHTTP2_DATA_FLAG_EOF;
                if (s->have_trailers) {
                        nghttp2_nv nva[NET_H2_FIELDS_MAX];
                        size_t count = h2_nva(s->trailers.fields, s->trailers.count, nva);
                        if (nghttp2_submit_trailer(session, stream_id, nva, count) == 0)
                                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
                        h2_block_done(&s->trailers);
                        s->have_trailers = false;
                }
        }
        return (ssize_t)n;
}

/* The proxy answers a stream itself: status and a one-line body. */
static void h2_refuse(struct h2_stream *s, int status, const char *why)
{
        struct h2_relay *rl = s->rl;
        rl->job->replied = true;
        s->refused = true;
        if (s->responded || s->client_closed) {
                nghttp2_submit_rst_stream(rl->cs, NGHTTP2_FLAG_NONE, s->cid,
                                          NGHTTP2_REFUSED_STREAM);
                return;
        }
        char line[320], code[8];
        int n = snprintf(line, sizeof(line), "reins: %s\n", why);
        snprintf(code, sizeof(code), "%d", status);
        s->down.off = s->down.len = 0;
        if (h2_bytes_add(&s->down, (const uint8_t *)line,
                         n > 0 ? ((size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) : 0) <
            0) {
                nghttp2_submit_rst_stream(rl->cs, NGHTTP2_FLAG_NONE, s->cid,
                                          NGHTTP2_INTERNAL_ERROR);
                return;
        }
        s->down_eof = true;
        s->have_trailers = false;
        s->responded = true;
        nghttp2_nv nva[] = {
            {(uint8_t *)":status", (uint8_t *)code, 7, strlen(code), NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, NGHTTP2_NV_FLAG_NONE},
        };
        nghttp2_data_provider prd = {.source.ptr = s, .read_callback = h2_read_down};
        if (nghttp2_submit_response(rl->cs, s->cid, nva, 2, &prd) != 0)
                nghttp2_submit_rst_stream(rl->cs, NGHTTP2_FLAG_NONE, s->cid,
                                          NGHTTP2_INTERNAL_ERROR);
}

static void h2_cancel_upstream(struct h2_stream *s)
{
        if (s->uid > 0 && !s->upstream_closed)
                nghttp2_submit_rst_stream(s->rl->us, NGHTTP2_FLAG_NONE, s->uid, NGHTTP2_CANCEL);
}

/* A request's header block is complete: the rules, then upstream. */
static void h2_request(struct h2_relay *rl, struct h2_stream *s, bool end_stream)
{
        struct terminate_job *job = rl->job;
        const struct net_inject *inject = job->t->inject;
        if (s->request.too_big) {
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, 431, "request head too large");
                h2_refuse(s, 431, "request head too large");
                return;
        }
        char *head = malloc(NET_HTTP_HEAD_MAX + 1);
        int len = head ? net_h2_head_from_fields(s->request.fields, s->request.count, head,
                                                 NET_HTTP_HEAD_MAX + 1)
                       : -ENOMEM;
        h2_block_done(&s->request);
        if (len < 0) {
                free(head);
                const char *why = len == -E2BIG ? "request head too large"
                                                : "an HTTP/2 request reins does not relay";
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, len == -E2BIG ? 431 : 400, why);
                h2_refuse(s, len == -E2BIG ? 431 : 400, why);
                return;
        }
        char *out = NULL;
        size_t out_len = 0;
        int rc = net_inject_rewrite(inject, job->host, job->port, true, head, (size_t)len, &out,
                                    &out_len, &s->report);
        free(head);
        if (rc < 0 || rc == NET_HTTP_INCOMPLETE) {
                free(out);
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, 400, "malformed request head");
                h2_refuse(s, 400, "malformed request head");
                return;
        }
        if (s->report.status) {
                int misuse = s->report.misuse;
                job_report(job, misuse >= 0 ? NET_TERMINATE_MISUSE : NET_TERMINATE_REFUSED,
                           misuse >= 0 ? inject->items[misuse].name : NULL, &s->report,
                           s->report.status, s->report.why);
                h2_refuse(s, s->report.status, s->report.why);
                free(out);
                return;
        }
        struct net_h2_field fields[NET_H2_FIELDS_MAX];
        int count = net_h2_fields_from_head(out, out_len, fields, NET_H2_FIELDS_MAX);
        if (count < 0) {
                free(out);
                job_report(job, NET_TERMINATE_REFUSED, NULL, &s->report, 431,
                           "request head too large");
                h2_refuse(s, 431, "request head too large");
                return;
        }
        for (size_t k = 0; k < inject->count; k++)
                if (s->report.injected & (1u << k))
                        job_report(job, NET_TERMINATE_INJECTED, inject->items[k].name, &s->report,
                                   0, NULL);
        if (s->report.asserted)
                job_report(job, NET_TERMINATE_INJECTED, NULL, &s->report, 0, NULL);
        nghttp2_nv nva[NET_H2_FIELDS_MAX];
        h2_nva(fields, (size_t)count, nva);
        nghttp2_data_provider prd = {.source.ptr = s, .read_callback = h2_read_up};
        s->up_eof = end_stream;
        int32_t uid =
            nghttp2_submit_request(rl->us, NULL, nva, (size_t)count, end_stream ? NULL : &prd, s);
        free(out);
        if (uid < 0) {
                job_report(job, NET_TERMINATE_REFUSED, NULL, &s->report, 502,
                           "the upstream refused a new stream");
                h2_refuse(s, 502, "the upstream refused a new stream");
                return;
        }
        s->uid = uid;
        job->bytes_up += (uint64_t)s->report.head_len;
}

static struct h2_stream *h2_client_stream(struct h2_relay *rl, int32_t id)
{
        return nghttp2_session_get_stream_user_data(rl->cs, id);
}

static struct h2_stream *h2_upstream_stream(struct h2_relay *rl, int32_t id)
{
        return nghttp2_session_get_stream_user_data(rl->us, id);
}

/* -- the agent's side -- */

static int h2_c_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
        struct h2_relay *rl = user;
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
                return 0;
        struct h2_stream *s = calloc(1, sizeof(*s));
        if (!s)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        s->rl = rl;
        s->cid = frame->hd.stream_id;
        s->next = rl->streams;
        if (rl->streams)
                rl->streams->prev = s;
        rl->streams = s;
        nghttp2_session_set_stream_user_data(session, s->cid, s);
        return 0;
}

static int h2_c_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                       size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                       void *user)
{
        (void)session;
        (void)flags;
        struct h2_stream *s = h2_client_stream(user, frame->hd.stream_id);
        if (!s || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
                return 0; /* request trailers: not relayed */
        if (h2_block_add(&s->request, name, name_len, value, value_len) == -ENOMEM)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
}

static int h2_c_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
        (void)session;
        struct h2_relay *rl = user;
        struct h2_stream *s = h2_client_stream(rl, frame->hd.stream_id);
        if (!s)
                return 0;
        bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
                h2_request(rl, s, end);
                return 0;
        }
        if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && end) {
                s->up_eof = true;
                if (s->uid > 0 && !s->upstream_closed)
                        nghttp2_session_resume_data(rl->us, s->uid);
        }
        return 0;
}

static int h2_c_data(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                     const uint8_t *data, size_t len, void *user)
{
        (void)flags;
        struct h2_relay *rl = user;
        struct h2_stream *s = h2_client_stream(rl, stream_id);
        if (!s || s->uid <= 0 || s->upstream_closed) {
                /* refused or gone: dropped, its window given back */
                nghttp2_session_consume(session, stream_id, len);
                return 0;
        }
        const struct net_inject *inject = rl->job->t->inject;
        int misuse = weaken("credential-misuse")
                         ? -1
                         : scan_body(inject, s->report.injected, &s->scan, (const char *)data, len);
        if (misuse >= 0) {
                job_report(rl->job, NET_TERMINATE_MISUSE, inject->items[misuse].name, &s->report,
                           403, "placeholder in a request body");
                h2_cancel_upstream(s);
                s->upstream_closed = true; /* nothing more of it goes up */
                nghttp2_session_consume(session, stream_id, len);
                h2_refuse(s, 403,
                          "a credential placeholder was sent to a host it is not for; refused");
                return 0;
        }
        if (h2_bytes_add(&s->up, data, len) < 0)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        rl->job->bytes_up += len;
        nghttp2_session_resume_data(rl->us, s->uid);
        return 0;
}

static int h2_c_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user)
{
        (void)session;
        struct h2_stream *s = h2_client_stream(user, stream_id);
        if (!s)
                return 0;
        s->client_closed = true;
        if (error_code != NGHTTP2_NO_ERROR)
                h2_cancel_upstream(s);
        h2_maybe_free(s);
        return 0;
}

/* -- the upstream's side -- */

static int h2_u_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
        (void)session;
        struct h2_stream *s = h2_upstream_stream(user, frame->hd.stream_id);
        if (s && frame->hd.type == NGHTTP2_HEADERS)
                h2_block_reset(frame->headers.cat == NGHTTP2_HCAT_HEADERS && s->responded
                                   ? &s->trailers
                                   : &s->response);
        return 0;
}

static int h2_u_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                       size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                       void *user)
{
        (void)session;
        (void)flags;
        struct h2_stream *s = h2_upstream_stream(user, frame->hd.stream_id);
        if (!s || frame->hd.type != NGHTTP2_HEADERS)
                return 0;
        struct h2_block *b = s->responded ? &s->trailers : &s->response;
        if (h2_block_add(b, name, name_len, value, value_len) == -ENOMEM)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
}

static int h2_u_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
        (void)session;
        struct h2_relay *rl = user;
        struct h2_stream *s = h2_upstream_stream(rl, frame->hd.stream_id);
        if (!s || s->client_closed)
                return 0;
        bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
        if (frame->hd.type == NGHTTP2_HEADERS && !s->responded) {
                struct h2_block *b = &s->response;
                if (b->count && b->fields[0].value_len == 3 && b->fields[0].value[0] == '1')
                        return 0; /* 1xx: the agent's client does not need it */
                if (b->too_big) {
                        h2_cancel_upstream(s);
                        h2_refuse(s, 502, "response head too large");
                        return 0;
                }
                s->responded = true;
                s->down_eof = end;
                nghttp2_nv nva[NET_H2_FIELDS_MAX];
                size_t count = h2_nva(b->fields, b->count, nva);
                nghttp2_data_provider prd = {.source.ptr = s, .read_callback = h2_read_down};
                if (nghttp2_submit_response(rl->cs, s->cid, nva, count, end ? NULL : &prd) != 0)
                        nghttp2_submit_rst_stream(rl->cs, NGHTTP2_FLAG_NONE, s->cid,
                                                  NGHTTP2_INTERNAL_ERROR);
                h2_block_done(b);
                return 0;
        }
        if (frame->hd.type == NGHTTP2_HEADERS) /* trailers, with END_STREAM */
                s->have_trailers = !s->trailers.too_big;
        if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && end) {
                s->down_eof = true;
                nghttp2_session_resume_data(rl->cs, s->cid);
        }
        return 0;
}

static int h2_u_data(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                     const uint8_t *data, size_t len, void *user)
{
        (void)flags;
        struct h2_relay *rl = user;
        struct h2_stream *s = h2_upstream_stream(rl, stream_id);
        if (!s || s->client_closed || !s->responded) {
                nghttp2_session_consume(session, stream_id, len);
                return 0;
        }
        if (h2_bytes_add(&s->down, data, len) < 0)
                return NGHTTP2_ERR_CALLBACK_FAILURE;
        rl->job->bytes_down += len;
        nghttp2_session_resume_data(rl->cs, s->cid);
        return 0;
}

static int h2_u_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user)
{
        (void)session;
        struct h2_relay *rl = user;
        struct h2_stream *s = h2_upstream_stream(rl, stream_id);
        if (!s)
                return 0;
        s->upstream_closed = true;
        if (s->refused) {
                /* the proxy's own answer stands */
        } else if (!s->client_closed && error_code != NGHTTP2_NO_ERROR) {
                if (!s->responded)
                        h2_refuse(s, 502, "the upstream reset the stream");
                else
                        nghttp2_submit_rst_stream(rl->cs, NGHTTP2_FLAG_NONE, s->cid, error_code);
        } else if (!s->client_closed && !s->down_eof) {
                s->down_eof = true; /* closed without END_STREAM seen: end it for the agent */
                nghttp2_session_resume_data(rl->cs, s->cid);
        }
        h2_maybe_free(s);
        return 0;
}

static nghttp2_session *h2_session(struct h2_relay *rl, bool server)
{
        nghttp2_session_callbacks *cb;
        nghttp2_option *opt;
        if (nghttp2_session_callbacks_new(&cb) != 0)
                return NULL;
        if (nghttp2_option_new(&opt) != 0) {
                nghttp2_session_callbacks_del(cb);
                return NULL;
        }
        nghttp2_option_set_no_auto_window_update(opt, 1);
        nghttp2_option_set_max_send_header_block_length(opt, NET_HTTP_HEAD_MAX * 2);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, server ? h2_c_begin_headers
                                                                           : h2_u_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cb, server ? h2_c_header : h2_u_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, server ? h2_c_frame_recv
                                                                        : h2_u_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                                  server ? h2_c_data : h2_u_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb,
                                                               server ? h2_c_close : h2_u_close);
        nghttp2_session *s = NULL;
        int rc = server ? nghttp2_session_server_new2(&s, cb, rl, opt)
                        : nghttp2_session_client_new2(&s, cb, rl, opt);
        nghttp2_session_callbacks_del(cb);
        nghttp2_option_del(opt);
        if (rc != 0)
                return NULL;
        nghttp2_settings_entry server_settings[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_STREAMS_MAX},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
            {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, NET_HTTP_HEAD_MAX},
        };
        nghttp2_settings_entry client_settings[] = {
            {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
            {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, NET_HTTP_HEAD_MAX},
        };
        if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE,
                                    server ? server_settings : client_settings, 3) != 0 ||
            nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0) {
                nghttp2_session_del(s);
                return NULL;
        }
        return s;
}

/* What a session has to send, gathered into records of up to
 * H2_IO bytes: many small frames in one write (no Nagle wait for the
 * peer's delayed ACK between a HEADERS and its SETTINGS ACK). */
static bool h2_flush(nghttp2_session *session, SSL *ssl, char *out)
{
        size_t used = 0;
        for (;;) {
                const uint8_t *data;
                ssize_t n = nghttp2_session_mem_send(session, &data);
                if (n < 0)
                        return false;
                if (n == 0 || used + (size_t)n > H2_IO) {
                        if (used && !ssl_write_all(ssl, out, used))
                                return false;
                        used = 0;
                }
                if (n == 0)
                        return true;
                if ((size_t)n > H2_IO) {
                        if (!ssl_write_all(ssl, data, (size_t)n))
                                return false;
                        continue;
                }
                memcpy(out + used, data, (size_t)n);
                used += (size_t)n;
        }
}

static bool h2_feed(nghttp2_session *session, SSL *ssl, char *buf, size_t size)
{
        size_t n = 0;
        if (!ssl_read(ssl, buf, size, &n))
                return false;
        return n == 0 || nghttp2_session_mem_recv(session, (const uint8_t *)buf, n) == (ssize_t)n;
}

static void h2_relay_run(struct terminate_job *job, SSL *client, SSL *upstream)
{
        struct h2_relay rl = {.job = job, .client = client, .upstream = upstream};
        rl.cs = h2_session(&rl, true);
        rl.us = h2_session(&rl, false);
        char *buf = malloc(H2_IO), *out = malloc(H2_IO);
        int one = 1; /* frames go as they are ready: the sessions gather them */
        setsockopt(job->client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(job->upstream_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        while (rl.cs && rl.us && buf && out) {
                if (!h2_flush(rl.us, upstream, out) || !h2_flush(rl.cs, client, out))
                        break;
                maybe_progress(job);
                if (!nghttp2_session_want_read(rl.cs) && !nghttp2_session_want_write(rl.cs))
                        break; /* the agent's side is over (GOAWAY both ways) */
                if (!nghttp2_session_want_read(rl.us) && !nghttp2_session_want_write(rl.us))
                        break; /* the upstream's */
                bool client_ready = SSL_pending(client) > 0;
                bool upstream_ready = SSL_pending(upstream) > 0;
                if (!client_ready && !upstream_ready) {
                        struct pollfd fds[2] = {{.fd = job->client_fd, .events = POLLIN},
                                                {.fd = job->upstream_fd, .events = POLLIN}};
                        int n = poll(fds, 2, TERMINATE_IDLE_MS);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        client_ready = fds[0].revents != 0;
                        upstream_ready = fds[1].revents != 0;
                }
                if (upstream_ready && !h2_feed(rl.us, upstream, buf, H2_IO))
                        break;
                if (client_ready && !h2_feed(rl.cs, client, buf, H2_IO))
                        break;
        }
        if (rl.cs && out) { /* what is still queued for the agent (a refusal, GOAWAY) */
                nghttp2_session_terminate_session(rl.cs, NGHTTP2_NO_ERROR);
                h2_flush(rl.cs, client, out);
        }
        nghttp2_session_del(rl.cs);
        nghttp2_session_del(rl.us);
        while (rl.streams)
                h2_stream_free(rl.streams);
        free(buf);
        free(out);
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
        SSL_set_app_data(client, job);
        bool ok =
            SSL_use_certificate(client, leaf) == 1 && SSL_use_PrivateKey(client, t->leaf_key) == 1;
        X509_free(leaf);
        if (!ok || SSL_accept(client) != 1) {
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, 0,
                           "the agent's TLS handshake failed (does it trust the session CA?)");
                SSL_free(client);
                if (job->upstream)
                        SSL_free(job->upstream);
                job->upstream = NULL;
                return;
        }
        /* the name the agent's TLS asked for is the host it CONNECTed to */
        const char *sni = SSL_get_servername(client, TLSEXT_NAMETYPE_host_name);
        if (sni && strcasecmp(sni, job->host) != 0) {
                job_report(job, NET_TERMINATE_REFUSED, NULL, NULL, 421,
                           "TLS server name differs from the CONNECT host");
                reply_error(job, client, 421, "TLS server name differs from the CONNECT host");
                SSL_free(client);
                if (job->upstream)
                        SSL_free(job->upstream);
                job->upstream = NULL;
                linger(job->client_fd);
                return;
        }
        if (!job->upstream_tried) /* no ClientHello callback ran */
                job->upstream = connect_upstream(job, false);
        SSL *upstream = job->upstream;
        job->upstream = NULL;
        const unsigned char *proto = NULL;
        unsigned int proto_len = 0;
        SSL_get0_alpn_selected(client, &proto, &proto_len);
        bool h2 = proto_len == 2 && memcmp(proto, "h2", 2) == 0;
        if (!upstream) {
                job_report(job, NET_TERMINATE_UPSTREAM_TLS, NULL, NULL, 502, job->upstream_error);
                reply_error(job, client, 502, job->upstream_error);
        } else if (h2) {
                h2_relay_run(job, client, upstream);
        } else {
                struct relay r = {.job = job, .client = client, .upstream = upstream};
                r.head = malloc(NET_HTTP_HEAD_MAX);
                if (r.head)
                        relay_run(&r);
                free(r.head);
        }
        if (upstream) {
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
        (void)arg;
        /* h2 when the agent and the upstream both speak it (hello_cb
         * connected the upstream already), else http/1.1; an agent offering
         * h2 alone towards an HTTP/1.1 upstream gets no ALPN and HTTP/1.1 */
        struct terminate_job *job = SSL_get_app_data(ssl);
        static const unsigned char h2[] = {2, 'h', '2'};
        static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        unsigned char *selected = NULL;
        if (job && job->upstream && job->upstream_h2 &&
            SSL_select_next_proto(&selected, out_len, h2, sizeof(h2), in, in_len) ==
                OPENSSL_NPN_NEGOTIATED &&
            *out_len == 2) {
                *out = selected;
                return SSL_TLSEXT_ERR_OK;
        }
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
        SSL_CTX_set_client_hello_cb(t->server_ctx, hello_cb, NULL);
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
