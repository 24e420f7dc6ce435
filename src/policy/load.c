/* Loading a policy: find its text (a file or a built-in preset), parse it,
 * follow `extends` down to the root (refusing cycles), merge the layers back
 * up, then fill in the defaults. */
#include "policy/policy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

/* A policy is a page of YAML; anything bigger is a mistake (or /dev/zero). */
#define POLICY_FILE_MAX (1024 * 1024)
/* default <- team policy <- project policy is three; eight is plenty. */
#define EXTENDS_DEPTH_MAX 8

/* The documents being loaded, from the one that extends this one downwards:
 * what a cycle is detected against, and how it is reported. */
struct chain_link {
        const char *identity; /* canonical: real path, or "preset:NAME" */
        const char *label;    /* as named in messages */
        const struct chain_link *extended_by;
};

static void policy_cleanup(struct reins_policy **policy)
{
        policy_free(*policy);
}

/* Read a whole file of at most POLICY_FILE_MAX bytes. 0 or -errno (-EFBIG). */
static int read_policy_file(const char *path, char **text, size_t *length)
{
        /* O_NOCTTY: naming a terminal must not make it ours */
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t capacity = 4096, used = 0;
        cleanup_free char *buffer = malloc(capacity + 1);
        if (!buffer)
                return -ENOMEM;
        for (;;) {
                if (used == capacity) {
                        if (capacity > POLICY_FILE_MAX)
                                return -EFBIG;
                        capacity *= 2;
                        char *bigger = realloc(buffer, capacity + 1);
                        if (!bigger)
                                return -ENOMEM;
                        buffer = bigger;
                }
                ssize_t n = read(fd, buffer + used, capacity - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                used += (size_t)n;
        }
        if (used > POLICY_FILE_MAX)
                return -EFBIG;
        buffer[used] = '\0';
        *text = steal_ptr(&buffer);
        *length = used;
        return 0;
}

static const char *read_failure(int r)
{
        return r == -EFBIG ? "larger than 1 MiB" : strerror(-r);
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "pol.yaml", "./pol", "/etc/reins/pol" name files; "default" a preset. */
static bool looks_like_path(const char *s)
{
        return strchr(s, '/') || ends_with(s, ".yaml") || ends_with(s, ".yml");
}

/* The directory a file's relative `extends` is resolved against. */
static char *directory_of(const char *path)
{
        cleanup_free char *copy = strdup(path);
        if (!copy)
                return NULL;
        return strdup(dirname(copy));
}

/* `name` relative to `directory`, without "./" noise, so that messages
 * read "team/base.yaml" rather than "./team/./base.yaml". */
static char *resolve_relative(const char *directory, const char *name)
{
        char *path;
        while (strncmp(name, "./", 2) == 0)
                name += 2;
        if (name[0] == '/' || strcmp(directory, ".") == 0)
                return strdup(name);
        size_t dir_len = strlen(directory);
        if (dir_len >= 2 && strcmp(directory + dir_len - 2, "/.") == 0)
                dir_len -= 2;
        if (asprintf(&path, "%.*s/%s", (int)dir_len, directory, name) < 0)
                return NULL;
        return path;
}

static char *identity_of(const char *path)
{
        char *real = realpath(path, NULL);
        return real ? real : strdup(path);
}

/* "a.yaml -> b.yaml -> a.yaml", outermost first. */
static void describe_cycle(const struct chain_link *innermost, const char *again, char *out,
                           size_t size)
{
        const char *labels[EXTENDS_DEPTH_MAX + 2];
        size_t n = 0;
        for (const struct chain_link *l = innermost; l && n < EXTENDS_DEPTH_MAX + 1;
             l = l->extended_by)
                labels[n++] = l->label;
        size_t used = 0;
        out[0] = '\0';
        while (n > 0) {
                int w = snprintf(out + used, size - used, "%s -> ", labels[--n]);
                if (w < 0 || (size_t)w >= size - used)
                        return;
                used += (size_t)w;
        }
        snprintf(out + used, size - used, "%s", again);
}

static int load_chain(const char *text, size_t length, const char *label, const char *directory,
                      const struct chain_link *link, unsigned depth, struct reins_policy **out,
                      struct reins_error *err);

/* Load what `layer` extends (with everything below it), merged. */
static int load_extended(const struct reins_policy *layer, const char *directory,
                         const struct chain_link *link, unsigned depth, struct reins_policy **out,
                         struct reins_error *err)
{
        const char *name = layer->extends;
        const struct policy_origin *at = policy_origin_get(layer, POLICY_KEY_EXTENDS);
        const char *file = at ? at->file : link->label;
        unsigned long line = at ? at->line : 1;

        if (depth >= EXTENDS_DEPTH_MAX)
                return reins_error_set(err, ELOOP,
                                       "%s:%lu: extends: more than %d levels of extends", file,
                                       line, EXTENDS_DEPTH_MAX);

        cleanup_free char *parent_label = NULL, *parent_identity = NULL, *parent_text = NULL,
                          *parent_directory = NULL;
        size_t parent_length;
        if (policy_is_preset(name)) {
                if (asprintf(&parent_label, "preset:%s", name) < 0)
                        return reins_error_set(err, ENOMEM, "%s: out of memory", file);
                parent_identity = strdup(parent_label);
                parent_text = strdup(policy_preset_text(name));
                if (!parent_identity || !parent_text)
                        return reins_error_set(err, ENOMEM, "%s: out of memory", file);
                parent_length = strlen(parent_text);
        } else if (looks_like_path(name)) {
                if (!directory)
                        return reins_error_set(err, EINVAL,
                                               "%s:%lu: extends: a preset can only extend presets",
                                               file, line);
                if (!(parent_label = resolve_relative(directory, name)))
                        return reins_error_set(err, ENOMEM, "%s: out of memory", file);
                int r = read_policy_file(parent_label, &parent_text, &parent_length);
                if (r < 0)
                        return reins_error_set(err, -r,
                                               "%s:%lu: extends: cannot read policy '%s': %s", file,
                                               line, parent_label, read_failure(r));
                parent_identity = identity_of(parent_label);
                parent_directory = directory_of(parent_label);
                if (!parent_identity || !parent_directory)
                        return reins_error_set(err, ENOMEM, "%s: out of memory", file);
        } else {
                return reins_error_set(err, EINVAL,
                                       "%s:%lu: extends: unknown preset '%s' (presets: default, "
                                       "offline, readonly; a file needs a '/' or a .yaml name)",
                                       file, line, name);
        }

        for (const struct chain_link *l = link; l; l = l->extended_by) {
                if (strcmp(l->identity, parent_identity) == 0) {
                        char cycle[512];
                        describe_cycle(link, parent_label, cycle, sizeof(cycle));
                        return reins_error_set(err, ELOOP, "%s:%lu: extends: cycle: %s", file, line,
                                               cycle);
                }
        }
        struct chain_link parent_link = {
            .identity = parent_identity, .label = parent_label, .extended_by = link};
        return load_chain(parent_text, parent_length, parent_label, parent_directory, &parent_link,
                          depth + 1, out, err);
}

/* Parse one document and, below it, everything it extends; merged, not yet
 * defaulted. `directory` resolves a relative `extends` (NULL in presets). */
static int load_chain(const char *text, size_t length, const char *label, const char *directory,
                      const struct chain_link *link, unsigned depth, struct reins_policy **out,
                      struct reins_error *err)
{
        __attribute__((cleanup(policy_cleanup))) struct reins_policy *layer = NULL;
        int r = policy_parse_layer(text, length, label, &layer, err);
        if (r < 0)
                return r;
        if (!layer->extends) {
                *out = steal_ptr(&layer);
                return 0;
        }
        __attribute__((cleanup(policy_cleanup))) struct reins_policy *parent = NULL;
        r = load_extended(layer, directory, link, depth, &parent, err);
        if (r < 0)
                return r;
        if (policy_merge(parent, layer) < 0)
                return reins_error_set(err, ENOMEM, "%s: out of memory", label);
        *out = steal_ptr(&parent);
        return 0;
}

static int load_top(const char *text, size_t length, const char *label, const char *identity,
                    const char *directory, struct reins_policy **out, struct reins_error *err)
{
        struct chain_link top = {.identity = identity, .label = label, .extended_by = NULL};
        __attribute__((cleanup(policy_cleanup))) struct reins_policy *policy = NULL;
        int r = load_chain(text, length, label, directory, &top, 0, &policy, err);
        if (r < 0)
                return r;
        if (policy_apply_defaults(policy) < 0)
                return reins_error_set(err, ENOMEM, "%s: out of memory", label);
        *out = steal_ptr(&policy);
        return 0;
}

int policy_load_text(const char *text, const char *origin, struct reins_policy **out,
                     struct reins_error *err)
{
        if (!text || !origin || !out)
                return reins_error_set(err, EINVAL, "policy_load_text: missing argument");
        /* presets extend presets only; other texts resolve files like a file would */
        bool preset = strncmp(origin, "preset:", 7) == 0;
        cleanup_free char *directory = preset ? NULL : directory_of(origin);
        if (!preset && !directory)
                return reins_error_set(err, ENOMEM, "%s: out of memory", origin);
        return load_top(text, strlen(text), origin, origin, directory, out, err);
}

static int load_file(const char *path, struct reins_policy **out, struct reins_error *err)
{
        cleanup_free char *text = NULL;
        size_t length;
        int r = read_policy_file(path, &text, &length);
        if (r < 0)
                return reins_error_set(err, -r, "%s: cannot read policy: %s", path,
                                       read_failure(r));
        cleanup_free char *identity = identity_of(path);
        cleanup_free char *directory = directory_of(path);
        if (!identity || !directory)
                return reins_error_set(err, ENOMEM, "%s: out of memory", path);
        return load_top(text, length, path, identity, directory, out, err);
}

int policy_load(const char *file_or_preset, struct reins_policy **out, struct reins_error *err)
{
        if (!file_or_preset || !*file_or_preset || !out)
                return reins_error_set(err, EINVAL, "no policy given (a file or a preset name)");
        const char *spec = file_or_preset;
        if (looks_like_path(spec))
                return load_file(spec, out, err);
        const char *preset_text = policy_preset_text(spec);
        if (preset_text) {
                cleanup_free char *label = NULL;
                if (asprintf(&label, "preset:%s", spec) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
                return policy_load_text(preset_text, label, out, err);
        }
        if (access(spec, F_OK) == 0)
                return load_file(spec, out, err);
        return reins_error_set(err, ENOENT,
                               "%s: unknown preset (presets: default, offline, readonly) and no "
                               "such policy file",
                               spec);
}
