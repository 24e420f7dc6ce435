/* The intersection of a token's pattern sets (token_meet.h). Two patterns
 * meet in the narrower one when one covers the other; a destination meets
 * part by part (the narrower host with the narrower port), so "*.x.com"
 * and "api.x.com:443" meet in "api.x.com:443". Patterns that overlap
 * without one covering the other ("a*" and "*b") are left out: the shown
 * list may be narrower than what the checks allow, never wider. */
#include "govern/token_meet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/glob.h"

#define MEET_MAX 256 /* a token's lists are short; a longer product is cut */

/* "host[:port]" -> host, port text ("" when none). IPv6 in [] keeps its colons. */
static void dest_split(const char *pattern, char *host, size_t hsize, const char **port)
{
        const char *colon = strrchr(pattern, ':');
        if (colon && (pattern[0] != '[' || colon > strchr(pattern, ']'))) {
                snprintf(host, hsize, "%.*s", (int)(colon - pattern), pattern);
                *port = colon + 1;
        } else {
                snprintf(host, hsize, "%s", pattern);
                *port = "";
        }
}

static bool host_covers(const char *outer, const char *inner)
{
        if (strcmp(outer, "*") == 0 || strcmp(outer, inner) == 0)
                return true;
        if (strncmp(outer, "*.", 2) != 0)
                return false;
        size_t o = strlen(outer) - 1, i = strlen(inner); /* ".domain" */
        return i > o && strcmp(inner + i - o, outer + 1) == 0;
}

static char *dest_meet(const char *a, const char *b)
{
        char ha[256], hb[256];
        const char *pa, *pb;
        dest_split(a, ha, sizeof(ha), &pa);
        dest_split(b, hb, sizeof(hb), &pb);
        const char *host = host_covers(ha, hb) ? hb : host_covers(hb, ha) ? ha : NULL;
        const char *port = !pa[0] ? pb : !pb[0] ? pa : strcmp(pa, pb) == 0 ? pa : NULL;
        if (!host || !port)
                return NULL;
        char *out = NULL;
        if (asprintf(&out, "%s%s%s", host, port[0] ? ":" : "", port) < 0)
                return NULL;
        return out;
}

static char *glob_meet(const char *a, const char *b)
{
        if (strcmp(a, b) == 0 || strcmp(a, "**") == 0 || glob_match(a, b))
                return strdup(b);
        if (strcmp(b, "**") == 0 || glob_match(b, a))
                return strdup(a);
        return NULL;
}

static char *cmd_meet(const char *a, const char *b)
{
        if (strcmp(a, b) == 0 || strcmp(a, "*") == 0)
                return strdup(b);
        if (strcmp(b, "*") == 0)
                return strdup(a);
        return NULL;
}

int token_meet(const struct token_pattern_sets *sets, enum token_meet_kind kind,
               struct reins_strv *out)
{
        struct reins_strv current = {0};
        int r = strv_copy(&current, &sets->sets[0]);
        for (size_t s = 1; r == 0 && s < sets->count; s++) {
                struct reins_strv next = {0};
                const struct reins_strv *set = &sets->sets[s];
                for (size_t i = 0; r == 0 && i < current.count; i++)
                        for (size_t j = 0; r == 0 && j < set->count && next.count < MEET_MAX; j++) {
                                const char *a = current.items[i], *b = set->items[j];
                                char *m = kind == TOKEN_MEET_DEST   ? dest_meet(a, b)
                                          : kind == TOKEN_MEET_PATH ? glob_meet(a, b)
                                                                    : cmd_meet(a, b);
                                if (m)
                                        r = strv_push_unique(&next, m);
                                free(m);
                        }
                strv_free(&current);
                current = next;
        }
        if (r < 0) {
                strv_free(&current);
                return r;
        }
        *out = current;
        return 0;
}
