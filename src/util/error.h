/* One error object per failing call: library code fills it and returns -errno,
 * only the CLI layer prints it (one line) and picks the exit status. */
#ifndef REINS_UTIL_ERROR_H
#define REINS_UTIL_ERROR_H

#include <stdarg.h>

#define REINS_ERROR_MAX 1024

struct reins_error {
        int code;                      /* positive errno value, 0 when unset */
        char message[REINS_ERROR_MAX]; /* one line, no trailing newline */
};

/* Fill err (may be NULL) and return -code, so callers can write
 * `return reins_error_set(err, EINVAL, "...")`. */
int reins_error_set(struct reins_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like reins_error_set, and appends ": strerror(code)". */
int reins_error_errno(struct reins_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("loading policy: ..."). */
int reins_error_prefix(struct reins_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void reins_error_clear(struct reins_error *err);

#endif
