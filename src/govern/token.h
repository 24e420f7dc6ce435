/* Delegation tokens: a user hands an agent (or a sub-agent) a narrower slice
 * of their own authority without handing over any credential.
 *
 * Design (biscuit-like, offline attenuation, verification needs only the
 * root public key):
 *
 *   token   = base64url( {"blocks":[B0,B1,...],"proof":P,"version":1} )
 *   Bi      = {"payload": base64url(bytes_i), "signature": base64url(sig_i)}
 *   bytes_i = JSON text {"id":ID,"index":i,"next_key":HEX,
 *                        ["previous":HEX(sig_{i-1}),] "restrictions":{...}}
 *   sig_0   = Ed25519(user key,          "reins-token-v1\0" || bytes_0)
 *   sig_i   = Ed25519(seed of next_key_{i-1}, "reins-token-v1\0" || bytes_i)
 *   P       = base64url(the 32-byte seed of the last block's next_key)
 *
 * Every block names a fresh key pair (`next_key`) whose secret seed travels
 * with the token as the proof. Whoever holds the token can attenuate it
 * offline: append a block signed with the proof, naming a new key, and
 * replace the proof with the new seed. Removing or editing an earlier block
 * is impossible without the earlier seed, which is gone. `previous` binds
 * each block to the exact signature before it, so blocks cannot be spliced
 * between tokens, and `index` fixes their order.
 *
 * The "reins-token-v1\0" prefix separates domains: the user key also signs
 * audit checkpoints, and neither kind of signature must ever be valid as
 * the other.
 *
 * The outer JSON is written compact with sorted keys, and decoding re-encodes
 * and compares, so one token has exactly one text: a changed byte anywhere is
 * a different token and fails (bad signature, broken chain, or malformed).
 *
 * Restrictions (the block's "restrictions" object; each block may only ADD
 * restrictions, the effective rights are the intersection over all blocks):
 *   dest     ["host", "*.domain", "*", IP, each with optional ":port"] —
 *            network.allow's syntax and meaning (no port: 80 and 443)
 *   path     ["*.md", "src/a.c", "docs"+"/"+"**"] — workspace-relative globs (util/glob.h)
 *            the token allows writing
 *   cmd      ["git", "make"] — command names (no '/')
 *   expires  unix seconds, UTC; the earliest wins
 *   uses     maximum uses, >= 1; the smallest wins
 *   agent    agent name; blocks naming different agents leave no agent
 * A kind absent from every block does not restrict (the policy still does).
 * An unknown kind, or an unknown field anywhere, refuses the whole token: an
 * older reins must never ignore a restriction a newer one wrote.
 *
 * Revocation: every block has a random 128-bit id; `token_revoked_*`
 * (token_revoke.h) keeps a local list, and a token any of whose block ids is
 * listed is refused — revoking a parent revokes everything derived from it.
 */
#ifndef REINS_GOVERN_TOKEN_H
#define REINS_GOVERN_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "govern/token_sign.h"
#include "net/rules.h"
#include "util/error.h"
#include "util/strv.h"

#define TOKEN_VERSION    1
#define TOKEN_ID_BYTES   16
#define TOKEN_ID_HEX     (2 * TOKEN_ID_BYTES)
#define TOKEN_MAX_BLOCKS 64        /* a deeper chain is refused as malformed */
#define TOKEN_MAX_TEXT   (1 << 20) /* largest token text accepted */
#define TOKEN_DOMAIN     "reins-token-v1"

/* Why a token was refused; the message in reins_error says where. */
enum token_failure {
        TOKEN_OK = 0,
        TOKEN_MALFORMED,           /* not a token, bad encoding, unknown field */
        TOKEN_BAD_SIGNATURE,       /* a block's signature does not verify */
        TOKEN_BROKEN_CHAIN,        /* index/previous/proof do not link up */
        TOKEN_UNKNOWN_RESTRICTION, /* a restriction kind this reins does not know */
        TOKEN_BAD_RESTRICTION,     /* a known kind with an invalid value */
        TOKEN_EXPIRED,             /* past a block's `expires` */
        TOKEN_REVOKED,             /* a block id is on the revocation list */
};

const char *token_failure_name(enum token_failure failure); /* "bad signature" ... */

