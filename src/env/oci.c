/* Reading an OCI image layout's index.json and manifests (image-spec 1.x).
 *
 * The layout may come from anywhere (a download, an agent's workspace): the
 * JSON is bounded in bytes, every descriptor's digest must be sha256:HEX
 * (it becomes a file name under blobs/sha256: nothing else may reach the
 * path), sizes are whole numbers, and the layer count is capped. */
#include "env/env.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"

#define OCI_REF_NAME "org.opencontainers.image.ref.name"

static bool oci_digest_ok(const char *digest)
{
        if (strlen(digest) != 71 || strncmp(digest, "sha256:", 7) != 0)
                return false;
        for (const char *c = digest + 7; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

static int oci_descriptor(const json_t *node, const char *what, struct env_oci_descriptor *out,
                          struct reins_error *err)
{
        const json_t *digest = json_object_get(node, "digest");
        const json_t *size = json_object_get(node, "size");
        if (!json_is_object(node) || !json_is_string(digest) || !json_is_integer(size) ||
            json_integer_value(size) < 0)
                return reins_error_set(err, EINVAL, "%s: needs a digest and a size", what);
        if (!oci_digest_ok(json_string_value(digest)))
                return reins_error_set(err, EINVAL, "%s: digest is not sha256:HEX (64 digits)",
                                       what);
        snprintf(out->digest, sizeof(out->digest), "%s", json_string_value(digest));
        out->size = (uint64_t)json_integer_value(size);
        return 0;
}

static json_t *oci_load(const char *bytes, size_t len, const char *what, struct reins_error *err)
{
        if (len > ENV_OCI_JSON_MAX) {
                reins_error_set(err, EFBIG, "%s: larger than %u bytes", what, ENV_OCI_JSON_MAX);
                return NULL;
        }
        json_error_t jerr;
        json_t *doc = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                reins_error_set(err, EINVAL, "%s: not JSON (line %d: %s)", what, jerr.line,
                                jerr.text);
        else if (!json_is_object(doc)) {
                reins_error_set(err, EINVAL, "%s: not a JSON object", what);
                json_decref(doc);
                doc = NULL;
        }
        return doc;
}

int env_oci_parse_index(const char *bytes, size_t len, const char *tag,
                        struct env_oci_descriptor *manifest, struct reins_error *err)
{
        json_t *doc = oci_load(bytes, len, "index.json", err);
        if (!doc)
                return -EINVAL;
        int r = 0;
        const json_t *list = json_object_get(doc, "manifests");
        size_t found = 0, index;
        const json_t *item, *chosen = NULL;
        if (!json_is_array(list)) {
                r = reins_error_set(err, EINVAL, "index.json: no manifests list");
                goto out;
        }
        json_array_foreach(list, index, item)
        {
                const json_t *name =
                    json_object_get(json_object_get(item, "annotations"), OCI_REF_NAME);
                if (tag && !(json_is_string(name) && strcmp(json_string_value(name), tag) == 0))
                        continue;
                chosen = item;
                found++;
        }
        if (found == 0)
                r = reins_error_set(err, ENOENT, "index.json: no manifest %s%s",
                                    tag ? "tagged " : "at all", tag ? tag : "");
        else if (found > 1)
                r = reins_error_set(err, EINVAL,
                                    "index.json: %zu manifests%s%s: name one with oci:DIR:TAG",
                                    found, tag ? " tagged " : "", tag ? tag : "");
        else
                r = oci_descriptor(chosen, "index.json: the manifest", manifest, err);
out:
        json_decref(doc);
        return r;
}

int env_oci_parse_manifest(const char *bytes, size_t len, struct env_oci_descriptor *config,
                           struct env_oci_descriptor **layers, size_t *count,
                           struct reins_error *err)
{
        *layers = NULL;
        *count = 0;
        json_t *doc = oci_load(bytes, len, "the manifest", err);
        if (!doc)
                return -EINVAL;
        int r = 0;
        const json_t *list = json_object_get(doc, "layers");
        const json_t *version = json_object_get(doc, "schemaVersion");
        if (!json_is_integer(version) || json_integer_value(version) != 2 || !json_is_array(list)) {
                r = reins_error_set(err, EINVAL,
                                    "the manifest: not an image manifest "
                                    "(schemaVersion 2 with layers)");
                goto out;
        }
        if (json_array_size(list) > ENV_OCI_MAX_LAYERS) {
                r = reins_error_set(err, EINVAL, "the manifest: more than %d layers",
                                    ENV_OCI_MAX_LAYERS);
                goto out;
        }
        if ((r = oci_descriptor(json_object_get(doc, "config"), "the manifest's config", config,
                                err)) < 0)
                goto out;
        size_t n = json_array_size(list);
        *layers = calloc(n ? n : 1, sizeof(**layers));
        if (!*layers) {
                r = reins_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                char what[64];
                snprintf(what, sizeof(what), "the manifest's layers[%zu]", i);
                if ((r = oci_descriptor(json_array_get(list, i), what, &(*layers)[i], err)) < 0)
                        break;
        }
        if (r < 0) {
                free(*layers);
                *layers = NULL;
        } else {
                *count = n;
        }
out:
        json_decref(doc);
        return r;
}

int env_oci_resolve(const char *dir, const char *tag, char digest[72], struct reins_error *err)
{
        cleanup_fd int layout = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (layout < 0)
                return reins_error_errno(err, errno, "OCI layout %s", dir);
        cleanup_fd int fd = openat(layout, "index.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "OCI layout %s: index.json", dir);
        cleanup_free char *data = NULL;
        size_t len = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, ENV_OCI_JSON_MAX, &data, &len, &truncated);
        if (r < 0)
                return reins_error_errno(err, -r, "OCI layout %s: index.json", dir);
        if (truncated)
                return reins_error_set(err, EFBIG, "OCI layout %s: index.json too large", dir);
        struct env_oci_descriptor manifest;
        if ((r = env_oci_parse_index(data, len, tag, &manifest, err)) < 0)
                return reins_error_prefix(err, "OCI layout %s", dir), r;
        memcpy(digest, manifest.digest, 72);
        return 0;
}
