#include "audit/export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/clock.h"
#include "audit/format.h"
#include "util/text_escape.h"

#ifndef REINS_VERSION
#define REINS_VERSION "0.1"
#endif

#define SYSLOG_FACILITY_LOG_AUDIT 13
#define SYSLOG_SD_ID              "reins@32473"

int audit_export_format_parse(const char *name, enum audit_export_format *out)
{
        if (strcmp(name, "ocsf") == 0)
                *out = AUDIT_EXPORT_OCSF;
        else if (strcmp(name, "syslog") == 0)
                *out = AUDIT_EXPORT_SYSLOG;
        else if (strcmp(name, "cef") == 0)
                *out = AUDIT_EXPORT_CEF;
        else
                return -EINVAL;
        return 0;
}

static const char *field_string(const json_t *record, const char *key)
{
        const char *s = json_string_value(json_object_get(record, key));
        return s ? s : "";
}

static int64_t record_time_ms(const json_t *record)
{
        int64_t ms = 0;
        if (audit_time_parse_ms(field_string(record, "time"), &ms) < 0)
                return 0;
        return ms;
}

/* A value as text (audit/text.h), as a JSON string. */
static json_t *ocsf_text(const json_t *value)
{
        struct audit_buffer b = {.ascii = true};
        audit_value_text(&b, value);
        char *s = audit_buffer_take(&b);
        json_t *out = json_string(s ? s : "");
        free(s);
        return out;
}

static void ocsf_set_if(json_t *object, const char *key, const json_t *value)
{
        if (value && !json_is_null(value))
                json_object_set_new(object, key,
                                    json_is_string(value) || json_is_number(value)
                                        ? json_deep_copy(value)
                                        : ocsf_text(value));
}

struct ocsf_class {
        int class_uid, category_uid, activity_id, severity_id;
        const char *class_name, *category_name, *activity_name;
};

static bool ocsf_http(const json_t *record)
{
        const char *protocol = field_string(record, "protocol");
        return strcmp(protocol, "http") == 0 || strcmp(protocol, "https") == 0;
}

static struct ocsf_class ocsf_classify(const json_t *record)
{
        const char *type = field_string(record, "type");
        bool denied = audit_record_is_denial(record);
        struct ocsf_class c = {0, 0, 0, 1, "Base Event", "Uncategorized", "Unknown"};
        if (strcmp(type, "exec") == 0) {
                c = (struct ocsf_class){1007,    1, 1, 1, "Process Activity", "System Activity",
                                        "Launch"};
        } else if (strcmp(type, "file.decision") == 0) {
                c = (struct ocsf_class){
                    1001,   1, 99, denied ? 3 : 1, "File System Activity", "System Activity",
                    "Other"};
        } else if (strcmp(type, "net.decision") == 0 && ocsf_http(record)) {
                c = (struct ocsf_class){
                    4002, 4, 1, denied ? 3 : 1, "HTTP Activity", "Network Activity", "Connect"};
        } else if (strcmp(type, "net.decision") == 0) {
                c = (struct ocsf_class){4001,
                                        4,
                                        denied ? 5 : 1,
                                        denied ? 3 : 1,
                                        "Network Activity",
                                        "Network Activity",
                                        denied ? "Refuse" : "Open"};
        } else if (strcmp(type, "net.close") == 0) {
                c = (struct ocsf_class){4001,   4, 2, 1, "Network Activity", "Network Activity",
                                        "Close"};
        } else if (strcmp(type, "net.progress") == 0) {
                c = (struct ocsf_class){4001,     4, 6, 1, "Network Activity", "Network Activity",
                                        "Traffic"};
        } else if (strcmp(type, "limit") == 0) {
                c = (struct ocsf_class){2004, 2, 1, 3, "Detection Finding", "Findings", "Create"};
        }
        return c;
}

