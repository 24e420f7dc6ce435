#include "util/notice.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text_escape.h"

static void notice_write_default(const char *text, unsigned escape_flags)
{
        char *shown = text_escape_dup(text, strlen(text), escape_flags);
        if (shown)
                fprintf(stderr, "reins: %s\n", shown);
        free(shown);
}

static notice_writer current_writer = notice_write_default;

void notice_set_writer(notice_writer writer)
{
        current_writer = writer ? writer : notice_write_default;
}

static void notice_va(unsigned escape_flags, const char *fmt, va_list ap)
{
        char *text = NULL;
        if (vasprintf(&text, fmt, ap) < 0)
                return;
        current_writer(text, escape_flags);
        free(text);
}

void notice(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        notice_va(0, fmt, ap);
        va_end(ap);
}

void notice_with(unsigned escape_flags, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        notice_va(escape_flags, fmt, ap);
        va_end(ap);
}
