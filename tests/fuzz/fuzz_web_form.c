/* The dashboard's login and logout forms (serve/web.h): a body of
 * x-www-form-urlencoded bytes from anyone who reaches the HTTPS listener,
 * no token needed. Whatever the bytes, a field found is within `size`,
 * NUL-terminated, non-empty, of the token alphabet only, and a copy of
 * bytes of the body that follow "NAME=". */
#include <string.h>

#include "fuzz.h"
#include "serve/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* the body as libmicrohttpd hands it: NUL-terminated, may hold NULs */
        char *body = malloc(size + 1);
        FUZZ_CHECK(body);
        memcpy(body, data, size);
        body[size] = '\0';
        static const char *const names[] = {"token", "csrf", "t"};
        for (size_t n = 0; n < 3; n++) {
                for (size_t room = 1; room <= 70; room += 23) {
                        char out[70];
                        memset(out, 'X', sizeof(out));
                        if (!serve_web_form_field(body, size, names[n], out, room))
                                continue;
                        size_t length = strlen(out);
                        FUZZ_CHECK(length > 0 && length < room);
                        for (size_t i = 0; i < length; i++)
                                FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                                                  "VWXYZ0123456789_-",
                                                  out[i]) != NULL);
                        char needle[80];
                        snprintf(needle, sizeof(needle), "%s=%s", names[n], out);
                        FUZZ_CHECK(memmem(body, size, needle, strlen(needle)) != NULL);
                }
        }
        free(body);
        return 0;
}
