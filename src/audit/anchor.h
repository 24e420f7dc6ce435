/* Checkpoint anchoring: copies of a session's certificate and checkpoints,
 * sent as they are made to places the trail's owner should not be able to
 * rewrite, and the check of a trail against them.
 *
 * Why: the trail and the user's key live in the user's home. Any process
 * of that user can read the key, drop records, re-chain and re-sign the
 * trail (or delete it); `audit verify` alone then calls it intact. A copy of
 * each checkpoint held elsewhere (an append-only file, a syslog server, an
 * HTTP collector) pins what the trail looked like when it was written.
 *
 * Targets (`reins run --anchor SPEC`, repeatable):
 *   PATH | file:PATH             append one JSON line per entry (O_APPEND; make
 *                                it append-only with `chattr +a`, or owned by
 *                                another user, so the user cannot rewrite it)
 *   syslog:unix:PATH             RFC 5424 datagrams to a unix socket (/dev/log)
 *   syslog:udp:HOST:PORT         RFC 5424 datagrams over UDP
 *   http://HOST[:PORT]/PATH      one HTTP/1.0 POST per entry (application/json)
 *
 * Entries, one JSON object each (keys sorted, ASCII only):
 *   {"type":"anchor.cert","session":S,"session_cert":{...}}   at start
 *   {"type":"checkpoint",...}   each checkpoint record, byte-for-byte as in
 *                               the trail's JSON (audit/checkpoint.h)
 * A syslog line carries the entry as its MSG; readers find an entry on any
 * line from its first '{', so a file written by a syslog daemon is read as
 * is. */
#ifndef REINS_AUDIT_ANCHOR_H
#define REINS_AUDIT_ANCHOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/session_key.h"
#include "util/error.h"

#define AUDIT_ANCHOR_MAX_TARGETS 8
#define AUDIT_ANCHOR_MAX_BYTES   (256u << 20) /* what `verify --anchor` reads at most */

struct audit_anchor;

/* Parse SPEC and open it (file opened, socket connected; an HTTP target is
 * only parsed and resolved). Adds to *set (allocated on first use). */
int audit_anchor_add(struct audit_anchor **set, const char *spec, struct reins_error *err);

/* Send one entry to every target; every target is tried, the first failure
 * is returned (the failure is also counted, see audit_anchor_failures). */
int audit_anchor_send(struct audit_anchor *set, const json_t *entry, struct reins_error *err);

/* The certificate entry. */
json_t *audit_anchor_cert_entry(const struct audit_session_cert *cert);

/* A checkpoint hook for the trail (trail_internal.h): sends the record,
 * counting failures (the supervisor reports them at the end). */
void audit_anchor_checkpoint_hook(void *set, const json_t *record);

/* Entries that could not be delivered, and the first reason. */
uint64_t audit_anchor_failures(const struct audit_anchor *set, const char **first_error);

void audit_anchor_free(struct audit_anchor *set);

/* Read an anchor for checking: a FILE, or http://… (GET; the collector
 * returns the entries it holds). Caller frees *data. */
int audit_anchor_read(const char *where, char **data, size_t *length, struct reins_error *err);

enum audit_anchor_verdict {
        AUDIT_ANCHOR_MATCH = 0,
        AUDIT_ANCHOR_MISMATCH, /* re-signed or rewritten */
        AUDIT_ANCHOR_TRUNCATED,
        AUDIT_ANCHOR_DELETED,
        AUDIT_ANCHOR_NOTHING, /* the anchor holds nothing for this session */
};

struct audit_anchor_result {
        enum audit_anchor_verdict verdict;
        uint64_t checkpoints; /* anchored checkpoints of the session, signed and certified */
        uint64_t ignored;     /* anchor entries of the session that do not verify */
        char message[512];
};

/* Check the trail of `session` (NULL data: the trail is gone) against the
 * anchor. Anchor entries count only when the chain user key → certificate
 * → checkpoint verifies (and the user key is `trusted_key`, when given). */
void audit_anchor_check(const char *anchor, size_t anchor_length, const char *session,
                        const char *trail, size_t trail_length, const char *trusted_key,
                        struct audit_anchor_result *out);

/* Call fn for every session the anchor holds a certificate for (once each,
 * in the order of first appearance); stops when fn returns false. */
void audit_anchor_sessions(const char *anchor, size_t anchor_length,
                           bool (*fn)(void *ctx, const char *session), void *ctx);

#endif
