/* Canary credentials (canary.h). */
#include "govern/canary.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "util/cleanup.h"
#include "util/path.h"

static const char *const canary_names[CANARY_FILES] = {"aws-credentials", "id_ed25519", "env"};
static const char *const canary_targets[CANARY_FILES] = {"~/.aws/credentials", "~/.ssh/id_ed25519",
                                                         "~/.env"};

/* n random characters of `alphabet`. */
static void random_text(char *out, size_t n, const char *alphabet)
{
        size_t k = strlen(alphabet);
        for (size_t i = 0; i < n; i++)
                out[i] = alphabet[randombytes_uniform((uint32_t)k)];
        out[n] = '\0';
}

static int write_file(const char *path, const char *text, struct reins_error *err)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "planting a canary %s", path);
        size_t len = strlen(text);
        ssize_t n = write(fd, text, len);
        close(fd);
        return n == (ssize_t)len ? 0 : reins_error_errno(err, EIO, "planting a canary %s", path);
}

static int canary_texts(struct canary_set *s, char *texts[CANARY_FILES])
{
        char secret[41], key[101];
        random_text(s->aws_key_id, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
        memmove(s->aws_key_id + 4, s->aws_key_id, 17);
        memcpy(s->aws_key_id, "AKIA", 4);
        random_text(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        random_text(s->token, 40, "abcdefghijklmnopqrstuvwxyz0123456789");
        random_text(key, 100, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        if (asprintf(&texts[0], "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                     s->aws_key_id, secret) < 0)
                return -ENOMEM;
        if (asprintf(&texts[1],
                     "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA%s\n"
                     "-----END OPENSSH PRIVATE KEY-----\n",
                     key) < 0)
                return -ENOMEM;
        if (asprintf(&texts[2], "API_TOKEN=%s\nAWS_ACCESS_KEY_ID=%s\n", s->token, s->aws_key_id) <
            0)
                return -ENOMEM;
        return 0;
}

/* The canaries of a `reins run` killed with SIGKILL (it had no chance to
 * remove them): a directory canary-PID-START-XXXXXX whose supervisor (pid
 * and start time, so a reused pid does not count) is gone. Only the files
 * planted here are removed; anything else keeps the directory. */
static void canary_sweep(const char *parent)
{
        cleanup_closedir DIR *d = opendir(parent);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                int pid = 0, used = 0;
                unsigned long long ticks = 0;
                if (sscanf(e->d_name, "canary-%d-%llu-%n", &pid, &ticks, &used) != 2 || used == 0 ||
                    pid <= 0 || runtime_pid_matches((pid_t)pid, ticks))
                        continue;
                int dir =
                    openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dir < 0)
                        continue;
                for (int i = 0; i < CANARY_FILES; i++)
                        unlinkat(dir, canary_names[i], 0);
                close(dir);
                unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
}

int canary_plant(const char *parent, struct canary_set *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium");
        canary_sweep(parent);
        /* named after this process, so that a later run can tell they are
         * orphans once it is gone (canary_sweep) */
        unsigned long long ticks = 0;
        runtime_pid_start_ticks(getpid(), &ticks);
        if (asprintf(&out->dir, "%s/canary-%d-%llu-XXXXXX", parent, (int)getpid(), ticks) < 0 ||
            !mkdtemp(out->dir)) {
                int e = errno;
                free(out->dir);
                out->dir = NULL;
                return reins_error_errno(err, e, "a directory for canaries under %s", parent);
        }
        char *texts[CANARY_FILES] = {0};
        int r = canary_texts(out, texts) < 0 ? reins_error_set(err, ENOMEM, "out of memory") : 0;
        for (int i = 0; r == 0 && i < CANARY_FILES; i++) {
                out->sources[i] = path_join(out->dir, canary_names[i]);
                out->targets[i] = canary_targets[i];
                r = out->sources[i] ? write_file(out->sources[i], texts[i], err)
                                    : reins_error_set(err, ENOMEM, "out of memory");
        }
        for (int i = 0; i < CANARY_FILES; i++)
                free(texts[i]);
        if (r < 0)
                canary_remove(out);
        return r;
}

bool canary_seen(const struct canary_set *set, const void *bytes, size_t len)
{
        if (!set->dir)
                return false;
        return (set->aws_key_id[0] && memmem(bytes, len, set->aws_key_id, 20)) ||
               (set->token[0] && memmem(bytes, len, set->token, 40));
}

void canary_remove(struct canary_set *set)
{
        for (int i = 0; i < CANARY_FILES; i++) {
                if (set->sources[i])
                        unlink(set->sources[i]);
                free(set->sources[i]);
        }
        if (set->dir)
                rmdir(set->dir);
        free(set->dir);
        memset(set, 0, sizeof(*set));
}
