/* Declarative environments: the root filesystem a sandbox runs in, named by
 * the policy's `environment:` instead of the host's own /usr.
 *
 *   spec    the policy's environment as one canonical source text
 *           ("oci:/abs/dir:tag", "debian:bookworm;python3,git;sdk=python@1")
 *   cache   reins' state directory, env/: one entry per content key
 *           (entries/KEY/rootfs, entries/KEY/meta), refs/SOURCEHASH -> KEY,
 *           builds in tmp/ and renamed in whole (an interrupted build leaves
 *           no entry; a failed refresh leaves the previous one in use)
 *   lock    reins.lock next to the policy: the source, the key, every layer
 *           digest and package version it resolved to
 *   build   OCI layouts copied blob by blob into the cache and verified
 *           against their digests, then unpacked with umoci; docker-archive
 *           and containers-storage through skopeo into such a layout;
 *           Debian roots with mmdebstrap from the host's apt mirror
 *
 * Everything here returns int (<0 = -errno) and fills struct reins_error;
 * progress goes to a callback, never to a terminal. */
#ifndef REINS_ENV_ENV_H
#define REINS_ENV_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "util/error.h"
#include "util/strv.h"

enum env_kind {
        ENV_KIND_OCI,
        ENV_KIND_DOCKER_ARCHIVE,
        ENV_KIND_CONTAINERS_STORAGE,
        ENV_KIND_DEBIAN,
};

struct env_spec {
        enum env_kind kind;
        char *reference;            /* oci: absolute DIR; docker-archive: FILE; storage: NAME */
        char *tag;                  /* oci: TAG, NULL: the layout's only manifest */
        char *suite;                /* debian */
        struct reins_strv packages; /* debian: listed ones and the SDKs', sorted, unique */
        struct reins_strv sdks;     /* "python@1": name and recipe version */
        bool writable;              /* writable: session */
        char *source;               /* canonical text: what the lock and refs name */
        char source_hash[65];       /* sha256 of source: refs/HASH */
        char *lock_path;            /* reins.lock next to the policy; NULL for a preset */
};

/* The policy's environment; *out = NULL (and 0) when it names none. */
int env_spec_from_policy(const struct reins_policy *policy, struct env_spec **out,
                         struct reins_error *err);
void env_spec_free(struct env_spec *spec);

/* The SDK recipes: "python" -> its packages (NULL-terminated) and version. */
const char *const *env_sdk_packages(const char *name, unsigned *version);

/* ---- lock (lock.c) ------------------------------------------------------ */

#define ENV_LOCK_MAX_BYTES (1u << 20)
#define ENV_LOCK_MAX_LINES 20000

struct env_lock {
        char *source;
        char key[65];
        struct reins_strv digests;  /* "sha256:HEX": manifest, config, layers */
        struct reins_strv packages; /* "NAME=VERSION" */
};

/* Parse lock text (bounded, strict: an unknown line is an error naming its
 * line). Pure: the fuzz target's entry point. */
int env_lock_parse(const char *text, size_t len, struct env_lock *out, struct reins_error *err);
/* Read PATH; -ENOENT when absent. */
int env_lock_read(const char *path, struct env_lock *out, struct reins_error *err);
/* Write PATH atomically (PATH.tmp + rename). */
int env_lock_write(const char *path, const struct env_lock *lock, struct reins_error *err);
char *env_lock_format(const struct env_lock *lock);
void env_lock_free(struct env_lock *lock);

/* ---- OCI layouts (oci.c) ------------------------------------------------ */

#define ENV_OCI_JSON_MAX   (4u << 20)
#define ENV_OCI_MAX_LAYERS 256

struct env_oci_descriptor {
        char digest[72]; /* "sha256:" + 64 hex */
        uint64_t size;
};

/* index.json: the manifest named `tag` (annotation
 * org.opencontainers.image.ref.name), or the only one when tag is NULL. */
int env_oci_parse_index(const char *bytes, size_t len, const char *tag,
                        struct env_oci_descriptor *manifest, struct reins_error *err);
