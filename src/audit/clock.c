#include "audit/clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t audit_mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void audit_time_now(char out[AUDIT_TIME_MAX])
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(out, AUDIT_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + n, AUDIT_TIME_MAX - n, ".%06ldZ", ts.tv_nsec / 1000);
}

int64_t audit_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Exactly `width` digits at *p. */
static int clock_digits(const char **p, int width, int *value)
{
        int v = 0;
        for (int i = 0; i < width; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += width;
        *value = v;
        return 0;
}

int audit_time_parse_ms(const char *text, int64_t *ms)
{
        const char *p = text;
        struct tm tm = {0};
        int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
        if (clock_digits(&p, 4, &year) < 0 || *p++ != '-' || clock_digits(&p, 2, &month) < 0 ||
            *p++ != '-' || clock_digits(&p, 2, &day) < 0)
                return -EINVAL;
        long offset = 0;
        if (*p == 'T' || *p == ' ') {
                p++;
                if (clock_digits(&p, 2, &hour) < 0 || *p++ != ':' ||
                    clock_digits(&p, 2, &minute) < 0 || *p++ != ':' ||
                    clock_digits(&p, 2, &second) < 0)
                        return -EINVAL;
                if (*p == '.') {
                        p++;
                        int scale = 100, digits = 0;
                        while (isdigit((unsigned char)*p)) {
                                if (scale > 0)
                                        millis += (*p - '0') * scale;
                                scale /= 10;
                                p++;
                                digits++;
                        }
                        if (digits == 0)
                                return -EINVAL;
                }
                if (*p == 'Z') {
                        p++;
                } else if (*p == '+' || *p == '-') {
                        int sign = *p++ == '-' ? -1 : 1, oh, om;
                        if (clock_digits(&p, 2, &oh) < 0 || *p++ != ':' ||
                            clock_digits(&p, 2, &om) < 0)
                                return -EINVAL;
                        offset = sign * (oh * 3600L + om * 60L);
                }
        }
        if (*p != '\0' || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
            minute > 59 || second > 60)
                return -EINVAL;
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = minute;
        tm.tm_sec = second;
        time_t t = timegm(&tm);
        *ms = ((int64_t)t - offset) * 1000 + millis;
        return 0;
}
