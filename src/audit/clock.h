/* Times in the trail: `time` is wall-clock UTC as RFC 3339 with
 * microseconds ("2026-11-23T21:20:02.123456Z", the event bus's format),
 * `mono` is CLOCK_MONOTONIC in ns (ordering that NTP steps cannot break). */
#ifndef REINS_AUDIT_CLOCK_H
#define REINS_AUDIT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define AUDIT_TIME_MAX 40

uint64_t audit_mono_ns(void);
void audit_time_now(char out[AUDIT_TIME_MAX]);
int64_t audit_now_ms(void);

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)", "YYYY-MM-DD HH:MM:SS" (UTC) or
 * "YYYY-MM-DD" → ms since the epoch. 0 or -EINVAL. */
int audit_time_parse_ms(const char *text, int64_t *ms);

#endif
