#include "util/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"

static int strv_reserve(struct reins_strv *v, size_t wanted)
{
        return array_reserve(v->items, v->capacity, wanted + 1, 8);
}

int strv_push_take(struct reins_strv *v, char *s)
{
        if (!s || strv_reserve(v, v->count + 1) < 0) {
                free(s);
                return -ENOMEM;
        }
        v->items[v->count++] = s;
        v->items[v->count] = NULL;
        return 0;
}

int strv_push(struct reins_strv *v, const char *s)
{
        return strv_push_take(v, strdup(s));
}

bool strv_contains(const struct reins_strv *v, const char *s)
{
        for (size_t i = 0; i < v->count; i++)
                if (strcmp(v->items[i], s) == 0)
                        return true;
        return false;
}

int strv_push_unique(struct reins_strv *v, const char *s)
{
        return strv_contains(v, s) ? 0 : strv_push(v, s);
}

int strv_copy(struct reins_strv *dst, const struct reins_strv *src)
{
        for (size_t i = 0; i < src->count; i++) {
                int r = strv_push(dst, src->items[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

void strv_free(struct reins_strv *v)
{
        for (size_t i = 0; i < v->count; i++)
                free(v->items[i]);
        free(v->items);
        v->items = NULL;
        v->count = v->capacity = 0;
}
