/* Signed checkpoints: a `checkpoint` record in the trail itself, every N
 * records and at the end (`final`: the session closed its trail).
 *
 *   {"type":"checkpoint","time","session","seq","mono","prev",
 *    "tree_size": number of record lines before this one,
 *    "root": hex RFC 6962 Merkle tree hash of those lines (audit/merkle.h),
 *    "final": bool, "key": hex Ed25519 public key, "signature": hex}
 *
 * The signature (Ed25519, libsodium) covers every other field of the record
 * through this canonical, domain-separated byte string (each line ends in
 * \n; strings are length-prefixed so no value can forge a line break):
 *
 *   reins-checkpoint-v1
 *   session=<byte length>:<session>
 *   time=<byte length>:<time>
 *   seq=<decimal>
 *   mono=<decimal>
 *   tree_size=<decimal>
 *   root=<64 hex>
 *   prev=<64 hex>
 *   final=<0|1>
 *   key=<64 hex>
 */
#ifndef REINS_AUDIT_CHECKPOINT_H
#define REINS_AUDIT_CHECKPOINT_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/keys.h"
#include "audit/merkle.h"

#define AUDIT_CHECKPOINT_DOMAIN "reins-checkpoint-v1\n"

struct audit_checkpoint {
        char session[128];
        /* an OCI container's id (reins oci), "" for any other session: in
         * the record and, when not empty, in the signed message */
        char container[136];
        char time[48];
        uint64_t seq;
        uint64_t mono;
        uint64_t tree_size;
        unsigned char root[MERKLE_HASH_BYTES];
        char prev[65];
        bool final;
        unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
        unsigned char signature[crypto_sign_BYTES];
};

/* The canonical byte string above; returns its length, or -ENOSPC when
 * `size` is too small (AUDIT_CHECKPOINT_MESSAGE_MAX bytes always suffice). */
#define AUDIT_CHECKPOINT_MESSAGE_MAX 768
int audit_checkpoint_message(const struct audit_checkpoint *checkpoint, char *out, size_t size);

/* Fill public_key and signature with `key`. */
int audit_checkpoint_sign(struct audit_checkpoint *checkpoint, const struct audit_key *key);
bool audit_checkpoint_signature_valid(const struct audit_checkpoint *checkpoint);

json_t *audit_checkpoint_to_json(const struct audit_checkpoint *checkpoint);

/* Parse a checkpoint record: exactly the fields above, of the right types;
 * anything else (a missing, extra or malformed field) is -EINVAL with the
 * reason in `why`. */
int audit_checkpoint_from_json(const json_t *record, struct audit_checkpoint *out, char *why,
                               size_t why_size);

#endif
