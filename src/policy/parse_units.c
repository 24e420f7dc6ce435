/* Strict parsers for the numbers a policy carries: sizes, durations, cpu
 * counts and plain counts. Strict means: no sign, no surrounding blanks, no
 * trailing junk, no silent rounding, and overflow is -ERANGE rather than a
 * wrapped value (a wrapped memory limit is a limit nobody asked for). */
#include "policy/parse_units.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* value = value * 10 + digit, or false on overflow. */
static bool accumulate_digit(uint64_t *value, char digit)
{
        uint64_t d = (uint64_t)(digit - '0');
        if (*value > (UINT64_MAX - d) / 10)
                return false;
        *value = *value * 10 + d;
        return true;
}

/* Read the digits at *text into *value, advance *text. 0, -EINVAL when
 * there is no digit, -ERANGE on overflow (the digits are still consumed). */
static int read_digits(const char **text, uint64_t *value)
{
        const char *p = *text;
        bool overflow = false;
        *value = 0;
        if (!is_digit(*p))
                return -EINVAL;
        for (; is_digit(*p); p++)
                if (!overflow && !accumulate_digit(value, *p))
                        overflow = true;
        *text = p;
        return overflow ? -ERANGE : 0;
}

static bool multiply_checked(uint64_t a, uint64_t b, uint64_t *out)
{
        if (b != 0 && a > UINT64_MAX / b)
                return false;
        *out = a * b;
        return true;
}

static bool add_checked(uint64_t a, uint64_t b, uint64_t *out)
{
        if (a > UINT64_MAX - b)
                return false;
        *out = a + b;
        return true;
}

int parse_count(const char *text, uint64_t *value)
{
        if (!text)
                return -EINVAL;
        const char *p = text;
        uint64_t v;
        int r = read_digits(&p, &v);
        if (r == -EINVAL || *p != '\0')
                return -EINVAL;
        if (r < 0)
                return r;
        *value = v;
        return 0;
}

/* The multiplier of a size suffix. "KiB", "MiB", "GiB" … and the bare
 * letters "K", "M", "G" (upper or lower case, as in docker's --memory 512m)
 * are powers of 1024; "kB", "KB", "MB", "GB" … are the SI powers of 1000, as
 * on a disk's label: "4GB" is 4 000 000 000 bytes, never a silent 4 GiB.
 * "B" alone is bytes. */
static int size_multiplier(const char *suffix, uint64_t *multiplier)
{
        static const struct {
                char letter;
                unsigned power; /* of 1024 or of 1000 */
        } units[] = {{'k', 1}, {'m', 2}, {'g', 3}, {'t', 4}, {'p', 5}, {'e', 6}};

        if (suffix[0] == '\0' || strcmp(suffix, "B") == 0) {
                *multiplier = 1;
                return 0;
        }
        char letter = suffix[0];
        if (letter >= 'A' && letter <= 'Z')
                letter = (char)(letter - 'A' + 'a');
        const char *rest = suffix + 1;
        bool decimal = strcmp(rest, "B") == 0;
        if (strcmp(rest, "") != 0 && !decimal && strcmp(rest, "iB") != 0)
                return -EINVAL;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (units[i].letter != letter)
                        continue;
                uint64_t m = 1;
                for (unsigned p = 0; p < units[i].power; p++)
                        m *= decimal ? 1000 : 1024;
                *multiplier = m;
                return 0;
        }
        return -EINVAL;
}

/* Grammar: DIGITS [ "." DIGITS ] [ " " ] [ SUFFIX ].
 * A fraction is accepted only when the result is a whole number of bytes
 * ("1.5GiB" yes, "1.5" or "0.3KiB" no): sizes are never rounded. */
int parse_size(const char *text, uint64_t *bytes)
{
        if (!text)
                return -EINVAL;
        const char *p = text;
        uint64_t whole;
        int r = read_digits(&p, &whole);
        if (r == -EINVAL)
                return -EINVAL;
        bool overflow = r == -ERANGE;

        uint64_t fraction = 0, fraction_scale = 1;
        if (*p == '.') {
                p++;
                if (!is_digit(*p))
                        return -EINVAL;
                for (; is_digit(*p); p++) {
                        /* 18 digits keep fraction_scale within uint64 */
                        if (fraction_scale >= 1000000000000000000ULL)
                                return -EINVAL;
                        fraction = fraction * 10 + (uint64_t)(*p - '0');
                        fraction_scale *= 10;
                }
        }
        if (*p == ' ')
                p++;
        if (*p == ' ') /* one optional space, not a run of them */
                return -EINVAL;

        uint64_t multiplier;
        if (size_multiplier(p, &multiplier) < 0)
                return -EINVAL;
        if (*p == '\0' && p > text && p[-1] == ' ')
                return -EINVAL; /* "512 " */
        if (overflow)
                return -ERANGE;

        uint64_t total;
        if (!multiply_checked(whole, multiplier, &total))
                return -ERANGE;
        if (fraction) {
                /* fraction / scale * multiplier must be whole. The multiplier
                 * is a power of two and the scale a power of ten: cancel the
                 * common twos, after which they share no factor, so the
                 * product is whole exactly when scale divides fraction. */
                uint64_t m = multiplier, s = fraction_scale;
                while (m > 1 && s % 2 == 0) {
                        m /= 2;
                        s /= 2;
                }
                uint64_t extra;
                if (fraction % s != 0)
                        return -EINVAL;
                if (!multiply_checked(fraction / s, m, &extra) ||
                    !add_checked(total, extra, &total))
                        return -ERANGE;
        }
        *bytes = total;
        return 0;
}

