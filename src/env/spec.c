/* The policy's `environment:` as one canonical source text: the text the
 * lock file and the cache's refs name, so two spellings of one environment
 * (a relative and an absolute path, packages in another order) are one
 * entry. */
#include "env/env.h"

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/digest.h"
#include "util/path.h"

/* Each SDK is a named, versioned package set on a Debian base. A change of
 * a recipe bumps its version: the source text, and so the cache entry and
 * the lock, change with it. */
struct env_sdk {
        const char *name;
        unsigned version;
        const char *const *packages;
};

static const char *const sdk_python[] = {"python3", "python3-pip", "python3-venv", NULL};
static const char *const sdk_node[] = {"nodejs", "npm", NULL};
static const char *const sdk_build[] = {"build-essential", NULL};

static const struct env_sdk env_sdks[] = {
    {"python", 1, sdk_python},
    {"node", 1, sdk_node},
    {"build", 1, sdk_build},
};

const char *const *env_sdk_packages(const char *name, unsigned *version)
{
        for (size_t i = 0; i < sizeof(env_sdks) / sizeof(env_sdks[0]); i++)
                if (strcmp(env_sdks[i].name, name) == 0) {
                        if (version)
                                *version = env_sdks[i].version;
                        return env_sdks[i].packages;
                }
        return NULL;
}

