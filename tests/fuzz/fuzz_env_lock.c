/* reins.lock (src/env/lock.c): it sits next to the policy, often in a
 * directory the agent writes. Any bytes parse into a lock or an error
 * naming reins.lock; a parsed lock has a source and a 64-hex key, and
 * formatting it and parsing the text again gives the same lock. */
#include <string.h>

#include "env/env.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct env_lock lock;
        struct reins_error err = {0};
        if (env_lock_parse((const char *)data, size, &lock, &err) < 0) {
                FUZZ_CHECK(strncmp(err.message, "reins.lock", 10) == 0);
                return 0;
        }
        FUZZ_CHECK(lock.source && strlen(lock.key) == 64);
        char *text = env_lock_format(&lock);
        FUZZ_CHECK(text != NULL);
        struct env_lock again;
        err = (struct reins_error){0};
        FUZZ_CHECK(env_lock_parse(text, strlen(text), &again, &err) == 0);
        FUZZ_CHECK(strcmp(again.source, lock.source) == 0 && strcmp(again.key, lock.key) == 0);
        FUZZ_CHECK(again.digests.count == lock.digests.count &&
                   again.packages.count == lock.packages.count);
        env_lock_free(&again);
        env_lock_free(&lock);
        free(text);
        return 0;
}
