/* The severity table (serve/severity.h). */
#include "serve/severity.h"

#include <stdbool.h>
#include <string.h>

#include "audit/format.h"
#include "serve/targets.h"
#include "util/cleanup.h"

static const char *const names[] = {"low", "medium", "high", "critical"};

const char *serve_severity_name(enum serve_severity severity)
{
        return (size_t)severity < ARRAY_SIZE(names) ? names[severity] : "low";
}

static bool type_in(const char *type, const char *const *list)
{
        for (size_t i = 0; list[i]; i++) {
                size_t n = strlen(list[i]);
                /* "file.protected_" is a prefix; the others are whole types */
                if (list[i][n - 1] == '_' ? strncmp(type, list[i], n) == 0
                                          : strcmp(type, list[i]) == 0)
                        return true;
        }
        return false;
}

enum serve_severity serve_record_severity(const json_t *record)
{
        static const char *const high[] = {
            "syscall.denied",   "control.refused",  "file.protected_", "file.gitdir",
            "file.secret_read", "net.key_material", "session.freeze",  NULL};
        static const char *const asked[] = {"approval.request",   "approval.timeout",
                                            "approval.refused",   "approval.lapsed",
                                            "approval.withdrawn", NULL};
        static const char *const refused[] = {"limit",
                                              "net.budget",
                                              "net.overload",
                                              "exec.missed",
                                              "token.revoked",
                                              "token.expired",
                                              "serve.refused",
                                              "serve.forward.down",
                                              "serve.notify.dead_letter",
                                              NULL};
        const char *type = json_string_value(json_object_get(record, "type"));
        if (!type)
                return SERVE_SEVERITY_LOW;
        if (strcmp(type, "risk.finding") == 0) {
                int rank =
                    serve_severity_rank(json_string_value(json_object_get(record, "severity")));
                return rank < 0 ? SERVE_SEVERITY_MEDIUM : (enum serve_severity)rank;
        }
        if (strcmp(type, "risk.tier") == 0) {
                json_int_t to = json_integer_value(json_object_get(record, "to"));
                return to <= 0   ? SERVE_SEVERITY_LOW
                       : to >= 3 ? SERVE_SEVERITY_CRITICAL
                                 : (enum serve_severity)to;
        }
        if (strcmp(type, "risk.playbook") == 0) {
                const char *action = json_string_value(json_object_get(record, "action"));
                json_t *tier = json_object_get(record, "tier");
                if ((action && strcmp(action, "kill") == 0) || json_integer_value(tier) >= 3)
                        return SERVE_SEVERITY_CRITICAL;
                return json_is_integer(tier) && json_integer_value(tier) <= 1
                           ? SERVE_SEVERITY_MEDIUM
                           : SERVE_SEVERITY_HIGH;
        }
        if (strcmp(type, "file.canary_read") == 0)
                return SERVE_SEVERITY_CRITICAL;
        if (type_in(type, high))
                return SERVE_SEVERITY_HIGH;
        if (type_in(type, asked) || audit_record_is_denial(record) || type_in(type, refused))
                return SERVE_SEVERITY_MEDIUM;
        if (strcmp(type, "session.start") == 0 && json_is_true(json_object_get(record, "degraded")))
                return SERVE_SEVERITY_MEDIUM;
        return SERVE_SEVERITY_LOW;
}
