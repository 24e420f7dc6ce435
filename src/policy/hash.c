/* The policy's identity: SHA-256 of its normalized YAML. Two files that say
 * the same thing (other order, other spelling of 4GiB, merged differently)
 * get the same hash; every audit event records it. */
#include "policy/policy.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/digest.h"

int policy_sha256_hex(const struct reins_policy *policy, char out[65])
{
        cleanup_free char *yaml = policy_to_yaml(policy);
        if (!yaml)
                return -ENOMEM;
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(yaml, strlen(yaml), digest);
        sodium_bin2hex(out, 65, digest, sizeof(digest));
        return 0;
}