static void ocsf_fill_class(json_t *out, const json_t *r, const struct ocsf_class *c)
{
        const char *type = field_string(r, "type");
        if (c->class_uid == 1007) {
                struct audit_buffer b = {.ascii = true};
                audit_argv_text(&b, json_object_get(r, "argv"));
                char *cmd = audit_buffer_take(&b);
                json_t *process = json_object(), *file = json_object(), *parent = json_object();
                ocsf_set_if(process, "pid", json_object_get(r, "pid"));
                json_object_set_new(process, "cmd_line", json_string(cmd ? cmd : ""));
                ocsf_set_if(process, "working_directory", json_object_get(r, "cwd"));
                ocsf_set_if(file, "path", json_object_get(r, "path"));
                json_object_set_new(process, "file", file);
                ocsf_set_if(parent, "pid", json_object_get(r, "ppid"));
                json_object_set_new(process, "parent_process", parent);
                json_object_set_new(out, "process", process);
                const char *result = field_string(r, "result");
                bool ok = result[0] == '\0' || strcmp(result, "ok") == 0;
                json_object_set_new(out, "status_id", json_integer(ok ? 1 : 2));
                json_object_set_new(out, "status", json_string(ok ? "Success" : "Failure"));
                if (!ok)
                        json_object_set_new(out, "status_detail",
                                            ocsf_text(json_object_get(r, "result")));
                free(cmd);
        } else if (c->class_uid == 1001) {
                json_t *file = json_object();
                ocsf_set_if(file, "path", json_object_get(r, "path"));
                json_object_set_new(out, "file", file);
        } else if (c->class_uid == 4001 || c->class_uid == 4002) {
                json_t *endpoint = json_object();
                ocsf_set_if(endpoint, "hostname", json_object_get(r, "host"));
                ocsf_set_if(endpoint, "port", json_object_get(r, "port"));
                ocsf_set_if(endpoint, "ip", json_object_get(r, "address"));
                json_object_set_new(out, "dst_endpoint", endpoint);
                if (json_object_get(r, "protocol")) {
                        json_t *info = json_object();
                        ocsf_set_if(info, "protocol_name", json_object_get(r, "protocol"));
                        json_object_set_new(out, "connection_info", info);
                }
                if (strcmp(type, "net.close") == 0 || strcmp(type, "net.progress") == 0) {
                        json_t *traffic = json_object();
                        ocsf_set_if(traffic, "bytes_out", json_object_get(r, "bytes_up"));
                        ocsf_set_if(traffic, "bytes_in", json_object_get(r, "bytes_down"));
                        json_object_set_new(out, "traffic", traffic);
                }
                if (c->class_uid == 4002) {
                        json_t *url = json_object(), *request = json_object();
                        ocsf_set_if(url, "hostname", json_object_get(r, "host"));
                        ocsf_set_if(url, "port", json_object_get(r, "port"));
                        json_object_set_new(request, "url", url);
                        json_object_set_new(out, "http_request", request);
                }
        } else if (c->class_uid == 2004) {
                json_t *finding = json_object();
                char title[96];
                snprintf(title, sizeof(title), "reins limit hit: %.40s", field_string(r, "kind"));
                json_object_set_new(finding, "title", json_string(title));
                json_object_set_new(finding, "types", json_pack("[s]", "reins.limit"));
                json_object_set_new(out, "finding_info", finding);
        }
        if (strstr(type, "decision")) {
                bool denied = audit_record_is_denial(r);
                json_object_set_new(out, "action_id", json_integer(denied ? 2 : 1));
                json_object_set_new(out, "action", json_string(denied ? "Denied" : "Allowed"));
                json_object_set_new(out, "disposition_id", json_integer(denied ? 2 : 1));
                json_object_set_new(out, "disposition",
                                    json_string(denied ? "Blocked" : "Allowed"));
        }
}

json_t *audit_export_ocsf(const json_t *r)
{
        static const char *const severities[] = {"Unknown", "Informational", "Low", "Medium",
                                                 "High"};
        struct ocsf_class c = ocsf_classify(r);
        struct audit_buffer message = {.ascii = true};
        audit_format_summary(&message, r);
        char *text = audit_buffer_take(&message);
        char uid[160];
        snprintf(uid, sizeof(uid), "%.64s:%lld", field_string(r, "session"),
                 (long long)json_integer_value(json_object_get(r, "seq")));
        json_t *out = json_pack(
            "{s:i, s:s, s:i, s:s, s:i, s:s, s:I, s:I, s:i, s:s, s:s, s:{s:s, s:s, s:s, s:s, "
            "s:{s:s, s:s, s:s}}, s:O}",
            "class_uid", c.class_uid, "class_name", c.class_name, "category_uid", c.category_uid,
            "category_name", c.category_name, "activity_id", c.activity_id, "activity_name",
            c.activity_name, "type_uid", (json_int_t)c.class_uid * 100 + c.activity_id, "time",
            (json_int_t)record_time_ms(r), "severity_id", c.severity_id, "severity",
            severities[c.severity_id], "message", text ? text : "", "metadata", "version", "1.1.0",
            "uid", uid, "correlation_uid", field_string(r, "session"), "event_code",
            field_string(r, "type"), "product", "name", "reins", "vendor_name", "reins", "version",
            REINS_VERSION, "unmapped", r);
        free(text);
        if (out)
                ocsf_fill_class(out, r, &c);
        return out;
}

