/* Sizes ("4GiB", "512k", "100MiB", "1048576"), durations ("120s", "10m", "1h30m",
 * "250ms", "0") and cpu counts ("2", "0.5", "1500m"): strict, overflow-checked. */
#ifndef REINS_POLICY_PARSE_UNITS_H
#define REINS_POLICY_PARSE_UNITS_H

#include <stddef.h>
#include <stdint.h>

int parse_size(const char *text, uint64_t *bytes);     /* 0 or -EINVAL/-ERANGE */
int parse_duration_ms(const char *text, uint64_t *ms); /* bare number = seconds */
int parse_cpus_milli(const char *text, uint64_t *milli);
int parse_count(const char *text, uint64_t *value); /* plain unsigned integer */

/* A size for people to read: "3 bytes", "256 MiB", "1.5 GiB" (one decimal
 * where the unit does not divide it). Returns buf. */
const char *format_size(uint64_t bytes, char *buf, size_t size);

#endif