static int compare_strings(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A path in the policy is relative to the policy file's directory. */
static char *spec_absolute(const char *path, const char *policy_dir)
{
        if (path[0] == '/' || !policy_dir)
                return realpath(path, NULL);
        cleanup_free char *joined = path_join(policy_dir, path);
        return joined ? realpath(joined, NULL) : NULL;
}

static int spec_image(struct env_spec *spec, const char *image, const char *policy_dir,
                      struct reins_error *err)
{
        const char *colon = strchr(image, ':');
        const char *rest = colon + 1;
        if (strncmp(image, "oci:", 4) == 0) {
                spec->kind = ENV_KIND_OCI;
                cleanup_free char *dir = strdup(rest);
                if (!dir)
                        return -ENOMEM;
                char *tag = strrchr(dir, ':');
                if (tag && !strchr(tag, '/')) {
                        *tag++ = '\0';
                        if (!*tag)
                                return reins_error_set(err, EINVAL,
                                                       "environment.image %s: empty tag", image);
                        if (!(spec->tag = strdup(tag)))
                                return -ENOMEM;
                }
                spec->reference = spec_absolute(dir, policy_dir);
                if (!spec->reference)
                        return reins_error_errno(err, errno, "environment.image %s: layout %s",
                                                 image, dir);
        } else if (strncmp(image, "docker-archive:", 15) == 0) {
                spec->kind = ENV_KIND_DOCKER_ARCHIVE;
                spec->reference = spec_absolute(rest, policy_dir);
                if (!spec->reference)
                        return reins_error_errno(err, errno, "environment.image %s", image);
        } else {
                spec->kind = ENV_KIND_CONTAINERS_STORAGE;
                if (!(spec->reference = strdup(rest)))
                        return -ENOMEM;
        }
        if (strchr(spec->reference, ':') && spec->kind == ENV_KIND_OCI)
                return reins_error_set(err, EINVAL,
                                       "environment.image %s: a layout path holding ':' cannot be "
                                       "named to umoci",
                                       image);
        static const char *const prefixes[] = {"oci:", "docker-archive:", "containers-storage:"};
        int n = spec->tag ? asprintf(&spec->source, "%s%s:%s", prefixes[spec->kind],
                                     spec->reference, spec->tag)
                          : asprintf(&spec->source, "%s%s", prefixes[spec->kind], spec->reference);
        return n < 0 ? -ENOMEM : 0;
}

static int spec_debian(struct env_spec *spec, const struct reins_policy *policy)
{
        spec->kind = ENV_KIND_DEBIAN;
        if (!(spec->suite = strdup(policy->environment.debian_suite)))
                return -ENOMEM;
        for (size_t i = 0; i < policy->environment.debian_packages.count; i++)
                if (strv_push_unique(&spec->packages,
                                     policy->environment.debian_packages.items[i]) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < spec->sdks.count; i++) {
                cleanup_free char *name = strdup(spec->sdks.items[i]);
                if (!name)
                        return -ENOMEM;
                *strchr(name, '@') = '\0';
                for (const char *const *p = env_sdk_packages(name, NULL); p && *p; p++)
                        if (strv_push_unique(&spec->packages, *p) < 0)
                                return -ENOMEM;
        }
        if (spec->packages.count)
                qsort(spec->packages.items, spec->packages.count, sizeof(char *), compare_strings);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        if (!out)
                return -ENOMEM;
        fprintf(out, "debian:%s;", spec->suite);
        for (size_t i = 0; i < spec->packages.count; i++)
                fprintf(out, "%s%s", i ? "," : "", spec->packages.items[i]);
        fputs(";sdks=", out);
        for (size_t i = 0; i < spec->sdks.count; i++)
                fprintf(out, "%s%s", i ? "," : "", spec->sdks.items[i]);
        if (fclose(out) != 0) {
                free(text);
                return -ENOMEM;
        }
        spec->source = text;
        return 0;
}

int env_spec_from_policy(const struct reins_policy *policy, struct env_spec **out,
                         struct reins_error *err)
{
        *out = NULL;
        const char *image = policy->environment.image, *suite = policy->environment.debian_suite;
        if (!image && !suite) {
                if (policy->environment.sdks.count || policy->environment.debian_packages.count)
                        return reins_error_set(err, EINVAL,
                                               "environment: sdks and debian.packages need a base "
                                               "(environment.debian.suite or environment.image)");
                return 0;
        }
        if (image && suite)
                return reins_error_set(err, EINVAL,
                                       "environment: image and debian are two bases: name one");
        if (image && policy->environment.sdks.count)
                return reins_error_set(err, EINVAL,
                                       "environment.sdks: SDK layers are Debian package sets and "
                                       "need environment.debian as their base, not an image");
        struct env_spec *spec = calloc(1, sizeof(*spec));
        if (!spec)
                return reins_error_set(err, ENOMEM, "out of memory");
        spec->writable =
            policy->environment.writable && strcmp(policy->environment.writable, "session") == 0;
        cleanup_free char *policy_dir = NULL;
        if (policy->source && strncmp(policy->source, "preset:", 7) != 0) {
                cleanup_free char *real = realpath(policy->source, NULL);
                if (real) {
                        policy_dir = strdup(dirname(real));
                        if (policy_dir)
                                spec->lock_path = path_join(policy_dir, "reins.lock");
                }
        }
        int r = 0;
        for (size_t i = 0; r == 0 && i < policy->environment.sdks.count; i++) {
                unsigned version = 0;
                char *item = NULL;
                env_sdk_packages(policy->environment.sdks.items[i], &version);
                if (asprintf(&item, "%s@%u", policy->environment.sdks.items[i], version) < 0)
                        r = -ENOMEM;
                else
                        r = strv_push_take(&spec->sdks, item);
        }
        if (r == 0)
                r = image ? spec_image(spec, image, policy_dir, err) : spec_debian(spec, policy);
        if (r < 0) {
                if (!err || err->code == 0)
                        reins_error_set(err, -r, "environment: out of memory");
                env_spec_free(spec);
                return r;
        }
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(spec->source, strlen(spec->source), digest);
        for (size_t i = 0; i < sizeof(digest); i++)
                snprintf(spec->source_hash + 2 * i, 3, "%02x", digest[i]);
        *out = spec;
        return 0;
}

void env_spec_free(struct env_spec *spec)
{
        if (!spec)
                return;
        free(spec->reference);
        free(spec->tag);
        free(spec->suite);
        strv_free(&spec->packages);
        strv_free(&spec->sdks);
        free(spec->source);
        free(spec->lock_path);
        free(spec);
}

void env_progress_say(const struct env_progress *p, uint64_t done, uint64_t total, const char *fmt,
                      ...)
{
        if (!p || !p->fn)
                return;
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        p->fn(p->ctx, line, done, total);
}