void audit_syslog_escape_param(struct audit_buffer *b, const char *text, size_t length)
{
        /* RFC 5424 §6.3.3: '"', '\' and ']' inside PARAM-VALUE must be
         * escaped, or the value ends early and the rest is parsed as
         * attacker-chosen structured data */
        for (size_t i = 0; i < length; i++) {
                if (text[i] == '"' || text[i] == '\\' || text[i] == ']')
                        audit_buffer_addc(b, '\\');
                audit_buffer_addc(b, text[i]);
        }
}

void audit_cef_escape_header(struct audit_buffer *b, const char *text, size_t length)
{
        /* '|' separates header fields; a line break would start a new event */
        for (size_t i = 0; i < length; i++) {
                if (text[i] == '|' || text[i] == '\\')
                        audit_buffer_addc(b, '\\');
                if (text[i] == '\n' || text[i] == '\r')
                        audit_buffer_addc(b, ' ');
                else
                        audit_buffer_addc(b, text[i]);
        }
}

void audit_cef_escape_extension(struct audit_buffer *b, const char *text, size_t length)
{
        /* '=' would start a forged key; a line break a forged event */
        for (size_t i = 0; i < length; i++) {
                switch (text[i]) {
                case '\\':
                        audit_buffer_adds(b, "\\\\");
                        break;
                case '=':
                        audit_buffer_adds(b, "\\=");
                        break;
                case '\n':
                        audit_buffer_adds(b, "\\n");
                        break;
                case '\r':
                        audit_buffer_adds(b, "\\r");
                        break;
                default:
                        audit_buffer_addc(b, text[i]);
                }
        }
}

/* A key usable as a syslog PARAM-NAME and a CEF extension key. */
static void export_key(struct audit_buffer *b, const char *key)
{
        size_t n = 0;
        for (const char *p = key; *p && n < 32; p++, n++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '.';
                audit_buffer_addc(b, ok ? c : '_');
        }
}

static char *export_text(const json_t *value)
{
        struct audit_buffer b = {.ascii = true};
        audit_value_text(&b, value);
        return audit_buffer_take(&b);
}

static void export_syslog(struct audit_buffer *b, const json_t *r, const char *hostname)
{
        bool warning = audit_record_is_denial(r);
        audit_buffer_addf(b, "<%d>1 ", SYSLOG_FACILITY_LOG_AUDIT * 8 + (warning ? 4 : 6));
        const char *time = field_string(r, "time");
        if (time[0] && strlen(time) <= 32 && !strpbrk(time, " \n\r"))
                audit_text_escape(b, time, strlen(time));
        else
                audit_buffer_addc(b, '-');
        audit_buffer_addc(b, ' ');
        /* HOSTNAME and MSGID: 1*255 / 1*32 PRINTUSASCII */
        size_t n = 0;
        for (const char *p = hostname ? hostname : ""; *p && n < 255; p++, n++)
                audit_buffer_addc(b, *p > 32 && *p < 127 ? *p : '_');
        if (n == 0)
                audit_buffer_addc(b, '-');
        audit_buffer_adds(b, " reins - ");
        const char *type = field_string(r, "type");
        n = 0;
        for (const char *p = type; *p && n < 32; p++, n++)
                audit_buffer_addc(b, *p > 32 && *p < 127 ? *p : '_');
        if (n == 0)
                audit_buffer_addc(b, '-');
        audit_buffer_adds(b, " [" SYSLOG_SD_ID);
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)r, key, value)
        {
                if (strcmp(key, "type") == 0 || strcmp(key, "time") == 0)
                        continue;
                char *text = export_text(value);
                audit_buffer_addc(b, ' ');
                export_key(b, key);
                audit_buffer_adds(b, "=\"");
                if (text)
                        audit_syslog_escape_param(b, text, strlen(text));
                audit_buffer_addc(b, '"');
                free(text);
        }
        audit_buffer_adds(b, "] ");
        audit_format_summary(b, r);
}

