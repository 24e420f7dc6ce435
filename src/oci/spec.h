/* An OCI bundle's config.json (runtime-spec 1.0), read into what the
 * sandbox's plan takes (sandbox/plan.h: struct plan_root) and what the
 * runtime keeps (the command, annotations, resources).
 *
 * The image's author writes much of config.json (args, env, user, even
 * mounts through an engine's defaults): the reader is strict and bounded.
 * The file is at most OCI_SPEC_MAX_BYTES, every list has a cap, unknown
 * values of the keys reins acts on are refused with their key named
 * ("config.json: mounts[3].type 'overlay' is not supported"), and keys
 * reins does not act on are listed in the README (ignored, the stricter
 * side of reins' own protections standing in). */
#ifndef REINS_OCI_SPEC_H
#define REINS_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/plan.h"
#include "util/error.h"

#define OCI_SPEC_MAX_BYTES  (4u << 20)
#define OCI_SPEC_MAX_ARGS   4096
#define OCI_SPEC_MAX_ENV    4096
#define OCI_SPEC_MAX_MOUNTS 256
#define OCI_SPEC_MAX_PATHS  256
#define OCI_SPEC_MAX_GROUPS 64
#define OCI_SPEC_MAX_MAPS   5 /* the kernel's own limit in older releases */

struct oci_spec {
        json_t *doc; /* owns every string below that is not freed on its own */
        char *bundle;
        char *rootfs; /* absolute, symlink-free */
        char **args;  /* NULL-terminated; strings borrowed from doc */
        char **env;   /* NULL-terminated */
        size_t env_count;
        bool terminal;
        json_t *annotations;                     /* borrowed from doc; NULL when none */
        json_t *hooks;                           /* borrowed; NULL when none */
        json_t *seccomp;                         /* borrowed; NULL when none */
        uint64_t memory_bytes, pids, cpus_milli; /* linux.resources, 0 = none */
        char **sysctl;                           /* "name=value", NULL-terminated */
        const char *net_path;   /* a network namespace config.json asks to join: not joined */
        uint64_t caps_withheld; /* process.capabilities reins does not grant (bit N: cap N) */

        /* what the plan takes */
        struct plan_root root;
        struct plan_root_mount *mounts;
        uint32_t *groups;
        char **masked, **readonly_paths;
        struct plan_rlimit *rlimits;
        char *uid_map, *gid_map;
        void *filter;
};

/* Reads BUNDLE/config.json. On error, err names the key. */
int oci_spec_load(const char *bundle, struct oci_spec **out, struct reins_error *err);
/* The same from bytes (fuzzing): `bundle` is only used to resolve
 * root.path; a missing rootfs is an error only with check_root. */
int oci_spec_parse(const char *bytes, size_t len, const char *bundle, bool check_root,
                   struct oci_spec **out, struct reins_error *err);
void oci_spec_free(struct oci_spec *spec);

/* config.json's linux.seccomp compiled with libseccomp into a BPF
 * program (oci/seccomp.c). */
int oci_seccomp_compile(const json_t *profile, void **filter, size_t *len, struct reins_error *err);

#endif
