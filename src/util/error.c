#include "util/error.h"

#include <stdio.h>
#include <string.h>

static void error_vformat(struct reins_error *err, const char *fmt, va_list ap)
{
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

int reins_error_set(struct reins_error *err, int code, const char *fmt, ...)
{
        if (code < 0)
                code = -code;
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                err->code = code;
                error_vformat(err, fmt, ap);
                va_end(ap);
        }
        return -code;
}

int reins_error_errno(struct reins_error *err, int code, const char *fmt, ...)
{
        if (code < 0)
                code = -code;
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                err->code = code;
                error_vformat(err, fmt, ap);
                va_end(ap);
                size_t used = strlen(err->message);
                snprintf(err->message + used, sizeof(err->message) - used, ": %s", strerror(code));
        }
        return -code;
}

int reins_error_prefix(struct reins_error *err, const char *fmt, ...)
{
        if (!err)
                return 0;
        char prefix[REINS_ERROR_MAX];
        char old[REINS_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, err->message, sizeof(old));
        snprintf(err->message, sizeof(err->message), "%s: %s", prefix, old);
        return -err->code;
}

void reins_error_clear(struct reins_error *err)
{
        if (err) {
                err->code = 0;
                err->message[0] = '\0';
        }
}
