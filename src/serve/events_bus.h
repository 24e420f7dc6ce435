/* One follower of every trail the daemon knows, for GET /v1/events.
 *
 * A single thread (not one per subscriber) follows the trails: the daemon's
 * own (STATE/trails/serve-*.jsonl), those of the sessions it started
 * (STATE/sessions/ID/record.json names them) and those of the sessions in
 * its user's registry that it did not start (a user's own `reins run`,
 * whose registry entry names its trail), and, for a daemon running as
 * root, those in every user's registry (/run/user/UID/reins,
 * /tmp/reins-UID: each directory, entry and trail checked to be that
 * user's, never followed through a link at its name). inotify on those directories says when
 * something changed; a rescan every EVENTS_RESCAN_MS catches what inotify
 * cannot (a queue overflow, a directory created later). Every complete
 * record it reads gets the next event id and goes into a ring in memory,
 * bounded by count and by bytes, that subscribers wait on (a condition
 * variable): 100 subscribers cost 100 waiting threads, not 100 pollers.
 *
 * Event ids. An id must let a client that reconnects with Last-Event-ID
 * resume exactly, across sessions, across a daemon restart, and after the
 * ring has forgotten the event. Two designs were weighed:
 *   - a compact encoding of per-session seqs ({session: seq} for every
 *     session seen): exact without any state on the daemon, but it grows
 *     with the number of sessions (1 000 sessions: ~30 KB in one header);
 *   - a daemon-assigned number backed by an index on disk (chosen): ids are
 *     1, 2, 3... in the order the follower read the records; the index,
 *     STATE/events/index (and index.old, its previous half), maps them back
 *     to the trails with one fixed-size entry per *run* -- the records one
 *     read of one trail took: (first id, session, byte range, count). A run
 *     usually holds many records, so the index stays small (64 bytes a
 *     run), is appended without fsync (a crashed process loses nothing;
 *     only a crashed host may), and is searched by bisection with pread.
 *     A resume point older than the ring is served by re-reading the runs'
 *     byte ranges from the trails; one older than the index (more than
 *     EVENTS_INDEX_MAX bytes of runs ago) is answered with a final comment
 *     saying so. The index also tells a restarted daemon where it stopped
 *     in each trail, so ids go on where they ended and nothing is numbered
 *     twice. The number is a uint64 that JavaScript's EventSource passes
 *     back verbatim (it is text).
 *
 * Memory: the ring (EVENTS_RING_SLOTS events, EVENTS_RING_BYTES), one read
 * buffer, the table of followed trails; a subscriber copies what it sends
 * into its own buffer (at most one batch) and never holds the ring's lock
 * while it writes to its client. */
#ifndef REINS_SERVE_EVENTS_BUS_H
#define REINS_SERVE_EVENTS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/severity.h"
#include "util/error.h"

struct serve;
struct serve_events;

/* One event as a subscriber is shown it: valid during the callback only. */
struct serve_event {
        uint64_t id;
        const char *session;
        const char *policy; /* as the role check judges the session; NULL: unknown */
        bool daemon;        /* from the daemon's own trail */
        const char *type;
        enum serve_severity severity;
        const char *message; /* "id: N\ndata: {...}\n\n", ready to send */
        size_t length;
};

/* Called for each event in id order; false: stop after this one (the
 * subscriber's batch is full). Called with the ring's lock held: copy, do
 * not block. */
typedef bool (*serve_event_fn)(void *ctx, const struct serve_event *event);

/* Start the follower (serve->events); stop and free it. */
int serve_events_start(struct serve *serve, struct reins_error *err);
void serve_events_stop(struct serve *serve);

/* Subscribers count themselves in and out, so that a stopping daemon can
 * let their streams end with a last comment before it closes the
 * connections: drain wakes them and waits up to `timeout_ms` for them. */
void serve_events_subscribe(struct serve_events *bus);
void serve_events_unsubscribe(struct serve_events *bus);
void serve_events_drain(struct serve *serve, int timeout_ms);

/* The id the next event will get (the follower has loaded its index:
 * waits for that, a few ms after the daemon starts). */
uint64_t serve_events_next_id(struct serve_events *bus);

/* The oldest id the index still places (the ring's first when none). */
uint64_t serve_events_first_id(struct serve_events *bus);

/* Events with id >= *next from the ring, in order, to `fn`; *next moves
 * past each one handed. Waits up to `wait_ms` when there is none yet.
 * Returns how many were handed; -ERANGE when *next is older than the ring
 * (serve_events_replay then); -ESHUTDOWN when the daemon stops. */
int serve_events_take(struct serve_events *bus, uint64_t *next, int wait_ms, serve_event_fn fn,
                      void *ctx);

/* Events with id >= *next read back from the trails through the index,
 * one run at a time (at most ~1 MiB of trail per call). Returns how many
 * were handed (0: *next has reached the ring); -ENOENT when *next is older
 * than the index (those events can no longer be placed). */
int serve_events_replay(struct serve_events *bus, uint64_t *next, serve_event_fn fn, void *ctx);

#endif
