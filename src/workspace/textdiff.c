#include "workspace/textdiff.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/text_escape.h"

int textdiff_split(const char *data, size_t length, struct textdiff_text *out)
{
        out->lines = NULL;
        out->count = 0;
        size_t n = 0;
        for (size_t i = 0; i < length; i++)
                if (data[i] == '\n')
                        n++;
        if (length > 0 && data[length - 1] != '\n')
                n++;
        if (n == 0)
                return 0;
        out->lines = malloc(n * sizeof(*out->lines));
        if (!out->lines)
                return -ENOMEM;
        const char *p = data, *end = data + length;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *stop = nl ? nl + 1 : end;
                out->lines[out->count++] = (struct textdiff_line){p, (size_t)(stop - p)};
                p = stop;
        }
        return 0;
}

void textdiff_text_free(struct textdiff_text *text)
{
        free(text->lines);
        text->lines = NULL;
        text->count = 0;
}

bool textdiff_is_binary(const char *data, size_t length)
{
        return memchr(data, '\0', length < 8000 ? length : 8000) != NULL;
}

/* ---- equivalence classes: equal lines get the same small integer -------- */

struct textdiff_classes {
        size_t *slots; /* index+1 into `first` lines, 0 = empty */
        const struct textdiff_line **first;
        size_t *count_a, *count_b;
        size_t used, size;
};