static void cef_pair(struct audit_buffer *b, const char *key, const json_t *value)
{
        if (!value || json_is_null(value))
                return;
        char *text = export_text(value);
        if (!text)
                return;
        audit_buffer_addc(b, ' ');
        audit_buffer_adds(b, key);
        audit_buffer_addc(b, '=');
        audit_cef_escape_extension(b, text, strlen(text));
        free(text);
}

static void export_cef(struct audit_buffer *b, const json_t *r)
{
        const char *type = field_string(r, "type");
        int severity = strcmp(type, "limit") == 0 ? 7 : audit_record_is_denial(r) ? 6 : 3;
        struct audit_buffer name = {.ascii = true};
        audit_format_summary(&name, r);
        /* the type is a value of the record like any other (whoever can
         * write the trail chooses it): ASCII and control-free first */
        struct audit_buffer class_id = {0};
        audit_text_escape(&class_id, type, strlen(type));
        audit_buffer_adds(b, "CEF:0|reins|reins|");
        audit_cef_escape_header(b, REINS_VERSION, strlen(REINS_VERSION));
        audit_buffer_addc(b, '|');
        if (class_id.data)
                audit_cef_escape_header(b, class_id.data, class_id.length);
        audit_buffer_free(&class_id);
        audit_buffer_addc(b, '|');
        if (name.data)
                audit_cef_escape_header(b, name.data, name.length > 512 ? 512 : name.length);
        audit_buffer_free(&name);
        audit_buffer_addf(b, "|%d|rt=%lld", severity, (long long)record_time_ms(r));
        json_t *session = json_string(field_string(r, "session"));
        audit_buffer_adds(b, " cs1Label=session");
        cef_pair(b, "cs1", session);
        json_decref(session);
        cef_pair(b, "cn1", json_object_get(r, "seq"));
        audit_buffer_adds(b, " cn1Label=seq");
        /* the usual CEF keys where a field has one */
        static const char *const mapped[][2] = {
            {"pid", "spid"},     {"path", "filePath"}, {"user", "suser"},   {"uid", "suid"},
            {"host", "dhost"},   {"port", "dpt"},      {"address", "dst"},  {"protocol", "app"},
            {"decision", "act"}, {"reason", "reason"}, {"bytes_up", "out"}, {"bytes_down", "in"},
        };
        for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++)
                cef_pair(b, mapped[i][1], json_object_get(r, mapped[i][0]));
        if (json_object_get(r, "argv")) {
                audit_buffer_adds(b, " cs2Label=argv");
                cef_pair(b, "cs2", json_object_get(r, "argv"));
        }
        /* everything else under its own name, so nothing is lost */
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)r, key, value)
        {
                bool skip = strcmp(key, "type") == 0 || strcmp(key, "time") == 0 ||
                            strcmp(key, "session") == 0 || strcmp(key, "seq") == 0 ||
                            strcmp(key, "argv") == 0;
                for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]) && !skip; i++)
                        skip = strcmp(key, mapped[i][0]) == 0;
                if (skip)
                        continue;
                struct audit_buffer k = {.ascii = true};
                audit_buffer_adds(&k, "reins_");
                export_key(&k, key);
                if (k.data)
                        cef_pair(b, k.data, value);
                audit_buffer_free(&k);
        }
}

char *audit_export_line(enum audit_export_format format, const json_t *record, const char *hostname)
{
        struct audit_buffer b = {.ascii = true};
        if (format == AUDIT_EXPORT_OCSF) {
                json_t *ocsf = audit_export_ocsf(record);
                char *line = ocsf ? text_json_dumps(ocsf, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                json_decref(ocsf);
                return line;
        }
        if (format == AUDIT_EXPORT_SYSLOG)
                export_syslog(&b, record, hostname);
        else
                export_cef(&b, record);
        return audit_buffer_take(&b);
}
