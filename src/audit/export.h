/* `reins audit export`: trail records in the formats SIEMs ingest.
 *
 * OCSF (JSON, one object a line): exec → Process Activity (1007, Launch),
 * file.decision → File System Activity (1001), net.decision → Network
 * Activity (4001, Open/Refuse) or HTTP Activity (4002) for http(s), net.close
 * → Network Activity (Close), limit → Detection Finding (2004), everything
 * else → the Base Event (0). The original record is kept whole under
 * "unmapped" (with {"base64"} for bytes that are not UTF-8), so nothing is
 * lost; cmd_line holds the argv as shell words (audit/text.h).
 *
 * syslog (RFC 5424): <PRI>1 TIME HOST reins - TYPE [reins@32473 k="v"...] MSG
 * with facility 13 (log audit); SD-ID reins@32473 uses the private enterprise
 * number reserved for documentation (RFC 5612); in PARAM-VALUE '"', '\' and
 * ']' are escaped with '\' (RFC 5424 §6.3.3).
 *
 * CEF: CEF:0|reins|reins|VERSION|TYPE|NAME|SEVERITY|EXTENSION, '|' and '\'
 * escaped in the header, '=' '\' and line breaks (\n, \r) in extension values.
 *
 * Values in syslog and CEF are first made ASCII and control-free with
 * audit/text.h's escaping (an ASCII buffer: characters above U+007F as
 * \uNNNN), then escaped for the format. */
#ifndef REINS_AUDIT_EXPORT_H
#define REINS_AUDIT_EXPORT_H

#include <jansson.h>
#include <stddef.h>

#include "audit/text.h"

enum audit_export_format {
        AUDIT_EXPORT_OCSF,
        AUDIT_EXPORT_SYSLOG,
        AUDIT_EXPORT_CEF,
};

int audit_export_format_parse(const char *name, enum audit_export_format *out);

/* One output line (no '\n'). Caller frees; NULL on ENOMEM. */
char *audit_export_line(enum audit_export_format format, const json_t *record,
                        const char *hostname);

json_t *audit_export_ocsf(const json_t *record);

/* The format-level escapers (exposed for tests). */
void audit_syslog_escape_param(struct audit_buffer *b, const char *text, size_t length);
void audit_cef_escape_header(struct audit_buffer *b, const char *text, size_t length);
void audit_cef_escape_extension(struct audit_buffer *b, const char *text, size_t length);

#endif
