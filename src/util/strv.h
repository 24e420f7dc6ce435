/* A growable NULL-terminated array of owned strings. */
#ifndef REINS_UTIL_STRV_H
#define REINS_UTIL_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct reins_strv {
        char **items; /* NULL-terminated when count > 0 */
        size_t count;
        size_t capacity;
};

int strv_push(struct reins_strv *v, const char *s);        /* copies s; -ENOMEM */
int strv_push_take(struct reins_strv *v, char *s);         /* takes ownership of s */
int strv_push_unique(struct reins_strv *v, const char *s); /* no-op when present */
bool strv_contains(const struct reins_strv *v, const char *s);
int strv_copy(struct reins_strv *dst, const struct reins_strv *src);
void strv_free(struct reins_strv *v);

#endif
