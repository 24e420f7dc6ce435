#include "workspace/review.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "util/bytes_json.h"
#include "util/path.h"
#include "util/text_escape.h"
#include "util/fileio.h"
#include "workspace/fsops.h"
#include "workspace/gitformat.h"
#include "workspace/textdiff.h"

#define REVIEW_CONTEXT     3
#define REVIEW_PATCH_LIMIT WORKSPACE_DIFF_FILE_MAX

/* One side's bytes: a regular file's content or a symlink's target. */
struct review_blob {
        bool present;    /* a regular file or a symlink */
        bool unreadable; /* could not be read: named, not shown */
        bool truncated;  /* over the limit */
        bool too_large;  /* over the size or line cap: summarised, not loaded */
        char *data;
        size_t length;
};

static void review_blob_free(struct review_blob *b)
{
        free(b->data);
        memset(b, 0, sizeof(*b));
}

static bool review_has_bytes(const struct workspace_entry *e)
{
        return e->from != WORKSPACE_FROM_NONE && (S_ISREG(e->mode) || S_ISLNK(e->mode));
}

static int review_blob_load(const struct workspace_roots *roots, const struct workspace_entry *e,
                            const char *path, size_t limit, struct review_blob *out)
{
        memset(out, 0, sizeof(*out));
        if (!review_has_bytes(e))
                return 0;
        out->present = true;
        if (S_ISLNK(e->mode)) {
                out->data = strdup(e->target ? e->target : "");
                if (!out->data)
                        return -ENOMEM;
                out->length = strlen(out->data);
                return 0;
        }
        /* our own copy may be chmod'ed to be read; the host's files never are */
        bool ours = e->from != WORKSPACE_FROM_LOWER;
        cleanup_fd int fd = ws_open_read(roots->fd[e->from], path, ours);
        if (fd < 0) {
                out->unreadable = true;
                return 0;
        }
        /* the size first: a 2 GiB sparse file is never read to find out */
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit) {
                out->too_large = true;
                return 0;
        }
        int r = fileio_read_fd(fd, limit, &out->data, &out->length, &out->truncated);
        if (r < 0) {
                out->unreadable = true;
                return r == -ENOMEM ? r : 0;
        }
        size_t lines = 0;
        for (const char *p = out->data, *end = out->data + out->length;
             p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
                lines++;
        /* the line cap is the line diff's: a binary file is never split */
        if (out->truncated ||
            (lines > WORKSPACE_DIFF_MAX_LINES && !textdiff_is_binary(out->data, out->length))) {
                free(out->data);
                out->data = NULL;
                out->length = 0;
                out->too_large = true;
        }
        return 0;
}

/* The old side a change is shown against: its kept base when the host
 * changed the file since (three-way: the agent's change, not the host's
 * edit reversed), else the host's file. *from_base says which. */
static int review_old_load(const struct workspace_roots *roots, const struct workspace_change *ch,
                           size_t limit, struct review_blob *out, bool *from_base)
{
        *from_base = false;
        if (ch->host_changed && ch->base_kept[0] && roots->kept >= 0) {
                struct workspace_entry kept = {.from = WORKSPACE_FROM_LOWER, .mode = S_IFREG};
                struct workspace_roots only = {{-1, roots->kept, -1, -1}, -1};
                int r = review_blob_load(&only, &kept, ch->base_kept, limit, out);
                if (r < 0 || (!out->unreadable && out->present)) {
                        *from_base = r == 0;
                        return r;
                }
                review_blob_free(out);
        }
        return review_blob_load(roots, &ch->old, ch->path, limit, out);
}

static bool review_blob_binary(const struct review_blob *b)
{
        return b->present && (b->unreadable || b->truncated || b->too_large ||
                              textdiff_is_binary(b->data, b->length));
}

static const char *review_type_name(mode_t mode)
{
        switch (mode & S_IFMT) {
        case S_IFREG:
                return "file";
        case S_IFDIR:
                return "directory";
        case S_IFLNK:
                return "symlink";
        case S_IFIFO:
                return "fifo";
        case S_IFSOCK:
                return "socket";
        case S_IFCHR:
                return "char-device";
        case S_IFBLK:
                return "block-device";
        }
        return "unknown";
}

/* git's file modes: only these three exist in a patch */
static unsigned review_git_mode(mode_t mode)
{
        if (S_ISLNK(mode))
                return 0120000;
        if (S_ISREG(mode))
                return (mode & 0111) ? 0100755 : 0100644;
        return 0;
}

