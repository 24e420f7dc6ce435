/* One trail record as one line of text for a person (`reins audit show`,
 * `tail`) and as the message of syslog and CEF exports. Every value goes
 * through audit/text.h: ASCII only, no control characters, faithful. */
#ifndef REINS_AUDIT_FORMAT_H
#define REINS_AUDIT_FORMAT_H

#include <jansson.h>
#include <stdbool.h>

#include "audit/text.h"

/* "exec pid 2 (ppid 1): ls -la in /w" — no time, no colour. */
void audit_format_summary(struct audit_buffer *b, const json_t *record);

/* The same as a JSON string (the API's "text" of an event); NULL on ENOMEM. */
json_t *audit_format_summary_json(const json_t *record);

/* "2026-11-23 21:31:39.825 31b99f95 #1 exec pid 2 ..." (ANSI colour when
 * `colour`). Caller frees; NULL on ENOMEM. */
char *audit_format_line(const json_t *record, bool colour);

/* Is this a denial or a limit (for colour and severities)? */
bool audit_record_is_denial(const json_t *record);

#endif