/* Duration units, largest first: the only order in which they may appear
 * ("1d2h3m4s5ms"), each at most once. */
static const struct {
        const char *name;
        uint64_t ms;
} duration_units[] = {
    {"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL}, {"ms", 1ULL},
};

/* The unit spelled at p (a whole word: "m" does not match the start of "ms"),
 * or SIZE_MAX. */
static size_t duration_unit_at(const char *p)
{
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
                size_t len = strlen(duration_units[i].name);
                if (strncmp(p, duration_units[i].name, len) == 0 &&
                    !(p[len] >= 'a' && p[len] <= 'z'))
                        return i;
        }
        return SIZE_MAX;
}

/* "0", a bare number of seconds ("90"), or one or more NUMBER UNIT parts with
 * units d, h, m, s, ms each used at most once, largest first ("1h30m"). */
int parse_duration_ms(const char *text, uint64_t *ms)
{
        if (!text || !*text)
                return -EINVAL;
        const char *p = text;
        uint64_t total = 0;
        size_t last_unit = 0;
        bool any_part = false, overflow = false;

        while (*p) {
                uint64_t amount;
                int r = read_digits(&p, &amount);
                if (r == -EINVAL)
                        return -EINVAL;
                if (r == -ERANGE)
                        overflow = true;
                if (*p == '\0') {
                        /* a bare number is seconds, but only on its own */
                        if (any_part)
                                return -EINVAL;
                        if (overflow)
                                return -ERANGE;
                        uint64_t v;
                        if (!multiply_checked(amount, 1000, &v))
                                return -ERANGE;
                        *ms = v;
                        return 0;
                }
                size_t unit = duration_unit_at(p);
                if (unit == SIZE_MAX)
                        return -EINVAL;
                if (any_part && unit <= last_unit)
                        return -EINVAL; /* "30m1h", "1m1m" */
                last_unit = unit;
                any_part = true;
                p += strlen(duration_units[unit].name);
                if (overflow)
                        continue; /* keep checking syntax, report -ERANGE at the end */
                uint64_t part;
                if (!multiply_checked(amount, duration_units[unit].ms, &part) ||
                    !add_checked(total, part, &total))
                        overflow = true;
        }
        if (overflow)
                return -ERANGE;
        *ms = total;
        return 0;
}

/* "2", "0.5", "1.25" (at most three decimals: a thousandth of a cpu is the
 * finest share the kernel's cpu controller is given) or "1500m" (millicpus). */
int parse_cpus_milli(const char *text, uint64_t *milli)
{
        if (!text)
                return -EINVAL;
        const char *p = text;
        uint64_t whole;
        int r = read_digits(&p, &whole);
        if (r == -EINVAL)
                return -EINVAL;
        bool overflow = r == -ERANGE;

        if (*p == 'm' && p[1] == '\0') {
                if (overflow)
                        return -ERANGE;
                *milli = whole;
                return 0;
        }

        uint64_t fraction = 0; /* in thousandths */
        if (*p == '.') {
                p++;
                if (!is_digit(*p))
                        return -EINVAL;
                uint64_t scale = 100;
                for (; is_digit(*p); p++) {
                        if (scale > 0) {
                                fraction += (uint64_t)(*p - '0') * scale;
                                scale /= 10;
                        } else if (*p != '0') {
                                return -EINVAL; /* finer than 0.001: would be rounded */
                        }
                }
        }
        if (*p != '\0')
                return -EINVAL;
        if (overflow)
                return -ERANGE;
        uint64_t total;
        if (!multiply_checked(whole, 1000, &total) || !add_checked(total, fraction, &total))
                return -ERANGE;
        *milli = total;
        return 0;
}

const char *format_size(uint64_t bytes, char *buf, size_t size)
{
        static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        if (bytes < 1024) {
                snprintf(buf, size, "%llu byte%s", (unsigned long long)bytes,
                         bytes == 1 ? "" : "s");
                return buf;
        }
        size_t unit = 0;
        uint64_t scale = 1024;
        while (unit + 1 < sizeof(units) / sizeof(units[0]) && bytes / scale >= 1024) {
                scale *= 1024;
                unit++;
        }
        uint64_t whole = bytes / scale;
        uint64_t tenths = (bytes % scale) * 10 / scale;
        if (tenths)
                snprintf(buf, size, "%llu.%llu %s", (unsigned long long)whole,
                         (unsigned long long)tenths, units[unit]);
        else
                snprintf(buf, size, "%llu %s", (unsigned long long)whole, units[unit]);
        return buf;
}