/* A manifest: its config and layers (at most ENV_OCI_MAX_LAYERS). */
int env_oci_parse_manifest(const char *bytes, size_t len, struct env_oci_descriptor *config,
                           struct env_oci_descriptor **layers, size_t *count,
                           struct reins_error *err);
/* The manifest digest `tag` names in the layout DIR (reads index.json only). */
int env_oci_resolve(const char *dir, const char *tag, char digest[72], struct reins_error *err);

/* ---- cache and builds (cache.c, build.c) -------------------------------- */

/* A progress report: `line` a step in words; done/total in bytes or steps
 * (total 0: unknown). */
typedef void (*env_progress_fn)(void *ctx, const char *line, uint64_t done, uint64_t total);

struct env_progress {
        env_progress_fn fn;
        void *ctx;
};

void env_progress_say(const struct env_progress *p, uint64_t done, uint64_t total, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* STATE/env (created 0700, owner-checked). */
int env_cache_dir(char **out, struct reins_error *err);

struct env_entry {
        char key[65];
        char *dir;    /* CACHE/entries/KEY */
        char *rootfs; /* CACHE/entries/KEY/rootfs */
        bool pinned;  /* found through the policy's reins.lock */
};

/* The entry of spec: through the lock when it names spec's source, else
 * refs/ (or, for an OCI layout, its index.json). -ENOENT when not built. */
int env_lookup(const char *cache, const struct env_spec *spec, struct env_entry *out,
               struct reins_error *err);
/* Build spec into the cache (even when an entry exists), write refs and the
 * lock. A Debian build follows the policy's reins.lock when it names the
 * same source (its packages at the locked versions, and a root whose
 * versions differ from the lock is refused), unless `relock` (reins env
 * build --refresh: resolve anew and rewrite the lock). */
int env_build(const char *cache, const struct env_spec *spec, bool relock,
              const struct env_progress *progress, struct env_entry *out, struct reins_error *err);
/* Lookup, and build when missing. *built tells which. */
int env_prepare(const char *cache, const struct env_spec *spec, const struct env_progress *progress,
                struct env_entry *out, bool *built, struct reins_error *err);
void env_entry_free(struct env_entry *entry);

/* Build steps (build.c), each into `dir` (a private temporary directory):
 * dir/rootfs, and the lock's digests or packages. */
int env_build_oci(const char *dir, const char *layout, const char *tag,
                  const struct env_progress *progress, struct env_lock *lock,
                  struct reins_error *err);
int env_build_skopeo(const char *dir, const struct env_spec *spec,
                     const struct env_progress *progress, struct env_lock *lock,
                     struct reins_error *err);
int env_build_debian(const char *dir, const struct env_spec *spec, const struct env_lock *pins,
                     const struct env_progress *progress, struct env_lock *lock,
                     struct reins_error *err);

/* `reins env ls|show|rm|gc` */
struct env_listing {
        char key[65];
        char *source;
        char *created;
        uint64_t packages, layers;
};
int env_list(const char *cache, struct env_listing **out, size_t *count, struct reins_error *err);
void env_listing_free(struct env_listing *items, size_t count);
/* The meta file of the entry whose key starts with `prefix` (unique). */
int env_show(const char *cache, const char *prefix, char **text, struct reins_error *err);
int env_remove(const char *cache, const char *prefix, struct reins_error *err);
/* Remove entries no ref names and builds no live process owns; *removed. */
int env_gc(const char *cache, size_t *removed, struct reins_error *err);

/* ---- a session's view (session_root.c) ----------------------------------- */

/* What the sandbox plan takes (sandbox/plan.h: struct plan_environment). */
struct env_session {
        char key[65];
        char *rootfs;
        char *passwd, *group; /* host files holding the mapped user, or NULL */
        char *upper;          /* writable: session: CACHE/sessions/ID (removed at the end) */
        bool upper_kept;      /* upper moved into an overlay session: kept at the end */
};

int env_session_prepare(const char *cache, const struct env_entry *entry, bool writable,
                        const char *session_id, struct env_session *out, struct reins_error *err);
/* Remove the session's writable layer (unless kept); free. */
void env_session_release(struct env_session *s);
/* Remove the writable layer at s->upper now (if any) and forget it. */
void env_session_release_layer(struct env_session *s);

#endif