bool workspace_symlink_escapes(const char *link_path, const char *target)
{
        if (target[0] == '/')
                return true;
        int depth = 0; /* directories below the root the link sits in */
        for (const char *p = link_path; *p; p++)
                if (*p == '/')
                        depth++;
        const char *p = target;
        while (*p) {
                const char *end = strchrnul(p, '/');
                size_t n = (size_t)(end - p);
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (--depth < 0)
                                return true;
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        depth++;
                }
                p = *end ? end + 1 : end;
        }
        return false;
}

/* Line counts for --stat and --json, without writing the hunks. */
static int review_count_lines(const struct review_blob *a, const struct review_blob *b,
                              size_t *insertions, size_t *deletions)
{
        struct textdiff_text ta = {0}, tb = {0};
        int r = 0;
        if ((a->present && (r = textdiff_split(a->data, a->length, &ta)) < 0) ||
            (b->present && (r = textdiff_split(b->data, b->length, &tb)) < 0)) {
                textdiff_text_free(&ta);
                return r;
        }
        char *del = malloc(ta.count + 1), *ins = malloc(tb.count + 1);
        if (!del || !ins)
                r = -ENOMEM;
        if (r == 0 && (r = textdiff_compute(&ta, &tb, del, ins)) == 0) {
                for (size_t i = 0; i < ta.count; i++)
                        *deletions += del[i] != 0;
                for (size_t j = 0; j < tb.count; j++)
                        *insertions += ins[j] != 0;
        }
        free(del);
        free(ins);
        textdiff_text_free(&ta);
        textdiff_text_free(&tb);
        return r;
}

/* ---- text (for a person) ---------------------------------------------------- */

/* A name or link target the agent chose, shown escaped (util/text_escape.h):
 * no control, bidi override or bad byte reaches the reviewer's terminal, and
 * a name holding "\n" cannot forge a line of the listing. */
static void review_write_name(FILE *out, const char *name)
{
        text_escape_write(out, name, strlen(name), 0);
}

static void review_text_side(FILE *out, const struct workspace_entry *e)
{
        fprintf(out, "%s %04o", review_type_name(e->mode), (unsigned)(e->mode & 07777));
}

/* The text form's output so far, for WORKSPACE_DIFF_OUTPUT_MAX. */
struct review_counter {
        FILE *out;
        size_t written;
        bool cut; /* contents were left out */
};

static ssize_t review_counter_write(void *cookie, const char *buf, size_t size)
{
        struct review_counter *c = cookie;
        size_t n = fwrite(buf, 1, size, c->out);
        c->written += n;
        return n == size ? (ssize_t)n : -1;
}

