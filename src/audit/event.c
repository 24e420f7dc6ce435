#include "audit/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/notice.h"
#include "util/text_escape.h"

void event_bus_init(struct event_bus *bus, const char *session)
{
        memset(bus, 0, sizeof(*bus));
        snprintf(bus->session, sizeof(bus->session), "%s", session ? session : "");
}

void event_bus_set_container(struct event_bus *bus, const char *container)
{
        snprintf(bus->container, sizeof(bus->container), "%s", container ? container : "");
}

void event_bus_hold(struct event_bus *bus)
{
        if (!bus->held)
                bus->held = json_array();
}

static void event_deliver(struct event_bus *bus, const json_t *event)
{
        for (int i = 0; i < bus->sink_count; i++)
                bus->sinks[i].fn(bus->sinks[i].ctx, event);
}

void event_bus_release(struct event_bus *bus)
{
        json_t *held = bus->held;
        bus->held = NULL;
        size_t i;
        json_t *event;
        json_array_foreach(held, i, event) event_deliver(bus, event);
        json_decref(held);
}

void event_bus_fini(struct event_bus *bus)
{
        json_decref(bus->held);
        bus->held = NULL;
}

int event_bus_add_sink(struct event_bus *bus, event_sink_fn fn, void *ctx)
{
        if (bus->sink_count >= EVENT_MAX_SINKS)
                return -ENOSPC;
        bus->sinks[bus->sink_count].fn = fn;
        bus->sinks[bus->sink_count].ctx = ctx;
        bus->sink_count++;
        return 0;
}

json_t *event_time_json(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char buf[40];
        size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", ts.tv_nsec / 1000);
        return json_string(buf);
}

#define PLACEHOLDER_PREFIX "reins-cred-"
#define PLACEHOLDER_HEX    32

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Mask "reins-cred-NAME-<32 hex>" in place: the hex becomes 'x's. NAME is
 * 1 to 32 of [A-Za-z0-9_-]; the hex run is the first that fits after it. */
static bool mask_text(char *text, size_t len)
{
        const size_t prefix = strlen(PLACEHOLDER_PREFIX);
        bool masked = false;
        char *end = text + len;
        for (char *p = memmem(text, len, PLACEHOLDER_PREFIX, prefix); p;
             p = memmem(p, (size_t)(end - p), PLACEHOLDER_PREFIX, prefix)) {
                p += prefix;
                for (size_t o = 1; o <= 33 && p + o + PLACEHOLDER_HEX < end + 0; o++) {
                        if (p[o] != '-')
                                continue;
                        bool all = true;
                        for (size_t i = 1; i <= PLACEHOLDER_HEX && all; i++)
                                all = is_hex(p[o + i]);
                        if (!all)
                                continue;
                        memset(p + o + 1, 'x', PLACEHOLDER_HEX);
                        masked = true;
                        break;
                }
        }
        return masked;
}

static void mask_json(json_t *value, int depth)
{
        if (depth > 8)
                return;
        if (json_is_string(value)) {
                size_t len = json_string_length(value);
                const char *text = json_string_value(value);
                if (!memmem(text, len, PLACEHOLDER_PREFIX, strlen(PLACEHOLDER_PREFIX)))
                        return;
                char *copy = malloc(len + 1);
                if (!copy)
                        return;
                memcpy(copy, text, len + 1);
                if (mask_text(copy, len))
                        json_string_setn(value, copy, len);
                free(copy);
        } else if (json_is_object(value)) {
                const char *key;
                json_t *child;
                json_object_foreach(value, key, child) mask_json(child, depth + 1);
        } else if (json_is_array(value)) {
                size_t i;
                json_t *child;
                json_array_foreach(value, i, child) mask_json(child, depth + 1);
        }
}

void event_emit(struct event_bus *bus, const char *type, json_t *fields)
{
        if (!bus || (bus->sink_count == 0 && !bus->held)) {
                json_decref(fields);
                return;
        }
        json_t *event = json_object();
        if (!event) {
                json_decref(fields);
                return;
        }
        json_object_set_new(event, "type", json_string(type));
        json_object_set_new(event, "time", event_time_json());
        json_object_set_new(event, "session", json_string(bus->session));
        if (bus->container[0])
                json_object_set_new(event, "container", json_string(bus->container));
        if (fields && json_is_object(fields))
                json_object_update_missing(event, fields);
        json_decref(fields);
        if (bus->mask_placeholders)
                mask_json(event, 0);
        if (bus->held)
                json_array_append(bus->held, event);
        else
                event_deliver(bus, event);
        json_decref(event);
}

void event_sink_stderr(void *ctx, const json_t *event)
{
        (void)ctx;
        char *text = text_json_dumps(event, JSON_COMPACT);
        if (text) {
                /* a notice (util/notice.h): framed for a raw terminal; the
                 * JSON is ASCII already, its backslashes stay as they are */
                notice_with(TEXT_ESCAPE_KEEP_BACKSLASH, "event %s", text);
                free(text);
        }
}