static uint64_t textdiff_hash(const struct textdiff_line *l)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (size_t i = 0; i < l->length; i++) {
                h ^= (unsigned char)l->start[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static size_t textdiff_class_of(struct textdiff_classes *c, const struct textdiff_line *l)
{
        size_t mask = c->size - 1;
        for (size_t i = (size_t)textdiff_hash(l) & mask;; i = (i + 1) & mask) {
                if (c->slots[i] == 0) {
                        c->first[c->used] = l;
                        c->slots[i] = ++c->used;
                        return c->used - 1;
                }
                const struct textdiff_line *f = c->first[c->slots[i] - 1];
                if (f->length == l->length && memcmp(f->start, l->start, l->length) == 0)
                        return c->slots[i] - 1;
        }
}

/* ---- Myers, linear space ------------------------------------------------- */

struct textdiff_myers {
        const size_t *a, *b;      /* class ids of the kept lines */
        char *del, *ins;          /* marks, in kept-line indices */
        long *forward, *backward; /* diagonals, indexed by k + offset */
        long offset;
        long max_cost;
};

struct textdiff_split_point {
        long i, j;
};

static void textdiff_middle(struct textdiff_myers *m, long off1, long lim1, long off2, long lim2,
                            struct textdiff_split_point *sp)
{
        long *kf = m->forward + m->offset, *kb = m->backward + m->offset;
        long dmin = off1 - lim2, dmax = lim1 - off2;
        long fmid = off1 - off2, bmid = lim1 - lim2;
        bool odd = ((fmid - bmid) & 1) != 0;
        long fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid;
        kf[fmid] = off1;
        kb[bmid] = lim1;
        for (long cost = 1;; cost++) {
                /* forward: one more edit along every diagonal in range */
                if (fmin > dmin)
                        kf[--fmin - 1] = -1;
                else
                        ++fmin;
                if (fmax < dmax)
                        kf[++fmax + 1] = -1;
                else
                        --fmax;
                for (long d = fmax; d >= fmin; d -= 2) {
                        long i = kf[d - 1] >= kf[d + 1] ? kf[d - 1] + 1 : kf[d + 1];
                        long j = i - d;
                        while (i < lim1 && j < lim2 && m->a[i] == m->b[j]) {
                                i++;
                                j++;
                        }
                        kf[d] = i;
                        if (odd && bmin <= d && d <= bmax && kb[d] <= i) {
                                sp->i = i;
                                sp->j = j;
                                return;
                        }
                }
                /* backward, from the end */
                if (bmin > dmin)
                        kb[--bmin - 1] = LONG_MAX;
                else
                        ++bmin;
                if (bmax < dmax)
                        kb[++bmax + 1] = LONG_MAX;
                else
                        --bmax;
                for (long d = bmax; d >= bmin; d -= 2) {
                        long i = kb[d - 1] < kb[d + 1] ? kb[d - 1] : kb[d + 1] - 1;
                        long j = i - d;
                        while (i > off1 && j > off2 && m->a[i - 1] == m->b[j - 1]) {
                                i--;
                                j--;
                        }
                        kb[d] = i;
                        if (!odd && fmin <= d && d <= fmax && i <= kf[d]) {
                                sp->i = i;
                                sp->j = j;
                                return;
                        }
                }
                if (cost < m->max_cost)
                        continue;
                /* Too expensive to be minimal: split at the furthest point
                 * either search reached (a valid, slightly longer diff). */
                long best = -1;
                for (long d = fmax; d >= fmin; d -= 2) {
                        long i = kf[d] < lim1 ? kf[d] : lim1;
                        long j = i - d;
                        if (j > lim2) {
                                i = lim2 + d;
                                j = lim2;
                        }
                        if (j < off2 || i < off1)
                                continue;
                        if (i + j > best) {
                                best = i + j;
                                sp->i = i;
                                sp->j = j;
                        }
                }
                long bbest = LONG_MAX;
                struct textdiff_split_point bsp = {0, 0};
                for (long d = bmax; d >= bmin; d -= 2) {
                        long i = kb[d] > off1 ? kb[d] : off1;
                        long j = i - d;
                        if (j < off2) {
                                i = off2 + d;
                                j = off2;
                        }
                        if (j > lim2 || i > lim1)
                                continue;
                        if (i + j < bbest) {
                                bbest = i + j;
                                bsp.i = i;
                                bsp.j = j;
                        }
                }
                if (best < 0 || (bbest != LONG_MAX && (lim1 + lim2) - bbest > best - (off1 + off2)))
                        *sp = bsp;
                if ((sp->i == off1 && sp->j == off2) || (sp->i == lim1 && sp->j == lim2)) {
                        /* no progress possible that way: take one step by hand */
                        sp->i = off1 + 1 <= lim1 ? off1 + 1 : off1;
                        sp->j = off2;
                }
                return;
        }
}

static void textdiff_recurse(struct textdiff_myers *m, long off1, long lim1, long off2, long lim2)
{
        for (;;) {
                while (off1 < lim1 && off2 < lim2 && m->a[off1] == m->b[off2]) {
                        off1++;
                        off2++;
                }
                while (off1 < lim1 && off2 < lim2 && m->a[lim1 - 1] == m->b[lim2 - 1]) {
                        lim1--;
                        lim2--;
                }
                if (off1 == lim1) {
                        for (long j = off2; j < lim2; j++)
                                m->ins[j] = 1;
                        return;
                }
                if (off2 == lim2) {
                        for (long i = off1; i < lim1; i++)
                                m->del[i] = 1;
                        return;
                }
                struct textdiff_split_point sp;
                textdiff_middle(m, off1, lim1, off2, lim2, &sp);
                /* recurse on the smaller half, loop on the other */
                textdiff_recurse(m, off1, sp.i, off2, sp.j);
                off1 = sp.i;
                off2 = sp.j;
        }
}

int textdiff_compute(const struct textdiff_text *a, const struct textdiff_text *b, char *delete_a,
                     char *insert_b)
{
        memset(delete_a, 0, a->count);
        memset(insert_b, 0, b->count);
        size_t total = a->count + b->count;
        if (total == 0)
                return 0;
        struct textdiff_classes c = {0};
        c.size = 16;
        while (c.size < total * 2)
                c.size *= 2;
        c.slots = calloc(c.size, sizeof(*c.slots));
        c.first = calloc(total, sizeof(*c.first));
        c.count_a = calloc(total, sizeof(*c.count_a));
        c.count_b = calloc(total, sizeof(*c.count_b));
        cleanup_free size_t *ids_a = calloc(a->count + 1, sizeof(size_t));
        cleanup_free size_t *ids_b = calloc(b->count + 1, sizeof(size_t));
        cleanup_free size_t *kept_a = calloc(a->count + 1, sizeof(size_t));
        cleanup_free size_t *kept_b = calloc(b->count + 1, sizeof(size_t));
        cleanup_free size_t *map_a = calloc(a->count + 1, sizeof(size_t));
        cleanup_free size_t *map_b = calloc(b->count + 1, sizeof(size_t));
        int r = -ENOMEM;
        if (!c.slots || !c.first || !c.count_a || !c.count_b || !ids_a || !ids_b || !kept_a ||
            !kept_b || !map_a || !map_b)
                goto out;
        for (size_t i = 0; i < a->count; i++)
                c.count_a[ids_a[i] = textdiff_class_of(&c, &a->lines[i])]++;
        for (size_t j = 0; j < b->count; j++)
                c.count_b[ids_b[j] = textdiff_class_of(&c, &b->lines[j])]++;

        /* a line with no twin on the other side is changed, whatever else */
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < a->count; i++) {
                if (c.count_b[ids_a[i]] == 0) {
                        delete_a[i] = 1;
                        continue;
                }
                map_a[na] = i;
                kept_a[na++] = ids_a[i];
        }
        for (size_t j = 0; j < b->count; j++) {
                if (c.count_a[ids_b[j]] == 0) {
                        insert_b[j] = 1;
                        continue;
                }
                map_b[nb] = j;
                kept_b[nb++] = ids_b[j];
        }
        if (na + nb > 0) {
                size_t diagonals = na + nb + 3;
                struct textdiff_myers m = {
                    .a = kept_a,
                    .b = kept_b,
                    .del = calloc(na + 1, 1),
                    .ins = calloc(nb + 1, 1),
                    .forward = calloc(diagonals, sizeof(long)),
                    .backward = calloc(diagonals, sizeof(long)),
                    .offset = (long)nb + 1,
                    .max_cost = 256,
                };
                while (m.max_cost * m.max_cost < (long)diagonals)
                        m.max_cost *= 2;
                if (m.del && m.ins && m.forward && m.backward) {
                        textdiff_recurse(&m, 0, (long)na, 0, (long)nb);
                        for (size_t i = 0; i < na; i++)
                                if (m.del[i])
                                        delete_a[map_a[i]] = 1;
                        for (size_t j = 0; j < nb; j++)
                                if (m.ins[j])
                                        insert_b[map_b[j]] = 1;
                        r = 0;
                }
                free(m.del);
                free(m.ins);
                free(m.forward);
                free(m.backward);
        } else {
                r = 0;
        }
out:
        free(c.slots);
        free(c.first);
        free(c.count_a);
        free(c.count_b);
        return r;
}

/* ---- unified output ------------------------------------------------------- */

struct textdiff_op {
        char type; /* ' ', '-', '+' */
        size_t a;  /* lines of a before this op */
        size_t b;
};

static void textdiff_write_line(FILE *out, char prefix, const struct textdiff_line *l,
                                enum textdiff_style style)
{
        fputc(prefix, out);
        size_t body = l->length;
        bool newline = body > 0 && l->start[body - 1] == '\n';
        if (newline)
                body--;
        if (style == TEXTDIFF_EXACT) {
                fwrite(l->start, 1, body, out);
        } else {
                /* for a person: source text reads as it is (tabs, backslashes),
                 * nothing a terminal acts on passes (util/text_escape.h) */
                text_escape_write(out, l->start, body,
                                  TEXT_ESCAPE_KEEP_TAB | TEXT_ESCAPE_KEEP_BACKSLASH);
        }
        fputc('\n', out);
        if (!newline)
                fputs("\\ No newline at end of file\n", out);
}

static void textdiff_write_range(FILE *out, size_t start, size_t count)
{
        /* git: "l" for one line, "l,s" otherwise, and l is the line before
         * when the range is empty */
        if (count == 1)
                fprintf(out, "%zu", start + 1);
        else
                fprintf(out, "%zu,%zu", count == 0 ? start : start + 1, count);
}

int textdiff_write_unified(FILE *out, const struct textdiff_text *a, const char *delete_a,
                           const struct textdiff_text *b, const char *insert_b, size_t context,
                           enum textdiff_style style, size_t *insertions, size_t *deletions)
{
        cleanup_free struct textdiff_op *ops = malloc((a->count + b->count + 1) * sizeof(*ops));
        if (!ops)
                return -ENOMEM;
        size_t n = 0, i = 0, j = 0;
        while (i < a->count || j < b->count) {
                if (i < a->count && delete_a[i]) {
                        ops[n++] = (struct textdiff_op){'-', i, j};
                        i++;
                } else if (j < b->count && insert_b[j]) {
                        ops[n++] = (struct textdiff_op){'+', i, j};
                        j++;
                } else if (i < a->count && j < b->count) {
                        ops[n++] = (struct textdiff_op){' ', i, j};
                        i++;
                        j++;
                } else {
                        return -EINVAL; /* inconsistent marks */
                }
        }
        size_t k = 0;
        while (k < n) {
                while (k < n && ops[k].type == ' ')
                        k++;
                if (k == n)
                        break;
                size_t start = k > context ? k - context : 0;
                size_t last = k; /* last change op in this hunk */
                for (size_t x = k + 1; x < n; x++) {
                        if (ops[x].type == ' ')
                                continue;
                        if (x - last - 1 > 2 * context)
                                break;
                        last = x;
                }
                size_t end = last + context + 1 < n ? last + context + 1 : n; /* exclusive */
                size_t old_count = 0, new_count = 0;
                for (size_t x = start; x < end; x++) {
                        old_count += ops[x].type != '+';
                        new_count += ops[x].type != '-';
                }
                fputs("@@ -", out);
                textdiff_write_range(out, ops[start].a, old_count);
                fputs(" +", out);
                textdiff_write_range(out, ops[start].b, new_count);
                fputs(" @@\n", out);
                for (size_t x = start; x < end; x++) {
                        if (ops[x].type == '+') {
                                textdiff_write_line(out, '+', &b->lines[ops[x].b], style);
                                (*insertions)++;
                        } else {
                                textdiff_write_line(out, ops[x].type, &a->lines[ops[x].a], style);
                                if (ops[x].type == '-')
                                        (*deletions)++;
                        }
                }
                k = end;
        }
        return 0;
}

int textdiff_unified(FILE *out, const char *a, size_t a_length, const char *b, size_t b_length,
                     size_t context, enum textdiff_style style, size_t *insertions,
                     size_t *deletions)
{
        struct textdiff_text ta, tb;
        int r = textdiff_split(a, a_length, &ta);
        if (r < 0)
                return r;
        if ((r = textdiff_split(b, b_length, &tb)) < 0) {
                textdiff_text_free(&ta);
                return r;
        }
        char *del = malloc(ta.count + 1), *ins = malloc(tb.count + 1);
        if (!del || !ins)
                r = -ENOMEM;
        if (r == 0)
                r = textdiff_compute(&ta, &tb, del, ins);
        if (r == 0)
                r = textdiff_write_unified(out, &ta, del, &tb, ins, context, style, insertions,
                                           deletions);
        free(del);
        free(ins);
        textdiff_text_free(&ta);
        textdiff_text_free(&tb);
        return r;
}