static int review_text_change(FILE *out, const struct workspace_change *ch,
                              const struct workspace_roots *roots, struct review_counter *counter)
{
        const struct workspace_entry *o = &ch->old, *n = &ch->new;
        /* three-way: a path the host also changed since the change's base is
         * a conflict, said as such (the agent's kind in brackets) and never
         * listed as the agent undoing the host's edit */
        fprintf(out, "%-12s ",
                ch->host_changed ? "CONFLICT" : workspace_change_kind_name(ch->kind));
        review_write_name(out, ch->path[0] ? ch->path : ".");
        if (ch->host_changed)
                fprintf(out, " (agent: %s; %s)", workspace_change_kind_name(ch->kind),
                        ch->host_why);
        if (n->from != WORKSPACE_FROM_NONE && S_ISDIR(n->mode))
                fputc('/', out);
        if (n->from != WORKSPACE_FROM_NONE && S_ISLNK(n->mode)) {
                fputs(" -> ", out);
                review_write_name(out, n->target);
        }
        if (ch->kind == WORKSPACE_TYPE_CHANGED) {
                fputs(" (", out);
                review_text_side(out, o);
                fputs(" -> ", out);
                review_text_side(out, n);
                fputc(')', out);
        } else if (o->from != WORKSPACE_FROM_NONE && n->from != WORKSPACE_FROM_NONE &&
                   (o->mode & 07777) != (n->mode & 07777)) {
                fprintf(out, " (mode %04o -> %04o)", (unsigned)(o->mode & 07777),
                        (unsigned)(n->mode & 07777));
        } else if (ch->kind == WORKSPACE_CREATED && !S_ISLNK(n->mode)) {
                fprintf(out, " (%s %04o)", review_type_name(n->mode), (unsigned)(n->mode & 07777));
        }
        if (ch->kind == WORKSPACE_MODIFIED && S_ISLNK(n->mode) && o->target) {
                fputs(" (was -> ", out);
                review_write_name(out, o->target);
                fputc(')', out);
        }
        if (ch->kind == WORKSPACE_REPLACED)
                fputs(" (directory replaced wholesale: the old contents below are deleted)", out);
        if (ch->hardlink) {
                fputs(" (hard link to ", out);
                review_write_name(out, ch->hardlink);
                fputc(')', out);
        }
        if (n->from != WORKSPACE_FROM_NONE && S_ISLNK(n->mode) &&
            workspace_symlink_escapes(ch->path, n->target))
                fputs(" [points outside the workspace]", out);
        if ((n->mode & (S_ISUID | S_ISGID)) && n->from != WORKSPACE_FROM_NONE && !S_ISDIR(n->mode))
                fputs(" [setuid/setgid: apply drops these bits]", out);
        if (ch->protected)
                fputs(" [PROTECTED: not applied without --include-protected]", out);
        if (ch->host_changed)
                fputs(" [not applied without --force]", out);
        fputc('\n', out);

        if (ch->kind == WORKSPACE_REPLACED || ch->kind == WORKSPACE_MODE_CHANGED)
                return 0;
        bool old_reg = o->from != WORKSPACE_FROM_NONE && S_ISREG(o->mode);
        bool new_reg = n->from != WORKSPACE_FROM_NONE && S_ISREG(n->mode);
        if (!old_reg && !new_reg)
                return 0;
        if (counter && counter->written >= WORKSPACE_DIFF_OUTPUT_MAX) {
                counter->cut = true;
                fputs("    (content not shown: the diff output cap was reached)\n", out);
                return 0;
        }
        struct review_blob a = {0}, b = {0};
        int r = 0;
        bool from_base = false;
        if (old_reg)
                r = review_old_load(roots, ch, WORKSPACE_TEXT_LIMIT, &a, &from_base);
        if (ch->host_changed && old_reg)
                fputs(from_base ? "    (the agent's change against the session's base; the "
                                  "host's file changed since, not shown)\n"
                                : "    (the host's file changed while the session ran and its "
                                  "base was not kept: below is the host's current file against "
                                  "the agent's copy, so the host's own edits show reversed)\n",
                      out);
        if (r == 0 && new_reg)
                r = review_blob_load(roots, n, ch->path, WORKSPACE_TEXT_LIMIT, &b);
        if (r == 0) {
                if (a.unreadable || b.unreadable) {
                        fputs("    (unreadable: content not shown)\n", out);
                } else if (a.too_large || b.too_large) {
                        fprintf(out,
                                "    (%lld -> %lld bytes: larger than %u MiB or %u lines, "
                                "not diffed)\n",
                                old_reg ? (long long)o->size : 0LL,
                                new_reg ? (long long)n->size : 0LL, WORKSPACE_DIFF_FILE_MAX >> 20,
                                WORKSPACE_DIFF_MAX_LINES);
                } else if (review_blob_binary(&a) || review_blob_binary(&b)) {
                        fprintf(out, "    Binary file (%lld -> %lld bytes)\n",
                                old_reg ? (long long)o->size : 0LL,
                                new_reg ? (long long)n->size : 0LL);
                } else {
                        size_t ins = 0, del = 0;
                        r = textdiff_unified(out, a.data ? a.data : "", a.length,
                                             b.data ? b.data : "", b.length, REVIEW_CONTEXT,
                                             TEXTDIFF_VISIBLE, &ins, &del);
                }
        }
        review_blob_free(&a);
        review_blob_free(&b);
        return r;
}

/* ---- --stat ----------------------------------------------------------------- */

static bool review_is_file_change(const struct workspace_change *ch)
{
        if (ch->kind == WORKSPACE_REPLACED)
                return false;
        bool o = ch->old.from != WORKSPACE_FROM_NONE && !S_ISDIR(ch->old.mode);
        bool n = ch->new.from != WORKSPACE_FROM_NONE && !S_ISDIR(ch->new.mode);
        return o || n;
}

