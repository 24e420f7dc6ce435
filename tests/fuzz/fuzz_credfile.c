/* Credential files (session/credentials.h): the secrets a pattern or a
 * JSON Pointer finds in a file, and the copy the sandbox sees with each one
 * replaced by its placeholder. Beyond memory safety: every secret found is
 * a non-empty span of the text, and after the replacement none of them is
 * left in the copy (unless it is part of the placeholder itself). The first
 * byte picks a pattern (or JSON mode, where the first line is the pointer);
 * the rest is the file. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "session/credentials.h"

#define MARK "reins-cred-f-0123456789abcdef0123456789abcdef"

static const char *const patterns[] = {"_authToken=([^[:space:]]+)", "password[ \t]+([^ \t\n]+)",
                                       "token: *\"?([A-Za-z0-9_.-]+)", "(a*)b", "^([^:]*):"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        char *text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        struct policy_credential c = {.name = "f"};
        char pointer[256];
        size_t npat = sizeof(patterns) / sizeof(patterns[0]);
        if (data[0] % (npat + 1) < npat) {
                c.pattern = (char *)patterns[data[0] % (npat + 1)];
        } else {
                size_t line = strcspn(text, "\n");
                snprintf(pointer, sizeof(pointer), "%.*s", (int)line, text);
                c.json_pointer = pointer;
        }
        char *values[SESSION_CREDENTIAL_VALUES_MAX] = {0};
        size_t count = 0;
        struct reins_error err = {0};
        if (session_credentials_find(&c, text, values, &count, &err) == 0) {
                FUZZ_CHECK(count <= SESSION_CREDENTIAL_VALUES_MAX);
                for (size_t i = 0; i < count; i++) {
                        FUZZ_CHECK(values[i] && values[i][0]);
                        if (c.pattern)
                                FUZZ_CHECK(strstr(text, values[i]) != NULL);
                }
                for (size_t i = 0; i < count; i++)
                        FUZZ_CHECK(session_credentials_replace(&text, values[i], strlen(values[i]),
                                                               MARK) == 0);
                for (size_t i = 0; i < count; i++)
                        if (!strstr(MARK, values[i]))
                                FUZZ_CHECK(strstr(text, values[i]) == NULL);
        }
        for (size_t i = 0; i < count; i++)
                free(values[i]);
        free(text);
        return 0;
}
