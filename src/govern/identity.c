#include "govern/identity.h"

#include <errno.h>
#include <string.h>

#include "util/digest.h"

int identity_user_key(struct audit_key *key, bool create, struct reins_error *err)
{
        return audit_key_load(key, create, err);
}

void identity_describe(struct identity_public *out)
{
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(out->key, sizeof(out->key), digest);
        audit_hex(out->key, sizeof(out->key), out->hex);
        audit_hex(digest, IDENTITY_FINGERPRINT_HEX / 2, out->fingerprint);
}

int identity_user_public(struct identity_public *out, struct reins_error *err)
{
        /* the public half only: works while the key is locked */
        int rc = audit_user_public_key(out->key, true, err);
        if (rc < 0)
                return rc;
        identity_describe(out);
        return 0;
}

int identity_agent_new(struct audit_key *key, struct identity_public *out, struct reins_error *err)
{
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        crypto_sign_keypair(key->public_key, key->secret_key);
        memcpy(out->key, key->public_key, sizeof(out->key));
        identity_describe(out);
        return 0;
}