static int review_stat(FILE *out, const struct workspace_changes *changes,
                       const struct workspace_roots *roots)
{
        size_t files = 0, total_ins = 0, total_del = 0;
        for (size_t i = 0; i < changes->count; i++) {
                const struct workspace_change *ch = &changes->items[i];
                if (!review_is_file_change(ch))
                        continue;
                files++;
                struct review_blob a = {0}, b = {0};
                int r = review_blob_load(roots, &ch->old, ch->path, WORKSPACE_TEXT_LIMIT, &a);
                if (r == 0)
                        r = review_blob_load(roots, &ch->new, ch->path, WORKSPACE_TEXT_LIMIT, &b);
                fputc(' ', out);
                review_write_name(out, ch->path);
                if (ch->protected)
                        fputs(" (protected)", out);
                fputs(" | ", out);
                if (r < 0) {
                } else if (a.too_large || b.too_large) {
                        fprintf(out, "Bin %lld -> %lld bytes (not diffed: too large)\n",
                                a.present ? (long long)ch->old.size : 0LL,
                                b.present ? (long long)ch->new.size : 0LL);
                } else if (review_blob_binary(&a) || review_blob_binary(&b)) {
                        fprintf(out, "Bin %zu -> %zu bytes\n", a.present ? a.length : 0,
                                b.present ? b.length : 0);
                } else if (!a.present && !b.present) {
                        fprintf(out, "%s\n",
                                review_type_name(ch->new.from != WORKSPACE_FROM_NONE
                                                     ? ch->new.mode
                                                     : ch->old.mode));
                } else {
                        size_t ins = 0, del = 0;
                        r = review_count_lines(&a, &b, &ins, &del);
                        total_ins += ins;
                        total_del += del;
                        size_t scale = ins + del > 40 ? ins + del : 40;
                        fprintf(out, "%zu ", ins + del);
                        for (size_t k = 0; k < (ins * 40 + scale - 1) / scale; k++)
                                fputc('+', out);
                        for (size_t k = 0; k < (del * 40 + scale - 1) / scale; k++)
                                fputc('-', out);
                        fputc('\n', out);
                }
                review_blob_free(&a);
                review_blob_free(&b);
                if (r < 0)
                        return r;
        }
        fprintf(out, " %zu file%s changed, %zu insertion%s(+), %zu deletion%s(-)\n", files,
                files == 1 ? "" : "s", total_ins, total_ins == 1 ? "" : "s", total_del,
                total_del == 1 ? "" : "s");
        return 0;
}

/* ---- --json ----------------------------------------------------------------- */

static json_t *review_json_side(const struct workspace_entry *e)
{
        if (e->from == WORKSPACE_FROM_NONE)
                return json_null();
        char mode[8];
        snprintf(mode, sizeof(mode), "%04o", (unsigned)(e->mode & 07777));
        json_t *side = json_pack("{s:s, s:s, s:I}", "type", review_type_name(e->mode), "mode", mode,
                                 "size", (json_int_t)e->size);
        if (side && e->target)
                json_object_set_new(side, "target", bytes_json_z(e->target));
        return side;
}

/* A JSON value as jansson's JSON_INDENT(2) writes it at `indent` spaces
 * deep: the streamed document reads exactly like one dumped whole. */
static int review_json_value(FILE *out, const json_t *value, const char *indent)
{
        char *text = text_json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY); /* DEL too */
        if (!text)
                return -ENOMEM;
        for (const char *p = text; *p; p++) {
                fputc(*p, out);
                if (*p == '\n')
                        fputs(indent, out);
        }
        free(text);
        return 0;
}

/* The document is written one change at a time: a list of a hundred
 * thousand changes is never held as JSON objects. */
