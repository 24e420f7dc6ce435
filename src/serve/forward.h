/* Live SIEM forwarding (issue 15, item 5): one thread per `forward:`
 * target (serve/targets.h) follows the trails of every session the daemon
 * can see (serve/followed.h: the daemon's own trails, the sessions it
 * started, and the `reins run` sessions of its user's registry -- of every
 * user's, as root), and sends each record to the target, in batches, one
 * session's records at a time, in seq order.
 *
 * The spool is the trails themselves: nothing is copied. What a target has
 * acknowledged is its cursor, STATE/forward/NAME.json -- {SESSION: SEQ}, the
 * last seq it took of each session -- written whole (a temporary file,
 * fsync'd, renamed in) after each acknowledged batch and before the next
 * one is read. A receiver that is down loses nothing (the trail keeps it);
 * one that comes back, or a daemon that restarts, resumes after the cursor,
 * so a record acknowledged once is not sent again.
 *
 * Acknowledged means: for HTTP (splunk-hec, elasticsearch) a 2xx answer;
 * for syslog, which has no answer, that the receiver's TCP took every byte
 * (SIOCOUTQ back to 0) and the connection was not reset in the 50 ms that
 * followed (a receiver that dies with bytes it never read resets it; one
 * that read them all closes in order). A receiver whose process takes
 * longer than that to read what its TCP took, and then dies, loses those
 * records: syslog cannot tell. The HTTP targets have no such window.
 *
 * Memory is bounded (one batch of at most `batch` records and 4 MiB, a
 * read buffer, the cursor); failures back off from 100 ms, doubling, up to
 * backoff_max. The API's threads never wait on a target. */
#ifndef REINS_SERVE_FORWARD_H
#define REINS_SERVE_FORWARD_H

#include "util/error.h"

struct serve;

/* Start a thread per configured target (none: nothing). */
int serve_forward_start(struct serve *serve, struct reins_error *err);
/* Stop and join them (serve->stopping is set). */
void serve_forward_stop(struct serve *serve);

#endif
