/* Escalation (issue 15, item 4): the daemon watches the trails of the
 * sessions it knows and notifies the `notify:` targets (serve/targets.h)
 * of what needs a person:
 *
 *   tier      a session's risk tier changed (risk.tier)
 *   finding   a risk finding at or above the target's severity (risk.finding)
 *   approval  an approval request still unanswered after approval_wait s
 *   frozen    a session was frozen (session.freeze, risk.playbook freeze)
 *
 * One notification is a JSON object {"kind", "session", "seq", "time",
 * "record"} (the trail's record, as written). Detection is one thread
 * (serve/notify.c), which resumes after its cursor STATE/notify/cursor.json
 * ({SESSION: SEQ}, written whole) so a restarted daemon does not notify
 * twice; delivery is a thread per target (serve/notify_deliver.c). */
#ifndef REINS_SERVE_NOTIFY_H
#define REINS_SERVE_NOTIFY_H

#include <jansson.h>

#include "serve/targets.h"
#include "util/error.h"

struct serve;
struct serve_notify_queue;

int serve_notify_start(struct serve *serve, struct reins_error *err);
void serve_notify_stop(struct serve *serve);

/* Delivery (serve/notify_deliver.c): a bounded queue and its thread per
 * target. `push` takes `notification`; a full queue sends it straight to
 * the dead-letter file. */
int serve_notify_queue_start(struct serve *serve, const struct serve_notify_target *target,
                             const char *dir, struct serve_notify_queue **out,
                             struct reins_error *err);
void serve_notify_queue_push(struct serve_notify_queue *q, json_t *notification);
void serve_notify_queue_stop(struct serve_notify_queue *q);

#endif