static int review_json(FILE *out, const struct workspace_changes *changes,
                       const struct workspace_roots *roots, const json_t *head)
{
        int r = 0;
        fputs("{", out);
        const char *key;
        json_t *value;
        const char *sep = "\n  ";
        json_object_foreach((json_t *)head, key, value)
        {
                json_auto_t *name = json_string(key);
                fputs(sep, out);
                if (!name || review_json_value(out, name, "  ") < 0)
                        return -ENOMEM;
                fputs(": ", out);
                if ((r = review_json_value(out, value, "  ")) < 0)
                        return r;
                sep = ",\n  ";
        }
        fprintf(out, "%s\"changes\": [", sep);
        size_t protected_count = 0, conflict_count = 0;
        for (size_t i = 0; r == 0 && i < changes->count; i++) {
                const struct workspace_change *ch = &changes->items[i];
                json_auto_t *item =
                    json_pack("{s:o, s:s, s:b, s:o, s:o}", "path", bytes_json_z(ch->path), "kind",
                              workspace_change_kind_name(ch->kind), "protected", ch->protected,
                              "old", review_json_side(&ch->old), "new", review_json_side(&ch->new));
                if (!item) {
                        r = -ENOMEM;
                        break;
                }
                protected_count += ch->protected;
                conflict_count += ch->host_changed;
                json_object_set_new(item, "host_changed", json_boolean(ch->host_changed));
                json_object_set_new(item, "conflict", json_boolean(ch->host_changed));
                if (ch->host_why)
                        json_object_set_new(item, "host", json_string(ch->host_why));
                if (ch->hardlink)
                        json_object_set_new(item, "hardlink", bytes_json_z(ch->hardlink));
                if (ch->new.target)
                        json_object_set_new(
                            item, "outside_workspace",
                            json_boolean(workspace_symlink_escapes(ch->path, ch->new.target)));
                if (ch->kind != WORKSPACE_REPLACED &&
                    (S_ISREG(ch->old.mode) || S_ISREG(ch->new.mode))) {
                        struct review_blob a = {0}, b = {0};
                        bool from_base = false;
                        if ((ch->old.from == WORKSPACE_FROM_NONE || S_ISREG(ch->old.mode)) &&
                            (r = review_old_load(roots, ch, WORKSPACE_TEXT_LIMIT, &a,
                                                 &from_base)) == 0 &&
                            (ch->new.from == WORKSPACE_FROM_NONE || S_ISREG(ch->new.mode)))
                                r = review_blob_load(roots, &ch->new, ch->path,
                                                     WORKSPACE_TEXT_LIMIT, &b);
                        if (from_base)
                                json_object_set_new(item, "base_kept", json_true());
                        bool binary = review_blob_binary(&a) || review_blob_binary(&b);
                        json_object_set_new(item, "binary", json_boolean(binary));
                        if (a.too_large || b.too_large)
                                json_object_set_new(item, "not_diffed", json_true());
                        if (r == 0 && !binary && ch->kind != WORKSPACE_MODE_CHANGED) {
                                size_t ins = 0, del = 0;
                                r = review_count_lines(&a, &b, &ins, &del);
                                json_object_set_new(item, "insertions",
                                                    json_integer((json_int_t)ins));
                                json_object_set_new(item, "deletions",
                                                    json_integer((json_int_t)del));
                        }
                        review_blob_free(&a);
                        review_blob_free(&b);
                }
                fputs(i == 0 ? "\n    " : ",\n    ", out);
                int w = review_json_value(out, item, "    ");
                if (r == 0)
                        r = w;
        }
        if (r < 0)
                return r;
        fputs(changes->count > 0 ? "\n  ]" : "]", out);
        fprintf(out, ",\n  \"protected_changes\": %zu,\n  \"conflicts\": %zu", protected_count,
                conflict_count);
        fputs("\n}\n", out);
        return ferror(out) ? -EIO : 0;
}

/* ---- --patch (git) ---------------------------------------------------------- */

static void review_patch_header(FILE *out, const char *path)
{
        fputs("diff --git ", out);
        gitformat_write_path(out, "a/", path);
        fputc(' ', out);
        gitformat_write_path(out, "b/", path);
        fputc('\n', out);
}

static void review_patch_names(FILE *out, const char *path, bool old, bool new)
{
        /* git adds a tab after a name holding a space, so the name's end is clear */
        const char *tab = strchr(path, ' ') ? "\t" : "";
        fputs("--- ", out);
        if (old)
                gitformat_write_path(out, "a/", path);
        else
                fputs("/dev/null", out);
        fprintf(out, "%s\n+++ ", old ? tab : "");
        if (new)
                gitformat_write_path(out, "b/", path);
        else
                fputs("/dev/null", out);
        fprintf(out, "%s\n", new ? tab : "");
}

