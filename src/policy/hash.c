/* The policy's identity: SHA-256 of its normalized YAML. Two files that say
 * the same thing (other order, other spelling of 4GiB, merged differently)
 * get the same hash; every audit event records it. */
#include "policy/policy.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "util/cleanup.h"

int policy_sha256_hex(const struct reins_policy *policy, char out[65])
{
        if (sodium_init() < 0)
                return -EIO;
        cleanup_free char *yaml = policy_to_yaml(policy);
        if (!yaml)
                return -ENOMEM;
        unsigned char digest[crypto_hash_sha256_BYTES];
        if (crypto_hash_sha256(digest, (const unsigned char *)yaml, strlen(yaml)) != 0)
                return -EIO;
        sodium_bin2hex(out, 65, digest, sizeof(digest));
        return 0;
}
