#include "util/notice.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text_escape.h"

static void notice_write_default(const char *text)
{
        fputs("reins: ", stderr);
        text_escape_write(stderr, text, strlen(text), 0);
        fputc('\n', stderr);
        fflush(stderr);
}

static notice_writer current_writer = notice_write_default;

void notice_set_writer(notice_writer writer)
{
        current_writer = writer ? writer : notice_write_default;
}

void notice(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *text = NULL;
        int n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        current_writer(text);
        free(text);
}