/* One "diff --git" section from blob a to blob b (either may be absent). */
static int review_patch_section(FILE *out, const char *path, unsigned old_mode,
                                const struct review_blob *a, unsigned new_mode,
                                const struct review_blob *b)
{
        bool old = a->present, new = b->present;
        if (a->unreadable || b->unreadable || a->truncated || b->truncated || a->too_large ||
            b->too_large)
                return -EFBIG;
        bool same_bytes =
            old && new &&
            a->length ==
                b->length &&memcmp(a->data ? a->data : "", b->data ? b->data : "", a->length) == 0;
        if (old && new &&same_bytes && old_mode == new_mode)
                return 0;
        char a_id[41], b_id[41];
        gitformat_blob_id(old ? a->data : "", old ? a->length : 0, a_id);
        gitformat_blob_id(new ? b->data : "", new ? b->length : 0, b_id);
        if (!old)
                memset(a_id, '0', 40);
        if (!new)
                memset(b_id, '0', 40);
        review_patch_header(out, path);
        if (!old)
                fprintf(out, "new file mode %06o\n", new_mode);
        else if (!new)
                fprintf(out, "deleted file mode %06o\n", old_mode);
        else if (old_mode != new_mode)
                fprintf(out, "old mode %06o\nnew mode %06o\n", old_mode, new_mode);
        if (same_bytes)
                return 0;
        bool binary = (old && textdiff_is_binary(a->data, a->length)) ||
                      (new &&textdiff_is_binary(b->data, b->length));
        if (old && new &&old_mode == new_mode)
                fprintf(out, "index %s..%s %06o\n", a_id, b_id, new_mode);
        else
                fprintf(out, "index %s..%s\n", a_id, b_id);
        if ((!old || a->length == 0) && (!new || b->length == 0))
                return 0; /* an empty file: the header says it all */
        if (binary) {
                fputs("GIT binary patch\n", out);
                int r =
                    gitformat_write_binary_literal(out, new ? b->data : "", new ? b->length : 0);
                if (r == 0) {
                        fputc('\n', out);
                        r = gitformat_write_binary_literal(out, old ? a->data : "",
                                                           old ? a->length : 0);
                }
                fputc('\n', out);
                return r;
        }
        review_patch_names(out, path, old, new);
        size_t ins = 0, del = 0;
        return textdiff_unified(out, old ? a->data : "", old ? a->length : 0, new ? b->data : "",
                                new ? b->length : 0, REVIEW_CONTEXT, TEXTDIFF_EXACT, &ins, &del);
}

