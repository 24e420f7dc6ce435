/* The severity of every trail record, for the API's `severity=` filters
 * (GET /v1/events) and the envelope of each event: ONE table, here, that
 * the README and docs/openapi.yaml repeat.
 *
 *   record                                   severity
 *   risk.finding                             its own `severity` (low..critical;
 *                                            medium when missing or unknown)
 *   risk.tier                                by the tier reached (`to`):
 *                                            T0 low, T1 medium, T2 high, T3 critical
 *   risk.playbook                            by the tier it acts for: T1 medium,
 *                                            T2 (or none given) high, T3 or kill critical
 *   file.canary_read                         critical (a decoy secret was read)
 *   syscall.denied, control.refused,         high (escape primitives, the control
 *   file.protected_*, file.gitdir,           plane, protected files, secrets,
 *   file.secret_read, net.key_material,      key material leaving)
 *   session.freeze
 *   approval.request, approval.timeout,      medium (a human is or was needed)
 *   approval.refused, approval.lapsed,
 *   approval.withdrawn
 *   any record with decision deny/denied/    medium (a denial, a limit hit)
 *   block; limit, net.budget, net.overload,
 *   exec.missed, token.revoked, token.expired
 *   serve.refused, serve.forward.down,       medium (the daemon refused a call,
 *   serve.notify.dead_letter, session.start  lost a target; a session started
 *   with "degraded": true                    without Landlock)
 *   everything else (exec, allowed           low
 *   decisions, session.*, checkpoint,
 *   approval.answer, workspace.*, serve.*)
 *
 * First match wins, top to bottom. */
#ifndef REINS_SERVE_SEVERITY_H
#define REINS_SERVE_SEVERITY_H

#include <jansson.h>

enum serve_severity {
        SERVE_SEVERITY_LOW,
        SERVE_SEVERITY_MEDIUM,
        SERVE_SEVERITY_HIGH,
        SERVE_SEVERITY_CRITICAL,
};

enum serve_severity serve_record_severity(const json_t *record);
const char *serve_severity_name(enum serve_severity severity);

#endif
