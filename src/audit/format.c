#include "audit/format.h"

#include <stdlib.h>
#include <string.h>

static const char *record_string(const json_t *record, const char *key)
{
        const char *s = json_string_value(json_object_get(record, key));
        return s ? s : "";
}

/* At most `max` bytes of a string field, escaped: a trail read here may
 * have been written by anyone. */
static void format_prefix(struct audit_buffer *b, const json_t *record, const char *key, size_t max)
{
        const char *s = record_string(record, key);
        audit_text_escape(b, s, strnlen(s, max));
}

/* " LABEL VALUE" when the field is present. */
static void format_field(struct audit_buffer *b, const json_t *record, const char *label,
                         const char *key)
{
        const json_t *value = json_object_get(record, key);
        if (!value || json_is_null(value) ||
            (json_is_string(value) && json_string_length(value) == 0))
                return;
        audit_buffer_addf(b, " %s", label);
        audit_value_text(b, value);
}

static void format_list(struct audit_buffer *b, const json_t *list, const char *label)
{
        size_t n = json_array_size(list);
        if (n == 0)
                return;
        audit_buffer_addf(b, "; %s (%zu):", label, n);
        for (size_t i = 0; i < n && i < 5; i++) {
                audit_buffer_addc(b, ' ');
                audit_value_text(b, json_array_get(list, i));
        }
        if (n > 5)
                audit_buffer_adds(b, " ...");
}

static bool format_is_internal(const char *key)
{
        static const char *const keys[] = {"type", "time", "session", "seq", "mono", "prev"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (strcmp(key, keys[i]) == 0)
                        return true;
        return false;
}

/* "key=value ..." for every field that is not part of the envelope. */
static void format_other_fields(struct audit_buffer *b, const json_t *record, const char *skip)
{
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)record, key, value)
        {
                if (format_is_internal(key) || (skip && strcmp(key, skip) == 0))
                        continue;
                audit_buffer_addc(b, ' ');
                audit_text_escape(b, key, strlen(key));
                audit_buffer_addc(b, '=');
                audit_value_text(b, value);
        }
}

/* An argument the trail cut (trail_bound.h): its start, shell-quoted, then
 * what was cut. */
static void format_cut_argument(struct audit_buffer *b, const json_t *cut)
{
        size_t length = 0;
        char *start = audit_value_bytes(json_object_get(cut, "truncated"), &length);
        if (start)
                audit_shell_quote(b, start, length);
        free(start);
        const char *hash = record_string(cut, "sha256");
        audit_buffer_addf(b, "...[cut: %lld bytes in all, sha256 ",
                          (long long)json_integer_value(json_object_get(cut, "bytes")));
        audit_text_escape(b, hash, strnlen(hash, 16));
        audit_buffer_adds(b, "...]");
}

/* " ARGV" as shell words, with arguments and argument lists the trail cut
 * said as such; anything else as format_field shows it. */
static void format_argv(struct audit_buffer *b, const json_t *record)
{
        const json_t *argv = json_object_get(record, "argv");
        size_t i;
        const json_t *item;
        bool cut = false;
        json_array_foreach(argv, i, item) cut =
            cut || (json_is_object(item) && !json_object_get(item, "base64"));
        if (!cut) {
                format_field(b, record, "", "argv");
                return;
        }
        json_array_foreach(argv, i, item)
        {
                audit_buffer_addc(b, ' ');
                size_t length = 0;
                char *bytes = NULL;
                if (json_object_get(item, "truncated")) {
                        format_cut_argument(b, item);
                } else if (json_object_get(item, "truncated_items")) {
                        const char *hash = record_string(item, "sha256");
                        audit_buffer_addf(
                            b, "...[%lld more arguments cut; argv %lld bytes in all, sha256 ",
                            (long long)json_integer_value(json_object_get(item, "truncated_items")),
                            (long long)json_integer_value(json_object_get(item, "bytes")));
                        audit_text_escape(b, hash, strnlen(hash, 16));
                        audit_buffer_adds(b, "...]");
                } else if ((bytes = audit_value_bytes(item, &length))) {
                        audit_shell_quote(b, bytes, length);
                } else {
                        audit_value_text(b, item);
                }
                free(bytes);
        }
}

bool audit_record_is_denial(const json_t *record)
{
        const char *type = record_string(record, "type");
        const char *decision = record_string(record, "decision");
        return strcmp(type, "limit") == 0 ||
               (strcmp(decision, "deny") == 0 || strcmp(decision, "denied") == 0 ||
                strcmp(decision, "block") == 0);
}