/* git refuses any path with a ".git" component ("invalid path") */
static bool review_inside_git_dir(const char *path)
{
        for (const char *p = path; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
                if (strncmp(p, ".git", 4) == 0 && (p[4] == '/' || p[4] == '\0'))
                        return true;
        return false;
}

/* Text before the first "diff --git" is ignored by git apply: the place to
 * flag protected paths and say what the patch leaves out. */
static void review_patch_preamble(FILE *out, const struct workspace_changes *changes)
{
        for (size_t i = 0; i < changes->count; i++) {
                const struct workspace_change *ch = &changes->items[i];
                if (ch->kind == WORKSPACE_REPLACED || !review_is_file_change(ch))
                        continue;
                if (ch->protected) {
                        fputs("reins: PROTECTED path changed: ", out);
                        gitformat_write_path(out, "", ch->path);
                        fputs(review_inside_git_dir(ch->path) ? " (left out: git never applies "
                                                                "paths inside .git)\n"
                                                              : "\n",
                              out);
                } else if (review_inside_git_dir(ch->path)) {
                        fputs("reins: left out (git never applies paths inside .git): ", out);
                        gitformat_write_path(out, "", ch->path);
                        fputc('\n', out);
                }
        }
}

static int review_patch_change(FILE *out, const struct workspace_change *ch,
                               const struct workspace_roots *roots)
{
        if (ch->kind == WORKSPACE_REPLACED || review_inside_git_dir(ch->path))
                return 0;
        unsigned old_mode = ch->old.from != WORKSPACE_FROM_NONE ? review_git_mode(ch->old.mode) : 0;
        unsigned new_mode = ch->new.from != WORKSPACE_FROM_NONE ? review_git_mode(ch->new.mode) : 0;
        if (old_mode == 0 && new_mode == 0)
                return 0; /* directories, fifos...: git has no word for them */
        struct review_blob a = {0}, b = {0};
        int r = 0;
        if (old_mode)
                r = review_blob_load(roots, &ch->old, ch->path, REVIEW_PATCH_LIMIT, &a);
        if (r == 0 && new_mode)
                r = review_blob_load(roots, &ch->new, ch->path, REVIEW_PATCH_LIMIT, &b);
        if (r == 0) {
                if (old_mode && new_mode && (old_mode & 0170000) != (new_mode & 0170000)) {
                        /* a file became a symlink or back: git writes a deletion
                         * and a creation */
                        struct review_blob none = {0};
                        r = review_patch_section(out, ch->path, old_mode, &a, 0, &none);
                        if (r == 0)
                                r = review_patch_section(out, ch->path, 0, &none, new_mode, &b);
                } else {
                        r = review_patch_section(out, ch->path, old_mode, &a, new_mode, &b);
                }
        }
        review_blob_free(&a);
        review_blob_free(&b);
        return r;
}

/* --patch: a file too large to be put in a patch is refused before any
 * byte is written (a patch cut half-way would still apply). */
static const struct workspace_change *review_patch_too_large(const struct workspace_changes *c)
{
        for (size_t i = 0; i < c->count; i++) {
                const struct workspace_change *ch = &c->items[i];
                if (ch->kind == WORKSPACE_REPLACED || review_inside_git_dir(ch->path))
                        continue;
                const struct workspace_entry *sides[] = {&ch->old, &ch->new};
                for (size_t k = 0; k < 2; k++)
                        if (sides[k]->from != WORKSPACE_FROM_NONE && S_ISREG(sides[k]->mode) &&
                            (uint64_t)sides[k]->size > REVIEW_PATCH_LIMIT)
                                return ch;
        }
        return NULL;
}

static int review_text(FILE *out, const struct workspace_changes *changes,
                       const struct workspace_roots *roots, bool *contents_cut)
{
        struct review_counter counter = {.out = out};
        cookie_io_functions_t io = {.write = review_counter_write};
        FILE *counted = fopencookie(&counter, "w", io);
        if (!counted)
                return -errno;
        int r = 0;
        for (size_t i = 0; r == 0 && i < changes->count; i++)
                r = review_text_change(counted, &changes->items[i], roots, &counter);
        if (fclose(counted) != 0 && r == 0)
                r = -EIO;
        if (contents_cut)
                *contents_cut = counter.cut;
        return r;
}

int workspace_review_write(FILE *out, const struct workspace_changes *changes,
                           const struct workspace_roots *roots, enum workspace_review_format format,
                           const json_t *json_head, bool *contents_cut, struct reins_error *err)
{
        int r = 0;
        const struct workspace_change *big;
        if (contents_cut)
                *contents_cut = false;
        switch (format) {
        case WORKSPACE_REVIEW_STAT:
                r = review_stat(out, changes, roots);
                break;
        case WORKSPACE_REVIEW_JSON:
                r = review_json(out, changes, roots, json_head);
                break;
        case WORKSPACE_REVIEW_TEXT:
                r = review_text(out, changes, roots, contents_cut);
                break;
        case WORKSPACE_REVIEW_PATCH:
                if ((big = review_patch_too_large(changes)) != NULL)
                        return reins_error_set(err, EFBIG,
                                               "%s: larger than %u MiB: too large to be put in a "
                                               "patch; no patch written",
                                               big->path, REVIEW_PATCH_LIMIT >> 20);
                review_patch_preamble(out, changes);
                for (size_t i = 0; r == 0 && i < changes->count; i++) {
                        const struct workspace_change *ch = &changes->items[i];
                        r = review_patch_change(out, ch, roots);
                        if (r == -EFBIG)
                                return reins_error_set(err, EFBIG,
                                                       "%s: unreadable, or larger than %u MiB or "
                                                       "%u lines: too large to be put in a patch",
                                                       ch->path, REVIEW_PATCH_LIMIT >> 20,
                                                       WORKSPACE_DIFF_MAX_LINES);
                }
                break;
        }
        if (r < 0)
                return reins_error_errno(err, -r, "writing the diff");
        if (fflush(out) != 0)
                return reins_error_errno(err, errno, "writing the diff");
        return 0;
}

/* ---- --against -------------------------------------------------------------- */

static int review_entry_copy(struct workspace_entry *dst, const struct workspace_entry *src,
                             enum workspace_source from)
{
        *dst = *src;
        dst->target = NULL;
        if (src->from == WORKSPACE_FROM_NONE) {
                dst->from = WORKSPACE_FROM_NONE;
                return 0;
        }
        dst->from = from;
        if (src->target && !(dst->target = strdup(src->target)))
                return -ENOMEM;
        return 0;
}

/* Same bytes? Read side by side in chunks: two huge files cost no memory. */
static bool review_same_file(const struct workspace_roots *roots, const struct workspace_entry *a,
                             const struct workspace_entry *b, const char *path)
{
        if (a->size != b->size)
                return false;
        cleanup_fd int x = ws_open_read(roots->fd[a->from], path, a->from != WORKSPACE_FROM_LOWER);
        cleanup_fd int y = ws_open_read(roots->fd[b->from], path, b->from != WORKSPACE_FROM_LOWER);
        if (x < 0 || y < 0)
                return false; /* cannot tell: shown as a change */
        static char bx[65536], by[65536];
        for (;;) {
                ssize_t nx = read(x, bx, sizeof(bx));
                if (nx < 0)
                        return false;
                size_t got = 0;
                while (got < (size_t)nx) {
                        ssize_t ny = read(y, by + got, (size_t)nx - got);
                        if (ny <= 0)
                                return false;
                        got += (size_t)ny;
                }
                if (nx == 0)
                        return read(y, by, 1) == 0;
                if (memcmp(bx, by, (size_t)nx) != 0)
                        return false;
        }
}

static int review_against_one(struct workspace_changes *out, const struct workspace_roots *roots,
                              const char *path, const struct workspace_change *ca,
                              const struct workspace_change *cb)
{
        /* a path neither session touched is the lower file on both sides */
        struct workspace_entry va, vb;
        int r = review_entry_copy(&va, ca ? &ca->new : &cb->old,
                                  ca ? WORKSPACE_FROM_UPPER : WORKSPACE_FROM_LOWER);
        if (r < 0)
                return r;
        if ((r = review_entry_copy(&vb, cb ? &cb->new : &ca->old,
                                   cb ? WORKSPACE_FROM_OTHER : WORKSPACE_FROM_LOWER)) < 0) {
                free(va.target);
                return r;
        }
        bool ha = va.from != WORKSPACE_FROM_NONE, hb = vb.from != WORKSPACE_FROM_NONE;
        enum workspace_change_kind kind;
        bool keep = true;
        if (!ha && !hb) {
                keep = false;
        } else if (!ha) {
                kind = WORKSPACE_CREATED;
        } else if (!hb) {
                kind = WORKSPACE_DELETED;
        } else if ((va.mode & S_IFMT) != (vb.mode & S_IFMT)) {
                kind = WORKSPACE_TYPE_CHANGED;
        } else {
                bool same;
                if (S_ISREG(va.mode))
                        same = review_same_file(roots, &va, &vb, path);
                else if (S_ISLNK(va.mode))
                        same = strcmp(va.target, vb.target) == 0;
                else
                        same = true;
                bool same_mode = (va.mode & 07777) == (vb.mode & 07777);
                kind = same ? WORKSPACE_MODE_CHANGED : WORKSPACE_MODIFIED;
                keep = !same || !same_mode;
        }
        if (!keep) {
                free(va.target);
                free(vb.target);
                return 0;
        }
        if (array_reserve(out->items, out->capacity, out->count + 1, 64) < 0) {
                free(va.target);
                free(vb.target);
                return -ENOMEM;
        }
        struct workspace_change *ch = &out->items[out->count];
        memset(ch, 0, sizeof(*ch));
        ch->kind = kind;
        ch->old = va;
        ch->new = vb;
        if (!(ch->path = strdup(path))) {
                free(va.target);
                free(vb.target);
                return -ENOMEM;
        }
        out->count++;
        return 0;
}

int workspace_compare_sessions(const struct workspace_changes *a, const struct workspace_changes *b,
                               const struct workspace_roots *roots, struct workspace_changes *out,
                               struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        size_t i = 0, j = 0;
        int r = 0;
        while (r == 0 && (i < a->count || j < b->count)) {
                if (i < a->count && a->items[i].kind == WORKSPACE_REPLACED) {
                        i++;
                        continue;
                }
                if (j < b->count && b->items[j].kind == WORKSPACE_REPLACED) {
                        j++;
                        continue;
                }
                int c = i == a->count ? 1
                        : j == b->count
                            ? -1
                            : path_compare_components(a->items[i].path, b->items[j].path);
                const struct workspace_change *ca = c <= 0 ? &a->items[i] : NULL;
                const struct workspace_change *cb = c >= 0 ? &b->items[j] : NULL;
                r = review_against_one(out, roots, ca ? ca->path : cb->path, ca, cb);
                if (ca)
                        i++;
                if (cb)
                        j++;
        }
        if (r < 0) {
                workspace_changes_free(out);
                return reins_error_errno(err, -r, "comparing the sessions");
        }
        return 0;
}