/* One block's restrictions (what `mint`/`attenuate` add). */
struct token_restrictions {
        bool has_dest, has_path, has_cmd, has_expires, has_uses;
        struct reins_strv dest;
        struct reins_strv path;
        struct reins_strv cmd;
        int64_t expires; /* unix seconds */
        uint64_t uses;
        char *agent; /* NULL: not restricted */
};

struct token_block {
        char id[TOKEN_ID_HEX + 1];
        unsigned char next_key[TOKEN_PUBLIC_KEY_BYTES];
        unsigned char signature[TOKEN_SIGNATURE_BYTES];
        char *payload; /* the exact signed JSON text */
        struct token_restrictions restrictions;
};

struct token {
        struct token_block *blocks;
        size_t count;
        unsigned char proof[TOKEN_SEED_BYTES]; /* seed of blocks[count-1].next_key */
};

/* Check one block's restrictions the way decoding does (CLI input too). */
int token_restrictions_validate(const struct token_restrictions *r, struct reins_error *err);
void token_restrictions_free(struct token_restrictions *r);

/* A new one-block token signed by `root_secret` (the user key). */
int token_mint(const unsigned char root_secret[TOKEN_SECRET_KEY_BYTES],
               const struct token_restrictions *r, struct token *out, struct reins_error *err);

/* Append a block of further restrictions, signed with the proof; needs no
 * other key. The rights can only shrink (intersection). */
int token_attenuate(struct token *token, const struct token_restrictions *r,
                    struct reins_error *err);

/* The single-line text form (malloc'd). */
int token_encode(const struct token *token, char **out, struct reins_error *err);

/* Parse and check everything: encoding, fields, restrictions, the
 * index/previous links, every block's signature (block 0's only when
 * `root_public` is given: NULL decodes offline, e.g. to attenuate), and that
 * the proof is the last key's seed. A signature is checked before its
 * payload is believed. On failure *failure says why (-EINVAL when malformed,
 * else -EPERM) and err says where. Surrounding whitespace is ignored. */
int token_decode(const char *text, const unsigned char *root_public, struct token *out,
                 enum token_failure *failure, struct reins_error *err);

/* Block 0 signed by `root_public`? */
bool token_signed_by(const struct token *token,
                     const unsigned char root_public[TOKEN_PUBLIC_KEY_BYTES]);

/* Full verification of a decoded token: root signature, expiry at `now`
 * (unix seconds), and revocation (`revoked`: block ids, may be NULL).
 * 0, or -EPERM with *failure and err set. */
int token_verify(const struct token *token, const unsigned char root_public[TOKEN_PUBLIC_KEY_BYTES],
                 int64_t now, const struct reins_strv *revoked, enum token_failure *failure,
                 struct reins_error *err);

void token_free(struct token *token);

/* ---- effective rights, for the session (reins run --token) ----
 *
 * The intersection over all blocks. A list kind is kept as one set per block
 * that restricts it: a value is allowed when every set allows it (no set:
 * unrestricted). Build it from a token that token_verify accepted. */
struct token_pattern_sets {
        struct reins_strv *sets;
        size_t count;
};

struct token_rights {
        struct token_pattern_sets dest, path, cmd;
        struct net_rules *dest_rules; /* dest.sets parsed, one per set */
        bool has_expires, has_uses;
        int64_t expires;     /* earliest */
        uint64_t uses;       /* smallest */
        char *agent;         /* NULL: any agent */
        bool agent_conflict; /* blocks named different agents: none may use it */
};

int token_effective_rights(const struct token *token, struct token_rights *out,
                           struct reins_error *err);
void token_rights_free(struct token_rights *rights);

/* Each returns true when the token allows it. `host` is as a client gave it
 * (normalized here; refused when invalid); `port` the destination port.
 * Patterns without a port mean 80 and 443, as in network.allow. */
bool token_check_dest(const struct token_rights *rights, const char *host, uint16_t port);
/* `path` is workspace-relative ("src/a.c", no leading '/'). */
bool token_check_path(const struct token_rights *rights, const char *path);
/* `name` is the command's name (basename of argv[0] or of the executable). */
bool token_check_cmd(const struct token_rights *rights, const char *name);
bool token_check_agent(const struct token_rights *rights, const char *agent);
/* False once `now` (unix seconds) reaches the expiry: a session must refuse
 * new connections/commands from then on. */
bool token_check_time(const struct token_rights *rights, int64_t now);

#endif