void audit_format_summary(struct audit_buffer *b, const json_t *r)
{
        const char *type = record_string(r, "type");
        if (strcmp(type, "session.start") == 0) {
                const json_t *policy = json_object_get(r, "policy");
                audit_buffer_adds(b, "session start:");
                format_field(b, r, "user ", "user");
                format_field(b, r, "agent ", "agent");
                format_field(b, policy, "policy ", "name");
                if (record_string(policy, "sha256")[0]) {
                        audit_buffer_adds(b, " (sha256 ");
                        format_prefix(b, policy, "sha256", 12);
                        audit_buffer_addc(b, ')');
                }
                if (json_is_true(json_object_get(r, "degraded")))
                        audit_buffer_adds(b, " DEGRADED");
                format_field(b, r, "command: ", "command");
        } else if (strcmp(type, "session.end") == 0) {
                audit_buffer_adds(b, "session end:");
                format_field(b, r, "status ", "status");
                format_field(b, r, "signal ", "signal");
                if (json_is_integer(json_object_get(r, "duration_ms")))
                        audit_buffer_addf(
                            b, " after %lld ms",
                            (long long)json_integer_value(json_object_get(r, "duration_ms")));
                if (json_is_true(json_object_get(r, "timed_out")))
                        audit_buffer_adds(b, " TIMED OUT");
                format_field(b, r, "peak memory bytes ", "peak_memory_bytes");
        } else if (strcmp(type, "exec") == 0) {
                audit_buffer_adds(b, "exec");
                format_field(b, r, "pid ", "pid");
                format_field(b, r, "ppid ", "ppid");
                audit_buffer_addc(b, ':');
                format_argv(b, r);
                format_field(b, r, "in ", "cwd");
                format_field(b, r, "path ", "path");
                format_field(b, r, "result ", "result");
        } else if (strcmp(type, "net.decision") == 0) {
                audit_buffer_adds(b, "net");
                format_field(b, r, "", "decision");
                format_field(b, r, "", "host");
                format_field(b, r, "port ", "port");
                format_field(b, r, "address ", "address");
                format_field(b, r, "protocol ", "protocol");
                format_field(b, r, "rule ", "rule");
                format_field(b, r, "reason: ", "reason");
        } else if (strcmp(type, "net.progress") == 0) {
                audit_buffer_adds(b, "net progress");
                format_field(b, r, "", "host");
                format_field(b, r, "port ", "port");
                format_field(b, r, "bytes up ", "bytes_up");
                format_field(b, r, "bytes down ", "bytes_down");
        } else if (strcmp(type, "net.close") == 0) {
                audit_buffer_adds(b, "net close");
                format_field(b, r, "", "host");
                format_field(b, r, "port ", "port");
                format_field(b, r, "bytes up ", "bytes_up");
                format_field(b, r, "bytes down ", "bytes_down");
        } else if (strcmp(type, "limit") == 0) {
                audit_buffer_adds(b, "limit");
                format_field(b, r, "", "kind");
                audit_buffer_addc(b, ':');
                format_other_fields(b, r, "kind");
        } else if (strcmp(type, "files.changed") == 0) {
                /* the counts, not the lists: past the listing caps they differ */
                const char *kinds[] = {"created", "modified", "deleted"};
                size_t counts[3];
                for (size_t k = 0; k < 3; k++) {
                        char key[32];
                        snprintf(key, sizeof(key), "%s_count", kinds[k]);
                        json_t *count = json_object_get(r, key);
                        counts[k] = json_is_integer(count)
                                        ? (size_t)json_integer_value(count)
                                        : json_array_size(json_object_get(r, kinds[k]));
                }
                audit_buffer_addf(b, "files changed: %zu created, %zu modified, %zu deleted",
                                  counts[0], counts[1], counts[2]);
                format_list(b, json_object_get(r, "created"), "created");
                format_list(b, json_object_get(r, "modified"), "modified");
                format_list(b, json_object_get(r, "deleted"), "deleted");
                if (json_is_true(json_object_get(r, "truncated")))
                        audit_buffer_adds(b, "; truncated (see the limit event)");
        } else if (strcmp(type, "checkpoint") == 0) {
                audit_buffer_addf(b, "checkpoint: %lld records, root ",
                                  (long long)json_integer_value(json_object_get(r, "tree_size")));
                format_prefix(b, r, "root", 16);
                audit_buffer_addf(b, "..., %s",
                                  json_is_true(json_object_get(r, "final")) ? "final" : "signed");
        } else {
                audit_text_escape(b, type, strlen(type));
                format_other_fields(b, r, NULL);
        }
}

static const char *format_colour(const json_t *record)
{
        const char *type = record_string(record, "type");
        if (audit_record_is_denial(record))
                return "\033[31m";
        if (strncmp(type, "session.", 8) == 0)
                return "\033[1m";
        if (strcmp(type, "exec") == 0)
                return "\033[36m";
        if (strncmp(type, "net.", 4) == 0)
                return "\033[32m";
        if (strcmp(type, "checkpoint") == 0)
                return "\033[2m";
        return "\033[33m";
}

json_t *audit_format_summary_json(const json_t *record)
{
        struct audit_buffer b = {0};
        audit_format_summary(&b, record);
        char *text = audit_buffer_take(&b);
        json_t *string = text ? json_string(text) : NULL;
        free(text);
        return string;
}

char *audit_format_line(const json_t *record, bool colour)
{
        struct audit_buffer b = {0};
        /* 2026-11-23T21:31:39.825921Z -> 2026-11-23 21:31:39.825 */
        const char *time = record_string(record, "time");
        char shown[24];
        snprintf(shown, sizeof(shown), "%.23s", time);
        if (strlen(shown) > 10 && shown[10] == 'T')
                shown[10] = ' ';
        audit_text_escape(&b, shown, strlen(shown));
        audit_buffer_addc(&b, ' ');
        format_prefix(&b, record, "session", 8);
        audit_buffer_addf(&b, " #%lld ",
                          (long long)json_integer_value(json_object_get(record, "seq")));
        if (colour)
                audit_buffer_adds(&b, format_colour(record));
        audit_format_summary(&b, record);
        if (colour)
                audit_buffer_adds(&b, "\033[0m");
        return audit_buffer_take(&b);
}
