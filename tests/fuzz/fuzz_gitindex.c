/* git's index as reins reads it without running git (workspace/tracked.c):
 * .git/index is written by whoever controls the workspace, an agent in an
 * earlier session included. Versions 2, 3 (extended flags) and 4 (prefix
 * compressed paths). The count returned is the number of paths marked. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "workspace/tracked.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char *const paths[] = {".env", "src/main.c", "a", "keys/server.pem", ""};
        const size_t count = sizeof(paths) / sizeof(paths[0]);
        unsigned char *copy = malloc(size ? size : 1); /* exact size: over-reads are caught */
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        bool tracked[sizeof(paths) / sizeof(paths[0])] = {false};
        int found = tracked_in_index(copy, size, paths, count, tracked);
        FUZZ_CHECK(found >= -EINVAL);
        if (found >= 0) {
                int marked = 0;
                for (size_t i = 0; i < count; i++)
                        marked += tracked[i];
                FUZZ_CHECK(found == marked);
        }
        free(copy);
        return 0;
}
