/* Key material in plaintext egress: the bytes a client sends on a connection
 * that is not TLS (the proxy's scan hook), searched for an AWS access key id
 * (AKIA/ASIA + 16 base-32 characters) or a PEM private key header. Pure. */
#ifndef REINS_GOVERN_EGRESS_SCAN_H
#define REINS_GOVERN_EGRESS_SCAN_H

#include <stddef.h>

/* "aws-access-key-id", "private-key", or NULL when none is found. */
const char *egress_scan_key_material(const void *bytes, size_t len);

#endif
