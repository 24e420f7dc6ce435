/* An anchor as `reins audit verify --anchor` reads it: lines (JSON, or
 * syslog lines carrying JSON) that anyone who can append to the anchor may
 * have added. The check must name a verdict for any bytes, against a real
 * trail and against none (deleted), and list sessions without failing.
 *
 * The first byte picks the input: bit 0 clear, the bytes are the anchor
 * as they are; set, the bytes follow an honest anchor (a certificate and
 * the checkpoints of a small trail made here), so the fuzzer reaches the
 * comparison of anchored checkpoints with the trail. An honest anchor
 * followed by entries that do not verify still matches the trail. */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/anchor.h"
#include "audit/event.h"
#include "audit/session_key.h"
#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "fuzz.h"

#define SESSION "00112233445566778899aabb"

static char *trail, *honest;
static size_t trail_length, honest_length;
static char user_hex[65];

static char *slurp(const char *path, size_t *length)
{
        int fd = open(path, O_RDONLY);
        FUZZ_CHECK(fd >= 0);
        struct stat st;
        FUZZ_CHECK(fstat(fd, &st) == 0);
        char *data = malloc((size_t)st.st_size + 1);
        FUZZ_CHECK(data && read(fd, data, (size_t)st.st_size) == st.st_size);
        close(fd);
        *length = (size_t)st.st_size;
        return data;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        FUZZ_CHECK(sodium_init() >= 0);
        json_object_seed(1);
        static const unsigned char seed[crypto_sign_SEEDBYTES] = "reins fuzz anchor user key seed";
        struct audit_key user;
        crypto_sign_seed_keypair(user.public_key, user.secret_key, seed);
        audit_hex(user.public_key, sizeof(user.public_key), user_hex);
        struct audit_session_signer signer;
        FUZZ_CHECK(audit_session_signer_from_key(&user, SESSION, "", "run", 3600, &signer, NULL) ==
                   0);
        char dir[] = "/tmp/reins-fuzz-anchor.XXXXXX";
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        char trail_path[64], anchor_path[64];
        snprintf(trail_path, sizeof(trail_path), "%s/trail", dir);
        snprintf(anchor_path, sizeof(anchor_path), "%s/anchor", dir);
        struct audit_anchor *anchor = NULL;
        FUZZ_CHECK(audit_anchor_add(&anchor, anchor_path, NULL) == 0);
        json_t *entry = audit_anchor_cert_entry(&signer.cert);
        FUZZ_CHECK(audit_anchor_send(anchor, entry, NULL) == 0);
        json_decref(entry);
        struct audit_trail *t = NULL;
        FUZZ_CHECK(audit_trail_open_with_key(trail_path, &signer.key, &t, NULL) == 0);
        audit_trail_set_checkpoint_interval(t, 3);
        audit_trail_set_checkpoint_hook(t, audit_anchor_checkpoint_hook, anchor);
        struct event_bus bus;
        event_bus_init(&bus, SESSION);
        event_bus_add_sink(&bus, audit_trail_sink, t);
        json_t *start = json_object();
        json_object_set_new(start, AUDIT_CERT_FIELD, audit_session_cert_to_json(&signer.cert));
        event_emit(&bus, "session.start", start);
        for (int i = 0; i < 7; i++)
                event_emit(&bus, "exec", json_pack("{s:i}", "pid", i));
        FUZZ_CHECK(audit_trail_close(t, NULL) == 0);
        audit_anchor_free(anchor);
        trail = slurp(trail_path, &trail_length);
        honest = slurp(anchor_path, &honest_length);
        unlink(trail_path);
        unlink(anchor_path);
        rmdir(dir);
        return 0;
}

static bool count_session(void *ctx, const char *session)
{
        FUZZ_CHECK(session != NULL);
        (*(size_t *)ctx)++;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 100000)
                return 0;
        bool after_honest = data[0] & 1;
        size_t length = (after_honest ? honest_length : 0) + size - 1;
        char *anchor = malloc(length ? length : 1);
        FUZZ_CHECK(anchor != NULL);
        if (after_honest)
                memcpy(anchor, honest, honest_length);
        memcpy(anchor + (after_honest ? honest_length : 0), data + 1, size - 1);
        struct audit_anchor_result r;
        audit_anchor_check(anchor, length, SESSION, trail, trail_length, user_hex, &r);
        FUZZ_CHECK(r.message[0] != '\0');
        if (after_honest && r.verdict != AUDIT_ANCHOR_MATCH) {
                /* appended lines may only add a second certificate (which
                 * needs the user key) or entries that do not verify */
                FUZZ_CHECK(r.verdict == AUDIT_ANCHOR_MISMATCH && strstr(r.message, "two certif"));
        }
        audit_anchor_check(anchor, length, SESSION, NULL, 0, NULL, &r);
        FUZZ_CHECK(r.message[0] != '\0');
        size_t sessions = 0;
        audit_anchor_sessions(anchor, length, count_session, &sessions);
        free(anchor);
        return 0;
}
