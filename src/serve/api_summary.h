/* The dashboard's sums of the trails through the API (serve/api_summary.c). */
#ifndef REINS_SERVE_API_SUMMARY_H
#define REINS_SERVE_API_SUMMARY_H

#include <jansson.h>

#include "serve/serve_internal.h"

/* Add "egress" and "counts" to a session entry, when the caller may read
 * its trail and the daemon can; else leave the entry as it is. */
void serve_summary_annotate(const struct serve_request *request, json_t *entry);
/* The same for every entry of a listing, which together read at most
 * SUMMARY_REQUEST_BYTES of new trail bytes. */
void serve_summary_annotate_list(const struct serve_request *request, json_t *entries);

void serve_api_activity(const struct serve_request *request, struct serve_reply *reply);
void serve_api_session_summary(const struct serve_request *request, struct serve_reply *reply);

#endif
